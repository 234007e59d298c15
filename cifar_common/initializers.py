"""Initial weights beyond Keras's random ones: identity (Dirac) filters, and a whitening convolution
computed from the training images.

Both come from airbench94 (KellerJordan/cifar10-airbench, legacy/airbench94.py, ``Conv.reset_parameters``
and ``init_whitening_conv``); the kernels here are in Keras's layout, (height, width, in, out).

* ``Dirac``: a 3x3 convolution whose first ``in`` filters start as the identity (each passes one input channel
  through unchanged) and the rest as the base initializer draws them (by default PyTorch's own draw for a
  convolution, as upstream's are: uniform within +-1/sqrt(fan_in)). A deep plain network then starts close
  to a shallower one and trains from the first step (Zagoruyko and Komodakis, "DiracNets", 2017).
* ``whitening_kernel``: a 2x2 convolution that decorrelates the images' 2x2 patches. Every patch of 2 x 2
  pixels x 3 channels is a 12-vector; the eigenvectors of their covariance, each divided by the square root
  of its eigenvalue, project a patch onto 12 directions of unit variance, uncorrelated with each other. The
  kernel holds those 12 filters and their negations (24 outputs), so that the GELU after it keeps both
  signs. Computed once, before training, from some thousands of training images, and then frozen.
* ``Bias``: a learnt bias per channel, as a layer of its own, for the frozen whitening convolution: Keras
  freezes a layer's weights all together (``trainable=False``), and a frozen ``Conv2D`` followed by ``Bias``
  keeps its kernel fixed while the bias trains, in a saved model too (a variable's own ``trainable`` flag is
  not saved).

keras.initializers has an ``Identity`` only for 2-D matrices, and nothing computed from data.
"""

import keras
import numpy as np
from keras import ops


def pytorch_default(fan_in=None):
    """PyTorch's own initialisation of a ``Conv2d`` or ``Linear`` weight (kaiming_uniform with a = sqrt(5)):
    uniform within +-1/sqrt(fan_in), variance 1 / (3 fan_in). Keras's default is Glorot's; a new instance
    for every layer, since an unseeded Keras initializer called twice gives the same values twice.

    ``fan_in`` where Keras would count another one than PyTorch: a depthwise convolution's kernel has one input
    per filter in PyTorch (``fan_in`` = 9 for 3x3), while Keras's fan of a ``DepthwiseConv2D`` kernel counts
    all the channels."""
    if fan_in is None:
        return keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")
    return keras.initializers.RandomUniform(-fan_in ** -0.5, fan_in ** -0.5)


def pytorch_he_fan_out():
    """PyTorch's ``kaiming_normal_(mode="fan_out")``, which fb.resnet.torch's descendants start their convolutions
    with: normal, of variance 2 / fan_out (the kernel's outputs times its window), not cut at two standard
    deviations as Keras's ``he_normal`` is. A new instance for every layer, as ``pytorch_default``."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


class WhiteningError(ValueError):
    """The images given cannot make a whitening convolution (too few, constant, not finite numbers)."""


@keras.saving.register_keras_serializable(package="cifar_common")
class Dirac(keras.initializers.Initializer):
    """A convolution kernel (h, w, in, out) whose first ``in`` filters are the identity: filter i has a 1 at
    the centre for input channel i and 0 elsewhere; filters ``in`` to ``out - 1`` come from ``base``, by
    default PyTorch's convolution initialisation (kaiming_uniform with a = sqrt(5): variance 1 / (3 fan_in))."""

    def __init__(self, base=None):
        self.base = keras.initializers.get(base or pytorch_default())

    def __call__(self, shape, dtype=None):
        height, width, channels_in, channels_out = shape
        if channels_out < channels_in:
            raise ValueError(f"Dirac: a kernel of shape {tuple(shape)} has fewer filters ({channels_out}) than "
                             f"input channels ({channels_in}); the identity needs one filter per channel")
        identity = np.zeros((height, width, channels_in, channels_in), "float32")
        identity[height // 2, width // 2, np.arange(channels_in), np.arange(channels_in)] = 1.0
        drawn = self.base(shape, dtype=dtype)
        return ops.concatenate([ops.cast(identity, drawn.dtype), drawn[..., channels_in:]], axis=-1)

    def get_config(self):
        return {"base": keras.initializers.serialize(self.base)}


@keras.saving.register_keras_serializable(package="cifar_common")
class Bias(keras.layers.Layer):
    """Adds a learnt bias to each channel (the last axis), starting at 0."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, x):
        return x + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def patches(images, size):
    """Every ``size`` x ``size`` patch of NHWC images (stride 1, no padding) as a row: (count, size*size*C),
    in the order of a Keras kernel's (height, width, channel) axes."""
    images = np.asarray(images, "float32")
    n, height, width, channels = images.shape
    rows, cols = height - size + 1, width - size + 1
    parts = [images[:, dy:dy + rows, dx:dx + cols, :] for dy in range(size) for dx in range(size)]
    return np.stack(parts, axis=3).reshape(n * rows * cols, size * size * channels)


def whitening_kernel(images, size=2, eps=5e-4):
    """The frozen whitening convolution's kernel, (size, size, C, 2 * size*size*C), from NHWC float images
    (standardised as the network sees them): the eigenvectors of the patches' covariance, largest eigenvalue
    first, each divided by sqrt(eigenvalue + eps), then the same filters negated. ``eps`` keeps the
    directions of almost no variance from being amplified without bound.

    The covariance is upstream's, ``patches.T @ patches / count`` without subtracting the patches' mean: the
    images are already standardised to mean 0 per channel."""
    rows = patches(images, size).astype("float64")
    if len(rows) < rows.shape[1]:
        raise WhiteningError(f"whitening: {len(rows)} patches cannot give a {rows.shape[1]}-dimensional "
                             "covariance; give more images")
    covariance = rows.T @ rows / len(rows)
    if not np.all(np.isfinite(covariance)):
        raise WhiteningError("whitening: the images hold values that are not finite numbers")
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    if eigenvalues[-1] + eps <= 1e-9 * eigenvalues[0]:  # relative: round-off leaves tiny ones of either sign
        raise WhiteningError("whitening: the patches do not vary in every direction (constant images?); "
                             "with eps 0 their covariance cannot be inverted")
    filters = eigenvectors / np.sqrt(eigenvalues + eps)  # column i: the i-th direction, scaled
    channels = np.shape(images)[-1]
    kernel = filters.reshape(size, size, channels, size * size * channels)
    return np.concatenate([kernel, -kernel], axis=-1).astype("float32")
