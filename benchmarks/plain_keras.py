"""The baseline of benchmarks/speed.py: a collection script's network, trained the way a plain Keras script
trains it.

It builds the network with the script's own ``build_model`` (the same layers, ``Normalization`` included) and
replaces the crop-and-flip layer (and the speed-run's alternating flip) by an identity unless ``--augment`` is
given; then it does what a plain Keras tutorial does and nothing more: ``model.compile`` with SGD and Nesterov
momentum (``jit_compile`` left to Keras) and ``model.fit`` on the NumPy arrays, with the test set as
validation data. No learning-rate schedule, no backups, no run folder: the only callback is a timer, which
writes each epoch's seconds (the time since the previous epoch ended: training, validation and every
callback) and the seconds of its training part as JSON.

    python benchmarks/plain_keras.py lenet/LeNet_dp_da_wd_keras.py --data-dir D --epochs 3 --json t.json
    python benchmarks/plain_keras.py resnet/ResNet_keras.py --depth 20 --augment --data-dir D --json t.json

Model flags (``--depth 20``) are the keyword arguments of the script's ``build_model``.
"""

import inspect
import json
import os
import sys
import time

# Keras (and TensorFlow) first, with nothing set: started by hand, TensorFlow starts with its own defaults, as
# in a user's plain script (importing cifar_common first would turn on oneDNN's CPU kernels where TensorFlow
# leaves them off, cifar_common/__init__.py). speed.py starts it with the collection's settings in the
# environment, so that its ratios compare code, not settings.
import keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cifar_common import cli, data, train  # noqa: E402
from cifar_common.augment import AlternatingFlip, RandomCropFlip  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    """Each epoch's wall time since the previous one ended, and the seconds of its training part."""

    def on_train_begin(self, logs=None):
        self.epoch_seconds, self.train_seconds = [], []
        self.mark = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start, self.train_end = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        self.train_end = self.train_end or time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.train_seconds.append((self.train_end or now) - self.epoch_start)
        self.epoch_seconds.append(now - self.mark)
        self.mark = now


def model_flags(build_model, extra, error):
    """``--name value`` pairs for the keyword arguments of ``build_model`` (other than data and weight_decay)."""
    params = list(inspect.signature(build_model).parameters.values())[1:]
    params = [p for p in params if p.name != "weight_decay"]
    known = {p.name.replace("_", "-"): p for p in params}
    if len(extra) % 2:
        error(f"model flags come as --name value pairs, not {' '.join(extra)}")
    kwargs = {}
    for flag, value in zip(extra[::2], extra[1::2]):
        param = known.get(flag[2:]) if flag.startswith("--") else None
        if param is None:
            error(f"{flag}: not a model flag of this script (it has: "
                  f"{', '.join('--' + k for k in known) or 'none'})")
        kwargs[param.name] = type(param.default)(value)
    return kwargs


def build(module, dataset, kwargs):
    """The script's network; the speed-run's builders take no weight decay (their optimizer decays)."""
    if "weight_decay" in inspect.signature(module.build_model).parameters:
        kwargs = {**kwargs, "weight_decay": module.WEIGHT_DECAY}
    return module.build_model(dataset, **kwargs)


def compile_plainly(model, module):
    """SGD with Nesterov momentum at the script's rate, and cross-entropy of its outputs (probabilities after
    a softmax, or the speed-run's logits), as a plain Keras script compiles."""
    logits = getattr(model.layers[-1], "activation", None) is not keras.activations.softmax
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=module.LEARNING_RATE,
                                                 momentum=getattr(module, "MOMENTUM", 0.9), nesterov=True),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=logits), metrics=["accuracy"])


def without_augmentation(model):
    """The same network with every augmentation layer (RandomCropFlip, AlternatingFlip) replaced by an identity."""
    return keras.models.clone_model(model, clone_function=lambda layer: keras.layers.Identity(name=layer.name)
                                    if isinstance(layer, (RandomCropFlip, AlternatingFlip)) else
                                    layer.__class__.from_config(layer.get_config()))


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("script", help="a training script of the collection, such as lenet/LeNet_dp_da_wd_keras.py")
    p.add_argument("--data-dir", required=True, metavar="PATH", help="a local CIFAR-10 copy (official layout)")
    p.add_argument("--subset", type=cli.positive_int, metavar="N", help="train on N images only")
    p.add_argument("--epochs", type=cli.positive_int, default=3, metavar="N", help="epochs (default: 3)")
    p.add_argument("--batch-size", type=cli.positive_int, default=128, metavar="N", help="batch (default: 128)")
    p.add_argument("--augment", action="store_true", help="keep the script's crop-and-flip layer")
    p.add_argument("--mixed-precision", action="store_true", help="compute in bfloat16 (mixed_bfloat16)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of weights and data order (default: 0)")
    p.add_argument("--json", required=True, metavar="FILE", help="where the timings go")
    args, extra = p.parse_known_args()

    module = train.import_script(args.script)
    kwargs = model_flags(module.build_model, extra, p.error)
    try:
        dataset = data.load(data_dir=args.data_dir, subset=args.subset, seed=args.seed)
    except data.DataError as e:
        p.error(str(e))
    if args.mixed_precision:
        keras.config.set_dtype_policy("mixed_bfloat16")
    keras.utils.set_random_seed(args.seed)

    model = build(module, dataset, kwargs)
    if not args.augment:
        model = without_augmentation(model)
    compile_plainly(model, module)
    timer = EpochTimer()
    model.fit(dataset.x_train, dataset.y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(dataset.x_test, dataset.y_test), callbacks=[timer])
    with open(args.json, "w") as f:
        json.dump({"epoch_seconds": timer.epoch_seconds, "train_seconds": timer.train_seconds,
                   "train_images": len(dataset.x_train), "jit_compiled": bool(model.jit_compile),
                   "parameters": model.count_params(), "backend": keras.backend.backend()}, f, indent=2)


if __name__ == "__main__":
    main()
