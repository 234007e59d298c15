"""Regularisers any script can train with, from the command line: Cutout, Random Erasing, Mixup, CutMix, label
smoothing and an exponential moving average of the weights. None is on by default: a script's defaults stay
its reference recipe (doc/regularisation.md shows each on real images and what each measured).

* Cutout (DeVries and Taylor 2017, arXiv 1708.04552): one square of ``side`` pixels per image set to 0 after
  normalisation (the mean pixel), its centre uniform over the image, so the border may cut it.
* Random Erasing (Zhong et al. 2017, arXiv 1708.04896, Algorithm 1): with probability ``p`` a rectangle of 2 %
  to 40 % of the image's area and aspect ratio 0.3 to 1/0.3, placed wholly inside the image (up to 100 tries,
  as the paper repeats its draw until one fits), filled with random pixel values.
* Mixup (Zhang et al. 2017, arXiv 1710.09412) and CutMix (Yun et al. 2019, arXiv 1905.04899): each image of
  the batch is mixed with another, and its label with that image's label by the same share: Mixup blends the
  whole images with lambda ~ Beta(alpha, alpha); CutMix pastes a box of the other image whose sides are
  sqrt(1 - lambda) of the image's, centred uniformly and cut by the border, and lambda becomes the share of
  the image left unpasted. One lambda a batch, as both papers' code draws it.
* Label smoothing (Szegedy et al. 2016) and the mixed labels are the targets of ``losses.SparseSmoothedCrossentropy``.
* The average of the weights is Keras's own (the optimizer's ``use_ema``); ``train.Run`` swaps it in for every
  evaluation and it is what the run saves.

All four image regularisers are ``keras.ops`` layers that act only in training, inside the compiled step on
every backend, seeded like the crop-and-flip. ``insert`` puts them into a built model right after its
augmentation (or its normalisation, or its input), where the papers apply them. Keras 3.15's own
``RandomErasing``, ``MixUp`` and ``CutMix`` layers are not used: they differ from the papers (RandomErasing
draws each side's share independently, so neither the area nor the aspect ratio follows the paper's ranges,
fills with clipped normal noise, and its probability ``factor=1.0`` erases half the images; CutMix keeps its
box wholly inside the image; MixUp draws lambda per image with alpha 0.2 by default), and MixUp and CutMix mix
the labels only when they are given the labels too, which a layer of the model never is.

The partner of image i is image i+1 of the batch (the last's is the first): the batches are shuffled every
epoch, so that is a random pairing too, and unlike the papers' random permutation it never pairs an image with
itself. The loss finds the partner's label the same way, and the batch's lambda in the mixing layer's
variable, which the layer writes in the step's forward pass (1 outside training, so evaluation's loss is the
plain one).
"""

import keras
from keras import ops

from . import augment, losses

ERASING_AREA = (0.02, 0.4)  # Random Erasing's share of the image's area (the paper's s_l, s_h)
ERASING_RATIO = 0.3  # its aspect ratios, from 0.3 to 1 / 0.3 (r_1 and 1 / r_1)
ERASING_TRIES = 100  # rectangle draws per image; the first that fits inside the image is erased


