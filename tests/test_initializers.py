"""Initial weights (cifar_common/initializers.py): Dirac filters pass their channels through; the whitening
convolution computed from images makes those images' patches uncorrelated with unit variance."""

import keras
import numpy as np
import pytest

from cifar_common.initializers import Dirac, patches, whitening_kernel


def _correlated_images(n=64, seed=0):
    """Smooth images whose channels move together, standardised per channel: patches far from white."""
    rng = np.random.default_rng(seed)
    base = np.cumsum(np.cumsum(rng.normal(size=(n, 32, 32, 1)), axis=1), axis=2)
    images = base + 0.3 * rng.normal(size=(n, 32, 32, 3)) * base.std()
    return ((images - images.mean((0, 1, 2))) / images.std((0, 1, 2))).astype("float32")


def _output_covariance(images, kernel):
    conv = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[0], padding="valid", use_bias=False)
    conv.build(images.shape)
    conv.kernel.assign(kernel)
    out = keras.ops.convert_to_numpy(conv(images)).astype("float64")
    flat = out.reshape(-1, out.shape[-1])
    return flat.T @ flat / len(flat), out


def test_whitened_patches_have_identity_covariance():
    images = _correlated_images()
    raw = patches(images, 2)
    raw_covariance = raw.T @ raw / len(raw)
    assert raw.shape == (64 * 31 * 31, 12) and np.abs(raw_covariance - np.eye(12)).max() > 0.5  # far from white
    kernel = whitening_kernel(images, eps=0.0)
    assert kernel.shape == (2, 2, 3, 24)
    covariance, out = _output_covariance(images, kernel)
    # Tolerance 1e-3: the convolution runs in float32 over 61,504 patches.
    np.testing.assert_allclose(covariance[:12, :12], np.eye(12), atol=1e-3)
    np.testing.assert_array_equal(out[..., 12:], -out[..., :12])  # the negated half
    # With eps, direction i keeps the share lambda_i / (lambda_i + eps) of its unit variance.
    eigenvalues = np.linalg.eigvalsh(raw_covariance.astype("float64"))[::-1]
    covariance, _ = _output_covariance(images, whitening_kernel(images, eps=0.1))
    # (largest direction first)
    np.testing.assert_allclose(np.diag(covariance)[:12], eigenvalues / (eigenvalues + 0.1), atol=1e-3)


def test_whitening_that_cannot_be_computed_is_refused():
    with pytest.raises(ValueError, match="give more images"):
        whitening_kernel(np.zeros((1, 3, 3, 3), "float32"))  # 4 patches for a 12 x 12 covariance
    with pytest.raises(ValueError, match="constant images"):
        whitening_kernel(np.ones((4, 8, 8, 3), "float32"), eps=0.0)
    bad = _correlated_images(4)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        whitening_kernel(bad)


def test_dirac_filters_pass_the_input_channels_through():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 5)).astype("float32")
    conv = keras.layers.Conv2D(12, 3, padding="same", use_bias=False, kernel_initializer=Dirac())
    y = keras.ops.convert_to_numpy(conv(x))
    np.testing.assert_array_equal(y[..., :5], x)  # exactly: one 1 and zeros
    assert np.abs(keras.ops.convert_to_numpy(conv.kernel)[..., 5:]).max() > 0  # the other filters: drawn
    again = Dirac.from_config(Dirac("he_normal").get_config())
    assert isinstance(again.base, keras.initializers.HeNormal)
    # The default draw is PyTorch's for a convolution: uniform within +-1/sqrt(fan_in) (fan_in 3 * 3 * 5 here).
    drawn = keras.ops.convert_to_numpy(conv.kernel)[..., 5:]
    assert np.abs(drawn).max() <= 1 / np.sqrt(45) and np.abs(drawn).max() > 0.8 / np.sqrt(45)
    with pytest.raises(ValueError, match="fewer filters"):
        Dirac()((3, 3, 8, 4))


@pytest.mark.parametrize("kind", ["conv", "depthwise", "dense"])
def test_pytorch_default_draws_within_one_over_the_root_of_pytorchs_fan_in(kind):
    """PyTorch's bound is 1/sqrt(fan_in) with its own fan: 3 x 3 x 16 for a 3x3 convolution of 16 channels, 3 x 3
    for a depthwise one (one input channel a filter: Keras's own fan would count all 16), 16 for a dense layer."""
    from cifar_common.initializers import pytorch_default
    keras.utils.set_random_seed(0)
    layer, fan = {"conv": (keras.layers.Conv2D(64, 3, kernel_initializer=pytorch_default()), 144),
                  "depthwise": (keras.layers.DepthwiseConv2D(3, depth_multiplier=4,
                                                             depthwise_initializer=pytorch_default(fan_in=9)), 9),
                  "dense": (keras.layers.Dense(64, kernel_initializer=pytorch_default()), 16)}[kind]
    layer.build((None, 8, 8, 16) if kind != "dense" else (None, 16))
    w = keras.ops.convert_to_numpy(layer.weights[0])
    bound = fan ** -0.5
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound  # fills its range, no further
    assert np.var(w) == pytest.approx(bound ** 2 / 3, rel=0.1)  # uniform: variance bound^2 / 3
