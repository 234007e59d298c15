"""Crop-and-flip written eight ways, timed side by side inside the training step.

Every variant computes the same thing, exactly: a random 32 x 32 window of the image zero-padded by 4 pixels
(81 offsets), mirrored left-right with probability 1/2, in ``keras.ops``, vectorised over the batch, with its
random draws from a ``keras.random.SeedGenerator``:

* ``select``: the padded image, then one ``ops.where`` per offset row and per offset column (16 selects on
  the whole batch; the collection's layer up to issue 8);
* ``gather_batch``: no padding at all: each output pixel's source index (row, mirrored column) is computed,
  and one ``ops.take`` fetches every pixel from the batch seen as a list of pixels; a mask zeroes the pixels
  that fall in the padding;
* ``gather_vmap``, ``gather_per_image``, ``gather_elements``: the same gather kept within each image
  (``ops.take`` under ``ops.vectorized_map``, or ``ops.take_along_axis`` by pixel or by element), which
  lets a data-parallel JAX step keep every image on its own device (for ``gather_batch`` XLA first copies
  the whole batch onto every device);
* ``gather_padded``: ``gather_vmap`` from the zero-padded image, so that no mask is needed (the
  collection's layer, ``cifar_common/augment.py``);
* ``matmul``: the same source rows and columns as 0/1 selection matrices, applied with two ``ops.einsum``
  (exact in any float dtype: each output is one pixel times 1 plus zeros);
* ``shift``: the select chain as a barrel shifter: shifts of 1, 2, 4 and 8 pixels, each kept or not by one
  bit of the offset (4 selects a direction instead of 8).

What is timed is what a training run pays: a small model (the variant's layer, then a pooling and a 10-way
classifier) trained with ``model.fit`` on 128-image batches, compiled as Keras decides (``jit_compile="auto"``),
against the same model without the augmentation; the difference per batch is the augmentation's cost. For
scale, the LeNet-5 of ``lenet/`` is timed the same way without augmentation: its training step per batch.

    python benchmarks/augment_variants.py                        # the default backend, TensorFlow
    KERAS_BACKEND=jax python benchmarks/augment_variants.py --json jax.json

Each variant is also checked for exactness against a NumPy reference before it is timed.
"""

import importlib
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cifar_common  # noqa: E402,F401
from cifar_common import cli  # noqa: E402
from cifar_common.augment import random_crop_flip  # noqa: E402  the "gather_padded" variant
import keras  # noqa: E402
from keras import layers, ops  # noqa: E402


def _draws(images, padding, seed):
    """The random draws every variant makes, in the collection's order: a coin per image, and the row and
    column offset (0..2p)."""
    batch = ops.shape(images)[0]
    heads = keras.random.uniform((batch,), seed=seed) < 0.5
    offsets = keras.random.randint((batch, 2), 0, 2 * padding + 1, seed=seed)
    return heads, offsets[:, 0], offsets[:, 1]


def select(images, padding, seed):
    heads, down, across = _draws(images, padding, seed)
    _, height, width, _ = ops.shape(images)
    images = ops.where(ops.reshape(heads, (-1, 1, 1, 1)), ops.flip(images, axis=2), images)
    padded = ops.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    down = ops.reshape(down, (-1, 1, 1, 1))
    across = ops.reshape(across, (-1, 1, 1, 1))
    rows = padded[:, :height]
    for k in range(1, 2 * padding + 1):
        rows = ops.where(down == k, padded[:, k : k + height], rows)
    window = rows[:, :, :width]
    for k in range(1, 2 * padding + 1):
        window = ops.where(across == k, rows[:, :, k : k + width], window)
    return window


def _sources(images, padding, seed):
    """For each image, the source row of each output row and the source column of each output column
    (mirrored where the coin says so); indices outside 0..H-1 / 0..W-1 fall in the zero padding."""
    heads, down, across = _draws(images, padding, seed)
    _, height, width, _ = ops.shape(images)
    rows = ops.arange(height)[None, :] + ops.expand_dims(down - padding, 1)
    cols = ops.arange(width)[None, :] + ops.expand_dims(across - padding, 1)
    cols = ops.where(ops.expand_dims(heads, 1), width - 1 - cols, cols)
    return rows, cols


