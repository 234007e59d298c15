"""An interrupted run continues from its last finished epoch and ends with as many epochs as an uninterrupted
run, each epoch recorded once."""

import csv
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import (ROOT, check_ok, epochs_done, folder_bytes, one_line_error, refusal_in_process, run_script,
                      summary_of)

EPOCHS = 8


def test_killed_run_resumes_where_it_stopped(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    # Started from the data's parent folder with a relative --data-dir, resumed from elsewhere without one.
    args = [sys.executable, os.path.join(ROOT, "lenet/LeNet_dp_da_wd_keras.py"), "--data-dir",
            os.path.basename(small_cifar10), "--subset", "1024", "--epochs", str(EPOCHS), "--output-dir", run_dir]
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            cwd=os.path.dirname(small_cifar10))
    deadline = time.time() + 300
    while epochs_done(run_dir) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # as hard as a power cut: no clean-up code runs
    proc.wait()
    killed_after = epochs_done(run_dir)
    assert 2 <= killed_after < EPOCHS, "the run was not interrupted mid-way"
    assert summary_of(run_dir)["finished"] is False
    assert os.path.isdir(os.path.join(run_dir, "backup"))

    # Each checkpoint keeps the run's seconds so far; here they are set to 10000, as if the killed process had
    # run that long (its own figures are small, close to what the resumed process adds).
    kept = _checkpoints_wall_seconds(run_dir)
    assert kept and all(seconds > 0 for seconds in kept.values()), kept
    if len(kept) == 2:
        assert kept["previous"] < kept["latest"]
    before = 10000.0
    _set_checkpoints_wall_seconds(run_dir, {name: before for name in kept})
    # A machine flag may change on resume: --jit (on is what auto gives on JAX, so the run is the same).
    started = time.perf_counter()
    resumed = run_script("lenet/LeNet_dp_da_wd_keras.py", "--resume", run_dir, "--jit", "on", backend="jax",
                         cwd=str(tmp_path))
    resumed_seconds = time.perf_counter() - started
    check_ok(resumed)
    summary = summary_of(run_dir)
    # The run's wall time adds both processes' (the killed one's up to its backup).
    assert summary["resumed_after_seconds"] == [before]
    assert before < summary["wall_seconds"] < before + resumed_seconds
    assert summary["arguments"]["data_dir"] == os.path.abspath(small_cifar10)
    assert summary["command"].endswith(f"--data-dir {os.path.basename(small_cifar10)} --subset 1024 --epochs "
                                       f"{EPOCHS} --output-dir {run_dir}")  # as typed
    assert len(summary["resumed_code"]) == 1 and summary["resumed_code"][0] == summary["code"]
    restored = summary["resumed_from_epoch"]
    assert killed_after - 1 <= restored <= killed_after  # the backup is written just after the history row
    assert summary["finished"] and summary["epochs"] == EPOCHS
    assert summary["arguments"]["epochs"] == EPOCHS and summary["arguments"]["subset"] == 1024
    assert summary["arguments"]["jit"] == "on"
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, EPOCHS + 1))
    # The resumed process trained only the epochs that were missing, with the schedule's rates for them.
    assert f"Epoch {restored + 1}/{EPOCHS}" in resumed.stdout and f"Epoch {restored}/{EPOCHS}" not in resumed.stdout
    assert float(rows[-1]["learning_rate"]) == pytest.approx(0.001)  # 0.01, a tenth from 150 of 200 epochs
    assert not os.path.exists(os.path.join(run_dir, "backup"))


def _checkpoints_wall_seconds(run_dir):
    """{checkpoint: the run's seconds it kept} of each checkpoint of the run's backup."""
    found = {}
    for name in ("latest", "previous"):
        path = os.path.join(run_dir, "backup", name, "training_metadata.json")
        if os.path.exists(path):
            with open(path) as f:
                found[name] = json.load(f)["wall_seconds"]
    return found


def _set_checkpoints_wall_seconds(run_dir, seconds):
    """Rewrites the wall seconds of the checkpoints named in ``seconds`` (None: removes them)."""
    for name, value in seconds.items():
        path = os.path.join(run_dir, "backup", name, "training_metadata.json")
        with open(path) as f:
            metadata = json.load(f)
        metadata.pop("wall_seconds")
        with open(path, "w") as f:
            json.dump(metadata if value is None else {**metadata, "wall_seconds": value}, f)


