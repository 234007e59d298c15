"""A run's record survives every ending: stopped after its last epoch (before it is recorded as finished),
on a full disk (a small file system the test mounts in a mount namespace of its own), and the history and
files it rewrites are always whole."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, check_ok, one_line_error, run_script, summary_of
from cifar_common import run_folder

SCRIPT = os.path.join(ROOT, "lenet", "LeNet_dp_da_wd_keras.py")


def _rows(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# Runs a script with a stand-in for run_folder.save_model that stops the run as it saves model.keras: every
# epoch trained, nothing saved yet (Keras's own backup callback had deleted the backup by then, and a resume
# trained the run again from epoch 1). KILL: killed there, no clean-up at all. INT: Ctrl-C inside the saving,
# swallowed there by a bare except as Keras's saving code has them; the run must stop all the same. (strace
# -e inject=openat:signal=KILL -P RUN/model.partial.keras stops it at the same point, 25 times slower.)
STOP_AT_THE_MODEL = textwrap.dedent("""
    import os, runpy, signal, sys, time
    from cifar_common import run_folder

    how, script = sys.argv[1], sys.argv[2]
    save = run_folder.save_model

    def stopping(model, path):
        if os.path.basename(path) == "model.keras":
            if how == "KILL":
                os.kill(os.getpid(), signal.SIGKILL)
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(2)
            except:  # noqa: E722
                pass
        return save(model, path)

    run_folder.save_model = stopping
    sys.argv = [script, *sys.argv[3:]]
    runpy.run_path(script, run_name="__main__")
