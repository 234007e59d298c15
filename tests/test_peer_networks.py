"""The peers' residual networks end to end: PyramidNet with ShakeDrop, shake-shake, the bottleneck ResNet and
Wide-ResNet with dropout train an epoch on a slice of the real CIFAR-10 on every backend; their recipes' rates;
their bad input."""

import csv
import os

import pytest

from conftest import REAL_CIFAR10, one_line_error, refusal_in_process, run_in_process, run_script
from test_scripts import _check_run
from cifar_common import cli, train

# Each script at a size that trains in seconds, with its new parts on: ShakeDrop, shake-shake, bottleneck
# blocks, dropout. The new scripts on every backend; the ResNet's new block and the WRN's dropout, plain Keras
# layers that tests/test_backends.py trains on the other backends, on TensorFlow. Shake-shake is as wide as 16
# (its strided 1x1 shortcuts see 16 and 32 channels): with fewer than 16, PyTorch's oneDNN can hang in their
# weight gradient (uxlfoundation/oneDNN#6035, channels-last 1x1 convolutions of stride 2), and the script
# refuses such a width on PyTorch's CPU.
SMALL = [
    ("pyramidnet/PyramidNet_keras.py", ["--depth", "8", "--alpha", "8", "--shakedrop", "0.5"], "tensorflow"),
    ("pyramidnet/PyramidNet_keras.py", ["--depth", "8", "--alpha", "8", "--shakedrop", "0.5"], "jax"),
    ("pyramidnet/PyramidNet_keras.py", ["--depth", "8", "--alpha", "8", "--shakedrop", "0.5"], "torch"),
    ("shake_shake/ShakeShake_keras.py", ["--depth", "8", "--width", "16"], "tensorflow"),
    ("shake_shake/ShakeShake_keras.py", ["--depth", "8", "--width", "16"], "jax"),
    ("shake_shake/ShakeShake_keras.py", ["--depth", "8", "--width", "16"], "torch"),
    ("resnet/ResNet_keras.py", ["--depth", "11", "--block", "bottleneck"], "tensorflow"),
    ("wrn/Wide_ResNet_keras.py", ["--depth", "10", "--width", "1", "--dropout", "0.3"], "tensorflow"),
]


@pytest.mark.skipif(not os.path.isdir(REAL_CIFAR10),
                    reason="real CIFAR-10 not found at ../shared/data/cifar10/cifar-10-batches-py")
