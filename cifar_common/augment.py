"""Crop-and-flip augmentation that runs on the device, inside the compiled training step.

The standard CIFAR augmentation: pad each image with 4 zero pixels on every side, cut a random 32 x 32 window
out of the padded image (81 possible offsets) and mirror it left-right with probability 1/2.

It is written with ``keras.ops`` and vectorised over the batch, so it runs on TensorFlow, JAX and PyTorch
alike. Keras's own ``RandomCrop``/``RandomTranslation`` layers are not used on purpose: they are marked
non-jittable, which silently switches compilation off for the whole model (measured over 100 times slower
on JAX, ../shared/gpu/README.md).

Put the layer in a model right after the input preprocessing; it acts only when ``training=True``
(``model.fit``) and passes images through unchanged in ``evaluate`` and ``predict``.
"""

import keras
from keras import ops


def random_crop_flip(images, padding, seed):
    """Randomly crops (after zero padding) and flips a batch of NHWC images.

    ``seed`` is a ``keras.random.SeedGenerator`` (or an integer, for a one-off draw).
    """
    shape = ops.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]

    # Flip: mirror each image whose coin came up heads.
    heads = keras.random.uniform((batch, 1, 1, 1), seed=seed) < 0.5
    images = ops.where(heads, ops.flip(images, axis=2), images)

    # Crop: the window of the padded image at a random offset, 0..2*padding rows down and columns across.
    # Each image picks its window out of the 2*padding+1 shifted views with a select (ops.where): only
    # elementwise work, exact in any dtype, and much faster under XLA than a per-image gather.
    padded = ops.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    offsets = keras.random.randint((batch, 2), 0, 2 * padding + 1, seed=seed)
    down = ops.reshape(offsets[:, 0], (-1, 1, 1, 1))
    across = ops.reshape(offsets[:, 1], (-1, 1, 1, 1))
    rows = padded[:, :height]
    for k in range(1, 2 * padding + 1):
        rows = ops.where(down == k, padded[:, k : k + height], rows)
    window = rows[:, :, :width]
    for k in range(1, 2 * padding + 1):
        window = ops.where(across == k, rows[:, :, k : k + width], window)
    return window


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
