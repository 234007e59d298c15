"""cifar_common/grouped_conv.py: GroupedConv2D computes what keras.layers.Conv2D(groups=g) computes, forward and
backward, whether it runs its groups one by one (a CPU with TensorFlow or JAX) or as Keras does; on the backend
KERAS_BACKEND names (tests/test_backends.py reruns it on JAX and PyTorch)."""

import numpy as np
import pytest

import cifar_common  # noqa: F401
import keras
from keras import ops

from cifar_common import grouped_conv
from cifar_common.grouped_conv import GroupedConv2D


def _gradients(layer, x):
    """The layer's output and the gradients of a fixed function of it to its kernel and its input."""
    backend = keras.backend.backend()
    weights = np.random.default_rng(1).normal(size=layer.compute_output_shape(x.shape)).astype("float32")
    if backend == "tensorflow":
        import tensorflow as tf
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * weights)
        grads = tape.gradient(loss, [layer.kernel.value, x])
    elif backend == "jax":
        import jax

        def loss(kernel, x):
            y = layer.convolution_op(x, kernel)
            return (y * weights).sum(), y
        (_, y), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(layer.kernel.value, x)
    else:
        import torch
        x = torch.tensor(x, requires_grad=True)
        y = layer(x)
        (y * torch.tensor(weights)).sum().backward()
        grads = [layer.kernel.value.grad, x.grad]
    return [ops.convert_to_numpy(t) for t in (y, *grads)]


@pytest.mark.parametrize("groups,size,stride", [(4, 3, 1), (2, 1, 1), (8, 3, 2)])
def test_grouped_conv2d_is_conv2d_with_groups_forward_and_backward(groups, size, stride, monkeypatch):
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    keras_layer = keras.layers.Conv2D(24, size, strides=stride, padding="same", groups=groups, use_bias=False)
    ours = GroupedConv2D(24, size, strides=stride, padding="same", groups=groups, use_bias=False)
    keras_layer.build(x.shape)
    ours.build(x.shape)
    kernel = np.random.default_rng(2).normal(size=(size, size, 16 // groups, 24)).astype("float32")
    keras_layer.kernel.assign(kernel)
    ours.kernel.assign(kernel)
    assert ours.count_params() == keras_layer.count_params() == size * size * 16 // groups * 24
    expected = _gradients(keras_layer, x)
    monkeypatch.setattr(grouped_conv, "_groups_one_by_one", lambda: True)  # the CPU's way, on every backend
    for got, want in zip(_gradients(ours, x), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # Group i's filters see group i's channels only: a change in the first group's channels moves the first
    # block of filters and no other.
    y = ops.convert_to_numpy(ours(x))
    x2 = x.copy()
    x2[..., : 16 // groups] += 1.0
    moved = np.abs(ops.convert_to_numpy(ours(x2)) - y).max(axis=(0, 1, 2)) > 1e-6
    assert moved.tolist() == [True] * (24 // groups) + [False] * (24 - 24 // groups)


def test_it_saves_and_loads_as_itself(tmp_path):
    inputs = keras.Input((8, 8, 16))
    model = keras.Model(inputs, GroupedConv2D(8, 3, groups=4)(inputs))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.layers[-1], GroupedConv2D) and loaded.layers[-1].groups == 4
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)), atol=1e-6)
