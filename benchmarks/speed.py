"""How fast the collection trains, as a ratio against plain Keras measured in the same invocation.

Three contenders (four with ``--pytorch``) train the same network on the same data, each in a fresh process, as
a user would start it:

* ``plain``: ``benchmarks/plain_keras.py``, the network without its crop-and-flip layer, compiled and fitted
  the plain Keras way (``jit_compile`` left to Keras, ``model.fit`` on the NumPy arrays, the test set as
  validation data, no other callback);
* ``plain+augment``: the same with the collection's crop-and-flip layer kept in the network;
* ``collection``: the script itself (schedule, history, backups, run folder, progress bar: everything a
  user's run pays);
* ``pytorch``, with ``--pytorch`` (ResNet and airbench94 only): ``benchmarks/plain_torch.py``, the same
  network, crop and mirror in a plain PyTorch training loop, what a user would pick instead of Keras on a CPU.

All three run with the same TensorFlow settings, the collection's: TensorFlow's oneDNN CPU kernels on
(``cifar_common/__init__.py`` turns them on where TensorFlow leaves them off; a plain script started by hand
on such a CPU runs without them, about 2.5 times slower on LeNet-5: benchmarks/README.md). The ratios are
thus the cost of the collection's own code, not of a setting.

Each contender runs ``--epochs`` epochs; the first (compilation) is not counted. The contenders take turns,
``--repeats`` rounds in a rotating order, so that a slow spell of a shared machine falls on all of them. Each
contender's figure is the median over the rounds; a ratio is the median over the rounds of that round's
ratio to the plain run. An epoch's seconds are the wall time since the previous epoch ended (training,
validation on the 10000 test images, callbacks); images per second count the training part only.

    python benchmarks/speed.py lenet/LeNet_dp_da_wd_keras.py --data-dir ~/data/cifar-10-batches-py
    KERAS_BACKEND=jax python benchmarks/speed.py resnet/ResNet_keras.py --depth 20 --mixed-precision \\
        --data-dir ~/cifar-10-batches-py --json resnet20-jax.json
    python benchmarks/speed.py lenet/LeNet_dp_da_wd_keras.py --synthetic --steps 50   # no data needed
    python benchmarks/speed.py resnet/ResNet_keras.py --depth 20 --pytorch --data-dir D --steps 100
    python benchmarks/speed.py speedrun/step7_alternating_flip_keras.py --pytorch --batch-size 1024 \\
        --synthetic --steps 12

Flags the benchmark does not know are the script's own model flags (``--depth 20``); they go to every
contender. The figures go to stdout and, with ``--json``, to a file.
"""

import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from cifar_common import cli, devices  # noqa: E402

CONTENDERS = ("plain", "plain+augment", "collection")
# The scripts whose network benchmarks/plain_torch.py writes in PyTorch, and its name there.
PYTORCH_TWINS = {"resnet/ResNet_keras.py": "resnet", "speedrun/step7_alternating_flip_keras.py": "airbench94"}
BACKENDS = ("tensorflow", "jax", "torch")


def write_synthetic(folder, train=50000, test=10000, seed=0):
    """Random images in the official CIFAR-10 layout (five training batches, a test batch, the meta file)."""
    import pickle

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)

    def batch(n):
        return {b"batch_label": b"synthetic", b"labels": [int(v) for v in rng.integers(0, 10, n)],
                b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"filenames": [b"%d.png" % i for i in range(n)]}

    for i in range(1, 6):
        with open(os.path.join(folder, f"data_batch_{i}"), "wb") as f:
            pickle.dump(batch(train // 5), f, protocol=3)
    with open(os.path.join(folder, "test_batch"), "wb") as f:
        pickle.dump(batch(test), f, protocol=3)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [b"class%d" % i for i in range(10)]}, f, protocol=3)
    return folder


