"""htd/: the schedule-study script end to end, the schedule plot and the comparison of run folders."""

import csv
import importlib.util
import json
import math
import os
import subprocess

import pytest

from conftest import (ROOT, check_ok, refusal_in_process, run_in_process, run_script, summary_of,
                      the_one_error_line)

STUDY = "htd/ResNet_schedules_keras.py"
RUNS = {"step": 1, "cosine": 1, "htd": 2}


@pytest.fixture(scope="module")
def study(tiny_cifar10, tmp_path_factory):
    """The study script as htd/README.md runs it, 1 epoch of ResNet-8 on tiny data: 2 runs of HTD, 1 of the
    other schedules (enough to compare run 0 across schedules and run 1 with run 0)."""
    root = tmp_path_factory.mktemp("study")
    procs = {}
    for schedule, runs in RUNS.items():
        procs[schedule] = run_script(STUDY, "--data-dir", tiny_cifar10, "--depth", "8", "--epochs", "1",
                                     "--runs", str(runs), "--lr-schedule", schedule,
                                     "--output-dir", str(root / "cifar10" / schedule), backend="jax")
    return root, procs


def test_study_trains_every_run_of_every_schedule(study):
    root, procs = study
    for schedule, proc in procs.items():
        check_ok(proc)
        folder = root / "cifar10" / schedule
        seeds = range(RUNS[schedule])
        assert sorted(os.listdir(folder)) == [f"seed-{seed}" for seed in seeds]
        accuracies = []
        for seed in seeds:
            summary = summary_of(str(folder / f"seed-{seed}"))
            assert summary["finished"] and summary["epochs"] == 1 and summary["parameters"] == 78_330
            assert summary["arguments"]["seed"] == seed and summary["arguments"]["lr_schedule"] == schedule
            assert summary["arguments"]["runs"] == 1  # a run folder resumes as one run
            accuracies.append(100 * summary["test_accuracy"])
        last = proc.stdout.strip().splitlines()[-1]
        runs = RUNS[schedule]
        assert last.startswith("Test accuracy: median ") and f"over {runs} run{'s' if runs > 1 else ''} (" in last
        assert f"{sum(accuracies) / runs:.2f} %" in last  # the median of one or two is their mean
    # Each schedule's first-epoch rate reached the optimizer (history.csv).
    first_rate = {}
    for schedule in procs:
        with open(root / "cifar10" / schedule / "seed-0" / "history.csv", newline="") as f:
            first_rate[schedule] = float(next(csv.DictReader(f))["learning_rate"])
    assert first_rate["step"] == pytest.approx(0.1) and first_rate["cosine"] == pytest.approx(0.1)
    assert first_rate["htd"] == pytest.approx(0.05 * (1 - math.tanh(-6)))


def test_a_run_index_starts_every_schedule_from_the_same_weights(study):
    """The loss of the first batch (before any update) is identical across schedules for a run index, and
    differs between run indices (other weights, other batch)."""
    root, _ = study
    loss = {(s, seed): summary_of(str(root / "cifar10" / s / f"seed-{seed}"))["first_batch_loss"]
            for s, runs in RUNS.items() for seed in range(runs)}
    assert loss[("step", 0)] == loss[("cosine", 0)] == loss[("htd", 0)]
    assert loss[("htd", 0)] != loss[("htd", 1)]


def test_compare_draws_and_tabulates_the_study(study, tmp_path):
    root, _ = study
    proc = run_script("htd/compare.py", str(root), "--output-dir", str(tmp_path))
    check_ok(proc)
    _check_png(tmp_path / "comparison.png")
    rows = [line for line in (tmp_path / "comparison.md").read_text().splitlines() if line.startswith("| cifar10")]
    assert [row.split(" | ")[2] for row in rows] == ["step", "cosine", "htd"]
    assert [row.split(" | ")[3] for row in rows] == ["1", "1", "2"]


def test_study_never_overwrites_a_run(study, tiny_cifar10, capsys):
    root, _ = study
    refusal_in_process(STUDY, "--data-dir", tiny_cifar10, "--depth", "8", "--epochs", "1", "--seed", "1",
                       "--output-dir", str(root / "cifar10" / "htd"), capsys=capsys, needles=["seed-1", "exists"])
    refusal_in_process(STUDY, "--data-dir", tiny_cifar10, "--htd-lower", "3", "--htd-upper", "-6", capsys=capsys,
                       needles=["--htd-lower 3", "below"])


def test_study_help_explains_its_flags(capsys):
    code, out, err = run_in_process(STUDY, "--help", capsys=capsys)
    assert code == 0, err
    text = " ".join(out.split())
    for needle in ("--runs N", "--htd-lower L", "--htd-upper U", "--depth N", "(default: 50)", "(default: -6)",
                   "(default: 3)", "(default: htd)", "seed-<seed>"):
        assert needle in text, needle


