"""A run's folder and what goes in it.

    runs/<script>-<date>-<time>/
        summary.json   arguments, backend, devices, parameters, test accuracy, timings (written at the start,
                       completed at the end: "finished": true)
        history.csv    one row per epoch: epoch, learning_rate, loss, accuracy, test_ or val_ loss and
                       accuracy, seconds (wall time since the previous row: training, evaluation and the
                       callbacks, the backup of the previous epoch included)
        curves.png     loss, accuracy and learning rate by epoch, training and test (or validation) together
        model.keras    the trained model: ``import cifar_common`` then ``keras.saving.load_model(path)``; with
                       --val-split, the model of the epoch with the best validation accuracy
        backup/        the state of an unfinished run, for --resume (removed when the run finishes)
"""

import csv
import datetime
import json
import os
import time

import keras

SUMMARY = "summary.json"
HISTORY = "history.csv"
CURVES = "curves.png"
MODEL = "model.keras"
BACKUP = "backup"
BEST_WEIGHTS = "best_on_validation.weights.h5"  # kept during a --val-split run


class OutputError(Exception):
    """An output folder that cannot be used; the message is one line meant for the user."""


def check_output_dir(output_dir):
    """Refuses an --output-dir that holds anything (checked early, before the data is loaded)."""
    if not output_dir:
        return
    path = os.path.abspath(output_dir)
    if os.path.isdir(path) and os.listdir(path):
        raise OutputError(
            f"{path}: exists and is not empty; choose another --output-dir, or continue that run with --resume"
        )
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"{path}: exists and is not a folder")


def fresh_run_path(script):
    """``runs/<script>-<date>-<time>`` (with ``-2``, ``-3``... if taken), not created yet."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.abspath(os.path.join("runs", f"{script}-{stamp}"))
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def new_run_dir(output_dir, script):
    """Creates a fresh run folder; never reuses one that holds anything."""
    if output_dir:
        check_output_dir(output_dir)
        path = os.path.abspath(output_dir)
        os.makedirs(path, exist_ok=True)
        return path
    while True:
        path = fresh_run_path(script)
        try:
            os.makedirs(path)
            return path
        except FileExistsError:  # another run took the name between the check and now
            continue


def read_summary(run_dir):
    path = os.path.join(run_dir, SUMMARY)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise OutputError(f"{path}: missing; --resume needs the folder of a run started by these scripts") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise OutputError(f"{path}: not valid JSON ({e})") from None


def write_summary(run_dir, summary):
    """Writes summary.json atomically (a kill never leaves half a file)."""
    path = os.path.join(run_dir, SUMMARY)
    with open(path + ".tmp", "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def read_history(run_dir):
    """The rows of history.csv as dicts of floats (``epoch`` as int); [] when there is none."""
    path = os.path.join(run_dir, HISTORY)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in rows]


def restored_epoch(run_dir):
    """The number of finished epochs that the backup of an interrupted run holds (0 when it holds none)."""
    path = os.path.join(run_dir, BACKUP, "training_metadata.json")
    try:
        with open(path) as f:
            return int(json.load(f)["epoch"])
    except (FileNotFoundError, KeyError, ValueError, json.JSONDecodeError):
        return 0


class HistoryWriter(keras.callbacks.Callback):
    """Appends one row per finished epoch to history.csv and keeps the training time of each epoch.

    A row's ``seconds`` is the wall time since the previous row was written (for the first, since training
    began): everything an epoch costs, the previous epoch's backup and progress bar included, so that the
    rows add up to the run's training time.

    ``learning_rate`` is the rate the optimizer trains the epoch with, read from the optimizer when the epoch
    begins (after the callbacks listed before this one, such as a ``LearningRateScheduler``, have set it):
    whatever sets the rate, a scheduler callback or a ``keras.optimizers.schedules`` object given to the
    optimizer, the column holds it (for a schedule object, its value at the epoch's first step).

    ``held_out`` is "test" or "val": the prefix of the held-out columns. A resumed run starts at the epoch
    its backup restored; rows written after that backup are dropped then, so every epoch appears once.
    """

    def __init__(self, run_dir, held_out):
        super().__init__()
        self.path = os.path.join(run_dir, HISTORY)
        self.columns = ["epoch", "learning_rate", "loss", "accuracy",
                        f"{held_out}_loss", f"{held_out}_accuracy", "seconds"]
        self.first_epoch = None  # the 0-based epoch this process started at
        self.first_batch_loss = None  # the loss of the run's first batch (when this process ran it)
        self.train_seconds = []  # training part of each epoch run by this process (no validation)
        self.mark = None  # when the previous row was written, or training began

    def on_train_begin(self, logs=None):
        self.mark = time.perf_counter()

    def _keep_rows_before(self, epoch):
        rows = [r for r in read_history(os.path.dirname(self.path)) if r["epoch"] <= epoch]
        with open(self.path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            for r in rows:
                writer.writerow([r[c] for c in self.columns])

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch
            self._keep_rows_before(epoch)
        # cast: a tensor of the current value, whatever holds it (a variable, tf.distribute's MirroredVariable,
        # a schedule's output), which float() reads on every backend.
        self.learning_rate = float(keras.ops.cast(self.model.optimizer.learning_rate, "float32"))
        self.epoch_start = time.perf_counter()
        self.train_end = None

    def on_train_batch_end(self, batch, logs=None):
        if self.first_batch_loss is None and self.first_epoch == 0 and batch == 0 and logs:
            self.first_batch_loss = float(logs["loss"])

    def on_test_begin(self, logs=None):
        if self.train_end is None:
            self.train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.train_seconds.append((self.train_end or now) - self.epoch_start)
        values = {
            "epoch": epoch + 1,
            "learning_rate": self.learning_rate,
            "loss": logs.get("loss"),
            "accuracy": logs.get("accuracy"),
            self.columns[4]: logs.get("val_loss"),
            self.columns[5]: logs.get("val_accuracy"),
            "seconds": round(now - self.mark, 3),
        }
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([_plain(values[c]) for c in self.columns])
        self.mark = now


def _plain(value):
    if value is None:
        return ""
    return float(value) if not isinstance(value, int) else value


def plot_curves(run_dir, title):
    """Draws loss, accuracy and learning rate by epoch from history.csv into curves.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = read_history(run_dir)
    if not rows:
        return None
    held_out = "test" if "test_loss" in rows[0] else "val"
    label = "test" if held_out == "test" else "validation"
    epochs = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, key, name in [(axes[0], "loss", "loss"), (axes[1], "accuracy", "accuracy")]:
        ax.plot(epochs, [r[key] for r in rows], label="training")
        ax.plot(epochs, [r[f"{held_out}_{key}"] for r in rows], label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[2].plot(epochs, [r["learning_rate"] for r in rows], color="tab:green")
    axes[2].set_yscale("log")  # step decay divides by 10: equal steps on a log scale
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("learning rate")
    axes[2].grid(alpha=0.3)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    path = os.path.join(run_dir, CURVES)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
