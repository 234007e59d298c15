"""The schedule study as independent tasks, one run each: for a cluster's job array, or several at once on
one machine.

The study is datasets x schedules x runs runs of htd/ResNet_schedules_keras.py, each into
STUDY/<dataset>/<schedule>/seed-<seed>/, and htd/compare.py reads whatever has finished. Task i is run
i // (datasets x schedules) (its seed), and within it dataset and schedule in the order given: the first
tasks give one run of every schedule, so a study cut short is still a comparison.

    python htd/study.py --list                                  # the tasks, numbered
    python htd/study.py --task 7 --study-dir runs/htd-study     # one task (what a SLURM array task runs)
    python htd/study.py --parallel 4 --study-dir runs/htd-study # every task, 4 at a time on this machine
    python htd/compare.py runs/htd-study --output-dir htd/results

A task whose run has finished does nothing; one whose run was cut short (a kill, a pre-empted or requeued
job) resumes it from its last backup; otherwise it starts it. So the same command, or a re-submitted array,
completes the study. Flags after -- go to every new run (python htd/study.py --task 0 --study-dir DIR --
--epochs 100). htd/study.sbatch is the SLURM form; doc/devices-and-backends.md says more.

--parallel K on a machine with G GPUs gives process j the GPU j mod G (CUDA_VISIBLE_DEVICES) and, with
several processes on one GPU, each a share of its memory (JAX: XLA_PYTHON_CLIENT_MEM_FRACTION; TensorFlow
and PyTorch take memory as they need it). Without a GPU the K processes share the CPU.
"""

import argparse
import math
import os
import subprocess
import sys
import time

from cifar_common import cli, data, devices, run_folder, schedules

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ResNet_schedules_keras.py")
DATASETS = ("cifar10", "cifar100")
SCHEDULES = ("step", "cosine", "htd")
RUNS = 5
GPU_MEMORY = 0.9  # of a GPU, shared by the processes given it (JAX preallocates 75 % of it to one by default)
POLL_SECONDS = 2


class StudyError(Exception):
    """Bad input; the message is one line."""


def tasks(datasets, schedule_names, runs):
    """The study's tasks in order: (dataset, schedule, seed) tuples."""
    return [(dataset, schedule, seed) for seed in range(runs) for dataset in datasets for schedule in schedule_names]


def label(i, task):
    """How the study names task ``i`` in what it prints: task 3 (cifar10, htd, seed 1)."""
    dataset, schedule, seed = task
    return f"task {i} ({dataset}, {schedule}, seed {seed})"


def task_command(study_dir, task, data_dirs, extra):
    """The command of one task (a list for subprocess), or None when its run has finished."""
    dataset, schedule, seed = task
    folder = os.path.join(study_dir, dataset, schedule, f"seed-{seed}")
    local = ["--data-dir", data_dirs[dataset]] if dataset in data_dirs else []
    if os.path.exists(os.path.join(folder, run_folder.SUMMARY)):
        if run_folder.read_summary(folder).get("finished"):
            return None
        return [sys.executable, SCRIPT, "--resume", folder, *local]
    return [sys.executable, SCRIPT, "--dataset", dataset, "--lr-schedule", schedule, "--seed", str(seed),
            "--runs", "1", "--output-dir", os.path.join(study_dir, dataset, schedule), *local, *extra]


def process_env(slot, parallel, gpus, environ=os.environ):
    """The environment of the ``slot``-th of ``parallel`` processes on a machine with ``gpus`` GPUs (their
    CUDA indices, or names from CUDA_VISIBLE_DEVICES)."""
    env = dict(environ)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(gpus[slot % len(gpus)])
        sharing = math.ceil(parallel / len(gpus))
        if sharing > 1:
            env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{GPU_MEMORY / sharing:.2f}"
    return env


def visible_gpus(environ=os.environ):
    """The GPUs this machine lets processes use: CUDA_VISIBLE_DEVICES where set, else every one nvidia-smi
    lists."""
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [g for g in environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip() and g.strip() != "-1"]
    return [str(i) for i in range(len(devices.gpu_names()))]


def run_task(args, task_list, extra):
    if not 0 <= args.task < len(task_list):
        raise StudyError(f"--task {args.task}: the study has tasks 0 to {len(task_list) - 1} (see --list)")
    task = task_list[args.task]
    command = task_command(args.study_dir, task, args.data_dir, extra)
    if command is None:
        print(f"{label(args.task, task)}: finished already")
        return 0
    print(f"{label(args.task, task)}: {' '.join(command[1:])}", flush=True)
    os.execv(command[0], command)  # the run itself takes this process: signals reach it directly


