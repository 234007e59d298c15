"""Trains rows of the results table with their reference recipes and files the finished runs into results/.

    python results/reproduce.py --list                                  # the rows, smallest first
    python results/reproduce.py lenet lenet-dp --data-dir ~/cifar-10-batches-py
    python results/reproduce.py --parallel 4 --stop-after 540           # every row, four at a time
    python results/reproduce.py --file runs/LeNet_keras-20261123-101500 # file a run trained by hand

Each row runs its script with the flags of results/rows.py in RUNS_DIR/<row>/seed-<seed>/, as a separate
process, --parallel of them at once (on one GPU each gets --gpu-memory-fraction of its memory under JAX;
TensorFlow takes memory as it needs it). The same command again continues what is unfinished: a run folder
without a finished summary is resumed from its last backup (after a lost machine or a time limit), a
finished one is filed. --stop-after SECONDS interrupts the runs in time for a limited command (a 10-minute
one, say) to end cleanly; they keep their backups. A finished run is filed as results/<row>/seed-<seed>/
(summary.json, history.csv, curves.png; never the model); then python results/table.py updates the README.

Flags after "--" go to every script (say, "-- --epochs 2 --subset 500" for a trial); such runs are filed
only where --results-dir says, never into the table's results/.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from rows import (BY_NAME, FILED, ROWS, ResultsError, check_run, is_the_tables, read_summary, recipe_differences,
                  smallest_first)

from cifar_common import cli, run_folder

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ADDABLE = ("command", "machine", "backend_version")  # keys that summaries written before them lack
POLL_SECONDS = 2
GRACE_SECONDS = 120  # after --stop-after: time for an interrupted run to write its curves and exit
RESEND_SECONDS = 10  # the interrupt is sent again at this interval while a run has not exited


def file_run(run_dir, row, results_dir, additions=None):
    """Copies a finished run's summary, history and curves to results_dir/<row>/<name>; returns that folder,
    or None if the run was filed already. ``additions`` ({key: value}) fill in the filed copy of a summary that
    predates keys (command, machine, backend_version): they go under ``added_when_filed``, apart from what the
    run recorded; keys the summary has are never replaced. Only a run of the row's recipe goes into the
    table's results/; elsewhere (--results-dir) a trial with flags of its own may be filed too."""
    summary = read_summary(run_dir)
    check_run(run_dir, summary, row, recipe=is_the_tables(results_dir))
    added = {}
    for key, value in (additions or {}).items():
        if key not in ADDABLE:
            raise ResultsError(f"--add {key}=...: only {', '.join(ADDABLE)} can be added")
        if key not in summary:
            added[key] = value
    for key in ("command", "machine"):
        if key not in summary and key not in added:
            raise ResultsError(f"{run_dir}: its summary.json does not say its {key}; give --add {key}=...")
    if added:  # kept apart from what the run recorded itself
        summary["added_when_filed"] = {**summary.get("added_when_filed", {}), **added}
    folder = os.path.join(results_dir, row.name)
    base = f"seed-{summary['arguments']['seed']}"
    name, n = base, 1
    while os.path.exists(os.path.join(folder, name)):
        filed = read_summary(os.path.join(folder, name)) or {}
        if (filed.get("started"), filed.get("run_dir")) == (summary.get("started"), summary.get("run_dir")):
            return None  # this very run
        n += 1
        name = f"{base}-{n}"
    target = os.path.join(folder, name)
    os.makedirs(target)
    for f in FILED[1:]:
        shutil.copy2(os.path.join(run_dir, f), target)
    run_folder.write_summary(target, summary)
    return target


def row_of(run_dir, recipe=True):
    """The row a run belongs to: the one whose script, flags, epochs and training set it ran; with recipe False
    (a trial, filed outside results/), the first whose script and flags it was started with."""
    summary = read_summary(run_dir) or {}
    candidates = [row for row in ROWS if summary.get("script") == os.path.splitext(os.path.basename(row.script))[0]
                  and summary.get("parameters") == row.parameters]
    for row in candidates:
        if not recipe_differences(summary, row):
            return row
    for row in candidates if not recipe else []:
        if not set(recipe_differences(summary, row)) & set(row.args[::2]):  # differs in no flag the row gives
            return row
    raise ResultsError(f"{run_dir}: no row of results/rows.py has this run's script, flags, epochs and training "
                       "set; give --row")


