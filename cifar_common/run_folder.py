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
        backup/        the state of an unfinished run, for --resume (removed when the run finishes): the last
                       two epochs' checkpoints, latest/ and previous/ (see ``Backup``)
        training.lock  while a process trains in the folder: its process id (see ``Owner``)
        tensorboard/   with --tensorboard: TensorBoard's event files (see ``train.tensorboard_callback``)
        evaluation/    written by tools/evaluate.py (see ``trained``)
"""

import csv
import datetime
import json
import os
import shutil
import time

import keras

from . import devices

try:  # the lock of a run folder (Owner)
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

SUMMARY = "summary.json"
HISTORY = "history.csv"
CURVES = "curves.png"
MODEL = "model.keras"
TENSORBOARD = "tensorboard"  # with --tensorboard: TensorBoard's event files
BACKUP = "backup"
BEST_WEIGHTS = "best_on_validation.weights.h5"  # kept during a --val-split run
LOCK = "training.lock"  # held while a process trains in the folder (see Owner)
CHECKPOINTS = ("latest", "previous")  # the folders of backup/, newest first (see Backup)


class OutputError(Exception):
    """An output folder that cannot be used; the message is one line meant for the user."""


def check_output_dir(output_dir):
    """Refuses an --output-dir that holds anything (checked early, before the data is loaded)."""
    if not output_dir:
        return
    path = os.path.abspath(output_dir)
    if os.path.isdir(path) and set(os.listdir(path)) - {LOCK}:  # a lock file alone: a run killed at start-up
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


class Owner:
    """The lock of a run folder, held by the one process that trains in it.

    An operating-system file lock (``flock``; ``msvcrt.locking`` on Windows): the system releases it when the
    process ends, however it ends, so the lock file that a killed run leaves behind is taken over by the
    next run or ``--resume`` without asking. The file holds the owner's process id, for the message of a
    refused second process.
    """

    def __init__(self, folder, fd, created, created_parents=()):
        self.folder, self._fd, self._created = folder, fd, created
        self._created_parents = created_parents  # folders above it that this run created, deepest first

    def release(self):
        """Gives the folder up; a folder this run created and wrote nothing into is removed."""
        if self._fd is None:
            return
        try:
            os.unlink(os.path.join(self.folder, LOCK))
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None
        if self._created:
            for folder in (self.folder, *self._created_parents):
                try:
                    os.rmdir(folder)  # only if empty
                except OSError:
                    break


def _lock(folder, *, new, created=False, created_parents=()):
    """Takes the folder's lock; ``new``: the lock file must not exist yet (of two runs claiming one new
    folder at once, exactly one creates it)."""
    path = os.path.join(folder, LOCK)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | (os.O_EXCL if new else 0), 0o644)
    except FileExistsError:
        raise OutputError(f"{folder}: another run has just taken this folder; choose another --output-dir") from None
    except OSError as e:
        raise OutputError(f"{folder}: cannot write in it ({e.strerror})") from None
    try:
        if fcntl:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise OutputError(f"{folder}: process {holder} is training in it; a run folder has one process at a time "
                          "(wait for that run, or stop it and continue with --resume)") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return Owner(folder, fd, created, created_parents)


def own_existing(folder):
    """The lock of an interrupted run's folder, for ``--resume``; refused while another process trains there."""
    return _lock(os.path.abspath(folder), new=False)