def _check_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(path) > 5000


def test_plot_schedules(tmp_path, capsys):
    path = tmp_path / "schedules.png"
    proc = run_script("htd/plot_schedules.py", "--epochs", "100", "--lr", "0.05", "--output", str(path))
    check_ok(proc)
    _check_png(path)
    refusal_in_process("htd/plot_schedules.py", "--output", str(path), capsys=capsys, needles=["exists", "--overwrite"])
    check_ok(run_script("htd/plot_schedules.py", "--output", str(path), "--overwrite"))


def _fake_run(folder, dataset, schedule, seed, accuracy, epochs=200, depth=50, finished=True):
    """A run folder as the study script writes it, with a made-up final test accuracy."""
    os.makedirs(folder)
    summary = {"script": "ResNet_schedules_keras", "finished": finished, "epochs": epochs,
               "arguments": {"dataset": dataset, "lr_schedule": schedule, "seed": seed, "depth": depth},
               "data": {"train_images": 50000}, "test_accuracy": accuracy}
    with open(os.path.join(folder, "summary.json"), "w") as f:
        json.dump(summary, f)
    with open(os.path.join(folder, "history.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "learning_rate", "loss", "accuracy", "test_loss", "test_accuracy", "seconds"])
        for e in range(1, epochs + 1):
            w.writerow([e, 0.1 / e, 2.0 / e, 0.5, 1.0, accuracy * e / epochs, 1.0])


def test_compare_on_synthetic_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    finals = {("cifar10", "step"): [0.93, 0.931, 0.925], ("cifar10", "htd"): [0.94, 0.935, 0.936],
              ("cifar100", "cosine"): [0.70, 0.71, 0.72]}
    for (dataset, schedule), accuracies in finals.items():
        for seed, accuracy in enumerate(accuracies):
            _fake_run(runs / dataset / schedule / f"seed-{seed}", dataset, schedule, seed, accuracy)
    _fake_run(runs / "cifar10" / "cosine" / "seed-0", "cifar10", "cosine", 0, 0.5, finished=False)
    _fake_run(runs / "short" / "seed-0", "cifar10", "step", 0, 0.8, epochs=20, depth=20)
    out = tmp_path / "out"
    proc = run_script("htd/compare.py", str(runs), "--output-dir", str(out))
    check_ok(proc)
    assert "skipped (unfinished)" in proc.stdout and "cosine" + os.sep + "seed-0" in proc.stdout
    _check_png(out / "comparison.png")
    table = (out / "comparison.md").read_text()
    assert table in proc.stdout
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:3]): line
            for line in table.splitlines() if line.startswith("| cifar")}
    assert rows[("cifar10", "ResNet_schedules_keras depth 50, 200 epochs", "step")].endswith(
        "| 3 | 93.00 % | 92.50 % | 93.10 % | 93.09 % |")
    assert rows[("cifar10", "ResNet_schedules_keras depth 50, 200 epochs", "htd")].endswith(
        "| 3 | 93.60 % | 93.50 % | 94.00 % | 93.58 % |")
    assert rows[("cifar100", "ResNet_schedules_keras depth 50, 200 epochs", "cosine")].endswith(
        "| 3 | 71.00 % | 70.00 % | 72.00 % | 70.07 % |")
    # Another set-up is its own group, with no reference beside it.
    assert rows[("cifar10", "ResNet_schedules_keras depth 20, 20 epochs", "step")].endswith(
        "| 1 | 80.00 % | 80.00 % | 80.00 % | — |")
    assert len(rows) == 4
    refusal_in_process("htd/compare.py", str(runs), "--output-dir", str(out), capsys=capsys,
                       needles=["comparison", "exists", "--overwrite"])
    refusal_in_process("htd/compare.py", str(tmp_path / "nothing-here"), capsys=capsys,
                       needles=["nothing-here", "no such folder"])
    (tmp_path / "empty").mkdir()
    refusal_in_process("htd/compare.py", str(tmp_path / "empty"), capsys=capsys, needles=["no finished run"])


# --- the study as independent tasks (htd/study.py, htd/study.sbatch) ------------------------------------------