""")


def test_a_run_stopped_after_its_last_epoch_is_completed_by_resume(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1"}

    def stopped_at_the_model(how, *args):
        return subprocess.run([sys.executable, "-c", STOP_AT_THE_MODEL, how, SCRIPT, *args], capture_output=True,
                              text=True, env=env, timeout=300, preexec_fn=_default_sigint)

    # Ctrl-C there: the backup stays, and the run says how to complete it.
    proc = stopped_at_the_model("INT", "--data-dir", small_cifar10, "--subset", "256", "--epochs", "3",
                                "--output-dir", run_dir)
    assert proc.returncode == 130, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert ("interrupted after its last epoch (3), before it was recorded as finished; complete it with: "
            f"python {SCRIPT} --resume {run_dir}") in proc.stderr and "Traceback" not in proc.stderr
    trained_rows = _rows(run_dir)
    assert [int(r["epoch"]) for r in trained_rows] == [1, 2, 3] and summary_of(run_dir)["finished"] is False
    assert run_folder.restored_epoch(run_dir) == 3

    # Killed at the same moment while the resume completes it.
    proc = stopped_at_the_model("KILL", "--resume", run_dir)
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "every epoch was trained: completing the run from its last backup" in proc.stdout
    assert summary_of(run_dir)["finished"] is False and run_folder.restored_epoch(run_dir) == 3

    # The resume completes it without training: the model, the curves, the summary; then the backup goes.
    proc = run_script(SCRIPT, "--resume", run_dir, backend="jax")
    check_ok(proc)
    assert "Epoch " not in proc.stdout and "Test accuracy" in proc.stdout.strip().splitlines()[-1]
    summary = summary_of(run_dir)
    assert summary["finished"] and summary["epochs"] == 3 and summary["resumed_from_epoch"] == 3
    assert summary["test_accuracy"] == float(trained_rows[-1]["test_accuracy"])
    assert _rows(run_dir) == trained_rows  # not trained again
    assert not os.path.exists(os.path.join(run_dir, "backup"))
    # The saved model is the last epoch's: it scores what the history says.
    from cifar_common import data, trained

    run = trained.load_run(run_dir)
    report = trained.evaluate(run, data.load("cifar10", small_cifar10))
    assert abs(report["accuracy"] - summary["test_accuracy"]) <= 1 / 256 + 1e-9


# Runs inside a mount namespace of its own, with a small tmpfs at MOUNT: a run whose disk another program
# fills, twice, and which finishes once there is space again.
FULL_DISK = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time

    mount, script, data_dir, out = sys.argv[1:5]
    run_dir = os.path.join(mount, "run")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1"}
    results = []

    def rows():
        try:
            with open(os.path.join(run_dir, "history.csv")) as f:
                return max(len(f.read().strip().splitlines()) - 1, 0)
        except FileNotFoundError:
            return 0

    def backed_up():
        try:
            with open(os.path.join(run_dir, "backup", "latest", "training_metadata.json")) as f:
                return json.load(f)["epoch"]
        except (OSError, ValueError):
            return 0

    def fill(leave):  # what another program does: write until the disk has only `leave` bytes
        st = os.statvfs(mount)
        with open(os.path.join(mount, "filler"), "wb", buffering=0) as f:
            try:
                f.write(bytes(max(st.f_bavail * st.f_frsize - leave, 0)))
                while leave == 0:
                    f.write(bytes(4096))
            except OSError:
                pass

    def attempt(command, ready=None, leave=0):
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if ready:
            deadline = time.time() + 300
            while not ready() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.005)
            proc.send_signal(signal.SIGSTOP)
            fill(leave)
            proc.send_signal(signal.SIGCONT)
        stdout, stderr = proc.communicate(timeout=300)
        results.append({"code": proc.returncode, "stdout": stdout[-3000:], "stderr": stderr[-3000:]})
        with open(os.path.join(run_dir, "history.csv")) as f:
            results[-1]["history"] = f.read()
        if os.path.exists(os.path.join(mount, "filler")):
            os.remove(os.path.join(mount, "filler"))  # space again

    # Filled after epoch 2, leaving room for a history row but not for a checkpoint.
    attempt([sys.executable, script, "--data-dir", data_dir, "--subset", "256", "--epochs", "6",
             "--output-dir", run_dir], ready=lambda: rows() >= 2, leave=64 * 1024)
    # Filled to the last byte once epoch 4 is backed up: the next write is epoch 5's history row.
    attempt([sys.executable, script, "--resume", run_dir], ready=lambda: backed_up() >= 4 and rows() >= 4)
    attempt([sys.executable, script, "--resume", run_dir])
    with open(os.path.join(run_dir, "summary.json")) as f:
        results.append({"summary": json.load(f), "backup": os.path.exists(os.path.join(run_dir, "backup"))})
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f)
""")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare, to mount a small file system")
def test_a_full_disk_ends_in_one_line_and_the_run_resumes_once_there_is_space(small_cifar10, tmp_path):
    mount, driver = tmp_path / "disk", tmp_path / "full_disk.py"
    mount.mkdir()
    driver.write_text(FULL_DISK)
    # A mount namespace of its own (and a user namespace, where the test does not run as root): the small
    # file system is seen by these processes only and goes when they end.
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           'mount -t tmpfs -o size=6m tmpfs "$1" && exec "$2" "$3" "$1" "$4" "$5" "$6"', "sh",
                           str(mount), sys.executable, str(driver), SCRIPT, small_cifar10, str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    if "mount" in proc.stderr and not (tmp_path / "results.json").exists() and proc.returncode != 0:
        pytest.skip(f"this machine cannot mount a small file system here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    first, second, last, end = json.loads((tmp_path / "results.json").read_text())
    run_dir = str(mount / "run")
    for stopped, failed_file in ((first, "backup/new/checkpoint.keras"), (second, "history.csv")):
        one_line_error(subprocess.CompletedProcess([], stopped["code"], stopped["stdout"], stopped["stderr"]),
                       f"{run_dir}/{failed_file}: cannot be written (No space left on device)",
                       f"continue with: python {SCRIPT} --resume {run_dir}", code=4)
        assert stopped["history"].endswith("\n") and "\n\n" not in stopped["history"]  # whole rows only
    check_ok(subprocess.CompletedProcess([], last["code"], last["stdout"], last["stderr"]))
    assert end["summary"]["finished"] and end["summary"]["epochs"] == 6 and not end["backup"]
    assert [int(line.split(",")[0]) for line in last["history"].strip().splitlines()[1:]] == [1, 2, 3, 4, 5, 6]


def test_a_rewrite_that_fails_leaves_the_file_as_it_was(tmp_path):
    path = str(tmp_path / "history.csv")
    run_folder.write_text(path, "the old file\n")
    with pytest.raises(run_folder.WriteError, match=r"history.csv: cannot be written \(No space left on device\)"):
        with run_folder.replacing(path) as partial:
            with open(partial, "w") as f:
                f.write("half a new")
            raise OSError(28, "No space left on device")  # a stand-in for the write that fails
    assert open(path).read() == "the old file\n" and os.listdir(tmp_path) == ["history.csv"]
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the middle: the same
        with run_folder.replacing(path) as partial:
            open(partial, "w").close()
            raise KeyboardInterrupt
    assert open(path).read() == "the old file\n" and os.listdir(tmp_path) == ["history.csv"]
    assert run_folder._partial_name("/r/model.keras") == "/r/model.partial.keras"


HEADER = "epoch,learning_rate,loss,accuracy,test_loss,test_accuracy,seconds\n"


def _row(epoch):
    return f"{epoch},0.01,2.0,0.25,2.1,0.2,1.5\n"


def _folder(tmp_path, history, backup_epochs=()):
    """A run folder with that history.csv and checkpoint folders for those epochs (newest first)."""
    folder = tmp_path / "run"
    folder.mkdir()
    if history is not None:
        (folder / "history.csv").write_text(history)
    for name, epoch in zip(run_folder.CHECKPOINTS, backup_epochs):
        (folder / "backup" / name).mkdir(parents=True)
        (folder / "backup" / name / run_folder.METADATA).write_text(json.dumps({"epoch": epoch}))
    return str(folder)


@pytest.mark.parametrize("history,backup,kept", [
    (HEADER + _row(1) + _row(2) + _row(3), (3, 2), 3),  # killed between epochs
    (HEADER + _row(1) + _row(2) + _row(3), (2, 1), 3),  # killed while epoch 3's checkpoint was written
    (HEADER + _row(1), (), 1),  # the same in epoch 1: no checkpoint yet
    (HEADER + _row(1) + _row(2) + "3,0.01,2.0,0.2", (2, 1), 2),  # a row cut short: an interrupted epoch
    (None, (), 0),
])
def test_resume_point_of_an_interrupted_run(history, backup, kept, tmp_path):
    rows = run_folder.resume_point(_folder(tmp_path, history, backup), epochs=8)
    assert [r["epoch"] for r in rows] == list(range(1, kept + 1))


@pytest.mark.parametrize("history,backup,message", [
    (HEADER + _row(1) + _row(2) + _row(3), (), "history.csv has epochs 1 to 3, but there is no backup"),
    (HEADER, (3, 2), "history.csv: 0 epoch rows, but the backup holds epoch 3: rows are missing"),
    (HEADER + _row(1) + _row(2) + _row(2) + _row(3), (3, 2), "epoch 2 appears 2 times"),
    (HEADER + _row(1) + _row(4) + _row(5), (5, 4), "epochs 2, 3 missing"),
    (HEADER + _row(2) + _row(1), (2, 1), "out of order"),
    (HEADER + _row(1) + "2,0.01,two,0.25,2.1,0.2,1.5\n" + _row(3), (3, 2), "line 3 is damaged"),
    (HEADER + "3,0.01,2.0,0.2\n", (), "line 2 is damaged"),  # cut, then the line ended: not a kill
    ("epoch;loss\n1;2.0\n", (), "line 1 is not the header"),
    (HEADER + _row(1) + _row(2), (2, 1), "2 epochs, more than the run's 1"),
])
def test_resume_point_refuses_what_it_cannot_continue(history, backup, message, tmp_path):
    folder = _folder(tmp_path, history, backup)
    with pytest.raises(run_folder.OutputError, match=message):
        run_folder.resume_point(folder, epochs=1 if "more than" in message else 8)


def test_resume_point_refuses_a_backup_that_is_a_file(tmp_path):
    folder = _folder(tmp_path, HEADER + _row(1))
    (tmp_path / "run" / "backup").write_text("")
    with pytest.raises(run_folder.OutputError, match="backup: not a folder"):
        run_folder.resume_point(folder, epochs=4)
