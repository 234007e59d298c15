"""The regularisers (cifar_common/regularisers.py) against their papers, on fixed inputs: Cutout's square, Random
Erasing's areas, aspect ratios and probability, Mixup's and CutMix's lambda and mixed labels, label smoothing
with mixing, Keras's average of the weights; each inside a compiled, seeded training step. The suite runs this
file on JAX and PyTorch too (test_backends.py)."""

import argparse
import math

import keras
import numpy as np
import pytest
from keras import ops

from cifar_common import regularisers
from cifar_common.augment import RandomCropFlip
from cifar_common.losses import SparseSmoothedCrossentropy

SIDE = 32


def _boxes(mask):
    """(rows, columns) of the box each image's True pixels make, asserting they make one box (or none)."""
    sizes = []
    for m in mask:
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if len(rows) == 0:
            sizes.append((0, 0))
            continue
        assert m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all() and m.sum() == len(rows) * len(cols)
        assert rows[-1] - rows[0] + 1 == len(rows) and cols[-1] - cols[0] + 1 == len(cols)
        sizes.append((len(rows), len(cols)))
    return np.array(sizes)


def test_cutout_zeroes_one_square_of_the_side_cut_by_the_border():
    images = np.ones((2000, SIDE, SIDE, 3), "float32")
    out = ops.convert_to_numpy(regularisers.cutout(images, 16, keras.random.SeedGenerator(1)))
    zero = out == 0
    assert (zero.all(axis=3) == zero.any(axis=3)).all()  # every channel of a pixel, or none
    assert set(np.unique(out)) == {0.0, 1.0}  # zeros, the rest untouched
    sizes = _boxes(zero[..., 0])
    assert (sizes > 0).all() and (sizes <= 16).all()
    # A centre anywhere: uncut (16 x 16) only when it lies 8 to 23 in both directions, (16/32)^2 of the time;
    # the smallest cut squares are 8 pixels (a centre on the first row or column).
    whole = np.mean((sizes == 16).all(axis=1))
    assert whole == pytest.approx(0.25, abs=0.04)
    assert sizes.min() == 8


def test_random_erasing_follows_the_papers_ranges_and_probability():
    n, low, high = 4000, np.array([-2.0, -1.0, 0.5]), np.array([2.0, 1.0, 1.5])
    images = np.full((n, SIDE, SIDE, 3), 10.0, "float32")  # outside the fill's range
    out = ops.convert_to_numpy(regularisers.random_erasing(images, 0.5, low, high, keras.random.SeedGenerator(2)))
    erased = out != 10.0
    assert (erased.all(axis=3) == erased.any(axis=3)).all()
    filled = out[erased].reshape(-1, 3)
    assert (filled >= low).all() and (filled <= high).all()
    assert filled.std(axis=0) == pytest.approx((high - low) / math.sqrt(12), rel=0.05)  # uniform values
    sizes = _boxes(erased[..., 0])
    hit = sizes[:, 0] > 0
    assert hit.mean() == pytest.approx(0.5, abs=0.03)  # p = 0.5; the standard deviation over 4000 is 0.008
    h, w = sizes[hit, 0].astype(float), sizes[hit, 1].astype(float)
    # Each side is a rounded sqrt(area * ratio) or sqrt(area / ratio): within half a pixel of the ranges.
    area = SIDE * SIDE
    assert ((h - 0.5) * (w - 0.5) <= 0.4 * area).all() and ((h + 0.5) * (w + 0.5) >= 0.02 * area).all()
    assert ((h - 0.5) / (w + 0.5) <= 1 / 0.3).all() and ((h + 0.5) / (w - 0.5) >= 0.3).all()
    assert (h < SIDE).all() and (w < SIDE).all()
    # The paper's ranges are used to their ends: some erasures are large, some small, some tall, some wide.
    assert (h * w > 0.3 * area).any() and (h * w < 0.04 * area).any()
    assert (h / w > 2.5).any() and (w / h > 2.5).any()
    for p, share in ((0.0, 0.0), (1.0, 1.0)):
        out = ops.convert_to_numpy(regularisers.random_erasing(images[:500], p, low, high,
                                                               keras.random.SeedGenerator(3)))
        assert (out != 10.0).any(axis=(1, 2, 3)).mean() == share


def _numbered(n):
    """n images, image i all of value i: a mixed pixel tells which images and by how much."""
    return np.broadcast_to(np.arange(n, dtype="float32")[:, None, None, None], (n, 8, 8, 3)).copy()


def _draw(layer, images):
    """The layer's output in training and the lambda it recorded."""
    out = ops.convert_to_numpy(layer(images, training=True))
    return out, float(ops.convert_to_numpy(layer.lam))


def _beta_moments_match(draws, alpha):
    """Mean 1/2 and variance 1/(4(2 alpha + 1)) of Beta(alpha, alpha), within 4 standard errors."""
    n, variance = len(draws), 1 / (4 * (2 * alpha + 1))
    assert np.mean(draws) == pytest.approx(0.5, abs=4 * math.sqrt(variance / n))
    # The variance of the sample variance of Beta(alpha, alpha), bounded by that of a uniform's for alpha >= 1
    # and of a coin's below: 4 standard errors of at most sqrt(1/(16 n)).
    assert np.var(draws) == pytest.approx(variance, abs=4 / math.sqrt(16 * n))


@pytest.mark.parametrize("alpha", [1.0, 0.2])
def test_mixup_blends_each_image_with_its_partner_by_a_beta_lambda(alpha):
    layer = regularisers.Mixing("mixup", alpha, seed=4)
    images = _numbered(16)
    lams = []
    for _ in range(400):
        out, lam = _draw(layer, images)
        partner = np.roll(np.arange(16), -1)
        np.testing.assert_allclose(out, lam * images + (1 - lam) * images[partner], atol=1e-4)
        lams.append(lam)
    _beta_moments_match(np.array(lams), alpha)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(images, training=False)), images)
    assert float(ops.convert_to_numpy(layer.lam)) == 1.0  # outside training: no mixing, plain labels


