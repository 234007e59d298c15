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
        backup/        the state of an unfinished run, for --resume (removed once summary.json says the run has
                       finished): the last two epochs' checkpoints, latest/ and previous/ (see ``Backup``)
        best_on_validation.keras  with --val-split, until the run has finished: the best epoch's model
        training.lock  while a process trains in the folder: its process id (see ``Owner``)
        tensorboard/   with --tensorboard: TensorBoard's event files (see ``train.tensorboard_callback``)
        evaluation/    written by tools/evaluate.py (see ``trained``)

Every file the run writes is written whole or not at all: into a temporary file beside it, flushed to disk
and renamed over the old one (``replacing``), so a kill or a full disk leaves the previous version. A write
that fails (a full disk, a quota, a read-only file system) raises ``WriteError``, naming the file.
``resume_point`` is the one place that decides whether an unfinished folder can be continued.
"""

import collections
import contextlib
import csv
import datetime
import io
import json
import math
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
BEST_MODEL = "best_on_validation.keras"  # kept during a --val-split run
LOCK = "training.lock"  # held while a process trains in the folder (see Owner)
CHECKPOINTS = ("latest", "previous")  # the folders of backup/, newest first (see Backup)
CHECKPOINT = "checkpoint.keras"  # in each of them, with METADATA
METADATA = "training_metadata.json"
OLD_CHECKPOINT = "latest.weights.h5"  # what backups written before checkpoint.keras hold (still read)


class OutputError(Exception):
    """An output folder that cannot be used; the message is one line meant for the user."""


class WriteError(Exception):
    """A file of the run that could not be written (a full disk, a quota, a read-only file system)."""

    def __init__(self, path, error):
        self.path = path
        self.reason = error.strerror or _one_line(error)
        super().__init__(f"{path}: cannot be written ({self.reason})")


def _partial_name(path):
    """The temporary name a file is written under: ``model.partial.keras`` for ``model.keras`` (Keras and
    matplotlib read the format from the ending, so it stays)."""
    stem, ending = os.path.splitext(path)
    return f"{stem}.partial{ending}"


def _sync(path):
    """Flushes a file (or a folder's entries) to the disk; where the system cannot, the rename still holds."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path beside ``path`` to write the new file to; when the block ends it is flushed to
    the disk and renamed to ``path`` in one step, so ``path`` always holds the old file or the whole new one.
    On any failure the temporary file goes; an ``OSError`` becomes ``WriteError`` naming ``path``."""
    partial = _partial_name(path)
    try:
        yield partial
        _sync(partial)
        os.replace(partial, path)
        _sync(os.path.dirname(path) or ".")
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(partial)
        if isinstance(e, OSError):
            raise WriteError(path, e) from None
        raise


def write_text(path, text):
    """Writes a whole text file atomically (see ``replacing``)."""
    with replacing(path) as partial:
        with open(partial, "w", newline="") as f:
            f.write(text)


def save_model(model, path):
    """``model.save(path)`` atomically (see ``replacing``). The .keras format is written through Python's
    own files (the weights are gathered in memory first), so a full disk is an ``OSError`` like any other;
    HDF5 writing a .weights.h5 file itself crashes the process (SIGSEGV) when it closes a file it could not
    finish."""
    with replacing(path) as partial:
        with devices.writing():
            model.save(partial)


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
    owner = Owner(folder, fd, created, created_parents)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as e:  # a full disk
        owner.release()
        raise OutputError(f"{folder}: cannot write in it ({e.strerror})") from None
    return owner


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
    """summary.json as a dict; a missing, unreadable or damaged one is an ``OutputError``."""
    path = os.path.join(run_dir, SUMMARY)
    try:
        with open(path) as f:
            summary = json.load(f)
    except FileNotFoundError:
        raise OutputError(f"{path}: missing; --resume needs the folder of a run started by these scripts") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise OutputError(f"{path}: not valid JSON ({_one_line(e)})") from None
    except OSError as e:
        raise OutputError(f"{path}: cannot be read ({e.strerror})") from None
    if not isinstance(summary, dict):
        raise OutputError(f"{path}: not a run's summary (a JSON {type(summary).__name__} where an object belongs)")
    return summary


def write_summary(run_dir, summary):
    """Writes summary.json atomically."""
    write_text(os.path.join(run_dir, SUMMARY), json.dumps(summary, indent=2) + "\n")


def history_columns(held_out):
    """The columns of history.csv; ``held_out`` is "test" or "val"."""
    return ["epoch", "learning_rate", "loss", "accuracy", f"{held_out}_loss", f"{held_out}_accuracy", "seconds"]


def read_history(run_dir):
    """The rows of history.csv as dicts of floats (``epoch`` as int); [] when there is none.

    A last line cut short (no line end, a cell missing or cut: a process that died while appending it, as
    runs did before the file was written whole) is an interrupted epoch and is left out. Anything else that
    is not a run's history, and epochs that are not 1, 2, 3... each once, is an ``OutputError`` naming the
    line or the epochs."""
    path = os.path.join(run_dir, HISTORY)
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise OutputError(f"{path}: cannot be read ({getattr(e, 'strerror', None) or _one_line(e)})") from None
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return []
    header, body = lines[0], lines[1:]
    if header not in (history_columns("test"), history_columns("val")):
        raise OutputError(f"{path}: line 1 is not the header of a run's history ({', '.join(header)[:80]})")
    rows = []
    for number, cells in enumerate(body, start=2):
        try:
            if len(cells) != len(header):
                raise ValueError(f"{len(cells)} cells, not {len(header)}")
            rows.append({k: (int(v) if k == "epoch" else float(v)) for k, v in zip(header, cells)})
        except ValueError as e:
            if number == len(lines) and not text.endswith("\n"):
                break  # the row of an epoch cut short
            raise OutputError(f"{path}: line {number} is damaged ({e}); the history is not a run's") from None
    _check_epochs([r["epoch"] for r in rows], path)
    return rows


def _check_epochs(epochs, path):
    if epochs == list(range(1, len(epochs) + 1)):
        return
    counts = collections.Counter(epochs)
    twice = [f"epoch {e} appears {n} times" for e, n in sorted(counts.items()) if n > 1]
    missing = sorted(set(range(1, max(epochs) + 1)) - set(epochs)) if epochs else []
    gaps = [f"epoch{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing[:8]))}"
            f"{' ...' if len(missing) > 8 else ''} missing"] if missing else []
    problems = twice + gaps or ["the epochs are out of order"]
    raise OutputError(f"{path}: {'; '.join(problems)}: a run's history has every epoch once, in order (was it "
                      "edited by hand?)")


def _read_checkpoint_metadata(folder):
    """The metadata of a checkpoint folder of backup/, its epoch checked (it may be damaged: raises)."""
    with open(os.path.join(folder, METADATA)) as f:
        metadata = json.load(f)
    epoch = metadata["epoch"]
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"{METADATA}: epoch {epoch!r}")
    return metadata


def _read_checkpoint_epoch(folder):
    """The epoch a checkpoint folder of backup/ holds, from its metadata (which may be damaged: raises)."""
    return _read_checkpoint_metadata(folder)["epoch"]


def _checkpoint_epoch(folder):
    """``_read_checkpoint_epoch``, or None where the metadata is unreadable."""
    try:
        return _read_checkpoint_epoch(folder)
    except (OSError, KeyError, TypeError, ValueError):
        return None


def restored_epoch(run_dir):
    """The number of finished epochs that the backup of an interrupted run holds (0 when it holds none)."""
    for name in CHECKPOINTS:
        epoch = _checkpoint_epoch(os.path.join(run_dir, BACKUP, name))
        if epoch is not None:
            return epoch
    return 0


def resume_point(run_dir, epochs):
    """What ``--resume`` would continue, decided before anything is written: returns the history's rows, or
    raises ``OutputError`` with the reason (the folder is then left as it is).

    A run writes an epoch's history row, then its checkpoint; so the history holds the epochs of the newest
    checkpoint, and at most one more (its checkpoint was being written when the process died): that row is
    trained again. Refused: a damaged history, a ``backup`` that is not a folder, a backup ahead of the
    history (rows lost), and a history of two or more epochs with no checkpoint at all (a backup that was
    removed): that would silently train them again from the start. Which checkpoint loads (the newest, or
    the one before a damaged one) is found when the model is there (``Backup.restore``).
    """
    rows = read_history(run_dir)
    history, backup = os.path.join(run_dir, HISTORY), os.path.join(run_dir, BACKUP)
    if rows and rows[-1]["epoch"] > epochs:
        raise OutputError(f"{history}: {rows[-1]['epoch']} epochs, more than the run's {epochs}")
    for path in (backup, *(os.path.join(backup, name) for name in CHECKPOINTS)):
        if os.path.exists(path) and not os.path.isdir(path):
            raise OutputError(f"{path}: not a folder; a run's backup holds folders of checkpoints")
    kept = [os.path.join(backup, name) for name in CHECKPOINTS if os.path.isdir(os.path.join(backup, name))]
    if not kept and len(rows) > 1:
        raise OutputError(f"{run_dir}: history.csv has epochs 1 to {len(rows)}, but there is no backup to continue "
                          "from (backup/ was removed?); resuming would train them all again, so it is refused "
                          "(start a new run; this folder is kept as it is)")
    newest = max((e for e in map(_checkpoint_epoch, kept) if e is not None), default=0)
    if newest > len(rows):
        raise OutputError(f"{history}: {len(rows)} epoch rows, but the backup holds epoch {newest}: rows are "
                          "missing from the history (was it cut or edited?)")
    return rows


class Backup(keras.callbacks.Callback):
    """The state of an unfinished run in ``backup/``, for ``--resume``: the model, its optimizer and the
    epoch, saved after every epoch.

    Each epoch's checkpoint (``checkpoint.keras`` and ``training_metadata.json``) is written into
    ``backup/new/`` and then renamed to ``backup/latest/``, the one before becoming ``backup/previous/``:
    folder renames are atomic, so whenever a process dies, ``latest/`` and ``previous/`` are whole (a
    half-written ``new/`` is ignored). ``restore`` takes ``latest/``, or ``previous/`` where ``latest/`` is
    missing or damaged (a copy cut short, a corrupt file), and says so; where no checkpoint is usable, one
    line says so (``OutputError``) and nothing has been written. ``remove`` deletes the backup, which the run
    calls only once summary.json says it has finished.

    Not Keras's ``BackupAndRestore``: it deletes its backup at the end of ``fit``, before the run has saved
    its model and recorded that it finished (a kill then lost the whole run); it overwrites its checkpoint in
    place; and it writes a .weights.h5 file with HDF5, which crashes the process on a full disk.
    """

    def __init__(self, run_dir, writes=True, clock=None):
        super().__init__()
        self.backup_dir = os.path.join(run_dir, BACKUP)
        self.writes = writes  # with several processes, all restore; process 0 alone saves and removes
        self.clock = clock  # the run's wall seconds so far, kept with each checkpoint
        self.wall_seconds = None  # what the restored checkpoint kept (None: none, or one older than the record)

    def restore(self, model):
        """Loads the newest usable checkpoint into the compiled ``model``; returns its epoch (0: none)."""
        damage = []
        for name in CHECKPOINTS:
            folder = os.path.join(self.backup_dir, name)
            if not os.path.isdir(folder):
                continue
            try:
                epoch, self.wall_seconds = self._load(model, folder)
            except Exception as e:  # noqa: BLE001  whatever a damaged file raises (OSError, ValueError...)
                damage.append(f"{name}/: {_one_line(e)}")
                continue
            if damage:
                print(f"the last backup was damaged ({damage[0]}); resuming from the one before it")
            return epoch
        if damage:
            raise OutputError(f"{self.backup_dir}: no usable checkpoint ({'; '.join(damage)}); nothing to resume "
                              "from (history.csv is kept)")
        return 0

    @staticmethod
    def _load(model, folder):
        metadata = _read_checkpoint_metadata(folder)
        epoch, wall_seconds = metadata["epoch"], metadata.get("wall_seconds")
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its variables are in the checkpoint
        path = os.path.join(folder, CHECKPOINT)
        model.load_weights(path if os.path.exists(path) else os.path.join(folder, OLD_CHECKPOINT))
        usable = (isinstance(wall_seconds, (int, float)) and not isinstance(wall_seconds, bool)
                  and math.isfinite(wall_seconds) and wall_seconds >= 0)
        return epoch, wall_seconds if usable else None

    def on_epoch_end(self, epoch, logs=None):
        if not self.writes:
            return
        new, latest, previous = (os.path.join(self.backup_dir, name) for name in ("new", *CHECKPOINTS))
        try:
            shutil.rmtree(new, ignore_errors=True)  # a half-written one of a killed process
            os.makedirs(new)
        except OSError as e:
            raise WriteError(new, e) from None
        save_model(self.model, os.path.join(new, CHECKPOINT))
        metadata = {"epoch": epoch + 1, **({"wall_seconds": round(self.clock(), 1)} if self.clock else {})}
        write_text(os.path.join(new, METADATA), json.dumps(metadata))
        try:
            shutil.rmtree(previous, ignore_errors=True)
            if os.path.isdir(latest):
                os.rename(latest, previous)
            os.rename(new, latest)
        except OSError as e:
            raise WriteError(latest, e) from None

    def remove(self):
        if self.writes:
            shutil.rmtree(self.backup_dir, ignore_errors=True)


def _one_line(error):
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:150]}"


class HistoryWriter(keras.callbacks.Callback):
    """Writes history.csv, one row per finished epoch, and keeps the training time of each epoch.

    The whole file is written anew after every epoch (``write_text``: atomically), so it always holds whole
    rows. ``kept_rows`` are the rows of the epochs before this process's first (a resumed run's, up to its
    backup's epoch); they are written as training begins, dropping any row written after that backup.

    A row's ``seconds`` is the wall time since the previous row was written (for the first, since training
    began): everything an epoch costs, the previous epoch's backup and progress bar included, so that the
    rows add up to the run's training time.

    ``learning_rate`` is the rate the optimizer trains the epoch with, read from the optimizer when the epoch
    begins (after the callbacks listed before this one, such as a ``LearningRateScheduler``, have set it):
    whatever sets the rate, a scheduler callback or a ``keras.optimizers.schedules`` object given to the
    optimizer, the column holds it (for a schedule object, its value at the epoch's first step).

    ``held_out`` is "test" or "val": the prefix of the held-out columns.
    """

    def __init__(self, run_dir, held_out, kept_rows=()):
        super().__init__()
        self.path = os.path.join(run_dir, HISTORY)
        self.columns = history_columns(held_out)
        self.rows = [{c: row[c] for c in self.columns} for row in kept_rows]
        self.first_epoch = None  # the 0-based epoch this process started at
        self.first_batch_loss = None  # the loss of the run's first batch (when this process ran it)
        self.train_seconds = []  # training part of each epoch run by this process (no validation)
        self.mark = None  # when the previous row was written, or training began

    def on_train_begin(self, logs=None):
        self.mark = time.perf_counter()
        self._write()

    def _write(self):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_plain(row[c]) for c in self.columns])
        write_text(self.path, out.getvalue())

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch
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
        self.rows.append({
            "epoch": epoch + 1,
            "learning_rate": self.learning_rate,
            "loss": logs.get("loss"),
            "accuracy": logs.get("accuracy"),
            self.columns[4]: logs.get("val_loss"),
            self.columns[5]: logs.get("val_accuracy"),
            "seconds": round(now - self.mark, 3),
        })
        self._write()
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
    # One rate an epoch, the one it trained with: a step over the epoch it held (from the previous epoch's
    # end to its own), so a step decay is drawn as a step even with few epochs, not as a slope.
    rates = [r["learning_rate"] for r in rows]
    axes[2].plot([epochs[0] - 1, *epochs], [rates[0], *rates], color="tab:green", drawstyle="steps-pre")
    axes[2].set_yscale("log")  # step decay divides by 10: equal steps on a log scale
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("learning rate")
    axes[2].grid(alpha=0.3)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    path = os.path.join(run_dir, CURVES)
    try:
        with replacing(path) as partial:
            fig.savefig(partial, dpi=100)
    finally:
        plt.close(fig)
    return path