@pytest.mark.parametrize("script,flags,backend", SMALL, ids=[f"{s}-{b}" for s, _, b in SMALL])
def test_an_epoch_on_real_data(script, flags, backend, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script(script, *flags, "--data-dir", REAL_CIFAR10, "--subset", "512", "--test-subset", "500",
                      "--epochs", "1", "--batch-size", "64", "--output-dir", run_dir, backend=backend)
    summary, rows = _check_run(proc, run_dir, epochs=1, params=None, macs=None)
    assert summary["backend"] == backend and summary["data"]["train_images"] == 512
    assert float(rows[0]["loss"]) > 0 and float(rows[0]["test_loss"]) > 0  # finite: csv writes nan as "nan"
    for flag, value in zip(flags[::2], flags[1::2]):  # recorded with the flag's type: 8 for --depth, 8.0 for --alpha
        saved = summary["arguments"][flag[2:]]
        assert saved == value if flag == "--block" else saved == float(value)


def _rates(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        return [float(row["learning_rate"]) for row in csv.DictReader(f)]


def test_lr_steps_write_out_a_step_decay_in_epochs_of_the_run(small_cifar10, tmp_path):
    # hysts's ResNet-preact recipe (160 epochs, a tenth from epochs 80 and 120), its milestones at a tenth:
    # a tenth from epoch index 8, a hundredth from 12, of a 16-epoch run; the script's own decay is not scaled in.
    run_dir = str(tmp_path / "run")
    proc = run_script("resnet/ResNet_keras.py", "--depth", "11", "--block", "bottleneck", "--epochs", "16",
                      "--lr-steps", "8:0.1,12:0.01", "--weight-decay", "5e-5", "--data-dir", small_cifar10,
                      "--subset", "16", "--batch-size", "16", "--output-dir", run_dir)
    summary, _ = _check_run(proc, run_dir, epochs=16, params=None, macs=None)
    assert summary["arguments"]["lr_steps"] == "8:0.1,12:0.01"
    assert _rates(run_dir) == pytest.approx([0.1] * 8 + [0.01] * 4 + [0.001] * 4)


def test_shake_shake_anneals_its_rate_by_a_cosine_from_0_2(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("shake_shake/ShakeShake_keras.py", "--depth", "8", "--width", "16", "--epochs", "4",
                      "--data-dir", small_cifar10, "--subset", "16", "--batch-size", "16", "--output-dir", run_dir)
    summary, _ = _check_run(proc, run_dir, epochs=4, params=None, macs=None)
    assert (summary["arguments"]["lr"], summary["arguments"]["weight_decay"]) == (0.2, 5e-5)
    assert _rates(run_dir) == pytest.approx([0.2, 0.1 * (1 + 0.5 ** 0.5), 0.1, 0.1 * (1 - 0.5 ** 0.5)])


@pytest.mark.parametrize("script,flags,message", [
    ("pyramidnet/PyramidNet_keras.py", ["--alpha", "0"], "--alpha: must be above 0, not 0"),
    ("pyramidnet/PyramidNet_keras.py", ["--alpha", "-48"], "--alpha: must be above 0, not -48"),
    ("pyramidnet/PyramidNet_keras.py", ["--shakedrop", "1.5"], "--shakedrop: must be from 0 to 1, not 1.5"),
    ("pyramidnet/PyramidNet_keras.py", ["--block", "wide"],
     "--block: invalid choice: 'wide' (choose from 'basic', 'bottleneck')"),
    ("wrn/Wide_ResNet_keras.py", ["--dropout", "1"], "--dropout: must be from 0 to less than 1, not 1"),
    ("resnet/ResNet_keras.py", ["--lr-steps", "80:0.1,60:0.01"],
     "--lr-steps: its epochs must be 1 or more and increasing, not 80:0.1,60:0.01"),
    ("resnet/ResNet_keras.py", ["--lr-steps", "80"],
     "--lr-steps: must be EPOCH:FACTOR pairs separated by commas (80:0.1,120:0.01), not 80"),
    ("resnet/ResNet_keras.py", ["--lr-steps", "80:0"], "--lr-steps: its factors must be above 0, not 80:0"),
])
def test_bad_flag_values_are_refused_when_parsed(script, flags, message, capsys):
    module = train.import_script(script)
    parser = cli.parser(os.path.basename(script), "", epochs=module.EPOCHS, batch_size=module.BATCH_SIZE,
                        lr=module.LEARNING_RATE, weight_decay=module.WEIGHT_DECAY, lr_schedule="step",
                        model_flags=module.MODEL_FLAGS)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(cli.attach_negative_values(flags))
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"{os.path.basename(script)}: error: argument {message} (see --help)"


@pytest.mark.parametrize("script,flags,needles", [
    ("pyramidnet/PyramidNet_keras.py", ["--depth", "111"], ["--depth 111", "6n+2"]),
    ("pyramidnet/PyramidNet_keras.py", ["--depth", "165", "--block", "bottleneck"], ["--depth 165", "9n+2"]),
    ("pyramidnet/PyramidNet_keras.py", ["--depth", "110", "--block", "bottleneck"], []),  # 9 * 12 + 2: fine
    ("shake_shake/ShakeShake_keras.py", ["--depth", "27"], ["--depth 27", "6n+2"]),
    ("resnet/ResNet_keras.py", ["--depth", "111", "--block", "bottleneck"], ["--depth 111", "9n+2"]),
    ("resnet/ResNet_keras.py", ["--lr-steps", "80:0.1", "--lr-schedule", "cosine"], ["--lr-steps", "cosine"]),
])
def test_bad_input_is_one_line_and_writes_nothing(script, flags, needles, small_cifar10, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = [*flags, "--data-dir", small_cifar10, "--epochs", "1", "--output-dir", str(run_dir)]
    if not needles:  # a valid size: --summary builds it and writes nothing
        code, _, err = run_in_process(script, *args, "--summary", capsys=capsys)
        assert code == 0, err[-2000:]
    else:
        refusal_in_process(script, *args, capsys=capsys, needles=needles)
    assert not run_dir.exists()


def test_shake_shake_refuses_a_width_below_16_on_pytorchs_cpu(small_cifar10, tmp_path):
    run_dir = tmp_path / "run"
    proc = run_script("shake_shake/ShakeShake_keras.py", "--width", "8", "--depth", "8", "--data-dir", small_cifar10,
                      "--epochs", "1", "--output-dir", str(run_dir), backend="torch")
    one_line_error(proc, "--width 8", "at least 16 on PyTorch's CPU")
    assert not run_dir.exists()
