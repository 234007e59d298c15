"""The zoo of the PyTorch peers in Keras: every network's parameters equal its definition's exactly (kuangliu/
pytorch-cifar's, MobileNetV3's leaderj1001's, ShuffleNet's the paper's widths; AlexNet's and ViT's are this
collection's), and its results rows state its size; each script trains a step on grey images of 100 classes
(on the backend KERAS_BACKEND names; tests/test_backends.py reruns it on JAX and PyTorch), saves and loads with
the same answers, and refuses a bad flag value in one line, writing nothing. tests/test_zoo_real_data.py trains
each for an epoch on real images."""

import os
import sys

import numpy as np
import pytest

import cifar_common  # noqa: F401
import keras

from cifar_common import macs, train
from conftest import ROOT, refusal_in_process
from test_models import TinyData, trained_parameters

sys.path.insert(0, os.path.join(ROOT, "results"))
import rows  # noqa: E402

# (script, flags, parameters as PyTorch counts them, for 10 classes): kuangliu/pytorch-cifar at 49b7aa9, but
# ShuffleNet's (the paper's widths; see its docstring).
COUNTS = [
    ("vgg/VGG_zoo_keras.py", {"depth": 11}, 9_231_114),
    ("vgg/VGG_zoo_keras.py", {"depth": 13}, 9_416_010),
    ("vgg/VGG_zoo_keras.py", {"depth": 16}, 14_728_266),
    ("vgg/VGG_zoo_keras.py", {"depth": 19}, 20_040_522),
    ("resnet/ResNet_zoo_keras.py", {"depth": 18}, 11_173_962),
    ("resnet/ResNet_zoo_keras.py", {"depth": 50}, 23_520_842),
    ("resnet/ResNet_zoo_keras.py", {"depth": 101}, 42_512_970),
    ("mobilenet/MobileNet_keras.py", {}, 3_217_226),
    ("mobilenet/MobileNetV2_keras.py", {}, 2_296_922),
    ("shufflenet/ShuffleNet_keras.py", {"groups": 1}, 960_130),
    ("shufflenet/ShuffleNet_keras.py", {"groups": 2}, 940_282),
    ("shufflenet/ShuffleNet_keras.py", {"groups": 3}, 913_762),
    ("shufflenet/ShuffleNet_keras.py", {"groups": 4}, 889_658),
    ("shufflenet/ShuffleNet_keras.py", {"groups": 8}, 912_562),
    ("resnext/ResNeXt_zoo_keras.py", {}, 9_128_778),
    ("densenet/DenseNet_zoo_keras.py", {"depth": 121, "growth_rate": 12}, 1_000_618),
    ("densenet/DenseNet_zoo_keras.py", {"depth": 121, "growth_rate": 16}, 1_762_954),
    ("densenet/DenseNet_zoo_keras.py", {"depth": 121, "growth_rate": 24}, 3_930_826),
    ("densenet/DenseNet_zoo_keras.py", {"depth": 121, "growth_rate": 32}, 6_956_298),
    ("densenet/DenseNet_zoo_keras.py", {"depth": 169, "growth_rate": 32}, 12_493_322),
    ("senet/SENet18_zoo_keras.py", {}, 11_260_354),
    ("googlenet/GoogLeNet_keras.py", {}, 6_166_250),
    ("regnet/RegNet_keras.py", {}, 2_321_946),
    # kuangliu's 3,599,686 counts an expansion convolution (32 x 32) and its BN (2 x 32) that its first block
    # builds and never calls; this network leaves them out (see its docstring).
    ("efficientnet/EfficientNet_keras.py", {}, 3_599_686 - (32 * 32 + 2 * 32)),
    ("dla/DLA_keras.py", {}, 16_291_386),
    ("dpn/DPN_keras.py", {"depth": 26}, 11_574_842),
    ("dpn/DPN_keras.py", {"depth": 92}, 34_236_634),
    ("pnasnet/PNASNet_keras.py", {"cell": "A"}, 130_646),
    ("pnasnet/PNASNet_keras.py", {"cell": "B"}, 451_626),
    # leaderj1001/MobileNetV3-Pytorch model.py at 2500981, the zoo's definition.
    ("mobilenet/MobileNetV3_keras.py", {"size": "large"}, 3_884_328),
    ("mobilenet/MobileNetV3_keras.py", {"size": "small"}, 1_843_272),
    # This collection's own definitions (the zoo did not publish its AlexNet or ViT): the counts their
    # docstrings state.
    ("alexnet/AlexNet_keras.py", {}, 7_509_066),
    ("vit/ViT_keras.py", {"depth": 1}, 559_626),
    ("vit/ViT_keras.py", {}, 4_249_354),  # 8 blocks, 1 head
    ("vit/ViT_keras.py", {"depth": 2, "heads": 4}, 1_086_730),
]