def test_cutmix_pastes_a_box_and_lambda_is_the_unpasted_share():
    layer = regularisers.Mixing("cutmix", 1.0, seed=5)
    images = np.broadcast_to(np.arange(4, dtype="float32")[:, None, None, None], (4, SIDE, SIDE, 3)).copy()
    lams, cut = [], 0
    for _ in range(400):
        out, lam = _draw(layer, images)
        pasted = out != images
        np.testing.assert_array_equal(out[pasted], np.roll(images, -1, axis=0)[pasted])  # the partner's pixels
        sizes = _boxes(pasted[..., 0])
        assert (sizes == sizes[0]).all()  # one box for the batch
        assert lam == pytest.approx(1 - pasted[0, ..., 0].mean(), abs=1e-6)
        cut += sizes[0, 0] < SIDE and sizes[0, 1] < SIDE and sizes[0].min() > 0
        lams.append(lam)
    # The box cut by the border pastes less than 1 - Beta: the corrected lambda's mean lies above 1/2.
    assert 0.55 < np.mean(lams) < 0.8 and cut > 100


def test_mixed_and_smoothed_labels_give_the_hand_computed_loss():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0]], "float32")
    labels = np.array([0, 2, 1])
    layer = regularisers.Mixing("mixup", 1.0, seed=6)
    layer(_numbered(3), training=True)
    lam = float(ops.convert_to_numpy(layer.lam))
    expected = 0.0
    for i, z in enumerate(logits.tolist()):
        log_p = [v - math.log(sum(math.exp(u) for u in z)) for v in z]
        for share, label in ((lam, labels[i]), (1 - lam, labels[(i + 1) % 3])):  # the partner is the next one
            target = [0.9 + 0.1 / 3 if k == label else 0.1 / 3 for k in range(3)]
            expected += share * -sum(t * lp for t, lp in zip(target, log_p))
    loss = SparseSmoothedCrossentropy(0.1, from_logits=True, reduction="sum", mixing=layer)
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)
    target = lam * np.eye(3)[labels] + (1 - lam) * np.eye(3)[np.roll(labels, -1)]
    assert np.allclose(target.sum(axis=1), 1)  # the mixed targets are distributions too


def _arguments(**given):
    flags = {"cutout": 0, "random_erasing": 0.0, "mixup": None, "cutmix": None, "ema": 0.0}
    return argparse.Namespace(**{**flags, **given})


def _tiny_model():
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Normalization(mean=[100.0] * 3, variance=[2500.0] * 3)(inputs)
    x = RandomCropFlip(padding=2)(x)
    x = keras.layers.Conv2D(4, 3, strides=4)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def test_insert_puts_the_regularisers_after_the_augmentation_with_fill_in_normalised_units():
    model = _tiny_model()
    regularised = regularisers.insert(model, _arguments(cutout=8, random_erasing=0.5, cutmix=1.0))
    names = [layer.name for layer in regularised.layers]
    at = names.index(model.layers[2].name)  # the crop-and-flip
    assert names[at + 1:at + 4] == ["cutout", "random_erasing", "cutmix"]
    assert regularised.layers[at + 4] is model.layers[3]  # the same layers, so the same weights
    erasing = regularised.get_layer("random_erasing")
    assert erasing.low == pytest.approx([-2.0] * 3) and erasing.high == pytest.approx([3.1] * 3)
    assert regularisers.mixing_of(regularised) is regularised.get_layer("cutmix")
    assert regularisers.insert(model, _arguments()) is model


def _train(seed, **flags):
    keras.utils.set_random_seed(seed)
    args = _arguments(**flags)
    model = regularisers.insert(_tiny_model(), args)
    optimizer = keras.optimizers.SGD(0.05, **regularisers.ema_arguments(args))
    model.compile(optimizer=optimizer, metrics=["accuracy"],
                  loss=SparseSmoothedCrossentropy(0.1, mixing=regularisers.mixing_of(model)))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 255, (64, SIDE, SIDE, 3)).astype("float32"), rng.integers(0, 10, 64)
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return model, history.history["loss"]


@pytest.mark.parametrize("flags", [{"cutout": 16, "mixup": 1.0}, {"random_erasing": 0.5, "cutmix": 1.0}])
def test_they_train_inside_the_compiled_step_and_a_seed_repeats_the_run(flags):
    model, losses = _train(7, **flags)
    _, again = _train(7, **flags)
    _, other = _train(8, **flags)
    assert losses == again and losses != other
    lam = float(ops.convert_to_numpy(regularisers.mixing_of(model).lam))
    assert 0 < lam < 1  # the last step's, drawn inside the step


def test_the_average_of_the_weights_follows_its_formula_and_ends_in_the_model():
    # A one-weight model, w -> w - rate * gradient, with Keras's average: a = m a + (1 - m) w after each
    # step (the first step's average is that step's weights).
    keras.utils.set_random_seed(0)
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    x, y = np.ones((1, 1), "float32"), np.zeros((1, 1), "float32")
    w, average = 1.0, None
    for _ in range(4):
        w -= 0.1 * 2 * w  # the gradient of (w - 0)^2
        average = w if average is None else 0.5 * average + 0.5 * w
    model.fit(x, y, batch_size=1, epochs=4, verbose=0)  # fit ends with the average in the model
    assert float(ops.convert_to_numpy(model.trainable_weights[0])[0, 0]) == pytest.approx(average, rel=1e-5)
    assert average != pytest.approx(w, rel=1e-3)
