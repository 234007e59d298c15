"""A reader's own schedule, as doc/learning-rate-schedules.md shows it: a script copied and edited to a lambda,
or to a keras.optimizers.schedules object, trains, records the rates it used, and resumes after a kill with
them."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, check_ok, epochs_done, one_line_error, run_script, summary_of

SCRIPT = "lenet/LeNet_dp_da_wd_keras.py"
SCHEDULE_LINE = "        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)\n"
OPTIMIZER = "keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,"  # then --ema's arguments
CALLBACKS = "callbacks=[keras.callbacks.LearningRateScheduler(schedule)]"
LAMBDA = "lambda epoch: args.lr * 0.98**epoch"  # the doc page's example
EPOCHS = 6
SUBSET = 256  # two steps of 128 images an epoch

# The edits of the doc page, each to the copy of SCRIPT: {old: new}.
EDITS = {
    # A lambda: one line.
    "lambda": {SCHEDULE_LINE: f"        schedule = {LAMBDA}\n"},
    # A schedule object inside the optimizer: it sets the rate at every step, so no scheduler callback.
    "optimizer_schedule": {
        OPTIMIZER: "keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(args.lr, "
                   "decay_steps=len(run.data.x_train) // args.batch_size, decay_rate=0.98, staircase=True), "
                   "momentum=0.9, nesterov=True,",
        CALLBACKS: "callbacks=[]",
    },
    # Both at once: two things would set the rate.
    "both": {OPTIMIZER: "keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(args.lr, "
                        "decay_steps=2, decay_rate=0.5), momentum=0.9, nesterov=True,"},
}


def _edited_copy(tmp_path, edits):
    with open(os.path.join(ROOT, SCRIPT)) as f:
        text = f.read()
    for old, new in edits.items():
        assert text.count(old) == 1, f"the script no longer has: {old}"
        text = text.replace(old, new)
    path = tmp_path / "mine" / os.path.basename(SCRIPT)
    path.parent.mkdir()
    path.write_text(text)
    return str(path)


def _rates(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        return [float(row["learning_rate"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize("kind", ["lambda", "optimizer_schedule"])
def test_own_schedule_trains_records_its_rates_and_resumes(kind, small_cifar10, tmp_path):
    script = _edited_copy(tmp_path, EDITS[kind])
    run_dir = str(tmp_path / "run")
    args = [sys.executable, script, "--data-dir", small_cifar10, "--subset", str(SUBSET), "--epochs", str(EPOCHS),
            "--output-dir", run_dir]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and epochs_done(run_dir) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # no clean-up code runs
    _, stderr = proc.communicate()
    killed_after = epochs_done(run_dir)
    assert 2 <= killed_after < EPOCHS, f"the run was not interrupted mid-way\n{stderr}"

    resumed = run_script(script, "--resume", run_dir, "--data-dir", small_cifar10, backend="jax")
    check_ok(resumed)
    summary = summary_of(run_dir)
    assert summary["finished"] and summary["epochs"] == EPOCHS and summary["resumed_from_epoch"] >= 1
    # 2 % less every epoch, before and after the kill: the resumed run continued the schedule where it stopped
    # (the lambda from its epoch, the optimizer's schedule from its restored step count).
    assert _rates(run_dir) == pytest.approx([0.01 * 0.98**epoch for epoch in range(EPOCHS)], rel=1e-6)
    assert resumed.stdout.strip().splitlines()[-1].startswith("Test accuracy: ")


def test_a_scheduler_callback_beside_an_optimizer_schedule_is_one_line(tiny_cifar10, tmp_path):
    script = _edited_copy(tmp_path, EDITS["both"])
    proc = run_script(script, "--data-dir", tiny_cifar10, "--epochs", "1", "--output-dir", str(tmp_path / "run"),
                      backend="jax")
    one_line_error(proc, "keras.optimizers.schedules", "LearningRateScheduler", "callbacks=[]")
    assert not os.path.exists(tmp_path / "run"), "nothing is written for a script that cannot train"


def test_the_doc_page_makes_the_edit_tested_here():
    with open(os.path.join(ROOT, "doc", "learning-rate-schedules.md")) as f:
        page = f.read()
    assert f"sed -i 's/schedule = schedules.from_args(.*/schedule = {LAMBDA}/' my_lenet.py" in page
    assert SCHEDULE_LINE.strip() in page and "callbacks=[]" in page
