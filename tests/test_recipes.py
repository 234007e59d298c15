"""Each script, end to end at a small size, trains with the recipe of the upstream run behind its figure.

The recipes are written here from the upstream scripts (BIGBALLON/cifar-10-cnn at the commits the scripts'
docstrings cite, or a peer's configuration), not read from the scripts: a short run of every script must record, in its history.csv,
the learning rates of its own recipe with the boundaries scaled to the run, and its summary.json the
recipe's batch size, base rate and weight decay.
"""

import csv
import os

import pytest

from conftest import run_script, write_cifar10
from cifar_common import train
from test_scripts import _check_run

# script, its small-size flags, then the upstream recipe: epochs, batch, L2, and the rate from each epoch on
# (0-based epoch indices of the full-length run, as upstream's scheduler(epoch) receives them).
RECIPES = [
    ("lenet/LeNet_keras.py", [], 200, 128, 0.0, [(0, 0.01), (100, 0.005), (150, 0.001)]),  # fe1d0d3
    ("lenet/LeNet_dp_keras.py", [], 200, 128, 0.0, [(0, 0.01), (100, 0.005), (150, 0.001)]),
    ("lenet/LeNet_dp_da_keras.py", [], 200, 128, 0.0, [(0, 0.01), (100, 0.005), (150, 0.001)]),
    ("lenet/LeNet_dp_da_wd_keras.py", [], 200, 128, 1e-4, [(0, 0.01), (100, 0.005), (150, 0.001)]),
    ("nin/Network_in_Network_keras.py", [], 200, 128, 1e-4, [(0, 0.01), (81, 0.005), (141, 0.001)]),  # 4318859
    ("nin/Network_in_Network_bn_keras.py", [], 200, 128, 1e-4,  # 6271036
     [(0, 0.05), (61, 0.01), (121, 0.002), (161, 0.0004)]),
    ("vgg/Vgg19_keras.py", [], 200, 128, 1e-4, [(0, 0.1), (80, 0.01), (160, 0.001)]),  # 7c2a294
    ("resnet/ResNet_keras.py", ["--depth", "8"], 200, 128, 1e-4, [(0, 0.1), (81, 0.01), (122, 0.001)]),  # 30db1f4
    ("wrn/Wide_ResNet_keras.py", ["--depth", "10", "--width", "1"], 200, 128, 5e-4,  # 30db1f4
     [(0, 0.1), (60, 0.02), (120, 0.004), (160, 0.0008)]),
    ("densenet/DenseNet_keras.py", ["--depth", "10", "--growth-rate", "4"], 250, 64, 1e-4,  # cb9feee
     [(0, 0.1), (76, 0.01), (151, 0.001), (211, 0.0005)]),
    ("resnext/ResNeXt_keras.py", ["--cardinality", "2", "--base-width", "4"], 250, 120, 5e-4,  # 3c73256
     [(0, 0.05), (76, 0.005), (151, 0.0005), (211, 0.0001)]),
    ("senet/SENet_keras.py", ["--cardinality", "2", "--base-width", "4"], 250, 64, 5e-4,  # 8ed6753
     [(0, 0.05), (76, 0.005), (151, 0.0005), (211, 0.0001)]),
    # A peer's recipe: hysts/pytorch_image_classification's configs/cifar/pyramidnet.yaml at 993089a (milestones
    # 150 and 225 of 300; weight decay 1e-4 in PyTorch's convention, Keras's 5e-5).
    ("pyramidnet/PyramidNet_keras.py", ["--depth", "8", "--alpha", "8"], 300, 128, 5e-5,
     [(0, 0.1), (150, 0.01), (225, 0.001)]),
]
SHORT = 7  # epochs of the test run: the fewest in which every phase of every recipe gets at least one


@pytest.fixture(scope="module")
def few_images(tmp_path_factory):
    """8 training images (one step an epoch at every recipe's batch size) and 10 test images: what is
    tested here is the schedule, and the full-size networks (ResNeXt, SENet, VGG-19) cost less on fewer."""
    return write_cifar10(str(tmp_path_factory.mktemp("few") / "cifar-10-batches-py"), per_batch=8, test=10)


def expected_rates(phases, reference_epochs, epochs):
    """The rate of each epoch of a shortened run: a phase that starts at epoch b of the full run starts at the
    first epoch i with i / epochs >= b / reference_epochs."""
    return [max((start, rate) for start, rate in phases if i * reference_epochs >= start * epochs)[1]
            for i in range(epochs)]


def test_expected_rates_of_the_full_run():
    lenet = RECIPES[0][5]
    assert expected_rates(lenet, 200, 200)[98:102] == [0.01, 0.01, 0.005, 0.005]
    assert expected_rates(lenet, 200, SHORT) == [0.01] * 4 + [0.005] * 2 + [0.001]


@pytest.mark.parametrize("script,flags,epochs,batch,l2,phases", RECIPES, ids=[r[0] for r in RECIPES])
def test_script_trains_with_its_recipe(script, flags, epochs, batch, l2, phases, few_images, tmp_path):
    assert train.import_script(script).EPOCHS == epochs
    assert len(set(expected_rates(phases, epochs, SHORT))) == len(phases)  # the short run sees every phase
    run_dir = str(tmp_path / "run")
    proc = run_script(script, *flags, "--data-dir", few_images, "--subset", "8", "--epochs", str(SHORT),
                      "--output-dir", run_dir)
    summary, _ = _check_run(proc, run_dir, epochs=SHORT, params=None, macs=None)
    assert f"{summary['parameters']:,} parameters" in proc.stdout and "multiply-accumulates" in proc.stdout
    arguments = summary["arguments"]
    for flag, value in zip(flags[::2], flags[1::2]):
        assert arguments[flag[2:].replace("-", "_")] == int(value)
    assert (arguments["batch_size"], arguments["weight_decay"], arguments["lr"]) == (batch, l2, phases[0][1])
    assert arguments["lr_schedule"] == "step"
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(f)]
    assert rates == pytest.approx(expected_rates(phases, epochs, SHORT), rel=1e-6)