def _command(contender, args, extra, work, tag):
    """The command line of one contender's run, and where it leaves its timings."""
    common = ["--data-dir", args.data_dir, "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    if args.steps:
        common += ["--subset", str(args.steps * args.batch_size)]
    if args.mixed_precision:
        common.append("--mixed-precision")
    if contender == "collection":
        run_dir = os.path.join(work, f"run-{tag}")
        return [sys.executable, os.path.join(ROOT, args.script), *common, *extra, "--jit", args.jit,
                "--output-dir", run_dir], run_dir
    timings = os.path.join(work, f"{tag}.json")
    if contender == "pytorch":
        return [sys.executable, os.path.join(ROOT, "benchmarks", "plain_torch.py"), *common, *extra,
                "--network", PYTORCH_TWINS[os.path.normpath(args.script)], "--json", timings], timings
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "plain_keras.py"), args.script, *common, *extra,
           "--json", timings]
    if contender == "plain+augment":
        cmd.append("--augment")
    return cmd, timings


def _timings(contender, where):
    """Each epoch's seconds, the training images a second (steady epochs), the training images, whether the
    step was compiled: from the baseline's JSON, or from the collection's run folder."""
    if contender != "collection":
        with open(where) as f:
            t = json.load(f)
        steady = t["train_seconds"][1:] or t["train_seconds"]
        return t["epoch_seconds"], t["train_images"] / statistics.median(steady), t["train_images"], t["jit_compiled"]
    with open(os.path.join(where, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(where, "history.csv"), newline="") as f:
        epoch_seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    return (epoch_seconds, summary["train_images_per_second"], summary["data"]["train_images"],
            summary["jit_compiled"])


def run_contender(contender, args, extra, work, tag, env):
    cmd, where = _command(contender, args, extra, work, tag)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"{contender} failed (exit {proc.returncode}): {tail[0]}")
    epoch_seconds, images_per_second, images, jit = _timings(contender, where)
    return {
        "seconds_per_epoch": statistics.median(epoch_seconds[1:] or epoch_seconds),
        "train_images_per_second": images_per_second,
        "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "process_seconds": round(time.perf_counter() - started, 1),
        "train_images": images,
        "jit_compiled": jit,
    }


def versions(backend, env):
    """The versions of Keras and the backend, read in a child process on the backend measured."""
    code = ("import keras, importlib; b = keras.backend.backend(); "
            "print(keras.__version__, b, importlib.import_module(b).__version__)")  # backends are module names
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.split()
    return {"keras": out[0], "backend": out[1], "backend_version": out[2]} if len(out) == 3 else {}