def _clipped_sources(images, padding, seed):
    """For the gathers without a padded copy: each output pixel's source pixel within its image (clipped to
    the image), and whether the source lies inside the image rather than in the zero padding; (B, H, W)."""
    rows, cols = _sources(images, padding, seed)
    _, height, width, _ = ops.shape(images)
    inside = ops.expand_dims((rows >= 0) & (rows < height), 2) & ops.expand_dims((cols >= 0) & (cols < width), 1)
    pixel = (ops.expand_dims(ops.clip(rows, 0, height - 1) * width, 2)
             + ops.expand_dims(ops.clip(cols, 0, width - 1), 1))
    return pixel, inside


def _zero_outside(pixels, inside):
    return ops.where(ops.expand_dims(inside, 3), pixels, ops.zeros((), pixels.dtype))


def gather_vmap(images, padding, seed):
    pixel, inside = _clipped_sources(images, padding, seed)
    batch, height, width, channels = ops.shape(images)
    flat = ops.reshape(images, (batch, height * width, channels))
    return _zero_outside(ops.vectorized_map(lambda pair: ops.take(pair[0], pair[1], axis=0), (flat, pixel)), inside)


def gather_per_image(images, padding, seed):
    pixel, inside = _clipped_sources(images, padding, seed)
    batch, height, width, channels = ops.shape(images)
    flat = ops.reshape(images, (batch, height * width, channels))
    pixels = ops.take_along_axis(flat, ops.reshape(pixel, (batch, height * width, 1)), axis=1)
    return _zero_outside(ops.reshape(pixels, (batch, height, width, channels)), inside)


def gather_elements(images, padding, seed):
    pixel, inside = _clipped_sources(images, padding, seed)
    batch, height, width, channels = ops.shape(images)
    index = ops.expand_dims(pixel * channels, 3) + ops.arange(channels)  # (B, H, W, C): element in its image
    flat = ops.take_along_axis(ops.reshape(images, (batch, -1)), ops.reshape(index, (batch, -1)), axis=1)
    return _zero_outside(ops.reshape(flat, (batch, height, width, channels)), inside)


def gather_batch(images, padding, seed):
    pixel, inside = _clipped_sources(images, padding, seed)
    batch, height, width, channels = ops.shape(images)
    index = ops.arange(batch)[:, None, None] * (height * width) + pixel  # pixel in the whole batch
    return _zero_outside(ops.take(ops.reshape(images, (-1, channels)), index, axis=0), inside)


def matmul(images, padding, seed):
    rows, cols = _sources(images, padding, seed)
    _, height, width, _ = ops.shape(images)
    pick_rows = ops.cast(ops.expand_dims(rows, 2) == ops.arange(height), images.dtype)  # (B, H, H)
    pick_cols = ops.cast(ops.expand_dims(cols, 2) == ops.arange(width), images.dtype)  # (B, W, W)
    out = ops.einsum("bik,bkwc->biwc", pick_rows, images)
    return ops.einsum("bjl,bilc->bijc", pick_cols, out)


