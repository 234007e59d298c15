"""The architecture zoo: parameter counts at the papers' sizes, a CIFAR-100 head, one training step on tiny
data (on the backend KERAS_BACKEND names; tests/test_backends.py reruns the step on JAX and PyTorch)."""

import numpy as np
import pytest

import cifar_common  # noqa: F401
import keras

from cifar_common import macs, train


class TinyData:
    """What a model builder reads from data.Data, without loading any data."""

    image_shape = (32, 32, 3)
    mean = np.array([125.3, 123.0, 113.9])
    std = np.array([63.0, 62.1, 66.7])
    mirrorable = True

    def __init__(self, num_classes=10, channels=3):
        self.num_classes = num_classes
        if channels == 1:  # MNIST and Fashion-MNIST: 32 x 32 grey
            self.image_shape, self.mean, self.std, self.mirrorable = (32, 32, 1), np.array([33.3]), np.array([78.6]), False


# (script, flags, parameter target from the papers / the table)
SIZES = [
    ("nin/Network_in_Network_keras.py", {}, 0.97e6),
    ("nin/Network_in_Network_bn_keras.py", {}, 0.97e6),
    ("vgg/Vgg19_keras.py", {}, 39e6),
    ("resnet/ResNet_keras.py", {"depth": 20}, 0.27e6),
    ("resnet/ResNet_keras.py", {"depth": 32}, 0.47e6),
    ("resnet/ResNet_keras.py", {"depth": 110}, 1.7e6),
    ("wrn/Wide_ResNet_keras.py", {"depth": 16, "width": 8}, 11.0e6),
    ("wrn/Wide_ResNet_keras.py", {"depth": 28, "width": 10}, 36.5e6),
    ("densenet/DenseNet_keras.py", {"depth": 100, "growth_rate": 12}, 0.79e6),
    ("densenet/DenseNet_keras.py", {"depth": 100, "growth_rate": 24}, 3.07e6),
    ("densenet/DenseNet_keras.py", {"depth": 160, "growth_rate": 24}, 6.94e6),
    ("resnext/ResNeXt_keras.py", {"cardinality": 4, "base_width": 64}, 17.6e6),
    ("resnext/ResNeXt_keras.py", {"cardinality": 8, "base_width": 64}, 34.4e6),
    ("senet/SENet_keras.py", {"cardinality": 4, "base_width": 64}, 18.1e6),
]

# The peers' networks, counted as PyTorch counts parameters (the trained weights): their exact counts, from
# hysts/pytorch_image_classification at commit 993089a (models/cifar/), but ResNet-164's, which is the paper's
# network (stages of 64, 128 and 256 output channels; hysts's first stage has 16).
PEER_SIZES = [
    ("pyramidnet/PyramidNet_keras.py", {"depth": 110, "alpha": 84.0}, 3_904_446),
    ("pyramidnet/PyramidNet_keras.py", {"depth": 110, "alpha": 270.0}, 28_485_477),
    ("pyramidnet/PyramidNet_keras.py", {"depth": 164, "alpha": 270.0, "block": "bottleneck"}, 27_216_021),
    ("pyramidnet/PyramidNet_keras.py", {"depth": 272, "alpha": 200.0, "block": "bottleneck", "shakedrop": 0.5},
     26_210_842),
    ("shake_shake/ShakeShake_keras.py", {"width": 32}, 2_923_162),
    ("shake_shake/ShakeShake_keras.py", {"width": 64}, 11_653_978),
    ("shake_shake/ShakeShake_keras.py", {"width": 96}, 26_192_922),
    ("resnet/ResNet_keras.py", {"depth": 110}, 1_730_522),
    ("resnet/ResNet_keras.py", {"depth": 164, "block": "bottleneck"}, 1_703_258),
]

# The smallest configuration of each script, for training on a CPU.
TINY = [
    ("nin/Network_in_Network_keras.py", {}),
    ("nin/Network_in_Network_bn_keras.py", {}),
    ("vgg/Vgg19_keras.py", {}),
    ("resnet/ResNet_keras.py", {"depth": 8}),
    ("wrn/Wide_ResNet_keras.py", {"depth": 10, "width": 1}),
    ("densenet/DenseNet_keras.py", {"depth": 10, "growth_rate": 4}),
    ("resnext/ResNeXt_keras.py", {"cardinality": 2, "base_width": 4}),
    ("senet/SENet_keras.py", {"cardinality": 2, "base_width": 4}),
    ("resnet/ResNet_keras.py", {"depth": 11, "block": "bottleneck"}),
    ("wrn/Wide_ResNet_keras.py", {"depth": 10, "width": 1, "dropout": 0.3}),
    ("pyramidnet/PyramidNet_keras.py", {"depth": 8, "alpha": 8.0, "shakedrop": 0.5}),
    ("pyramidnet/PyramidNet_keras.py", {"depth": 11, "alpha": 8.0, "block": "bottleneck"}),
    ("shake_shake/ShakeShake_keras.py", {"depth": 8, "width": 16}),
]


def _build(script, flags, num_classes=10, channels=3):
    return train.import_script(script).build_model(TinyData(num_classes, channels), 1e-4, **flags)


@pytest.mark.parametrize("script,flags,target", SIZES, ids=lambda v: str(v))
def test_parameters_match_the_paper(script, flags, target):
    model = _build(script, flags)
    assert abs(model.count_params() / target - 1) < 0.03, f"{model.count_params():,} vs {target:,.0f}"


def trained_parameters(model):
    """The parameters as PyTorch counts them: Keras's count_params adds BatchNorm's moving means and variances."""
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("script,flags,count", PEER_SIZES, ids=lambda v: str(v))
def test_parameters_are_the_peers_exactly(script, flags, count):
    model = _build(script, flags)
    assert trained_parameters(model) == count
    moving = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)  # BatchNorm's moving statistics
    assert model.count_params() == count + moving


