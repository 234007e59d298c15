"""A run folder has one owner: a lock while a process trains in it, atomic creation of a new folder, and a
resume refused for another script's run or differing flags, with nothing written."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, check_ok, epochs_done, one_line_error, run_script, summary_of
from cifar_common import run_folder


def test_two_runs_claiming_one_new_folder_at_once_get_it_once(tmp_path):
    path = str(tmp_path / "runs" / "same")
    owners, refusals = [], []
    start = threading.Barrier(8)

    def claim():
        start.wait()
        try:
            owners.append(run_folder.own_new(path, "LeNet_keras"))
        except run_folder.OutputError as e:
            refusals.append(str(e))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(owners) == 1 and len(refusals) == 7, refusals
    assert all(path in message for message in refusals)
    owners[0].release()
    assert not os.path.exists(path) or os.listdir(path) == []  # removed if the owner created it


def test_a_new_folder_its_run_never_wrote_into_is_removed_when_given_up(tmp_path):
    owner = run_folder.own_new(str(tmp_path / "run"), "LeNet_keras")
    assert os.listdir(owner.folder) == [run_folder.LOCK]
    owner.release()
    assert not (tmp_path / "run").exists()
    kept = tmp_path / "kept"
    kept.mkdir()  # an empty folder given by the user is used, and kept
    run_folder.own_new(str(kept), "LeNet_keras").release()
    assert kept.is_dir()
    # The folders it created above it go too (a study's folder, when its first run ends on bad input), but
    # not one that holds anything else.
    run_folder.own_new(str(tmp_path / "study" / "cifar10" / "seed-0"), "ResNet_schedules_keras").release()
    assert not (tmp_path / "study").exists() and kept.is_dir()
    (tmp_path / "study" / "cifar10" / "seed-1").mkdir(parents=True)
    run_folder.own_new(str(tmp_path / "study" / "cifar10" / "seed-0"), "ResNet_schedules_keras").release()
    assert os.listdir(tmp_path / "study" / "cifar10") == ["seed-1"]


def test_a_lock_left_by_a_dead_process_is_taken_over_and_a_live_one_refused(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / run_folder.LOCK).write_text("999999\n")  # a killed run's file: no process holds its lock
    owner = run_folder.own_existing(str(folder))
    assert (folder / run_folder.LOCK).read_text() == f"{os.getpid()}\n"
    owner.release()
    assert folder.is_dir() and not (folder / run_folder.LOCK).exists()  # an existing folder stays

    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom cifar_common import run_folder\n"
                               f"run_folder.own_existing({str(folder)!r})\nprint('held', flush=True)\n"
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(run_folder.OutputError, match=f"process {holder.pid} is training in it"):
            run_folder.own_existing(str(folder))
    finally:
        holder.kill()
        holder.wait()
    run_folder.own_existing(str(folder)).release()  # its lock died with it


def test_a_live_run_is_never_resumed_nor_shared_and_a_killed_one_is(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    flags = ["--data-dir", small_cifar10, "--subset", "256", "--epochs", "4"]
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "lenet/LeNet_keras.py"), *flags,
                             "--output-dir", run_dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    deadline = time.time() + 300
    while epochs_done(run_dir) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGSTOP)  # alive, holding its lock, and not finishing while we look
    try:
        assert epochs_done(run_dir) < 4
        resumed = run_script("lenet/LeNet_keras.py", "--resume", run_dir, backend="jax")
        one_line_error(resumed, run_dir, f"process {proc.pid} is training in it")
        second = run_script("lenet/LeNet_keras.py", *flags, "--output-dir", run_dir, backend="jax")
        one_line_error(second, run_dir, "not empty")
        assert summary_of(run_dir)["finished"] is False
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    # Killed: its lock file stays, its lock is gone. "My command plus --resume" (the same flags) continues it.
    assert os.path.exists(os.path.join(run_dir, run_folder.LOCK))
    resumed = run_script("lenet/LeNet_keras.py", *flags, "--output-dir", run_dir, "--resume", run_dir,
                         backend="jax")
    check_ok(resumed)
    summary = summary_of(run_dir)
    assert summary["finished"] and summary["epochs"] == 4 and epochs_done(run_dir) == 4
    assert not os.path.exists(os.path.join(run_dir, run_folder.LOCK))


@pytest.mark.parametrize("script", ["lenet/LeNet_dp_da_wd_keras.py", "resnet/ResNet_keras.py"])
def test_resume_with_another_script_is_refused_with_nothing_written(script, tiny_cifar10, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    summary = {"script": "LeNet_dp_keras", "command": "python lenet/LeNet_dp_keras.py --epochs 9",
               "finished": False, "arguments": {"epochs": 9, "data_dir": tiny_cifar10}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    before = {name: (run_dir / name).read_bytes() for name in os.listdir(run_dir)}
    proc = run_script(script, "--resume", str(run_dir), backend="jax")
    one_line_error(proc, "a run of LeNet_dp_keras.py", "python lenet/LeNet_dp_keras.py --epochs 9")
    assert {name: (run_dir / name).read_bytes() for name in os.listdir(run_dir)} == before


def test_resume_names_each_differing_flag_and_takes_a_folder(tiny_cifar10, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    summary = {"script": "LeNet_keras", "command": "python lenet/LeNet_keras.py --epochs 9", "finished": False,
               "arguments": {"epochs": 9, "batch_size": 128, "data_dir": tiny_cifar10}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    proc = run_script("lenet/LeNet_keras.py", "--resume", str(run_dir), "--epochs", "5", "--batch-size", "128",
                      backend="jax")
    one_line_error(proc, "--epochs 5 (the run's: 9)", "keeps its own arguments")
    assert "--batch-size" not in proc.stderr  # the same value as the run's: not a difference
    proc = run_script("lenet/LeNet_keras.py", "--resume", str(run_dir / "summary.json"), backend="jax")
    one_line_error(proc, "not a folder")


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_an_output_folder_that_cannot_be_created_is_reported_before_the_data(where, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    output = {"under_a_file": str(blocker / "run"), "proc": "/proc/cifar-run"}[where]
    # The data folder does not exist either: the output folder is checked first.
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", str(tmp_path / "no-data"), "--output-dir", output,
                      backend="jax")
    one_line_error(proc, output, "cannot create it")