def paired_ratio(rounds, plain_rounds):
    """Each round's seconds an epoch over that round's plain run's, then their median: pairing keeps a ratio
    meaningful while the machine's speed drifts from round to round (a ratio of medians would not)."""
    return round(statistics.median(r["seconds_per_epoch"] / p["seconds_per_epoch"]
                                   for r, p in zip(rounds, plain_rounds)), 3)


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("script", help="the collection's training script, such as lenet/LeNet_dp_da_wd_keras.py")
    p.add_argument("--backend", choices=BACKENDS, default=os.environ.get("KERAS_BACKEND", "tensorflow"),
                   help="Keras backend of every contender (default: $KERAS_BACKEND, else tensorflow)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", metavar="PATH", help="a local CIFAR-10 copy (official folder or archive)")
    source.add_argument("--synthetic", action="store_true",
                        help="random images in the official layout, 50000 training and 10000 test (with --steps, "
                             "a fifth of the epoch's training images: a full epoch's share of evaluation)")
    p.add_argument("--batch-size", type=cli.positive_int, default=128, metavar="N", help="global batch (default: 128)")
    p.add_argument("--steps", type=cli.positive_int, metavar="N",
                   help="training batches an epoch (default: the whole training set, 391 at batch 128)")
    p.add_argument("--epochs", type=cli.positive_int, default=3, metavar="N",
                   help="epochs a run, the first not counted (default: 3)")
    p.add_argument("--repeats", type=cli.positive_int, default=2, metavar="N",
                   help="rounds over the contenders (default: 2)")
    p.add_argument("--mixed-precision", action="store_true", help="every contender computes in bfloat16")
    p.add_argument("--jit", choices=devices.JIT_CHOICES, default="auto",
                   help="the collection's --jit; the plain baseline always leaves it to Keras (default: auto)")
    p.add_argument("--pytorch", action="store_true",
                   help="a fourth contender: the same network in a plain PyTorch loop (" +
                        " and ".join(PYTORCH_TWINS) + " only)")
    p.add_argument("--json", metavar="FILE", help="write the figures to FILE")
    args, extra = p.parse_known_args()
    if args.json and os.path.exists(args.json):
        p.error(f"--json {args.json}: exists; choose another file")
    if not os.path.isfile(os.path.join(ROOT, args.script)):
        p.error(f"{args.script}: no such script in the collection")
    if args.pytorch and os.path.normpath(args.script) not in PYTORCH_TWINS:
        p.error(f"--pytorch: benchmarks/plain_torch.py has the networks of {' and '.join(PYTORCH_TWINS)} only, "
                f"not {args.script}'s")
    contenders = CONTENDERS + (("pytorch",) if args.pytorch else ())

    env = {**os.environ, "KERAS_BACKEND": args.backend, "PYTHONUNBUFFERED": "1"}
    test = None
    with tempfile.TemporaryDirectory(prefix="speed-") as work:
        if args.synthetic:
            # With --steps, the test set keeps CIFAR-10's one test image to five training images, so that a
            # short epoch of a large network is not all evaluation and its ratio still weighs both as a full one.
            test = min(10000, max(1, args.steps * args.batch_size // 5)) if args.steps else 10000
            args.data_dir = write_synthetic(os.path.join(work, "cifar-10-batches-py"), test=test)
        rounds = {c: [] for c in contenders}
        for r in range(args.repeats):
            turn = r % len(contenders)
            order = contenders[turn:] + contenders[:turn]
            for contender in order:
                try:
                    result = run_contender(contender, args, extra, work, f"{contender}-{r}", env)
                except RuntimeError as e:
                    print(f"{p.prog}: error: {e}", file=sys.stderr)
                    sys.exit(2)
                rounds[contender].append(result)
                print(f"round {r + 1}/{args.repeats} {contender:13s} {result['seconds_per_epoch']:8.3f} s an epoch, "
                      f"{result['train_images_per_second']:9.0f} training images/s", flush=True)

    figures = {}
    for contender, results in rounds.items():
        figures[contender] = {
            "seconds_per_epoch": round(statistics.median(r["seconds_per_epoch"] for r in results), 3),
            "train_images_per_second": round(statistics.median(r["train_images_per_second"] for r in results)),
            "jit_compiled": results[0]["jit_compiled"],
            "rounds": results,
        }
    ratios = {c: paired_ratio(rounds[c], rounds["plain"]) for c in contenders[1:]}
    report = {
        "script": args.script, "model_flags": extra, "backend": args.backend, "batch_size": args.batch_size,
        "steps": args.steps, "epochs": args.epochs, "repeats": args.repeats,
        "mixed_precision": args.mixed_precision, "collection_jit": args.jit,
        "data": f"synthetic, {test} test images" if args.synthetic else args.data_dir,
        "machine": devices.machine(),
        "python": platform.python_version(), **versions(args.backend, env),
        **({"pytorch_version": versions("torch", {**env, "KERAS_BACKEND": "torch"}).get("backend_version")}
           if args.pytorch else {}),
        "date": time.strftime("%Y-%m-%d"), "figures": figures,
        "ratio_to_plain": ratios,
    }
    print(f"\n{args.script} {' '.join(extra)}".rstrip() + f": {args.backend}, batch {args.batch_size}, median of "
          f"{args.repeats} round{'s' if args.repeats > 1 else ''}")
    for contender in contenders:
        f = figures[contender]
        ratio = "" if contender == "plain" else f"  {ratios[contender]:.2f} x plain"
        print(f"  {contender:13s} {f['seconds_per_epoch']:8.3f} s an epoch  {f['train_images_per_second']:9.0f} "
              f"images/s  compiled: {'yes' if f['jit_compiled'] else 'no'}{ratio}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
