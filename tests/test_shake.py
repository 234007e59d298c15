"""Shake-shake and ShakeDrop (cifar_common/shake.py) against their papers: the forward pass uses one random
coefficient and the gradient another, per image, inside the compiled training step (on the backend
KERAS_BACKEND names; tests/test_backends.py reruns this file on JAX and PyTorch)."""

import numpy as np
import pytest

import cifar_common  # noqa: F401
import keras
from keras import layers, ops

from cifar_common import shake

JIT = keras.backend.backend() != "torch"  # compiled as the scripts compile it: XLA on TensorFlow and JAX


def _mean_loss(y_true, y_pred):
    return ops.mean(y_pred)


def _one_step(model, n):
    """One SGD step at rate 1 on ``n`` images of ones, the loss the mean output: returns the loss (the mean of
    the forward pass) and each kernel's change (minus the mean gradient)."""
    model.compile(keras.optimizers.SGD(1.0), _mean_loss, jit_compile=JIT)
    before = [ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(np.ones((n, 1), "float32"), np.zeros((n, 1), "float32"))
    loss = float(loss[0] if isinstance(loss, (list, tuple)) else loss)
    after = [ops.convert_to_numpy(w) for w in model.trainable_weights]
    return loss, [float((a - b).sum()) for a, b in zip(after, before)]


def _scalar(value):
    """x -> value * x per image, trainable, shaped as one-pixel NHWC images for the layers' per-image factors."""
    def apply(x):
        x = layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(value))(x)
        return layers.Reshape((1, 1, 1))(x)
    return apply


@keras.saving.register_keras_serializable(package="tests")
class Fixed(layers.Layer):
    def __init__(self, forward, backward, **kwargs):
        super().__init__(**kwargs)
        self.factors = forward, backward  # not self.forward: a PyTorch module's forward is its call

    def call(self, x):
        return shake.scaled(x, *self.factors)


def test_scaled_has_the_forward_value_and_the_backward_gradient():
    # y = 3 w x forward, gradient 0.5 x: with w = 1 and x = 1 the loss is 3, and one step at rate 1 moves w by
    # -0.5 (the plain gradient would move it by -3).
    inputs = keras.Input((1,))
    model = keras.Model(inputs, Fixed(3.0, 0.5)(_scalar(1.0)(inputs)))
    loss, (change,) = _one_step(model, 8)
    assert loss == pytest.approx(3.0) and change == pytest.approx(-0.5)


def test_shake_shake_mixes_the_branches_with_one_share_forward_and_another_backward():
    # Branch a = 2x, branch b = x, with x = 1: the forward output is 2 alpha + (1 - alpha) = 1 + alpha, so the
    # loss is 1 + mean(alpha); the gradients are mean(beta) for a's weight and mean(1 - beta) for b's.
    inputs = keras.Input((1,))
    mixed = shake.ShakeShake(seed=1)([_scalar(2.0)(inputs), _scalar(1.0)(inputs)])
    loss, (change_a, change_b) = _one_step(keras.Model(inputs, mixed), 512)
    alpha, beta = loss - 1, -change_a
    assert change_a + change_b == pytest.approx(-1.0, abs=1e-5)  # beta + (1 - beta): the gradient sums to 1
    assert 0.4 < alpha < 0.6 and 0.4 < beta < 0.6  # U[0, 1]'s mean over 512 images: 0.5 +- 0.013
    assert abs(alpha - beta) > 1e-4  # drawn independently


def test_shake_shake_draws_per_image_in_training_and_averages_otherwise():
    a, b = np.ones((1000, 2, 2, 3), "float32"), np.zeros((1000, 2, 2, 3), "float32")
    layer = shake.ShakeShake(seed=2)
    out = ops.convert_to_numpy(layer([a, b], training=True))
    alpha = out[:, 0, 0, 0]
    assert np.all(out == alpha[:, None, None, None])  # one share per image, over all its pixels and channels
    assert alpha.min() >= 0 and alpha.max() < 1 and len(np.unique(alpha)) > 990
    assert abs(alpha.mean() - 0.5) < 0.03 and abs(alpha.std() - 12 ** -0.5) < 0.02  # U[0, 1]
    assert np.all(ops.convert_to_numpy(layer([a, b], training=False)) == 0.5)
    again = ops.convert_to_numpy(shake.ShakeShake(seed=2)([a, b], training=True))
    assert np.array_equal(out, again)  # the same seed, the same draws


@pytest.mark.parametrize("probability", [0.0, 0.5, 1.0])
def test_shakedrop_keeps_a_branch_with_probability_1_minus_p_and_shakes_the_others(probability):
    x = np.ones((4000, 2, 2, 3), "float32")
    out = ops.convert_to_numpy(shake.ShakeDrop(probability, seed=3)(x, training=True))
    factor = out[:, 0, 0, 0]
    assert np.all(out == factor[:, None, None, None])  # one factor per image
    kept = factor == 1.0  # b = 1; a dropped branch's alpha is 1 with probability 0
    assert abs(kept.mean() - (1 - probability)) < 0.03  # 4000 draws: 3 % is over 3.8 standard deviations
    shaken = factor[~kept]
    if len(shaken):
        assert shaken.min() >= -1 and shaken.max() < 1 and abs(shaken.mean()) < 0.05  # alpha ~ U[-1, 1]
        assert (shaken < 0).mean() == pytest.approx(0.5, abs=0.05)
    # At test time: the expectation, 1 - p + p * E[alpha] = 1 - p.
    assert np.allclose(ops.convert_to_numpy(shake.ShakeDrop(probability)(x, training=False)), 1 - probability)


@pytest.mark.parametrize("probability,forward,backward", [(0.0, 1.0, 1.0), (1.0, 0.0, 0.5)])
def test_shakedrop_shakes_the_gradient_by_beta_in_the_compiled_step(probability, forward, backward):
    # x = 1, y = w * factor: the loss is the mean forward factor, the step moves w by minus the mean backward
    # factor. Kept (p = 0): both 1. Dropped (p = 1): alpha ~ U[-1, 1] forward (mean 0), beta ~ U[0, 1] back.
    inputs = keras.Input((1,))
    model = keras.Model(inputs, shake.ShakeDrop(probability, seed=4)(_scalar(1.0)(inputs)))
    loss, (change,) = _one_step(model, 1024)
    assert loss == pytest.approx(forward, abs=0.1) and -change == pytest.approx(backward, abs=0.05)


def test_shakedrop_refuses_a_probability_outside_0_to_1():
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="probability"):
            shake.ShakeDrop(bad)


def test_the_layers_save_and_load(tmp_path):
    inputs = keras.Input((4, 4, 3))
    x = layers.Conv2D(3, 3, padding="same")(inputs)
    y = shake.ShakeShake()([x, layers.Conv2D(3, 3, padding="same")(inputs)])
    model = keras.Model(inputs, shake.ShakeDrop(0.3, alpha_range=(-0.5, 1.0))(y))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    images = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    assert np.allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    assert loaded.layers[-1].probability == 0.3 and loaded.layers[-1].alpha_range == (-0.5, 1.0)
