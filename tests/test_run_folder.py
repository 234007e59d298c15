"""The history writer: a row's seconds are everything the epoch cost, callbacks included; its learning rate
is the optimizer's."""

import subprocess
import time

import keras
import pytest

from cifar_common import run_folder


def _writer(path, learning_rate):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    writer = run_folder.HistoryWriter(path, "test")
    writer.set_model(model)
    return writer


def test_history_seconds_include_the_time_between_epochs(tmp_path):
    writer = _writer(str(tmp_path), 0.1)
    # The logs' learning rate is not what the writer records: the optimizer's is (0.1 here).
    logs = {"learning_rate": 0.7, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}
    writer.on_train_begin()
    writer.on_epoch_begin(0)
    time.sleep(0.05)  # training
    writer.on_epoch_end(0, logs)
    time.sleep(0.3)  # what runs after the row: the backup of the epoch, the progress bar
    writer.on_epoch_begin(1)
    time.sleep(0.05)
    writer.on_epoch_end(1, logs)
    first, second = (row["seconds"] for row in run_folder.read_history(str(tmp_path)))
    assert 0.05 <= first < 0.3
    assert second >= 0.35  # the gap before the epoch counts towards it
    assert writer.train_seconds[1] < 0.3  # the training part alone leaves the gap out
    assert [row["learning_rate"] for row in run_folder.read_history(str(tmp_path))] == pytest.approx([0.1, 0.1])


def test_history_records_the_rate_of_an_optimizer_schedule(tmp_path):
    """A keras.optimizers.schedules object sets the rate without any callback: the writer reads it from the
    optimizer, at the epoch's first step."""
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    writer = _writer(str(tmp_path), schedule)
    logs = {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}
    writer.on_train_begin()
    for epoch in range(3):
        writer.model.optimizer.iterations.assign(10 * epoch)  # ten steps an epoch
        writer.on_epoch_begin(epoch)
        writer.on_epoch_end(epoch, logs)
    rates = [row["learning_rate"] for row in run_folder.read_history(str(tmp_path))]
    assert rates == pytest.approx([0.1, 0.05, 0.025])


def test_a_run_records_the_commit_it_ran_and_whether_the_checkout_had_changes(tmp_path, monkeypatch):
    from cifar_common import train

    script = tmp_path / "repo" / "lenet" / "script.py"
    script.parent.mkdir(parents=True)
    script.write_text("print('a script')\n")
    monkeypatch.setattr("sys.argv", [str(script)])
    assert train._code() is None  # outside a git checkout

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path / "repo"), "-c", "user.name=t", "-c", "user.email=t@t",
                               *args], check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    assert train._code() == {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": False}
    (tmp_path / "repo" / "new.py").write_text("")  # a new file is a change too
    assert train._code() == {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": True}
    (tmp_path / "repo" / "new.py").unlink()
    script.write_text("print('changed')\n")
    assert train._code()["uncommitted_changes"] is True


def test_the_learning_rate_is_drawn_as_steps_over_the_epochs_that_used_it(tmp_path, monkeypatch):
    import matplotlib.axes

    folder = tmp_path / "run"
    folder.mkdir()
    rows = ["epoch,learning_rate,loss,accuracy,test_loss,test_accuracy,seconds"]
    rows += [f"{e},{0.1 if e <= 2 else 0.01},1.0,0.5,1.0,0.5,1.0" for e in (1, 2, 3, 4)]
    (folder / "history.csv").write_text("\n".join(rows) + "\n")
    drawn = []
    real_plot = matplotlib.axes.Axes.plot

    def plot(self, *args, **kwargs):
        drawn.append((args, kwargs))
        return real_plot(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", plot)
    assert run_folder.plot_curves(str(folder), "t") and (folder / "curves.png").exists()
    (x, y), kwargs = drawn[-1]
    # Epoch e's rate holds from e - 1 to e: the drop after epoch 2 is a vertical step at x = 2.
    assert list(x) == [0, 1, 2, 3, 4] and list(y) == [0.1, 0.1, 0.1, 0.01, 0.01]
    assert kwargs["drawstyle"] == "steps-pre"
