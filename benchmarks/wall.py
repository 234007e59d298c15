"""A whole run's wall time: a row of the results table trained as a user starts it, timed from the command to
its exit.

It runs the row's command (``results/rows.py``: the script and its flags) with ``--seed`` and
``--output-dir``, and times the process from its start to its exit: Python's and Keras's start-up, loading
the data, anything the script computes before training (the speed-run's whitening), training, the final
evaluation (the speed-run's test-time augmentation) and writing the run folder. The figures go to stdout and,
with ``--json``, to a file; the run folder stays, and ``results/reproduce.py --file RUN_DIR`` files it as one
of the row's runs. Flags wall.py does not know go to the script (``--mixed-precision``); with them, the run
is no longer the row's recipe: do not file it.

Timings are only as good as the machine is idle: the JSON keeps the load average before the start and the
CPU seconds the run used, which on an idle machine come to about the wall time times the cores.

    python benchmarks/wall.py speedrun-7 --seed 1 --data-dir ~/data/cifar-10-batches-py \\
        --runs-dir ~/runs/wall --json benchmarks/results/wall-speedrun7.json
"""

import json
import os
import platform
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "results")]
from cifar_common import cli, devices, run_folder  # noqa: E402
from rows import BY_NAME  # noqa: E402


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("row", choices=list(BY_NAME), metavar="ROW",
                   help="a row of results/rows.py, such as speedrun-7")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="the run's seed (default: 0)")
    p.add_argument("--data-dir", metavar="PATH", help="a local CIFAR-10 copy (default: keras.datasets downloads it)")
    p.add_argument("--runs-dir", required=True, metavar="PATH",
                   help="where the run folder goes: RUNS_DIR/ROW-seed-N (must not exist)")
    p.add_argument("--json", metavar="FILE", help="write the figures to FILE (must not exist)")
    args, extra = p.parse_known_args()
    row = BY_NAME[args.row]
    run_dir = os.path.join(os.path.abspath(args.runs_dir), f"{row.name}-seed-{args.seed}")
    for path, flag in ((run_dir, "--runs-dir"), (args.json, "--json")):
        if path and os.path.exists(path):
            p.error(f"{flag}: {path} exists; choose another")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        p.error(f"--json {args.json}: its folder does not exist")

    flags = [*row.args, "--seed", str(args.seed), *extra]
    # The run starts in the repository's root: a relative --data-dir is made absolute first.
    argv = [sys.executable, row.script, *flags, "--output-dir", run_dir,
            *(["--data-dir", os.path.abspath(args.data_dir)] if args.data_dir else [])]
    load = os.getloadavg()
    started = time.perf_counter()
    code = subprocess.call(argv, cwd=ROOT)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code:
        p.exit(2, f"{p.prog}: error: the run ended with exit status {code}; nothing measured\n")
    try:
        summary = run_folder.read_summary(run_dir)
        training_seconds = summary["training_seconds"]
    except (run_folder.OutputError, KeyError) as e:
        p.exit(2, f"{p.prog}: error: {run_dir}: the run's summary.json has no training time ({e}); nothing measured\n")

    cpu_seconds = usage.ru_utime + usage.ru_stime
    report = {
        "row": row.name, "command": " ".join(["python", row.script, *flags]),
        "machine": devices.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
        "backend": summary["backend"], "backend_version": summary["backend_version"],
        "keras": summary["keras_version"], "date": time.strftime("%Y-%m-%d"),
        "load_average_before": [round(v, 2) for v in load],
        "process_seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "cores_busy": round(cpu_seconds / seconds, 2),  # about the cores on an idle machine
        "training_seconds": training_seconds,
        # Start-up, data, whitening, the final (test-time-augmented) evaluation, writing the folder.
        "outside_training_seconds": round(seconds - training_seconds, 1),
        "epochs": summary["arguments"]["epochs"], "training_steps": summary.get("training_steps"),
        "test_accuracy": summary["test_accuracy"], "test_accuracy_of": summary["test_accuracy_of"],
        "run_dir": run_dir,
    }
    print(f"\n{report['command']}: {seconds / 60:.1f} minutes from start to exit ({training_seconds:.0f} s "
          f"training, {report['outside_training_seconds']:.0f} s outside it), test accuracy "
          f"{100 * summary['test_accuracy']:.2f} %; {report['machine']}, {report['cores_busy']:.2f} cores busy")
    if args.json:
        try:
            run_folder.write_text(args.json, json.dumps(report, indent=2) + "\n")
        except run_folder.WriteError as e:  # the figures are not lost: they go to stdout
            print(json.dumps(report, indent=2))
            p.exit(2, f"{p.prog}: error: {e}\n")


if __name__ == "__main__":
    main()