def test_resume_refuses_a_finished_run_and_other_arguments(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    check_ok(run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--subset", "128", "--epochs", "1",
                        "--output-dir", run_dir, backend="jax"))
    proc = run_script("lenet/LeNet_keras.py", "--resume", run_dir, "--data-dir", small_cifar10, backend="jax")
    assert proc.returncode == 2 and "has finished" in proc.stderr
    proc = run_script("lenet/LeNet_keras.py", "--resume", run_dir, "--epochs", "5", backend="jax")
    assert proc.returncode == 2 and "--epochs" in proc.stderr and "keeps its own arguments" in proc.stderr
    proc = run_script("lenet/LeNet_keras.py", "--resume", str(tmp_path / "nothing"), backend="jax")
    assert proc.returncode == 2 and "summary.json" in proc.stderr


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_ctrl_c_says_how_to_resume(backend, small_cifar10, tmp_path):
    # A folder name with a space and an accent: the printed command is quoted for the shell.
    run_dir = str(tmp_path / ("run" if backend == "jax" else "my run é"))
    args = [sys.executable, os.path.join(ROOT, "lenet/LeNet_dp_keras.py"), "--data-dir", small_cifar10,
            "--subset", "1024", "--epochs", "50", "--output-dir", run_dir]
    # A process started in the background by a non-interactive shell (as CI may start the suite) inherits
    # SIGINT *ignored*, and Python then installs no KeyboardInterrupt handler; a user's Ctrl-C reaches a
    # foreground process, so the run starts with SIGINT at its default, as it would in a terminal.
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "KERAS_BACKEND": backend},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while epochs_done(run_dir) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted after epoch" in stderr, stderr[-3000:]
    assert f"--resume {shlex.quote(run_dir)}" in stderr
    command = stderr.split("continue with: ")[1].splitlines()[0]
    assert shlex.split(command)[-2:] == ["--resume", run_dir] and shlex.quote(run_dir) in command
    assert os.path.exists(os.path.join(run_dir, "curves.png"))  # the curves so far
    assert summary_of(run_dir)["finished"] is False


# An interrupt that lands where Keras drops it: inside the bare ``except: pass`` around each batch's logs
# (keras/src/utils/python_utils.py, pythonify_logs), where the backends wait for the step. This callback,
# added to a copy of LeNet_keras.py, interrupts its own process inside such a bare except, in epoch 2.
DROPPED_INTERRUPT = """
import os, signal, time


class DroppedInterrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 0:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(2)
            except:  # noqa: E722 (as Keras does)
                pass


"""


def test_an_interrupt_keras_drops_still_stops_the_run(small_cifar10, tmp_path):
    with open(os.path.join(ROOT, "lenet/LeNet_keras.py")) as f:
        text = f.read()
    callbacks = "callbacks=[keras.callbacks.LearningRateScheduler(schedule)]"
    assert text.count(callbacks) == 1 and text.count('\nif __name__ == "__main__":') == 1
    text = text.replace(callbacks, "callbacks=[keras.callbacks.LearningRateScheduler(schedule), DroppedInterrupt()]")
    text = text.replace('\nif __name__ == "__main__":', DROPPED_INTERRUPT + 'if __name__ == "__main__":')
    script = tmp_path / "LeNet_keras.py"
    script.write_text(text)
    run_dir = str(tmp_path / "run")
    proc = subprocess.run([sys.executable, str(script), "--data-dir", small_cifar10, "--subset", "256",
                           "--epochs", "4", "--output-dir", run_dir], capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "jax"}, timeout=300,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Stopped in epoch 2, at the next batch, as a Ctrl-C that Keras had not dropped would have stopped it.
    assert proc.returncode == 130, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "interrupted after epoch 1;" in proc.stderr and "Traceback" not in proc.stderr
    assert epochs_done(run_dir) == 1 and summary_of(run_dir)["finished"] is False


@pytest.fixture(scope="module")
def killed_run(small_cifar10, tmp_path_factory):
    """A LeNet run of 8 epochs killed after its third: its backup holds two checkpoints."""
    run_dir = str(tmp_path_factory.mktemp("killed") / "run")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "lenet/LeNet_keras.py"), "--data-dir", small_cifar10,
                             "--subset", "256", "--epochs", str(EPOCHS), "--output-dir", run_dir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    deadline = time.time() + 300
    while epochs_done(run_dir) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGSTOP)  # stopped between epochs' work, then killed: no clean-up runs
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    backup = os.path.join(run_dir, "backup")
    assert 3 <= epochs_done(run_dir) < EPOCHS and os.path.isdir(os.path.join(backup, "previous"))
    return run_dir