def cutout(images, side, seed):
    """NHWC ``images`` with one ``side`` x ``side`` square of each set to 0, its centre uniform over the image
    and the square cut by the border (the paper's code: rows centre - side//2 to centre + side//2)."""
    batch, height, width, _ = ops.shape(images)
    rows = _span(keras.random.randint((batch, 1), 0, height, seed=seed) - side // 2, side, height)
    cols = _span(keras.random.randint((batch, 1), 0, width, seed=seed) - side // 2, side, width)
    return ops.where(_box(rows, cols), ops.zeros_like(images), images)


def _span(start, length, size):
    """Which of ``size`` positions lie from ``start`` to ``start + length - 1``: a row of booleans for each
    start (``start`` and ``length`` of shape (n, 1), or scalars for one row), the span clipped by the ends."""
    positions = ops.arange(size)[None, :]
    return ops.logical_and(positions >= start, positions < start + length)


def _box(rows, cols):
    """The pixels whose row is in ``rows`` (n, height) and whose column is in ``cols`` (n, width): booleans of
    shape (n, height, width, 1), to select whole pixels of NHWC images."""
    return ops.logical_and(ops.expand_dims(rows, 2), ops.expand_dims(cols, 1))[..., None]


def random_erasing(images, probability, low, high, seed):
    """NHWC ``images`` each erased with ``probability``: a rectangle (area and aspect ratio uniform over the
    paper's ranges, position uniform among those that fit) filled with values uniform from ``low`` to ``high``
    (per channel: pixel values 0 and 255 in the images' normalised units). An image none of whose tries
    fits stays as it is (with 100 tries, about one in a million on 32 x 32)."""
    batch, height, width, channels = ops.shape(images)
    tries = (batch, ERASING_TRIES)
    area = keras.random.uniform(tries, *ERASING_AREA, seed=seed) * ops.cast(height * width, "float32")
    ratio = keras.random.uniform(tries, ERASING_RATIO, 1 / ERASING_RATIO, seed=seed)
    tall = ops.cast(ops.round(ops.sqrt(area * ratio)), "int32")
    wide = ops.cast(ops.round(ops.sqrt(area / ratio)), "int32")
    fits = ops.logical_and(tall < height, wide < width)  # the paper's code: strictly smaller than the image
    first = ops.argmax(ops.cast(fits, "int32"), axis=1)[:, None]  # the first try that fits (0 if none does)
    tall, wide = ops.take_along_axis(tall, first, axis=1), ops.take_along_axis(wide, first, axis=1)
    erase = ops.logical_and(ops.any(fits, axis=1, keepdims=True),
                            keras.random.uniform((batch, 1), seed=seed) < probability)
    # The corner uniform over the positions where the rectangle fits: 0 .. height - tall, 0 .. width - wide.
    corner = keras.random.uniform((batch, 2), seed=seed)
    top = ops.cast(ops.floor(corner[:, :1] * ops.cast(height - tall + 1, "float32")), "int32")
    left = ops.cast(ops.floor(corner[:, 1:] * ops.cast(width - wide + 1, "float32")), "int32")
    inside = ops.logical_and(_box(_span(top, tall, height), _span(left, wide, width)), erase[:, :, None, None])
    noise = keras.random.uniform(ops.shape(images), seed=seed, dtype=images.dtype)
    fill = ops.convert_to_tensor(low, images.dtype) + noise * ops.convert_to_tensor(high - low, images.dtype)
    return ops.where(inside, fill, images)


def partners(x):
    """Each image's (or label's) partner in mixing: the next one in the batch, the first for the last."""
    return ops.roll(x, -1, axis=0)


def mixup(images, lam):
    """The images blended with their partners: lam * image + (1 - lam) * partner."""
    lam = ops.cast(lam, images.dtype)
    return lam * images + (1 - lam) * partners(images)


def cutmix(images, lam, seed):
    """The images with a box of their partners pasted in, and the share of each image left unpasted (CutMix's
    corrected lambda). The box's sides are int(side * sqrt(1 - lam)), its centre uniform, its edges clipped
    by the border (the paper's code, rand_bbox)."""
    _, height, width, _ = ops.shape(images)
    cut = ops.sqrt(1.0 - ops.cast(lam, "float32"))
    half_tall = ops.cast(ops.floor(cut * ops.cast(height, "float32")), "int32") // 2
    half_wide = ops.cast(ops.floor(cut * ops.cast(width, "float32")), "int32") // 2
    # One box for the batch: its centre row and column uniform, from centre - half to centre + half - 1.
    rows = _span(keras.random.randint((), 0, height, seed=seed) - half_tall, 2 * half_tall, height)
    cols = _span(keras.random.randint((), 0, width, seed=seed) - half_wide, 2 * half_wide, width)
    inside = _box(rows, cols)
    pasted = ops.sum(ops.cast(inside, "float32")) / ops.cast(height * width, "float32")
    return ops.where(inside, partners(images), images), 1.0 - pasted


@keras.saving.register_keras_serializable(package="cifar_common")
class Cutout(keras.layers.Layer):
    """Cutout with a square of ``side`` pixels, during training only."""

    def __init__(self, side, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.side = int(side)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        return cutout(images, self.side, self.seed_generator) if training else images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "side": self.side, "seed": self.seed}


@keras.saving.register_keras_serializable(package="cifar_common")
class RandomErasing(keras.layers.Layer):
    """Random Erasing with ``probability``, filling with values uniform from ``low`` to ``high`` (one each, or
    one per channel), during training only."""

    def __init__(self, probability, low=0.0, high=255.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.probability = float(probability)
        self.low = [float(v) for v in ops.convert_to_numpy(low).reshape(-1)]
        self.high = [float(v) for v in ops.convert_to_numpy(high).reshape(-1)]
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        low, high = ops.convert_to_numpy(self.low), ops.convert_to_numpy(self.high)
        return random_erasing(images, self.probability, low, high, self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "probability": self.probability, "low": self.low, "high": self.high,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="cifar_common")
class Mixing(keras.layers.Layer):
    """Mixup (``kind="mixup"``) or CutMix (``"cutmix"``) with lambda ~ Beta(alpha, alpha), during training only.
    The batch's lambda (CutMix's corrected one) is kept in the variable ``lam`` for the loss to mix the labels
    with; outside training it is 1."""

    KINDS = ("mixup", "cutmix")
    partners = staticmethod(partners)  # for the loss, which mixes the labels as the images were

    def __init__(self, kind, alpha=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if kind not in self.KINDS:
            raise ValueError(f"Mixing(kind={kind!r}): one of {', '.join(self.KINDS)}")
        if not alpha > 0:
            raise ValueError(f"Mixing(alpha={alpha}): Beta(alpha, alpha) needs alpha above 0")
        self.kind = kind
        self.alpha = float(alpha)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.lam = self.add_weight(shape=(), dtype="float32", initializer="ones", trainable=False, name="lam")

    def call(self, images, training=None):
        if not training:
            self.lam.assign(1.0)
            return images
        lam = keras.random.beta((), self.alpha, self.alpha, seed=self.seed_generator)
        if self.kind == "mixup":
            images = mixup(images, lam)
        else:
            images, lam = cutmix(images, lam, self.seed_generator)
        self.lam.assign(ops.cast(lam, "float32"))
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "alpha": self.alpha, "seed": self.seed}


# Where the image regularisers go: after the last of these layers (the augmentation, else the normalisation).
_AUGMENTATION = (augment.RandomCropFlip, augment.AlternatingFlip)
_PREPROCESSING = (keras.layers.Normalization, keras.layers.Rescaling)


def layers_from_args(args, low=0.0, high=255.0):
    """The image regularisers the command line asks for, in the order they act: Cutout or Random Erasing on
    each image, then Mixup or CutMix across the batch. ``low`` and ``high`` are pixel values 0 and 255 in the
    units of the images they get (per channel), the range of Random Erasing's random values."""
    found = []
    if args.cutout:
        found.append(Cutout(args.cutout, name="cutout"))
    if args.random_erasing:
        found.append(RandomErasing(args.random_erasing, low, high, name="random_erasing"))
    if args.mixup:
        found.append(Mixing("mixup", args.mixup, name="mixup"))
    if args.cutmix:
        found.append(Mixing("cutmix", args.cutmix, name="cutmix"))
    return found


def insert(model, args):
    """``model`` with the image regularisers of ``args`` (--cutout, --random-erasing, --mixup, --cutmix) right
    after its augmentation layer (else its normalisation, else its input); ``model`` itself if none is asked
    for. The new model uses the same layers and weights: only the graph gains the regularisers."""
    anchor = None
    for kinds in (_AUGMENTATION, _PREPROCESSING):
        found = [layer for layer in model.layers if isinstance(layer, kinds)]
        if found:
            anchor = found[-1]
            break
    low, high = _pixel_range(model, anchor) if args.random_erasing else (0.0, 255.0)
    extra = layers_from_args(args, low, high)
    if not extra:
        return model

    def regularise(x):
        for layer in extra:
            x = layer(x)
        return x

    if anchor is None:  # no preprocessing: the regularisers act on the input images
        inputs = keras.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype)
        return keras.Model(inputs, model(regularise(inputs)), name=model.name)

    def call(layer, *arguments, **kwargs):
        out = layer(*arguments, **kwargs)
        return regularise(out) if layer is anchor else out

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


def _pixel_range(model, anchor):
    """Pixel values 0 and 255 (per channel) as the preprocessing up to ``anchor`` (affine) turns them."""
    channels = model.input_shape[-1]
    low, high = ops.zeros((1, 1, 1, channels)), ops.full((1, 1, 1, channels), 255.0)
    for layer in model.layers[:model.layers.index(anchor) + 1] if anchor is not None else []:
        if isinstance(layer, _PREPROCESSING):
            low, high = layer(low), layer(high)
    return ops.convert_to_numpy(low), ops.convert_to_numpy(high)


def mixing_of(model):
    """The model's Mixup or CutMix layer, or None."""
    found = [layer for layer in model._flatten_layers() if isinstance(layer, Mixing)]
    return found[0] if found else None


def ema_arguments(args):
    """The optimizer's keyword arguments for --ema: Keras's own moving average of the weights."""
    return {"use_ema": True, "ema_momentum": args.ema} if args.ema else {}


def loss(args, model, **kwargs):
    """The cross-entropy a script trains with: --label-smoothing's targets, mixed as the model's Mixup or
    CutMix layer mixed the batch; ``kwargs`` (``from_logits``, ``reduction``) as the script's loss takes them."""
    return losses.SparseSmoothedCrossentropy(args.label_smoothing, mixing=mixing_of(model), **kwargs)
