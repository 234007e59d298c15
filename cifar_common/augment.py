"""Crop-and-flip augmentation that runs on the device, inside the compiled training step.

The standard CIFAR augmentation: pad each image with 4 zero pixels on every side, cut a random 32 x 32 window
out of the padded image (81 possible offsets) and mirror it left-right with probability 1/2.

It is written with ``keras.ops`` and vectorised over the batch, so it runs on TensorFlow, JAX and PyTorch
alike, compiled wherever the training step is. Keras's own ``RandomCrop``/``RandomTranslation`` layers are
not used on purpose: they are marked non-jittable, which silently switches compilation off for the whole
model (measured over 100 times slower on JAX, ../shared/gpu/README.md).

The window is cut with one gather of source pixels, which is exact (pixels are copied, never computed) and
the cheapest of the four ways measured by ``benchmarks/augment_variants.py`` on the CPU: 3.5 ms a batch of
128 on TensorFlow (7 % of a LeNet-5 training step), 0.4 ms on JAX, 2.3 ms on PyTorch, where a chain of 16
selects over the padded batch took 39, 6.4 and 11.6 ms (benchmarks/README.md). Under JAX data parallelism,
XLA cannot tell that each image's pixels come from that image, so it gathers the batch's images onto every
device first (about 1.5 MB a step at batch 128); a per-image gather avoids that but costs twice as much on
TensorFlow's CPU path.

Put the layer in a model right after the input preprocessing; it acts only when ``training=True``
(``model.fit``) and passes images through unchanged in ``evaluate`` and ``predict``.
"""

import keras
from keras import ops


def random_crop_flip(images, padding, seed):
    """Randomly crops (after zero padding) and flips a batch of NHWC images.

    ``seed`` is a ``keras.random.SeedGenerator`` (or an integer, for a one-off draw).
    """
    batch, height, width, channels = ops.shape(images)
    heads = keras.random.uniform((batch, 1), seed=seed) < 0.5  # mirror this image?
    offsets = keras.random.randint((batch, 2), 0, 2 * padding + 1, seed=seed)  # window's corner, 0..2*padding

    # No padded copy is made: for each image, the source row of every output row and the source column of
    # every output column (counted from the mirrored side when the image is flipped); a source outside the
    # image lies in the zero padding.
    rows = ops.arange(height)[None, :] + offsets[:, :1] - padding  # (batch, height)
    cols = ops.arange(width)[None, :] + offsets[:, 1:] - padding  # (batch, width)
    cols = ops.where(heads, width - 1 - cols, cols)
    inside = (ops.expand_dims((rows >= 0) & (rows < height), 2)
              & ops.expand_dims((cols >= 0) & (cols < width), 1))  # (batch, height, width)

    # One gather fetches every output pixel (all its channels) from the batch seen as a list of pixels.
    first_row = ops.arange(batch)[:, None] * height + ops.clip(rows, 0, height - 1)  # row in the whole batch
    index = ops.expand_dims(first_row * width, 2) + ops.expand_dims(ops.clip(cols, 0, width - 1), 1)
    pixels = ops.take(ops.reshape(images, (-1, channels)), index, axis=0)  # (batch, height, width, channels)
    return ops.where(ops.expand_dims(inside, 3), pixels, ops.zeros((), images.dtype))


@keras.saving.register_keras_serializable(package="cifar_common")
class RandomCropFlip(keras.layers.Layer):
    """Random crop with ``padding`` zero pixels plus random horizontal flip, during training only."""

    def __init__(self, padding=4, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        return random_crop_flip(images, self.padding, self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "seed": self.seed}
