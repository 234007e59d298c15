"""CIFAR-10 and CIFAR-100: loading, validation and train/validation/test splits.

Two sources:

* the default: ``keras.datasets`` downloads the official archive (once, into ``~/.keras/datasets``);
* ``--data-dir``: a local copy, either the official folder (``cifar-10-batches-py``,
  ``cifar-100-python``) or the official archive (``cifar-10-python.tar.gz``, ``cifar-100-python.tar.gz``),
  or a folder that holds one of them.

The official batches are Python pickles, and unpickling can run arbitrary code. ``SafeUnpickler`` admits only
the three globals the official files name (NumPy's array reconstructor, ``numpy.ndarray`` and
``numpy.dtype``) and refuses everything else. Every problem with the input becomes a ``DataError`` whose
message is one line naming the file and what was expected.
"""

import dataclasses
import functools
import io
import os
import pickle
import tarfile
import zlib

import numpy as np

# Per-channel statistics of the 50000 CIFAR-10 training images (0-255 scale).
CIFAR10_MEAN = (125.307, 122.950, 113.865)
CIFAR10_STD = (62.993, 62.089, 66.705)

IMAGE_SHAPE = (32, 32, 3)
PIXELS = 32 * 32 * 3


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where the official files of one data set live and what they hold."""

    name: str
    folder: str  # the folder inside the official archive
    archive: str
    train_files: tuple
    test_file: str
    meta_file: str
    label_key: str
    names_key: str
    num_classes: int


LAYOUTS = {
    "cifar10": Layout(
        name="CIFAR-10",
        folder="cifar-10-batches-py",
        archive="cifar-10-python.tar.gz",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_file="test_batch",
        meta_file="batches.meta",
        label_key="labels",
        names_key="label_names",
        num_classes=10,
    ),
    "cifar100": Layout(
        name="CIFAR-100",
        folder="cifar-100-python",
        archive="cifar-100-python.tar.gz",
        train_files=("train",),
        test_file="test",
        meta_file="meta",
        label_key="fine_labels",
        names_key="fine_label_names",
        num_classes=100,
    ),
}


class DataError(Exception):
    """Bad or missing input data; the message is one line meant for the user."""


def _one_line(error):
    """An exception's text on one line (some, such as tarfile's, span several)."""
    return " ".join(str(error).split()) or type(error).__name__


# ---------------------------------------------------------------------------------------------------------
# Safe unpickling
# ---------------------------------------------------------------------------------------------------------


def _reconstruct():
    try:  # NumPy 2
        from numpy._core.multiarray import _reconstruct as fn
    except ImportError:  # NumPy 1
        from numpy.core.multiarray import _reconstruct as fn
    return fn


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and plain containers, and refuses any other global."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),  # written under NumPy 1 (the official files)
        ("numpy._core.multiarray", "_reconstruct"),  # written under NumPy 2
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load the global {module}.{name}")
        if name == "_reconstruct":
            return _reconstruct()
        return getattr(np, name)


def safe_unpickle(raw, where):
    """Unpickles bytes with ``SafeUnpickler``; ``where`` names the source in error messages."""
    try:
        obj = SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as e:
        if "refused" in str(e):
            raise DataError(f"{where}: not an official CIFAR batch ({e}); nothing was loaded") from None
        raise DataError(f"{where}: corrupt or truncated pickle ({_one_line(e)})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as e:
        raise DataError(f"{where}: corrupt or truncated pickle ({type(e).__name__}: {_one_line(e)})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a dict of arrays, found {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


# ---------------------------------------------------------------------------------------------------------
# Reading the official layout from a folder or an archive
# ---------------------------------------------------------------------------------------------------------


def _batch_arrays(batch, where, layout):
    """Checks one unpickled batch and returns (images NHWC uint8, labels int32)."""
    if "data" not in batch or layout.label_key not in batch:
        raise DataError(f"{where}: expected the keys 'data' and '{layout.label_key}', found {sorted(batch)}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise DataError(f"{where}: expected 'data' as uint8 rows of {PIXELS} pixels, found {dtype} {shape}")
    try:
        labels = np.asarray(batch[layout.label_key], dtype=np.int64)
    except (TypeError, ValueError):
        raise DataError(f"{where}: '{layout.label_key}' is not a list of integers") from None
    if labels.shape != (len(data),):
        raise DataError(f"{where}: expected {len(data)} labels (one per image), found shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise DataError(
            f"{where}: labels must lie in 0..{layout.num_classes - 1}, found {labels.min()}..{labels.max()}"
        )
    # The official rows hold the red, green and blue planes one after another (CHW); we use NHWC.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32)


class _FolderSource:
    def __init__(self, folder):
        self.folder = folder

    def read(self, name, required=True):
        path = os.path.join(self.folder, name)
        if not os.path.isfile(path):
            if required:
                raise DataError(f"{path}: missing (expected the official batch '{name}' in {self.folder})")
            return None, path
        try:
            with open(path, "rb") as f:
                return f.read(), path
        except OSError as e:
            raise DataError(f"{path}: cannot be read ({e.strerror})") from None


class _ArchiveSource:
    def __init__(self, archive, folder):
        self.archive = archive
        self.folder = folder
        try:
            self.tar = tarfile.open(archive, "r:*")
            self.members = {m.name: m for m in self.tar.getmembers() if m.isfile()}
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise DataError(f"{archive}: truncated or corrupt archive ({_one_line(e)})") from None

    def read(self, name, required=True):
        member = f"{self.folder}/{name}"
        where = f"{self.archive}:{member}"
        if member not in self.members:
            if required:
                raise DataError(f"{where}: missing from the archive (expected the official batch '{name}')")
            return None, where
        try:
            return self.tar.extractfile(self.members[member]).read(), where
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise DataError(f"{where}: truncated or corrupt archive ({_one_line(e)})") from None


def _open_source(data_dir, layout):
    """Finds the official folder or archive at or inside ``data_dir``."""
    path = os.path.abspath(os.path.expanduser(data_dir))
    if os.path.isfile(path):
        return _ArchiveSource(path, layout.folder)
    if not os.path.isdir(path):
        raise DataError(
            f"{path}: no such file or folder (expected the '{layout.folder}' folder or '{layout.archive}')"
        )
    try:
        os.listdir(path)  # a folder it may not read would look empty below
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror})") from None
    if os.path.isfile(os.path.join(path, layout.test_file)):
        return _FolderSource(path)
    if os.path.isdir(os.path.join(path, layout.folder)):
        return _FolderSource(os.path.join(path, layout.folder))
    if os.path.isfile(os.path.join(path, layout.archive)):
        return _ArchiveSource(os.path.join(path, layout.archive), layout.folder)
    raise DataError(
        f"{path}: holds no {layout.name} data (expected the official files such as '{layout.test_file}', "
        f"or the '{layout.folder}' folder, or '{layout.archive}')"
    )


def read_official(data_dir, dataset="cifar10"):
    """Reads a local copy in the official layout.

    Returns ``((x_train, y_train), (x_test, y_test), class_names)`` with uint8 NHWC images and int32 labels.
    """
    layout = LAYOUTS[dataset]
    source = _open_source(data_dir, layout)

    def load(name):
        raw, where = source.read(name)
        return _batch_arrays(safe_unpickle(raw, where), where, layout)

    parts = [load(name) for name in layout.train_files]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = load(layout.test_file)

    class_names = [str(i) for i in range(layout.num_classes)]
    raw, where = source.read(layout.meta_file, required=False)
    if raw is not None:
        names = safe_unpickle(raw, where).get(layout.names_key)
        if isinstance(names, list) and len(names) == layout.num_classes:
            class_names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return (x_train, y_train), (x_test, y_test), class_names


def download(dataset="cifar10"):
    """Fetches the data set through ``keras.datasets``; a failure becomes one line that points to --data-dir."""
    import keras

    layout = LAYOUTS[dataset]
    module = keras.datasets.cifar10 if dataset == "cifar10" else keras.datasets.cifar100
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as e:  # network, certificate and extraction errors all arrive as various types
        reason = _one_line(e)
        raise DataError(
            f"could not download {layout.name} through keras.datasets ({reason}); "
            f"without network, pass --data-dir with the '{layout.folder}' folder or '{layout.archive}'"
        ) from None
    names = [str(i) for i in range(layout.num_classes)]
    return (x_train, y_train.reshape(-1).astype(np.int32)), (x_test, y_test.reshape(-1).astype(np.int32)), names


# ---------------------------------------------------------------------------------------------------------
# Splits and statistics
# ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Data:
    """The arrays a run trains and evaluates on, with what a model needs to know about them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray  # the held-out validation split, or None
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: list
    source: str

    @property
    def image_shape(self):
        return self.x_train.shape[1:]

    @functools.cached_property
    def mean(self):
        """Per-channel mean of the training images (0-255 scale)."""
        return channel_stats(self.x_train)[0]

    @functools.cached_property
    def std(self):
        """Per-channel standard deviation of the training images (0-255 scale)."""
        return channel_stats(self.x_train)[1]


