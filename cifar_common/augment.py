"""Crop-and-flip augmentation that runs on the device, inside the compiled training step.

The standard CIFAR augmentation: pad each image with 4 zero pixels on every side, cut a random 32 x 32 window
out of the padded image (81 possible offsets) and mirror it left-right with probability 1/2. The mirror is
left out for MNIST (``flip=False``): a mirrored digit is often another digit, or none.

It is written with ``keras.ops`` and vectorised over the batch, so it runs on TensorFlow, JAX and PyTorch
alike, compiled wherever the training step is. Keras's own ``RandomCrop``/``RandomTranslation`` layers are
not used on purpose: they are marked non-jittable, which silently switches compilation off for the whole
model (measured over 100 times slower on JAX, on an NVIDIA H200).

The window is cut with one gather of source pixels from each zero-padded image: exact (pixels are copied,
never computed), and the cheapest of the eight ways that ``benchmarks/augment_variants.py`` measures on the
CPU (benchmarks/README.md): under 3 ms a batch of 128 on TensorFlow (about a tenth of a LeNet-5 training
step), under one on JAX, where the chain of 16 selects over the padded batch used before took 40 ms on
TensorFlow (more than the whole LeNet-5 step). The gather stays within each image: a batch-wide one makes
XLA copy the whole batch onto every device of a data-parallel JAX step first, since it cannot tell that each
image's pixels stay in that image.

Put the layer in a model right after the input preprocessing; it acts only when ``training=True``
(``model.fit``) and passes images through unchanged in ``evaluate`` and ``predict``. ``mode="reflect"`` pads
by reflection instead of zeros (airbench94's 2-pixel translation).

``AlternatingFlip`` is airbench94's flip (arXiv 2404.00498, section 3.6): instead of a new coin per image
each epoch, every image is mirrored in every other epoch, so that consecutive epochs see both sides of every
image. The training images are mirrored at random once (``mirror_half``), and the layer mirrors the whole
batch in odd epochs; ``SetEpoch`` tells it the epoch.
"""

import numpy as np

import keras
from keras import ops


def random_crop_flip(images, padding, seed, flip=True, mode="constant"):
    """Randomly crops (after padding with zeros, or by reflection with ``mode="reflect"``) and, with ``flip``,
    flips a batch of NHWC images.

    ``seed`` is a ``keras.random.SeedGenerator`` (or an integer, for a one-off draw).
    """
    batch, height, width, channels = ops.shape(images)
    heads = keras.random.uniform((batch, 1), seed=seed) < 0.5  # mirror this image?
    offsets = keras.random.randint((batch, 2), 0, 2 * padding + 1, seed=seed)  # window's corner, 0..2*padding

    # For each image, the source row of every output row and the source column of every output column in
    # the zero-padded image (counted from the mirrored side when the image is flipped).
    side = width + 2 * padding
    rows = ops.arange(height)[None, :] + offsets[:, :1]  # (batch, height), 0 .. height + 2 * padding - 1
    cols = ops.arange(width)[None, :] + offsets[:, 1:]  # (batch, width)
    if flip:
        cols = ops.where(heads, side - 1 - cols, cols)

    # Each image fetches its output pixels (all channels of each) from its own list of padded pixels with one
    # gather; vectorized_map runs that over the batch as one batched gather, which keeps each image on its
    # device under data parallelism.
    padded = ops.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]], mode=mode)
    pixel = ops.expand_dims(rows * side, 2) + ops.expand_dims(cols, 1)  # (batch, height, width)
    flat = ops.reshape(padded, (batch, (height + 2 * padding) * side, channels))
    return ops.vectorized_map(lambda pair: ops.take(pair[0], pair[1], axis=0), (flat, pixel))


@keras.saving.register_keras_serializable(package="cifar_common")
class RandomCropFlip(keras.layers.Layer):
    """Random crop with ``padding`` zero pixels plus random horizontal flip, during training only.

    ``flip=False`` keeps the crop and drops the flip, for images whose mirror is not of their class (digits:
    the scripts pass ``flip=data.mirrorable``)."""

    def __init__(self, padding=4, flip=True, seed=None, mode="constant", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("constant", "reflect"):
            raise ValueError(f"RandomCropFlip(mode={mode!r}): pad with 'constant' (zeros) or 'reflect'")
        self.padding = padding
        self.flip = flip
        self.seed = seed
        self.mode = mode
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        return random_crop_flip(images, self.padding, self.seed_generator, self.flip, self.mode)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "flip": self.flip, "seed": self.seed,
                "mode": self.mode}


def mirror_half(images, seed):
    """A copy of NHWC images with each mirrored left-right with probability 1/2 (a seeded NumPy draw): the
    start of ``AlternatingFlip``, done once on the training images before training."""
    mirror = np.random.default_rng(seed).random(len(images)) < 0.5
    out = np.array(images, copy=True)
    out[mirror] = out[mirror, :, ::-1]
    return out


@keras.saving.register_keras_serializable(package="cifar_common")
class AlternatingFlip(keras.layers.Layer):
    """Mirrors the whole batch in odd epochs (counted from 0) during training; passes it through otherwise.

    With the training images mirrored at random once beforehand (``mirror_half``), each image is seen
    mirrored in every other epoch: in each epoch after the first, exactly the images that were not mirrored
    in the epoch before. The epoch is a variable of the layer (read inside the compiled step), set by the
    ``SetEpoch`` callback as each epoch begins; a resumed run sees the same sides because ``mirror_half``
    draws the same images again from the same seed."""

    def build(self, input_shape):
        self.epoch = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="epoch")

    def call(self, images, training=None):
        if not training:
            return images
        return ops.where(ops.equal(ops.mod(self.epoch, 2), 1), ops.flip(images, axis=2), images)

    def compute_output_shape(self, input_shape):
        return input_shape


class SetEpoch(keras.callbacks.Callback):
    """Tells every ``AlternatingFlip`` layer of the model the epoch that begins."""

    def on_epoch_begin(self, epoch, logs=None):
        # _flatten_layers: every layer however nested, also inside custom layers (Keras has no public walk).
        layers = [layer for layer in self.model._flatten_layers() if isinstance(layer, AlternatingFlip)]
        if not layers:
            raise ValueError("SetEpoch: the model has no AlternatingFlip layer to tell the epoch")
        for layer in layers:
            layer.epoch.assign(epoch)
