"""Keras's grouped convolution against cifar_common's GroupedConv2D: milliseconds of a training step.

Each case is one grouped convolution of a network of the collection, at its size (batch 128), in a model of
that layer, global average pooling and a 10-way classifier, trained with ``model.fit`` (SGD) on random inputs:
once with ``keras.layers.Conv2D(groups=g)``, once with ``GroupedConv2D``, the same shapes, in turns in this
process. ``KERAS_BACKEND`` picks the backend; the step is compiled as the scripts compile it. Then each
network of the collection with grouped convolutions, whole, at batch 32: its script's ``build_model``, once
computing its grouped convolutions as Keras does (GroupedConv2D told to leave them to Conv2D), once as
GroupedConv2D does on this machine.

    python benchmarks/grouped_conv.py --steps 5 --json benchmarks/results/grouped-conv-tensorflow.json
"""

import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from cifar_common import cli, devices, grouped_conv, train  # noqa: E402  (cifar_common first: TF's CPU kernels)
from cifar_common.grouped_conv import GroupedConv2D  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from plain_keras import build  # noqa: E402
from step import _Random, step_seconds  # noqa: E402

# (name, image side, input channels, filters, kernel, groups): grouped convolutions of the zoo's networks.
CASES = [
    ("ResNeXt-29 2x64d, first stage's 3x3", 32, 128, 128, 3, 2),
    ("ResNeXt-29 4x64d (resnext/), first stage's 3x3", 32, 256, 256, 3, 4),
    ("DPN-26, first stage's 3x3", 32, 96, 96, 3, 32),
    ("RegNetX-200MF, second stage's 3x3", 16, 56, 56, 3, 7),
    ("ShuffleNet g=8, second stage's 1x1", 16, 384, 96, 1, 8),
]
# (script, build_model's arguments): the networks with grouped convolutions, whole.
NETWORKS = [
    ("resnext/ResNeXt_keras.py", {}),
    ("resnext/ResNeXt_zoo_keras.py", {}),
    ("dpn/DPN_keras.py", {"depth": 26}),
    ("regnet/RegNet_keras.py", {}),
    ("shufflenet/ShuffleNet_keras.py", {"groups": 8}),
]
WARMUP = 2


def compiled(model, jit):
    """``model`` compiled for timing: SGD with momentum, cross-entropy, its step compiled as ``jit`` says."""
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", jit_compile=jit)
    return model


def layer_model(layer, side, channels, jit):
    inputs = keras.Input((side, side, channels))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(layer(inputs)))
    return compiled(keras.Model(inputs, outputs), jit)


def network(module, kwargs, jit):
    """A script's network with ``kwargs`` (and the script's weight decay, if it takes one), seeded, compiled for
    timing."""
    keras.utils.set_random_seed(0)
    return compiled(build(module, _Random, kwargs), jit)


def step_ms(model, steps, batch):
    """The median milliseconds of a training step of ``model`` (compiled) on random inputs of its shape."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch * (steps + WARMUP), *model.input_shape[1:])).astype("float32")
    y = rng.integers(0, 10, len(x))
    return 1000 * float(np.median(step_seconds(model, x, y, batch, WARMUP)))


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("--steps", type=cli.positive_int, default=5, metavar="N", help="timed steps a case (default: 5)")
    p.add_argument("--batch-size", type=cli.positive_int, default=128, metavar="N", help="batch (default: 128)")
    p.add_argument("--network-steps", type=cli.non_negative_int, default=2, metavar="N",
                   help="timed steps a whole network, at batch 32 (default: 2; 0: no networks)")
    p.add_argument("--json", metavar="FILE", help="write the figures to FILE")
    args = p.parse_args()
    if args.json and os.path.exists(args.json):
        p.error(f"--json {args.json}: exists; choose another file")
    backend = keras.backend.backend()
    jit = devices.jit_compile(devices.setup(), "auto")  # as the scripts compile their step
    cases = []
    for name, side, channels, filters, kernel, groups in CASES:
        ms = {}
        for kind, layer_class in (("keras", keras.layers.Conv2D), ("grouped_conv2d", GroupedConv2D)):
            layer = layer_class(filters, kernel, padding="same", groups=groups, use_bias=False)
            ms[kind] = step_ms(layer_model(layer, side, channels, jit), args.steps, args.batch_size)
        cases.append({"case": name, "image": side, "channels": channels, "filters": filters, "kernel": kernel,
                      "groups": groups, "ms_keras": ms["keras"], "ms_grouped_conv2d": ms["grouped_conv2d"],
                      "speed_up": ms["keras"] / ms["grouped_conv2d"]})
        print(f"{name}: Conv2D(groups={groups}) {ms['keras']:.0f} ms a step, GroupedConv2D "
              f"{ms['grouped_conv2d']:.0f} ms: {ms['keras'] / ms['grouped_conv2d']:.1f}x", flush=True)
    networks = []
    for script, kwargs in NETWORKS if args.network_steps else []:
        module = train.import_script(os.path.join(ROOT, script))
        ms = {}
        for kind, one_by_one in (("keras", False), ("grouped_conv2d", grouped_conv._groups_one_by_one())):
            grouped_conv._groups_one_by_one = lambda answer=one_by_one: answer  # read when a step is traced
            ms[kind] = step_ms(network(module, kwargs, jit), args.network_steps, 32)
        name = f"{script} {' '.join(f'--{k} {v}' for k, v in kwargs.items())}".rstrip()
        networks.append({"script": script, "arguments": kwargs, "ms_keras": ms["keras"],
                         "ms_grouped_conv2d": ms["grouped_conv2d"], "speed_up": ms["keras"] / ms["grouped_conv2d"]})
        print(f"{name}, batch 32: Keras's grouped convolutions {ms['keras']:.0f} ms a step, GroupedConv2D's "
              f"{ms['grouped_conv2d']:.0f} ms: {ms['keras'] / ms['grouped_conv2d']:.1f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"backend": backend, "backend_version": devices.backend_version(backend),
                       "keras": keras.__version__, "python": platform.python_version(), "machine": devices.machine(),
                       "date": time.strftime("%Y-%m-%d"), "batch_size": args.batch_size, "steps": args.steps,
                       "cases": cases, "networks": networks}, f, indent=1)


if __name__ == "__main__":
    main()