def _damaged_copy(killed_run, tmp_path, damage):
    run_dir = str(tmp_path / "run")
    shutil.copytree(killed_run, run_dir)
    backup = os.path.join(run_dir, "backup")
    for name, content in damage.items():
        path = os.path.join(backup, name)
        if content is None:  # truncated to half its size
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
        else:
            with open(path, "wb") as f:
                f.write(content)
    return run_dir


@pytest.mark.parametrize("damage", [
    {"latest/checkpoint.keras": None},  # truncated checkpoint
    {"latest/checkpoint.keras": b"PK\x03\x04" + b"\x00" * 64},  # corrupt checkpoint
    {"latest/training_metadata.json": b""},  # empty metadata
    {"latest/training_metadata.json": b"{not json"},  # corrupt metadata
], ids=["truncated-weights", "corrupt-weights", "empty-metadata", "corrupt-metadata"])
def test_a_damaged_backup_falls_back_to_the_earlier_checkpoint(damage, killed_run, tmp_path):
    run_dir = str(tmp_path / "copy")
    shutil.copytree(killed_run, run_dir)
    _set_checkpoints_wall_seconds(run_dir, {"latest": 9000.0, "previous": 5000.0})
    run_dir = _damaged_copy(run_dir, tmp_path, damage)
    resumed = _resumed_to_the_end(run_dir, EPOCHS)
    assert "the last backup was damaged" in resumed.stdout and "resuming from the one before it" in resumed.stdout
    assert summary_of(run_dir)["resumed_after_seconds"] == [5000.0]  # the time the loaded checkpoint kept


def test_a_backup_older_than_the_wall_time_record_counts_the_restored_epochs_seconds(killed_run, tmp_path):
    """Checkpoints once kept only their epoch: the time before the resumed process is then its restored epochs'
    own seconds (a lower bound: their start-up is not counted). Here each is set to 100 s in the history."""
    run_dir = str(tmp_path / "run")
    shutil.copytree(killed_run, run_dir)
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(run_dir, "history.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "seconds": "100.0"} for r in rows)
    _set_checkpoints_wall_seconds(run_dir, {"latest": None, "previous": None})
    started = time.perf_counter()
    _resumed_to_the_end(run_dir, EPOCHS)
    resumed_seconds = time.perf_counter() - started
    summary = summary_of(run_dir)
    before = 100.0 * summary["resumed_from_epoch"]
    assert before > 0 and summary["resumed_after_seconds"] == [before]
    assert before < summary["wall_seconds"] < before + resumed_seconds


def test_a_backup_with_nothing_usable_is_one_line_and_keeps_the_history(killed_run, tmp_path):
    run_dir = _damaged_copy(killed_run, tmp_path, {"latest/checkpoint.keras": b"garbage",
                                                   "previous/checkpoint.keras": b"garbage"})
    with open(os.path.join(run_dir, "history.csv")) as f:
        history = f.read()
    resumed = run_script("lenet/LeNet_keras.py", "--resume", run_dir, backend="jax")
    one_line_error(resumed, "no usable checkpoint", "latest/", "previous/", "history.csv is kept")
    with open(os.path.join(run_dir, "history.csv")) as f:
        assert f.read() == history
    assert summary_of(run_dir)["finished"] is False


def test_killed_again_and_again_it_still_ends_with_every_epoch_once(small_cifar10, tmp_path):
    """Under load: killed at random moments several times in a row (right as an epoch's row appears, which
    is while its backup is written; part-way through an epoch; during a resumed process's start-up), then
    resumed to the end."""
    import random

    rng = random.Random(7)
    epochs = 12  # more than the kills can use up
    run_dir = str(tmp_path / "run")
    start = [sys.executable, os.path.join(ROOT, "lenet/LeNet_keras.py"), "--data-dir", small_cifar10, "--subset",
             "256", "--epochs", str(epochs), "--output-dir", run_dir]
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    kills = [("row", 0.0), ("row", rng.uniform(0, 0.3)), ("start-up", rng.uniform(0.5, 3)), ("row", 0.0)]
    for i, (moment, delay) in enumerate(kills):
        command = start if i == 0 else [sys.executable, os.path.join(ROOT, "lenet/LeNet_keras.py"), "--resume",
                                        run_dir]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        if moment == "row":  # a new epoch's row appears (a resumed run first drops the rows after its backup)
            done = epochs_done(run_dir)
            deadline = time.time() + 300
            while epochs_done(run_dir) <= done and proc.poll() is None and time.time() < deadline:
                time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert summary_of(run_dir)["finished"] is False, f"kill {i + 1} came after the run had finished"
    _resumed_to_the_end(run_dir, epochs)


def _resumed_to_the_end(run_dir, epochs):
    """Resumes the LeNet run in ``run_dir`` (JAX); it must end finished, every epoch once, its backup gone."""
    resumed = run_script("lenet/LeNet_keras.py", "--resume", run_dir, backend="jax")
    check_ok(resumed)
    summary = summary_of(run_dir)
    assert summary["finished"] and summary["epochs"] == epochs
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(1, epochs + 1))
    assert not os.path.exists(os.path.join(run_dir, "backup"))
    return resumed


