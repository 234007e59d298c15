"""Crop-and-flip augmentation that runs on the device, inside the compiled training step.

The standard CIFAR augmentation: pad each image with 4 zero pixels on every side, cut a random 32 x 32 window
out of the padded image (81 possible offsets) and mirror it left-right with probability 1/2.

It is written with ``keras.ops`` and vectorised over the batch, so it runs on TensorFlow, JAX and PyTorch
alike, compiled wherever the training step is. Keras's own ``RandomCrop``/``RandomTranslation`` layers are
not used on purpose: they are marked non-jittable, which silently switches compilation off for the whole
model (measured over 100 times slower on JAX, ../shared/gpu/README.md).

The window is cut with a gather of source pixels within each image: exact (pixels are copied, never
computed), and with a single batch-wide gather the cheapest of the seven ways that
``benchmarks/augment_variants.py`` measures on the CPU (benchmarks/README.md): a few milliseconds a batch
of 128 on TensorFlow and PyTorch (under 10 % of a LeNet-5 training step), under one on JAX, where the chain
of 16 selects over the padded batch used before took 39 ms on TensorFlow (80 % of the step). Of the two,
the per-image gather is kept: a batch-wide one makes XLA copy the whole batch onto every device of a
data-parallel JAX step first, since it cannot tell that each image's pixels stay in that image.

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

    # Each image fetches its output pixels (all channels of each) from its own list of pixels with one gather;
    # vectorized_map runs that over the batch as one batched gather, which keeps each image on its device
    # under data parallelism.
    pixel = (ops.expand_dims(ops.clip(rows, 0, height - 1) * width, 2)
             + ops.expand_dims(ops.clip(cols, 0, width - 1), 1))  # (batch, height, width): index in its image
    flat = ops.reshape(images, (batch, height * width, channels))
    pixels = ops.vectorized_map(lambda pair: ops.take(pair[0], pair[1], axis=0), (flat, pixel))
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