def own_new(output_dir, script):
    """Creates a new run folder (``--output-dir``, or ``runs/<script>-<date>-<time>``) and takes its lock.

    Never shares a folder: an existing folder that holds anything is refused, and of two runs given the same
    new folder at once, one gets it and the other is refused. Called before the data is loaded, so that an
    output folder that cannot be created is reported first.
    """
    if not output_dir:
        while True:
            path = fresh_run_path(script)
            try:
                os.makedirs(path)
                return _lock(path, new=True, created=True)
            except FileExistsError:  # another run took the name between the check and now
                continue
            except OSError as e:
                raise OutputError(f"{path}: cannot create it ({e.strerror})") from None
    path = os.path.abspath(output_dir)
    check_output_dir(path)
    created = False
    # The folders above it that do not exist yet (a study's folder, say): a run that ends on bad input
    # removes them again with its own, where they are still empty.
    missing, parent = [], os.path.dirname(path)
    while parent != os.path.dirname(parent) and not os.path.exists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mkdir(path)
        created = True
    except FileExistsError:
        pass  # an empty folder, or another run's that was created just now: the lock file decides
    except OSError as e:
        raise OutputError(f"{path}: cannot create it ({e.strerror})") from None
    if not os.path.isdir(path):
        raise OutputError(f"{path}: cannot create it (something in its path is not a folder)")
    # A lock file alone is a run killed before it wrote anything: taken over unless its process still lives.
    owner = _lock(path, new=os.listdir(path) != [LOCK], created=created, created_parents=missing)
    if os.listdir(path) != [LOCK]:
        owner.release()
        raise OutputError(f"{path}: another run has just written into it; choose another --output-dir")
    return owner


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
    for name in CHECKPOINTS:
        try:
            with open(os.path.join(run_dir, BACKUP, name, "training_metadata.json")) as f:
                return int(json.load(f)["epoch"])
        except (OSError, KeyError, TypeError, ValueError):
            continue
    return 0


class Backup(keras.callbacks.BackupAndRestore):
    """Keras's ``BackupAndRestore`` in ``backup/``, with checkpoints that a kill cannot damage.

    Each epoch's checkpoint (weights and ``training_metadata.json``) is written into ``backup/new/`` and
    then renamed to ``backup/latest/``, the one before becoming ``backup/previous/``: folder renames are
    atomic, so whenever a process dies, ``latest/`` and ``previous/`` are whole (a half-written ``new/`` is
    ignored). Resuming takes ``latest/``, or ``previous/`` where ``latest/`` is missing or damaged (a copy cut
    short, a corrupt file: Keras itself falls back only on ``OSError``), and says so. Where no checkpoint is
    usable, one line says so (``OutputError``) and the folder, history included, is left as it is.
    """

    def __init__(self, run_dir, writes=True):
        # With several processes, all restore from the backup; process 0 alone (``writes``) saves it, and
        # deletes it when the run has finished.
        super().__init__(os.path.join(run_dir, BACKUP), delete_checkpoint=writes)
        self.writes = writes

    def on_train_begin(self, logs=None):
        kept = [name for name in CHECKPOINTS if os.path.isdir(os.path.join(self.backup_dir, name))]
        damage = []
        for name in kept:
            try:
                self._load_checkpoint(os.path.join(self.backup_dir, name))
            except Exception as e:  # noqa: BLE001  whatever a damaged file raises (OSError, ValueError...)
                damage.append(f"{name}/: {_one_line(e)}")
                continue
            if damage:
                print(f"the last backup was damaged ({damage[0]}); resuming from the one before it")
            return
        if damage:
            raise OutputError(f"{self.backup_dir}: no usable checkpoint ({'; '.join(damage)}); nothing to resume "
                              "from (history.csv is kept)")

    def _load_checkpoint(self, folder):
        with open(os.path.join(folder, "training_metadata.json")) as f:
            epoch = int(json.load(f)["epoch"])
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # its variables are in the checkpoint
        self.model.load_weights(os.path.join(folder, "latest.weights.h5"))
        self.model._initial_epoch = epoch  # what Keras's own restore sets: fit starts from this epoch

    def _save_model(self):
        if not self.writes:
            return
        new, latest, previous = (os.path.join(self.backup_dir, name) for name in ("new", *CHECKPOINTS))
        shutil.rmtree(new, ignore_errors=True)  # a half-written one of a killed process
        os.makedirs(new)
        with devices.writing():
            self.model.save_weights(os.path.join(new, "latest.weights.h5"))
        with open(os.path.join(new, "training_metadata.json"), "w") as f:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, f)
        shutil.rmtree(previous, ignore_errors=True)
        if os.path.isdir(latest):
            os.rename(latest, previous)
        os.rename(new, latest)


def _one_line(error):
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:150]}"


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


def pyplot():
    """matplotlib.pyplot drawing into files only (no window, no display needed); imported when first drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(run_dir, title):
    """Draws loss, accuracy and learning rate by epoch from history.csv into curves.png."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

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