def _history_lines(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return f.read().splitlines(keepends=True)


def _set_history(run_dir, lines):
    with open(os.path.join(run_dir, "history.csv"), "w") as f:
        f.write("".join(lines))


def _edit_summary(run_dir, edit):
    path = os.path.join(run_dir, "summary.json")
    with open(path) as f:
        summary = json.load(f)
    edit(summary)
    with open(path, "w") as f:
        json.dump(summary, f)


def _replace_by(path, kind):
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    os.mkdir(path) if kind == "folder" else open(path, "w").close()


DAMAGE = {  # what a user can leave behind, and what the one line says of it
    "summary-a-list": (lambda d: open(os.path.join(d, "summary.json"), "w").write("[1, 2]"),
                       "summary.json: not a run's summary (a JSON list"),
    "summary-a-folder": (lambda d: _replace_by(os.path.join(d, "summary.json"), "folder"),
                         "summary.json: cannot be read (Is a directory)"),
    "argument-of-another-type": (lambda d: _edit_summary(d, lambda s: s["arguments"].update(epochs="eight")),
                                 "its argument epochs is 'eight', which --epochs does not take"),
    "argument-out-of-range": (lambda d: _edit_summary(d, lambda s: s["arguments"].update(batch_size=0)),
                              "its argument batch_size is 0, which --batch-size does not take"),
    "history-cell-not-a-number": (lambda d: _set_history(d, [line.replace(line.split(",")[2], "abc", 1) if i == 2
                                                             else line for i, line in enumerate(_history_lines(d))]),
                                  "history.csv: line 3 is damaged"),
    "history-rows-duplicated": (lambda d: _set_history(d, _history_lines(d)[:3] + _history_lines(d)[2:]),
                                "history.csv: epoch 2 appears 2 times"),
    "history-rows-missing": (lambda d: _set_history(d, _history_lines(d)[:2] + _history_lines(d)[3:]),
                             "history.csv: epoch 2 missing"),
    "backup-a-file": (lambda d: _replace_by(os.path.join(d, "backup"), "file"), "backup: not a folder"),
    # What Keras's own backup callback left when a run was killed after its last epoch: no backup at all.
    "backup-lost": (lambda d: shutil.rmtree(os.path.join(d, "backup")), "but there is no backup to continue from"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_run_folder_is_refused_in_one_line_and_left_as_it_was(damage, killed_run, tmp_path, capsys):
    """Refused before anything is written (run in this process: the refusals come before any training).
    The lock file of the killed run is taken over and given back, as by any resume."""
    run_dir = str(tmp_path / "run")
    shutil.copytree(killed_run, run_dir)
    make, message = DAMAGE[damage]
    make(run_dir)
    before = folder_bytes(run_dir)
    refusal_in_process("lenet/LeNet_keras.py", "--resume", run_dir, capsys=capsys, needles=[message])
    after = folder_bytes(run_dir)
    assert {k: v for k, v in after.items() if k != "training.lock"} == {
        k: v for k, v in before.items() if k != "training.lock"}


def test_a_history_row_cut_short_is_an_interrupted_epoch(killed_run, tmp_path):
    """A full disk cut the row being appended (as runs appended rows before the history was written whole):
    that epoch is trained again."""
    run_dir = str(tmp_path / "run")
    shutil.copytree(killed_run, run_dir)
    with open(os.path.join(run_dir, "history.csv"), "a") as f:
        f.write(f"{epochs_done(run_dir) + 1},0.001,1.39,0.515625,")
    _resumed_to_the_end(run_dir, EPOCHS)
