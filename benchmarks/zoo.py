"""Seconds of training per epoch of every network of the PyTorch zoo's rows, on this machine: which to pick.

For each row of results/rows.py whose name starts with ``zoo-`` (or those named), its script's network, built
with the row's flags, compiled as the scripts compile it on this backend (SGD with momentum), trains
``--steps`` batches of 128 random images after two of warm-up; the median step times 391 (the batches of an
epoch of CIFAR-10's 50,000 training images) is the figure. Evaluation and data feeding are not counted; on a
CPU they add a few per cent (benchmarks/README.md, speed.py). Rows in the order of their multiply-accumulates.

    python benchmarks/zoo.py --json benchmarks/results/zoo-tensorflow.json
    python benchmarks/zoo.py zoo-pnasnet-a zoo-shufflenet-g8 --steps 3
"""

import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "results"))
from cifar_common import cli, devices, macs, train  # noqa: E402  (cifar_common first: TF's CPU kernels)
import keras  # noqa: E402
from grouped_conv import network, step_ms  # noqa: E402
from plain_keras import model_flags  # noqa: E402
from rows import BY_NAME, ROWS  # noqa: E402

BATCH = 128
STEPS_PER_EPOCH = 391  # ceil(50000 / 128)


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("rows", nargs="*", metavar="ROW", help="rows to time (default: every zoo- row)")
    p.add_argument("--steps", type=cli.positive_int, default=4, metavar="N", help="timed steps a row (default: 4)")
    p.add_argument("--json", metavar="FILE", help="write the figures to FILE")
    args = p.parse_args()
    if args.json and os.path.exists(args.json):
        p.error(f"--json {args.json}: exists; choose another file")
    unknown = [name for name in args.rows if name not in BY_NAME]
    if unknown:
        p.error(f"{', '.join(unknown)}: no such row (python results/reproduce.py --list)")
    rows = [BY_NAME[name] for name in args.rows] or [row for row in ROWS if row.name.startswith("zoo-")]
    backend = keras.backend.backend()
    jit = devices.jit_compile(devices.setup(), "auto")  # as the scripts compile their step
    timed = []
    for row in sorted(rows, key=lambda row: row.macs):
        module = train.import_script(os.path.join(ROOT, row.script))
        model = network(module, model_flags(module.build_model, list(row.args), p.error), jit)
        ms = step_ms(model, args.steps, BATCH)
        seconds = ms * STEPS_PER_EPOCH / 1000
        timed.append({"row": row.name, "command": row.command, "parameters": model.count_params(),
                      "macs_per_image": macs.per_image(model), "ms_a_step": ms, "seconds_an_epoch": seconds})
        print(f"{row.name}: {ms:.0f} ms a step of {BATCH}, {seconds:.0f} s of training an epoch", flush=True)
        keras.backend.clear_session()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"backend": backend, "backend_version": devices.backend_version(backend),
                       "keras": keras.__version__, "python": platform.python_version(), "machine": devices.machine(),
                       "date": time.strftime("%Y-%m-%d"), "batch_size": BATCH, "steps": args.steps, "rows": timed},
                      f, indent=1)


if __name__ == "__main__":
    main()
