"""A grouped convolution that trains at full speed on a CPU with TensorFlow and JAX.

``keras.layers.Conv2D(filters, size, groups=g)`` splits its input channels into g groups, and each group of
filters sees only its own group of channels: ResNeXt's cardinality, ShuffleNet's grouped 1x1 convolutions,
RegNet's and DPN's grouped 3x3s. On TensorFlow and JAX, Keras runs it as one XLA grouped convolution, and on a
CPU XLA's gradient of that is slow: the grouped layers of this collection's networks train 5 to 230 times
slower that way than as g ordinary convolutions, the networks 2 to 42 times (benchmarks/README.md, grouped_conv.py).
PyTorch's own grouped kernel is fast, and so are GPUs'.

``GroupedConv2D`` is ``keras.layers.Conv2D`` itself, the same kernel (kh, kw, channels / g, filters) and the
same saved model, with one change: on a CPU with TensorFlow or JAX its convolution runs group by group, each
group's channels through its own slice of the kernel, and concatenates the outputs (group i's filters are the
i-th block of ``filters / g``, as Keras's and PyTorch's grouping has them). Elsewhere it is Conv2D unchanged.
"""

import functools

import keras
from keras import ops


@functools.cache
def _groups_one_by_one():
    """True on TensorFlow and JAX when they compute on the CPU (no GPU visible)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return not tf.config.list_logical_devices("GPU")
    if backend == "jax":
        import jax
        return jax.default_backend() == "cpu"
    return False


@keras.saving.register_keras_serializable(package="cifar_common")
class GroupedConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` with ``groups``, computed group by group on a CPU with TensorFlow or JAX."""

    def convolution_op(self, inputs, kernel):
        if self.groups == 1 or not _groups_one_by_one():
            return super().convolution_op(inputs, kernel)
        axis = -1 if self.data_format == "channels_last" else 1
        outputs = [ops.conv(x, k, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
                            data_format=self.data_format)
                   for x, k in zip(ops.split(inputs, self.groups, axis=axis), ops.split(kernel, self.groups, axis=-1))]
        return ops.concatenate(outputs, axis=axis)