def run_all(args, task_list, extra):
    """Every unfinished task, ``args.parallel`` at a time; returns the exit status (0: all finished)."""
    gpus = visible_gpus()
    if os.path.exists(args.study_dir) and not os.path.isdir(args.study_dir):
        raise StudyError(f"--study-dir {args.study_dir}: exists and is not a folder")
    # Every task's state is read before any starts: a damaged run folder stops the study before it begins.
    commands = {i: task_command(args.study_dir, task, args.data_dir, extra) for i, task in enumerate(task_list)}
    pending = [(i, task_list[i]) for i in range(len(task_list))]
    running, failed = {}, []
    logs = os.path.join(args.study_dir, "logs")
    try:
        os.makedirs(logs, exist_ok=True)
    except OSError as e:
        raise StudyError(f"{logs}: cannot create it ({e.strerror})") from None
    where = f"{len(gpus)} GPU(s)" if gpus else "the CPU"
    print(f"{len(task_list)} tasks, {args.parallel} at a time on {where}; logs in {logs}", flush=True)
    try:
        while pending or running:
            free = [slot for slot in range(args.parallel) if slot not in running]
            while pending and free:
                i, task = pending.pop(0)
                command = commands[i]
                if command is None:
                    print(f"{label(i, task)}: finished already")
                    continue
                slot = free.pop(0)
                env = process_env(slot, args.parallel, gpus)
                with open(os.path.join(logs, f"task-{i}.log"), "a") as log:
                    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                running[slot] = (i, task, process)
                gpu = f" on GPU {env['CUDA_VISIBLE_DEVICES']}" if gpus else ""
                print(f"{label(i, task)}: started{gpu}", flush=True)
            for slot, (i, task, process) in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[slot]
                if code:
                    failed.append(i)
                print(f"task {i}: {'finished' if code == 0 else f'failed (exit status {code}), see its log'}",
                      flush=True)
            time.sleep(POLL_SECONDS if running else 0)
    except KeyboardInterrupt:  # the runs got the interrupt too: they save their curves and stop
        for _, _, process in running.values():
            process.wait()
        print(f"\ninterrupted; the same command resumes the study ({len(running)} run(s) cut short)",
              file=sys.stderr)
        return 130
    print(f"study folder: {args.study_dir}" + (f"; failed: tasks {', '.join(map(str, failed))}" if failed else ""))
    return 1 if failed else 0


def data_dir(text):
    dataset, sep, path = text.partition("=")
    if not sep or dataset not in data.DATASETS or not path:
        raise argparse.ArgumentTypeError(f"expected DATASET=PATH with DATASET one of {', '.join(data.DATASETS)}, "
                                         f"not {text}")
    return dataset, os.path.abspath(path)


def main():
    argv, extra = cli.split_at_double_dash(sys.argv[1:])
    p = cli.tool_parser(sys.argv[0], __doc__)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--list", action="store_true", help="print the tasks, numbered, and stop")
    what.add_argument("--task", type=cli.non_negative_int, metavar="I",
                      help="train task I (a SLURM array task: --task $SLURM_ARRAY_TASK_ID)")
    what.add_argument("--parallel", type=cli.positive_int, metavar="K",
                      help="train every unfinished task, K processes at a time, on this machine's GPUs (or CPU)")
    p.add_argument("--study-dir", metavar="DIR",
                   help="the study folder, the same for every task (on a cluster: on a file system every node "
                        "shares)")
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS),
                   help=f"the datasets (default: {' '.join(DATASETS)})")
    p.add_argument("--schedules", nargs="+", choices=sorted(schedules.SCHEDULES), default=list(SCHEDULES),
                   help=f"the schedules (default: {' '.join(SCHEDULES)})")
    p.add_argument("--runs", type=cli.positive_int, default=RUNS, metavar="N",
                   help=f"runs of each dataset and schedule, seeds 0 to N-1 (default: {RUNS})")
    p.add_argument("--data-dir", type=data_dir, action="append", default=[], metavar="DATASET=PATH",
                   help="a local copy of one dataset, e.g. cifar10=~/cifar-10-batches-py (repeat for each); "
                        "default: keras.datasets downloads it")
    args = p.parse_args(argv)
    args.data_dir = dict(args.data_dir)
    task_list = tasks(args.datasets, args.schedules, args.runs)
    if args.list:
        for i, (dataset, schedule, seed) in enumerate(task_list):
            print(f"{i}\t{dataset}\t{schedule}\tseed {seed}")
        return 0
    if not args.study_dir:
        p.error("--task and --parallel need --study-dir")
    args.study_dir = os.path.abspath(args.study_dir)
    try:
        if args.task is not None:
            return run_task(args, task_list, extra)
        return run_all(args, task_list, extra)
    except (StudyError, run_folder.OutputError) as e:
        print(f"{os.path.basename(sys.argv[0])}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