# Each script once, at the smallest configuration it has, for the training step, saving and the real-data epoch.
SMALLEST = [
    ("vgg/VGG_zoo_keras.py", {"depth": 11}),
    ("resnet/ResNet_zoo_keras.py", {"depth": 18}),
    ("mobilenet/MobileNet_keras.py", {}),
    ("mobilenet/MobileNetV2_keras.py", {}),
    ("shufflenet/ShuffleNet_keras.py", {"groups": 2}),
    ("resnext/ResNeXt_zoo_keras.py", {"cardinality": 2, "base_width": 4}),
    ("densenet/DenseNet_zoo_keras.py", {"depth": 121, "growth_rate": 4}),
    ("senet/SENet18_zoo_keras.py", {}),
    ("googlenet/GoogLeNet_keras.py", {}),
    ("regnet/RegNet_keras.py", {}),
    ("efficientnet/EfficientNet_keras.py", {}),
    ("dla/DLA_keras.py", {}),
    ("dpn/DPN_keras.py", {"depth": 26}),
    ("pnasnet/PNASNet_keras.py", {"cell": "A"}),
    ("mobilenet/MobileNetV3_keras.py", {"size": "small"}),
    ("alexnet/AlexNet_keras.py", {}),
    ("vit/ViT_keras.py", {"depth": 1}),
]


def _build(script, flags, num_classes=10, channels=3):
    return train.import_script(script).build_model(TinyData(num_classes, channels), **flags)


@pytest.mark.parametrize("script,flags,count", COUNTS, ids=lambda v: str(v))
def test_parameters_are_the_peers_exactly(script, flags, count):
    model = _build(script, flags)
    assert trained_parameters(model) == count
    assert model.output.shape == (None, 10)
    # The results rows of this network state its size as the script prints it: Keras's count, and the MACs.
    for row in _zoo_rows(script, flags):
        assert row.parameters == model.count_params(), row.name
        assert row.macs == pytest.approx(macs.per_image(model) / 1e6, rel=0.01), row.name


def flag_words(flags):
    """A configuration's flags as its command line has them: {"base_width": 4} -> ["--base-width", "4"]."""
    return [word for name, value in flags.items() for word in (f"--{name.replace('_', '-')}", str(value))]


def _zoo_rows(script, flags):
    words = flag_words(flags)
    return [row for row in rows.ROWS if row.name.startswith("zoo-") and row.script == script
            and dict(zip(row.args[::2], row.args[1::2])) == dict(zip(words[::2], words[1::2]))]


def test_every_zoo_row_is_a_network_whose_count_is_pinned():
    zoo = [row for row in rows.ROWS if row.name.startswith("zoo-")]
    assert len(zoo) == 35
    assert sorted(row.name for s, f, _ in COUNTS for row in _zoo_rows(s, f)) == sorted(row.name for row in zoo)
    for row in zoo:  # the zoo's recipe is each script's defaults; its figures are best epochs
        assert row.epochs == 200 and row.best_epoch_reference and row.published == rows.ZOO
        assert not set(row.args[::2]) - {"--depth", "--growth-rate", "--groups", "--size", "--cell", "--heads"}


@pytest.mark.parametrize("script,flags", SMALLEST, ids=lambda v: str(v))
def test_one_training_step_on_grey_images_of_100_classes(script, flags):
    """One model a script, built for MNIST's one channel and CIFAR-100's 100 classes: a training step moves its
    weights."""
    model = _build(script, flags, num_classes=100, channels=1)
    assert model.input_shape == (None, 32, 32, 1) and model.output.shape == (None, 100)
    # On JAX and PyTorch as the scripts compile their step on a CPU (cifar_common.devices): Keras's "auto" (JAX
    # compiles it, PyTorch runs it eagerly). On TensorFlow eagerly: the scripts' graph is trained by
    # tests/test_zoo_real_data.py, and tracing these graphs once more costs up to 40 s a network.
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy",
                  run_eagerly=keras.backend.backend() == "tensorflow")
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1)).astype("uint8")
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, np.array([0, 1, 50, 99]))
    loss = loss[0] if isinstance(loss, (list, tuple)) else loss
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("script,flags", SMALLEST, ids=lambda v: str(v))
def test_the_saved_model_loads_back_and_answers_as_the_original(script, flags, tmp_path):
    """What tools/evaluate.py does with a run's model.keras. Saving is Keras's own, the same on every backend:
    tests/test_backends.py reruns the training step above on JAX and PyTorch, not this."""
    model = _build(script, flags, num_classes=100, channels=1)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 1)).astype("float32")
    assert np.allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


@pytest.mark.parametrize("script,flags,needles", [
    ("shufflenet/ShuffleNet_keras.py", ["--groups", "5"], ["--groups", "invalid choice: 5"]),
    ("pnasnet/PNASNet_keras.py", ["--cell", "C"], ["--cell", "invalid choice: 'C'"]),
    ("mobilenet/MobileNetV3_keras.py", ["--size", "medium"], ["--size", "invalid choice: 'medium'"]),
    ("dpn/DPN_keras.py", ["--depth", "50"], ["--depth", "invalid choice: 50"]),
    ("efficientnet/EfficientNet_keras.py", ["--drop-connect", "1.5"], ["--drop-connect", "1.5"]),
    ("densenet/DenseNet_zoo_keras.py", ["--growth-rate", "0"], ["--growth-rate", "0"]),
    ("vit/ViT_keras.py", ["--heads", "3"], ["--heads 3", "split evenly"]),  # refused when the model is built
])
def test_bad_flag_values_are_one_line_and_write_nothing(script, flags, needles, small_cifar10, tmp_path, capsys):
    run_dir = tmp_path / "run"
    refusal_in_process(script, *flags, "--data-dir", small_cifar10, "--epochs", "1", "--output-dir", str(run_dir),
                       capsys=capsys, needles=needles)
    assert not run_dir.exists()