class Job:
    def __init__(self, row, runs_dir, seed, data_dir, extra, env):
        self.row = row
        self.folder = os.path.join(runs_dir, row.name, f"seed-{seed}")
        self.log = self.folder + ".log"
        summary = read_summary(self.folder)
        self.finished = bool(summary and summary.get("finished"))
        if os.path.exists(self.folder) and summary is None:
            raise ResultsError(f"{self.folder}: exists without a summary.json (a run that died while starting?); "
                                 "remove it and run again")
        local = ["--data-dir", data_dir] if data_dir else []
        if summary:
            self.argv = [sys.executable, row.script, "--resume", self.folder, *local]
        else:
            self.argv = [sys.executable, row.script, *row.args, "--seed", str(seed), "--output-dir", self.folder,
                         *local, *extra]
        self.env = env
        self.process = None

    def start(self):
        try:
            os.makedirs(os.path.dirname(self.folder), exist_ok=True)
        except OSError as e:
            raise ResultsError(f"{os.path.dirname(self.folder)}: cannot create it ({e.strerror})") from None
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(self.argv)}\n")
            log.flush()
            # SIGINT at its default in the run: a reproduce.py started in the background (nohup, CI) hands its
            # runs SIGINT ignored, and --stop-after's interrupt would then wait out the grace and kill them.
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            preexec_fn=_default_sigint)
        verb = "resuming" if "--resume" in self.argv else "training"
        print(f"{self.row.name}: {verb} in {self.folder} (log: {self.log})", flush=True)

    def error_line(self):
        """The run's own one-line error (``script: error: ...``) from its log, or None."""
        try:
            with open(self.log, errors="replace") as f:
                lines = [line.strip() for line in f if ": error: " in line]
        except OSError:
            return None
        return lines[-1] if lines else None


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_jobs(jobs, parallel, stop_after):
    """Runs the jobs, ``parallel`` at a time; interrupts them all at ``stop_after`` seconds. Returns the jobs
    that ended with status 0, and those that failed (not stopped at the time limit)."""
    deadline = None if stop_after is None else time.monotonic() + stop_after
    waiting, running, done, failed = list(jobs), [], [], []
    stopping = False
    while waiting or running:
        if deadline is not None and not stopping and time.monotonic() >= deadline:
            stopping = True
            waiting = []
            for job in running:
                job.process.send_signal(signal.SIGINT)  # the script saves its curves and exits; the backup stays
                job.interrupted = time.monotonic()
            grace_end = time.monotonic() + GRACE_SECONDS
        while not stopping and waiting and len(running) < parallel:
            job = waiting.pop(0)
            job.start()
            running.append(job)
        for job in list(running):
            code = job.process.poll()
            if code is None:
                if stopping and time.monotonic() > grace_end:
                    job.process.kill()
                elif stopping and time.monotonic() > job.interrupted + RESEND_SECONDS:
                    # A run still starting up can lose an interrupt (some import-time code swallows it): again.
                    job.process.send_signal(signal.SIGINT)
                    job.interrupted = time.monotonic()
                continue
            running.remove(job)
            if code == 0:
                done.append(job)
            elif stopping:
                print(f"{job.row.name}: stopped at the time limit; the same command resumes it", flush=True)
            else:
                failed.append(job)
                line = job.error_line()
                print(f"{job.row.name}: failed (exit status {code}" + (f"): {line}" if line else f"); see {job.log}"),
                      flush=True)
        time.sleep(POLL_SECONDS if running else 0)
    return done, failed


