"""The bare training step of a collection script's network: milliseconds a batch, nothing else counted.

The script's ``build_model`` on random images (no data needed), compiled with SGD as plain Keras does,
trained with ``model.fit`` for ``--steps`` batches after a few warm-up batches (compilation), without
validation or callbacks. ``--no-augment`` replaces the crop-and-flip layer by an identity; ``--mixed-precision``
computes in bfloat16; ``KERAS_BACKEND`` picks the backend. What is left out is what speed.py counts: data
feeding, validation, the collection's callbacks.

    python benchmarks/step.py resnet/ResNet_keras.py --depth 20 --steps 20
    python benchmarks/step.py resnet/ResNet_keras.py --depth 20 --steps 20 --mixed-precision
"""

import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from cifar_common import cli, devices, train  # noqa: E402  (cifar_common first: TensorFlow's CPU kernels)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from plain_keras import build, compile_plainly, model_flags, without_augmentation  # noqa: E402

WARMUP = 3


class _Random:
    """What a model builder reads from data.Data, for random CIFAR-sized images."""

    image_shape, num_classes, mirrorable = (32, 32, 3), 10, True
    mean, std = np.full(3, 127.5), np.full(3, 73.9)


def step_seconds(model, x, y, batch_size, warmup):
    """The seconds of each training step of the compiled ``model`` over x, y after ``warmup`` batches untimed
    (compiling)."""
    model.fit(x[:warmup * batch_size], y[:warmup * batch_size], batch_size=batch_size, verbose=0)
    seconds = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):  # Keras has waited for the step here (its logs)
            seconds.append(time.perf_counter() - self.start)

    model.fit(x[warmup * batch_size:], y[warmup * batch_size:], batch_size=batch_size, verbose=0,
              callbacks=[Timer()])
    return seconds


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("script", help="a training script of the collection, such as resnet/ResNet_keras.py")
    p.add_argument("--steps", type=cli.positive_int, default=20, metavar="N", help="timed batches (default: 20)")
    p.add_argument("--batch-size", type=cli.positive_int, default=128, metavar="N", help="batch (default: 128)")
    p.add_argument("--no-augment", action="store_true", help="without the crop-and-flip layer")
    p.add_argument("--mixed-precision", action="store_true", help="compute in bfloat16 (mixed_bfloat16)")
    p.add_argument("--json", metavar="FILE", help="write the figure to FILE")
    args, extra = p.parse_known_args()
    if args.json and os.path.exists(args.json):
        p.error(f"--json {args.json}: exists; choose another file")
    module = train.import_script(os.path.join(ROOT, args.script))
    if args.mixed_precision:
        keras.config.set_dtype_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    model = build(module, _Random, model_flags(module.build_model, extra, p.error))
    if args.no_augment:
        model = without_augmentation(model)
    compile_plainly(model, module)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.batch_size * (WARMUP + args.steps), 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, len(x)).astype("int32")
    seconds = step_seconds(model, x, y, args.batch_size, WARMUP)
    ms = 1000 * float(np.median(seconds))
    backend = keras.backend.backend()
    print(f"{args.script} {' '.join(extra)}".rstrip() + f": {ms:.1f} ms a step (median of {len(seconds)}), "
          f"{backend}, {'bfloat16' if args.mixed_precision else 'float32'}, "
          f"{'without' if args.no_augment else 'with'} crop-and-flip, batch {args.batch_size}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"script": args.script, "model_flags": extra, "backend": backend,
                       "backend_version": devices.backend_version(backend), "keras": keras.__version__,
                       "python": platform.python_version(), "machine": devices.machine(),
                       "date": time.strftime("%Y-%m-%d"), "batch_size": args.batch_size,
                       "mixed_precision": args.mixed_precision, "augment": not args.no_augment,
                       "ms_per_step": round(ms, 1), "step_seconds": [round(s, 4) for s in seconds]}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