def test_two_array_tasks_of_study_sbatch_then_compare(tiny_cifar10, tmp_path):
    """htd/study.sbatch run by bash as SLURM would run array tasks 0 and 1 (step and cosine, seed 0), at
    once as on two nodes, into one study folder; then compare.py reads it."""
    study = tmp_path / "study"
    env = {**os.environ, "KERAS_BACKEND": "jax", "STUDY": str(study), "CIFAR10": tiny_cifar10}
    procs = [subprocess.Popen(["bash", "htd/study.sbatch", "--depth", "8", "--epochs", "1"], cwd=ROOT,
                              env={**env, "SLURM_ARRAY_TASK_ID": str(i)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-2000:] + err[-2000:]
    for schedule in ("step", "cosine"):
        summary = summary_of(str(study / "cifar10" / schedule / "seed-0"))
        assert summary["finished"] and summary["arguments"]["lr_schedule"] == schedule
        assert summary["arguments"]["depth"] == 8 and summary["epochs"] == 1
    assert sorted(os.listdir(study)) == ["cifar10"] and sorted(os.listdir(study / "cifar10")) == ["cosine", "step"]
    # The same task again does nothing: its run has finished.
    again = run_script("htd/study.py", "--task", "0", "--study-dir", str(study))
    check_ok(again)
    assert "task 0 (cifar10, step, seed 0): finished already" in again.stdout
    compared = run_script("htd/compare.py", str(study), "--output-dir", str(tmp_path / "compared"))
    check_ok(compared)
    rows = [line for line in (tmp_path / "compared" / "comparison.md").read_text().splitlines()
            if line.startswith("| cifar10")]
    assert [row.split(" | ")[2] for row in rows] == ["step", "cosine"]
    listed = run_script("htd/study.py", "--list", "--datasets", "cifar10", "--runs", "1")
    check_ok(listed)
    assert listed.stdout.splitlines() == ["0\tcifar10\tstep\tseed 0", "1\tcifar10\tcosine\tseed 0",
                                          "2\tcifar10\thtd\tseed 0"]


def _study_module():
    spec = importlib.util.spec_from_file_location("study", os.path.join(ROOT, "htd", "study.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_study_task_resumes_a_run_cut_short_and_orders_tasks_by_seed(tmp_path):
    study = _study_module()
    tasks = study.tasks(["cifar10", "cifar100"], ["step", "htd"], 2)
    assert tasks[:4] == [("cifar10", "step", 0), ("cifar10", "htd", 0), ("cifar100", "step", 0),
                         ("cifar100", "htd", 0)] and tasks[4] == ("cifar10", "step", 1)
    new = study.task_command(str(tmp_path), ("cifar10", "htd", 1), {"cifar10": "/data/c10"}, ["--epochs", "3"])
    assert new[2:] == ["--dataset", "cifar10", "--lr-schedule", "htd", "--seed", "1", "--runs", "1",
                       "--output-dir", str(tmp_path / "cifar10" / "htd"), "--data-dir", "/data/c10", "--epochs", "3"]
    folder = tmp_path / "cifar10" / "htd" / "seed-1"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"finished": False}))
    assert study.task_command(str(tmp_path), ("cifar10", "htd", 1), {}, ["--epochs", "3"])[2:] == [
        "--resume", str(folder)]
    (folder / "summary.json").write_text(json.dumps({"finished": True}))
    assert study.task_command(str(tmp_path), ("cifar10", "htd", 1), {}, []) is None


def test_study_in_parallel_shares_out_the_gpus():
    study = _study_module()
    # 4 processes on 2 GPUs: GPUs 0, 1, 0, 1, each process with 0.45 of its GPU's memory (JAX).
    envs = [study.process_env(slot, 4, ["0", "1"], environ={}) for slot in range(4)]
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == ["0", "1", "0", "1"]
    assert all(env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.45" for env in envs)
    # One process a GPU: JAX's own default; no GPU: nothing set.
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION" not in study.process_env(1, 2, ["4", "5"], environ={})
    assert study.process_env(0, 2, [], environ={}) == {}
    assert study.visible_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert study.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_study_refuses_a_study_folder_that_is_a_file_and_a_damaged_task(tmp_path, monkeypatch, capsys):
    study = _study_module()

    def main(*argv):
        monkeypatch.setattr("sys.argv", ["study.py", *argv])
        code = study.main()
        err = capsys.readouterr().err
        return the_one_error_line(code, err, (), err)

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert f"--study-dir {blocker}: exists and is not a folder" in main("--parallel", "2", "--study-dir",
                                                                        str(blocker), "--runs", "1")
    folder = tmp_path / "study" / "cifar10" / "htd" / "seed-0"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text("[1, 2]")  # damaged: nothing starts, for any task
    for argv in (["--parallel", "2"], ["--task", "2"]):
        assert "summary.json: not a run's summary" in main(*argv, "--study-dir", str(tmp_path / "study"), "--runs", "1",
                                                           "--datasets", "cifar10")
    assert not (tmp_path / "study" / "logs").exists() or os.listdir(tmp_path / "study" / "logs") == []