def main():
    argv, extra = cli.split_at_double_dash(sys.argv[1:])
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("rows", nargs="*", metavar="ROW", help="rows to train (default: all), smallest first; see --list")
    p.add_argument("--list", action="store_true", help="list the rows with their commands, smallest first, and exit")
    p.add_argument("--data-dir", metavar="PATH", help="a local copy of the rows' data set (CIFAR-10; ~/data/mnist "
                        "for an MNIST row), passed to every script")
    p.add_argument("--runs-dir", metavar="DIR", default=os.path.join("runs", "reproduce"),
                   help="where the run folders and logs go (default: runs/reproduce)")
    p.add_argument("--results-dir", metavar="DIR", help="where finished runs are filed (default: results/)")
    p.add_argument("--seed", type=cli.seed, default=0, metavar="N", help="seed of every run (default: 0)")
    p.add_argument("--parallel", type=cli.positive_int, default=1, metavar="N",
                   help="runs at once, as separate processes (default: 1)")
    p.add_argument("--gpu-memory-fraction", type=float, metavar="F",
                   help="share of the GPU's memory each JAX process may take (default: 1/N with --parallel N)")
    p.add_argument("--stop-after", type=cli.positive_int, metavar="SECONDS",
                   help="interrupt every run after SECONDS, keeping its backup (the same command resumes it)")
    p.add_argument("--file", metavar="RUN_DIR", help="file this finished run folder and exit")
    p.add_argument("--row", help="with --file: the row it belongs to (default: found from its script and flags)")
    p.add_argument("--add", action="append", default=[], metavar="KEY=VALUE",
                   help="with --file: a key that the run's summary.json predates (command, machine, "
                        "backend_version), added to the filed copy; repeat for several")
    args = p.parse_args(argv)
    results_dir = os.path.abspath(args.results_dir) if args.results_dir else HERE
    try:
        unknown = [name for name in args.rows + ([args.row] if args.row else []) if name not in BY_NAME]
        if unknown:
            raise ResultsError(f"unknown row {', '.join(unknown)}; the rows are {', '.join(BY_NAME)}")
        if args.list:
            for row in smallest_first(ROWS):
                print(f"{row.name:22} {row.command}")
            return
        if args.file:
            row = BY_NAME[args.row] if args.row else row_of(args.file, recipe=is_the_tables(results_dir))
            additions = dict(item.split("=", 1) for item in args.add if "=" in item)
            if len(additions) != len(args.add):
                raise ResultsError("--add takes KEY=VALUE")
            target = file_run(args.file, row, results_dir, additions)
            print(f"{args.file}: " + (f"filed as {target}" if target else "filed already"))
            return
        if extra and not args.results_dir:
            raise ResultsError("runs with flags after -- are not the rows' recipes: give --results-dir for them")
        fraction = args.gpu_memory_fraction or (1 / args.parallel if args.parallel > 1 else None)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
        if fraction:
            env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{fraction:.3f}"
        rows = smallest_first([BY_NAME[n] for n in args.rows] if args.rows else ROWS)
        runs_dir = os.path.abspath(args.runs_dir)
        if os.path.exists(runs_dir) and not os.path.isdir(runs_dir):
            raise ResultsError(f"--runs-dir {args.runs_dir}: exists and is not a folder")
        jobs = [Job(row, runs_dir, args.seed, args.data_dir, extra, env) for row in rows]
        to_run = [job for job in jobs if not job.finished]
        done, failed = run_jobs(to_run, args.parallel, args.stop_after)
        filed = 0
        for job in jobs:
            if job.finished or job in done:
                target = file_run(job.folder, job.row, results_dir)
                if target:
                    filed += 1
                    print(f"{job.row.name}: filed as {target}")
        left = [job.row.name for job in to_run if job not in done and job not in failed]
        print(f"{filed} run{'s' if filed != 1 else ''} filed"
              + (f"; failed: {', '.join(job.row.name for job in failed)} (see above)" if failed else "")
              + (f"; unfinished: {', '.join(left)} (run the same command again to continue)" if left else "")
              + ("; python results/table.py updates the README" if filed and results_dir == HERE else ""))
        if left or failed:
            sys.exit(1)
    except ResultsError as e:
        p.error(str(e))


if __name__ == "__main__":
    main()