def shift(images, padding, seed):
    heads, down, across = _draws(images, padding, seed)
    _, height, width, _ = ops.shape(images)
    images = ops.where(ops.reshape(heads, (-1, 1, 1, 1)), ops.flip(images, axis=2), images)
    # Offsets 0..2p in binary, largest digit first: shifting by b or not leaves at most b - 1 to come, so
    # H + b - 1 rows (columns) are kept; padding the far side to 2p + 2^k - 1 keeps every view in range.
    bits = [1 << i for i in range((2 * padding).bit_length())][::-1]
    extra = 2 * bits[0] - 1 - padding
    x = ops.pad(images, [[0, 0], [padding, extra], [padding, extra], [0, 0]])
    for b in bits:
        keep = height + b - 1
        x = ops.where(ops.reshape((down // b) % 2 == 1, (-1, 1, 1, 1)), x[:, b : b + keep], x[:, :keep])
    for b in bits:
        keep = width + b - 1
        x = ops.where(ops.reshape((across // b) % 2 == 1, (-1, 1, 1, 1)), x[:, :, b : b + keep], x[:, :, :keep])
    return x


VARIANTS = {"select": select, "gather_batch": gather_batch, "gather_vmap": gather_vmap,
            "gather_padded": random_crop_flip,
            "gather_per_image": gather_per_image, "gather_elements": gather_elements, "matmul": matmul,
            "shift": shift}


class Augment(layers.Layer):
    def __init__(self, variant, **kwargs):
        super().__init__(**kwargs)
        self.variant = variant
        self.seed_generator = keras.random.SeedGenerator(0)

    def call(self, images, training=None):
        return VARIANTS[self.variant](images, 4, self.seed_generator) if training else images


def reference(images, padding, heads, down, across):
    """The NumPy definition: mirror, pad, cut the window."""
    out = np.empty_like(images)
    h, w = images.shape[1:3]
    for i, image in enumerate(images):
        image = image[:, ::-1] if heads[i] else image
        padded = np.pad(image, [(padding, padding), (padding, padding), (0, 0)])
        out[i] = padded[down[i] : down[i] + h, across[i] : across[i] + w]
    return out


def check_exact(variant, dtype):
    x = np.arange(64 * 32 * 32 * 3, dtype="float32").reshape(64, 32, 32, 3) % 251 + 1
    out = VARIANTS[variant](ops.cast(ops.convert_to_tensor(x), dtype), 4, keras.random.SeedGenerator(3))
    heads, down, across = (ops.convert_to_numpy(v) for v in _draws(ops.convert_to_tensor(x), 4,
                                                                     keras.random.SeedGenerator(3)))
    want = reference(x, 4, heads, down, across)
    got = ops.convert_to_numpy(ops.cast(out, "float32"))
    return bool(np.array_equal(got, want))


class _Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)

    def on_train_begin(self, logs=None):
        self.seconds = []


def _small_model(augment):
    inputs = keras.Input((32, 32, 3))
    x = Augment(augment)(inputs) if augment else inputs
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def _lenet():
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(6, 5, activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 5, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(120, activation="relu")(x)
    x = layers.Dense(84, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def time_per_batch(model, x, y, batch, epochs):
    """Median seconds per training batch over the epochs after the first (which compiles)."""
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True), "sparse_categorical_crossentropy",
                  jit_compile="auto")
    timer = _Timer()
    model.fit(x, y, batch_size=batch, epochs=epochs, callbacks=[timer], verbose=0, shuffle=True)
    return statistics.median(timer.seconds[1:]) / (len(x) // batch), bool(model.jit_compile)


def _backend_version():
    return importlib.import_module(keras.backend.backend()).__version__  # each backend is its module's name


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("--batch-size", type=cli.positive_int, default=128, metavar="N", help="images a batch (default: 128)")
    p.add_argument("--steps", type=cli.positive_int, default=100, metavar="N", help="batches an epoch (default: 100)")
    p.add_argument("--epochs", type=cli.positive_int, default=4, metavar="N",
                   help="epochs a measurement; the first, which compiles, is not counted (default: 4)")
    p.add_argument("--rounds", type=cli.positive_int, default=3, metavar="N",
                   help="rounds over all variants; the median round is reported (default: 3)")
    p.add_argument("--variants", default=",".join(VARIANTS), metavar="LIST",
                   help=f"comma-separated, from {', '.join(VARIANTS)} (default: all)")
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    args = p.parse_args()
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {', '.join(unknown)} (choose from {', '.join(VARIANTS)})")

    exact = {v: {d: check_exact(v, d) for d in ("float32", "bfloat16")} for v in variants}
    rng = np.random.default_rng(0)
    n = args.batch_size * args.steps
    x = rng.uniform(0, 255, (n, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, n).astype("int32")
    per_batch = {name: [] for name in ["none", "lenet", *variants]}
    compiled = {}
    for _ in range(args.rounds):
        for name in per_batch:
            model = _lenet() if name == "lenet" else _small_model(None if name == "none" else name)
            seconds, compiled[name] = time_per_batch(model, x, y, args.batch_size, args.epochs)
            per_batch[name].append(seconds)
    median = {name: statistics.median(v) for name, v in per_batch.items()}
    result = {
        "backend": keras.backend.backend(), "backend_version": _backend_version(), "keras": keras.__version__,
        "python": platform.python_version(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"), "batch_size": args.batch_size,
        "steps": args.steps, "rounds": args.rounds, "compiled": compiled, "exact": exact,
        "ms_per_batch": {k: round(1000 * v, 3) for k, v in median.items()},
        "augmentation_ms_per_batch": {v: round(1000 * (median[v] - median["none"]), 3) for v in variants},
        "share_of_lenet_step": {v: round((median[v] - median["none"]) / median["lenet"], 3) for v in variants},
    }
    print(f"{keras.backend.backend()}, batch {args.batch_size}: LeNet-5 training step {1000 * median['lenet']:.2f} ms"
          f" a batch (compiled: {compiled['lenet']})")
    for v in variants:
        print(f"  {v:16s} {result['augmentation_ms_per_batch'][v]:7.2f} ms a batch = "
              f"{100 * result['share_of_lenet_step'][v]:5.1f} % of LeNet's step; exact in float32/bfloat16: "
              f"{exact[v]['float32']}/{exact[v]['bfloat16']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