def channel_stats(images):
    """Per-channel mean and (population) standard deviation of uint8 NHWC images.

    Computed exactly from each channel's 256-bin histogram, which is faster than float arithmetic on
    150 million pixels and needs no large temporary array.
    """
    flat = images.reshape(-1, images.shape[-1])
    values = np.arange(256.0)
    means, stds = [], []
    for channel in range(flat.shape[1]):
        counts = np.bincount(flat[:, channel], minlength=256).astype(np.float64)
        mean = counts @ values / counts.sum()
        means.append(mean)
        stds.append(np.sqrt(counts @ (values - mean) ** 2 / counts.sum()))
    return np.array(means), np.array(stds)


def load(dataset="cifar10", data_dir=None, subset=None, val_split=0, seed=0):
    """Loads a data set and splits it.

    ``val_split`` training images are held out for validation (the same ones for a given seed, whatever the
    subset); ``subset`` then keeps that many of the remaining training images. The test set is untouched.
    """
    if dataset not in LAYOUTS:
        raise DataError(f"unknown dataset '{dataset}' (expected one of {', '.join(LAYOUTS)})")
    layout = LAYOUTS[dataset]
    if data_dir:
        (x_train, y_train), (x_test, y_test), names = read_official(data_dir, dataset)
        source = os.path.abspath(data_dir)
    else:
        (x_train, y_train), (x_test, y_test), names = download(dataset)
        source = "keras.datasets"

    if val_split < 0 or val_split >= len(x_train):
        raise DataError(f"--val-split {val_split}: must lie in 0..{len(x_train) - 1} ({len(x_train)} training images)")
    order = np.random.default_rng(seed).permutation(len(x_train))
    val_idx, train_idx = order[:val_split], order[val_split:]
    if subset is not None:
        if not 0 < subset <= len(train_idx):
            raise DataError(f"--subset {subset}: must lie in 1..{len(train_idx)} (training images available)")
        train_idx = np.sort(train_idx[:subset])
    else:
        train_idx = np.sort(train_idx)
    val_idx = np.sort(val_idx)

    return Data(
        x_train=x_train[train_idx],
        y_train=y_train[train_idx],
        x_val=x_train[val_idx] if val_split else None,
        y_val=y_train[val_idx] if val_split else None,
        x_test=x_test,
        y_test=y_test,
        num_classes=layout.num_classes,
        class_names=names,
        source=source,
    )