def test_pyramidnet_widens_every_block_by_alpha_over_the_blocks():
    # PyramidNet-110, alpha 84: 54 blocks, each 84/54 channels wider than the one before, rounded; the shortcut
    # pads with zero channels, so the widths are the output channels of each block's last convolution.
    model = _build("pyramidnet/PyramidNet_keras.py", {"depth": 110, "alpha": 84.0})
    widths = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][2::2]
    assert len(widths) == 54 and widths[0] == 18 and widths[-1] == 100  # 16 + 84/54 = 17.56 -> 18; 16 + 84
    assert all(0 <= b - a <= 2 for a, b in zip(widths, widths[1:]))
    assert widths == [round(16 + k * 84 / 54) for k in range(1, 55)]
    assert not any(isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (1, 1) for layer in model.layers)


def test_shakedrop_probability_grows_linearly_to_the_last_block():
    model = _build("pyramidnet/PyramidNet_keras.py", {"depth": 20, "alpha": 12.0, "shakedrop": 0.5})
    probabilities = [layer.probability for layer in model.layers if type(layer).__name__ == "ShakeDrop"]
    assert probabilities == pytest.approx([0.5 * k / 9 for k in range(1, 10)])


def test_wrn_dropout_sits_between_the_convolutions_of_every_block():
    model = _build("wrn/Wide_ResNet_keras.py", {"depth": 16, "width": 1, "dropout": 0.3})
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(dropouts) == 6 and all(layer.rate == 0.3 for layer in dropouts)
    assert all(isinstance(model.layers[model.layers.index(layer) + 1], keras.layers.Conv2D) for layer in dropouts)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in
                   _build("wrn/Wide_ResNet_keras.py", {"depth": 16, "width": 1}).layers)


def test_multiply_accumulates():
    # ResNet-20: 40.8 M per image, as usually quoted (41 M); VGG-19: 0.4 G on 32 x 32 images.
    assert macs.per_image(_build("resnet/ResNet_keras.py", {"depth": 20})) == pytest.approx(40.8e6, rel=0.01)
    assert macs.per_image(_build("vgg/Vgg19_keras.py", {})) == pytest.approx(417e6, rel=0.01)


def test_default_sizes_are_the_papers_flagships():
    assert _build("resnet/ResNet_keras.py", {}).name == "resnet110"
    assert _build("densenet/DenseNet_keras.py", {}).name == "densenet_bc_100_12"
    assert _build("resnext/ResNeXt_keras.py", {}).name == "resnext29_4x64d"


def test_senet_is_resnext_plus_the_gate():
    resnext = _build("resnext/ResNeXt_keras.py", {"cardinality": 2, "base_width": 4})
    senet = _build("senet/SENet_keras.py", {"cardinality": 2, "base_width": 4})
    kinds = lambda model: [type(layer).__name__ for layer in model.layers]  # noqa: E731
    assert set(kinds(senet)) - set(kinds(resnext)) == {"Multiply"}
    assert kinds(senet).count("Multiply") == 9  # one gate per block
    assert kinds(senet).count("Dense") - kinds(resnext).count("Dense") == 18  # squeeze and excite, per block
    # The gates' dense layers: channels -> channels/16 -> channels, for 3 blocks of 256, 512 and 1024 channels.
    gates = sum(3 * (c * (c // 16) + c // 16 + (c // 16) * c + c) for c in (256, 512, 1024))
    assert senet.count_params() - resnext.count_params() == gates


def test_grouped_convolutions_use_groups():
    model = _build("resnext/ResNeXt_keras.py", {"cardinality": 4, "base_width": 4})
    assert sorted({layer.groups for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}) == [1, 4]


@pytest.mark.parametrize("script,flags", TINY, ids=lambda v: str(v))
def test_cifar100_head(script, flags):
    assert _build(script, flags, num_classes=100).output.shape == (None, 100)


@pytest.mark.parametrize("script,flags", TINY + [("lenet/LeNet_dp_da_wd_keras.py", {})], ids=lambda v: str(v))
def test_grey_images_save_and_load(script, flags, tmp_path):
    """Every network takes MNIST's one channel unchanged, and its saved model.keras loads back (what
    tools/evaluate.py and tools/predict.py do) and answers as the original does."""
    model = _build(script, flags, channels=1)
    first = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert model.input_shape == (None, 32, 32, 1) and first.kernel.shape[2] == 1
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1)).astype("float32")
    assert np.allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


def test_bad_size_is_an_option_error():
    for script, flags in [("resnet/ResNet_keras.py", {"depth": 21}), ("wrn/Wide_ResNet_keras.py", {"depth": 17}),
                          ("densenet/DenseNet_keras.py", {"depth": 99}),
                          ("resnet/ResNet_keras.py", {"depth": 111, "block": "bottleneck"}),
                          ("pyramidnet/PyramidNet_keras.py", {"depth": 111}),
                          ("pyramidnet/PyramidNet_keras.py", {"depth": 112, "block": "bottleneck"}),
                          ("shake_shake/ShakeShake_keras.py", {"depth": 27})]:
        with pytest.raises(train.OptionError, match="--depth"):
            _build(script, flags)


@pytest.mark.parametrize("script,flags", TINY, ids=lambda v: str(v))
def test_one_training_step(script, flags):
    model = _build(script, flags)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True), "sparse_categorical_crossentropy",
                  jit_compile=keras.backend.backend() != "torch")
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("uint8")
    y = np.arange(4) % 10
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y)
    loss = loss[0] if isinstance(loss, (list, tuple)) else loss
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
