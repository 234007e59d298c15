"""The data sets: CIFAR-10, CIFAR-100, MNIST and Fashion-MNIST; loading, validation and splits.

Two sources:

* the default: ``keras.datasets`` downloads the official files (once, into ``~/.keras/datasets``);
* ``--data-dir``: a local copy. CIFAR: the official folder (``cifar-10-batches-py``, ``cifar-100-python``)
  or the official archive (``cifar-10-python.tar.gz``, ``cifar-100-python.tar.gz``), or a folder that holds
  one of them. MNIST and Fashion-MNIST: a folder with the four official IDX files
  (``train-images-idx3-ubyte.gz`` ..., gzipped or not), or Keras's ``mnist.npz`` (or a folder holding it).

MNIST and Fashion-MNIST images are 28 x 28 grey; they are padded with zeros to 32 x 32 (LeNet-5's own input
was a digit padded to 32 x 32), with one channel, so that every network of the collection runs on them
unchanged.

The official batches are Python pickles, and unpickling can run arbitrary code. ``SafeUnpickler`` admits only
the three globals the official files name (NumPy's array reconstructor, ``numpy.ndarray`` and
``numpy.dtype``) and refuses everything else. Every problem with the input becomes a ``DataError`` whose
message is one line naming the file and what was expected.
"""

import dataclasses
import functools
import gzip
import io
import os
import pickle
import tarfile
import zipfile
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


# 28 x 28 grey images: the IDX files of MNIST and Fashion-MNIST.
@dataclasses.dataclass(frozen=True)
class IdxLayout:
    name: str
    keras_module: str  # keras.datasets.<module>
    npz: str | None  # the single-file form that keras.datasets downloads, where there is one
    class_names: tuple
    mirrorable: bool  # is a mirrored image still an image of its class? (see Data.mirrorable)
    # Images per class in the official training and test files: what tells the two sets' files apart, whose
    # format and names are the same (counted, so the order of the images does not matter).
    label_counts: tuple


IDX_FILES = {  # the official names (without .gz), in the order train images, train labels, test ...
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_IMAGES, IDX_LABELS = 2051, 2049  # the magic numbers of the two kinds of file
GREY_SIDE = 28
PAD = (32 - GREY_SIDE) // 2

IDX_LAYOUTS = {
    "mnist": IdxLayout("MNIST", "mnist", "mnist.npz", tuple(str(i) for i in range(10)), mirrorable=False,
                       label_counts=((5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
                                     (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009))),
    "fashion_mnist": IdxLayout(
        "Fashion-MNIST", "fashion_mnist", None,
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        mirrorable=True, label_counts=((6000,) * 10, (1000,) * 10),
    ),
}

CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# The fine labels of CIFAR-100 in the official order (alphabetical), as its meta file lists them.
CIFAR100_NAMES = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can castle
caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant
flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree
motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate
poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider
squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle
wardrobe whale willow_tree wolf woman worm""".split())

# Every data set a script takes with --dataset.
DATASETS = ("cifar10", "cifar100", "mnist", "fashion_mnist")


def class_names(dataset):
    """The names of the data set's classes, in label order."""
    if dataset in IDX_LAYOUTS:
        return list(IDX_LAYOUTS[dataset].class_names)
    return list(CIFAR10_NAMES if dataset == "cifar10" else CIFAR100_NAMES)


def mirrorable(dataset):
    """Whether a left-right mirrored image is still an image of its class: true of CIFAR's photographs and of
    Fashion-MNIST's clothes, not of MNIST's digits (a mirrored 2 or 7 is no digit, a mirrored 3 looks like
    an epsilon). Augmentation flips only where it is true, and so does evaluate.py's flip averaging."""
    return IDX_LAYOUTS[dataset].mirrorable if dataset in IDX_LAYOUTS else True


def image_shape(dataset):
    """The shape of one image as the networks see it: 32 x 32, three channels or one."""
    return (32, 32, 1) if dataset in IDX_LAYOUTS else IMAGE_SHAPE


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

    names = class_names(dataset)
    raw, where = source.read(layout.meta_file, required=False)
    if raw is not None:
        meta = safe_unpickle(raw, where).get(layout.names_key)
        if isinstance(meta, list) and len(meta) == layout.num_classes:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta]
    return (x_train, y_train), (x_test, y_test), names


def download(dataset="cifar10"):
    """Fetches the data set through ``keras.datasets``; a failure becomes one line that points to --data-dir."""
    import keras

    if dataset in IDX_LAYOUTS:
        layout = IDX_LAYOUTS[dataset]
        name, module, local = layout.name, getattr(keras.datasets, layout.keras_module), (
            "the folder of the four IDX files" + (f" or '{layout.npz}'" if layout.npz else ""))
    else:
        layout = LAYOUTS[dataset]
        name, module = layout.name, getattr(keras.datasets, dataset)
        local = f"the '{layout.folder}' folder or '{layout.archive}'"
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as e:  # network, certificate and extraction errors all arrive as various types
        raise DataError(f"could not download {name} through keras.datasets ({_one_line(e)}); "
                        f"without network, pass --data-dir with {local}") from None
    if dataset in IDX_LAYOUTS:
        x_train, x_test = pad_grey(x_train), pad_grey(x_test)
    return ((x_train, y_train.reshape(-1).astype(np.int32)), (x_test, y_test.reshape(-1).astype(np.int32)),
            class_names(dataset))


# ---------------------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST: the IDX files, or Keras's mnist.npz
# ---------------------------------------------------------------------------------------------------------


def pad_grey(images):
    """28 x 28 grey images (N, 28, 28) as the networks take them: zero-padded to 32 x 32, one channel."""
    return np.ascontiguousarray(np.pad(images, [(0, 0), (PAD, PAD), (PAD, PAD)])[..., None])


def _read_maybe_gzipped(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip's magic bytes, whatever the file's name
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: truncated or corrupt gzip file ({_one_line(e)})") from None
    return raw


def read_idx(path, magic):
    """One IDX file: images (magic 2051) as uint8 (N, 28, 28), or labels (magic 2049) as uint8 (N,)."""
    raw = _read_maybe_gzipped(path)
    kind = "images" if magic == IDX_IMAGES else "labels"
    header = 16 if magic == IDX_IMAGES else 8
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, shorter than the {header}-byte header)")
    fields = np.frombuffer(raw[:header], dtype=">i4")
    if fields[0] != magic:
        raise DataError(f"{path}: not an IDX file of {kind} (magic number {fields[0]}, expected {magic})")
    count = int(fields[1])
    shape = (count, int(fields[2]), int(fields[3])) if magic == IDX_IMAGES else (count,)
    if shape[1:] not in ((), (GREY_SIDE, GREY_SIDE)):
        raise DataError(f"{path}: images of {shape[1]} x {shape[2]} pixels, expected {GREY_SIDE} x {GREY_SIDE}")
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        state = "truncated" if len(raw) - header < expected else "longer than its header says"
        raise DataError(f"{path}: {state} (the header announces {count} {kind}, {expected} bytes; the file holds "
                        f"{len(raw) - header})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _checked_pair(images, labels, where_images, where_labels, layout):
    """Images and labels of one split, checked against each other; the images padded to 32 x 32."""
    if len(images) != len(labels):
        raise DataError(f"{where_labels}: {len(labels)} labels for the {len(images)} images of {where_images}")
    if len(labels) and labels.max() >= len(layout.class_names):
        raise DataError(f"{where_labels}: labels must lie in 0..{len(layout.class_names) - 1}, found "
                        f"{labels.min()}..{labels.max()}")
    return pad_grey(images), labels.astype(np.int32)


def _idx_file(folder, name):
    """The path of an official IDX file in ``folder``, gzipped or not; None where it is absent."""
    for candidate in (name + ".gz", name):
        if os.path.isfile(os.path.join(folder, candidate)):
            return os.path.join(folder, candidate)
    return None


def read_npz(path, layout):
    """Keras's ``mnist.npz``: the arrays x_train, y_train, x_test, y_test (loaded without pickle)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in ("x_train", "y_train", "x_test", "y_test") if key in f.files}
            found = sorted(f.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{path}: not a readable .npz file ({_one_line(e)})") from None
    if len(arrays) != 4:
        raise DataError(f"{path}: expected the arrays x_train, y_train, x_test and y_test, found {found}")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (GREY_SIDE, GREY_SIDE):
            raise DataError(f"{path}: expected x_{split} as uint8 images of {GREY_SIDE} x {GREY_SIDE}, found "
                            f"{x.dtype} {x.shape}")
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise DataError(f"{path}: expected y_{split} as integer labels, found {y.dtype} {y.shape}")
        if len(y) and y.min() < 0:
            raise DataError(f"{path}: y_{split}: labels must lie in 0..{len(layout.class_names) - 1}, found "
                            f"{y.min()}..{y.max()}")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = _checked_pair(x, y, f"{path}:x_{split}", f"{path}:y_{split}",
                                                                   layout)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _check_idx_dataset(splits, dataset, path):
    """Refuses the other grey data set's official files (MNIST's for Fashion-MNIST, or the reverse): the same
    format and file names, told apart by their images per class."""
    counts = tuple(tuple(np.bincount(labels, minlength=10).tolist()) for _, labels in splits)
    for other, layout in IDX_LAYOUTS.items():
        if other != dataset and counts == layout.label_counts:
            raise DataError(f"{path}: these are {layout.name}'s files (their images per class are "
                            f"{layout.name}'s), not {IDX_LAYOUTS[dataset].name}'s; give --dataset {other}, or "
                            f"the folder of {IDX_LAYOUTS[dataset].name}")
    return splits


def read_idx_dataset(data_dir, dataset):
    """A local copy of MNIST or Fashion-MNIST: the four IDX files in a folder, or ``mnist.npz``.

    Returns ``((x_train, y_train), (x_test, y_test), class_names)``: uint8 images of 32 x 32 x 1 (zero-padded)
    and int32 labels.
    """
    *splits, names = _read_idx_dataset(data_dir, dataset)
    return (*_check_idx_dataset(splits, dataset, os.path.abspath(os.path.expanduser(data_dir))), names)


def _read_idx_dataset(data_dir, dataset):
    layout = IDX_LAYOUTS[dataset]
    path = os.path.abspath(os.path.expanduser(data_dir))
    expected = "the four official IDX files (train-images-idx3-ubyte.gz, ...)" + (
        f" or '{layout.npz}'" if layout.npz else "")
    if os.path.isfile(path):
        if not path.endswith(".npz"):
            raise DataError(f"{path}: expected a folder with {expected}, or an .npz file")
        return (*read_npz(path, layout), class_names(dataset))
    if not os.path.isdir(path):
        raise DataError(f"{path}: no such file or folder (expected a folder with {expected})")
    try:
        os.listdir(path)
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror})") from None
    found = {key: _idx_file(path, name) for key, name in IDX_FILES.items()}
    if not any(found.values()):
        if layout.npz and os.path.isfile(os.path.join(path, layout.npz)):
            return (*read_npz(os.path.join(path, layout.npz), layout), class_names(dataset))
        raise DataError(f"{path}: holds no {layout.name} data (expected {expected})")
    for key, name in IDX_FILES.items():
        if found[key] is None:
            raise DataError(f"{os.path.join(path, name)}.gz: missing (expected the official file '{name}.gz', "
                            f"or '{name}', in {path})")
    splits = []
    for split in ("train", "test"):
        images = read_idx(found[f"{split}_images"], IDX_IMAGES)
        labels = read_idx(found[f"{split}_labels"], IDX_LABELS)
        splits.append(_checked_pair(images, labels, found[f"{split}_images"], found[f"{split}_labels"], layout))
    return (*splits, class_names(dataset))


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
    # Whether a mirrored image is still one of its class (CIFAR, Fashion-MNIST: yes; MNIST: no); the scripts
    # give it to the augmentation, ``RandomCropFlip(flip=data.mirrorable)``.
    mirrorable: bool = True

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


def stand_in(dataset):
    """Random images and labels of the data set's shapes and sizes, for building a model without reading the
    data (``--summary``); a script that computes something from the images (the speed-run's whitening) still
    can."""
    rng = np.random.default_rng(0)
    train, test = (60_000, 10_000) if dataset in IDX_LAYOUTS else (50_000, 10_000)
    names = class_names(dataset)
    shape = (32, 32, 1 if dataset in IDX_LAYOUTS else 3)
    return Data(x_train=rng.integers(0, 256, (train, *shape), dtype=np.uint8),
                y_train=rng.integers(0, len(names), train).astype(np.uint8), x_val=None, y_val=None,
                x_test=rng.integers(0, 256, (test, *shape), dtype=np.uint8),
                y_test=rng.integers(0, len(names), test).astype(np.uint8), num_classes=len(names),
                class_names=names, source="random images (--summary reads no data)",
                mirrorable=mirrorable(dataset))


def load(dataset="cifar10", data_dir=None, subset=None, val_split=0, seed=0, test_subset=None):
    """Loads a data set and splits it.

    ``val_split`` training images are held out for validation (the same ones for a given seed, whatever the
    subset); ``subset`` then keeps that many of the remaining training images. ``test_subset`` keeps that many
    test images, a random sample that is the same for every seed (for quick runs); otherwise the test set is
    untouched.
    """
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset '{dataset}' (expected one of {', '.join(DATASETS)})")
    if data_dir:
        read = read_idx_dataset if dataset in IDX_LAYOUTS else read_official
        (x_train, y_train), (x_test, y_test), names = read(data_dir, dataset)
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
    test_idx = np.arange(len(x_test))
    if test_subset is not None:
        if not 0 < test_subset <= len(x_test):
            raise DataError(f"--test-subset {test_subset}: must lie in 1..{len(x_test)} (test images available)")
        test_idx = np.sort(np.random.default_rng(0).permutation(len(x_test))[:test_subset])

    return Data(
        x_train=x_train[train_idx],
        y_train=y_train[train_idx],
        x_val=x_train[val_idx] if val_split else None,
        y_val=y_train[val_idx] if val_split else None,
        x_test=x_test[test_idx],
        y_test=y_test[test_idx],
        num_classes=len(class_names(dataset)),
        class_names=names,
        source=source,
        mirrorable=mirrorable(dataset),
    )


def batches(images, labels, batch_size, shuffle=False, drop_remainder=False):
    """The images (and labels) as TensorFlow's ``tf.data`` batches, for ``model.fit``, ``evaluate`` and
    ``predict`` on the TensorFlow backend; the other backends take the NumPy arrays themselves.

    Keras turns NumPy arrays into a ``tf.data`` pipeline with autotuning. Deleting an iterator before its data
    ran out (Keras does after every epoch's validation and at the end of every ``fit``, ``evaluate`` and
    ``predict``) waits for the autotuning thread to wake up from sleeps that double up to a minute: an epoch
    or a call ended up to that long after its work was done, the machine idle (benchmarks/tf_data_stall.py,
    TensorFlow 2.21). These are the same batches without autotuning: ``batch_size`` images at a time in their
    order, or with ``shuffle`` in a new order every epoch (TensorFlow's seeded generator draws it, as it draws
    Keras's), the last batch the remainder (left out with ``drop_remainder``), the next one gathered while a
    step runs.
    """
    import tensorflow as tf

    arrays = (tf.constant(images),) if labels is None else (tf.constant(images), tf.constant(labels))
    order = tf.data.Dataset.range(len(images))
    if shuffle:
        order = order.shuffle(len(images), reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.autotune.enabled = False
    return (order.batch(batch_size, drop_remainder=drop_remainder)
            .map(lambda i: tuple(tf.gather(a, i) for a in arrays)).prefetch(1).with_options(options))


def whole_batches(images, labels, batch_size, seed):
    """Shuffled training batches of exactly ``batch_size`` images, a new order every epoch, the remainder
    left out (PyTorch's ``drop_last``), as a ``keras.utils.PyDataset`` for ``model.fit`` on JAX and PyTorch;
    on TensorFlow ``batches(..., shuffle=True, drop_remainder=True)`` does it. (Keras's ``fit`` on arrays
    always trains the last, partial batch.) The orders come from a NumPy generator seeded with ``seed``."""
    import keras

    class WholeBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(images))

        def __len__(self):
            return len(images) // batch_size

        def __getitem__(self, index):
            chosen = np.sort(self.order[index * batch_size:(index + 1) * batch_size])
            return images[chosen], labels[chosen]

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(images))

    return WholeBatches()


def predict(model, images, batch_size):
    """``model.predict`` over float images, ``batch_size`` at a time, as a NumPy array; on TensorFlow through
    ``batches`` (Keras's own pipeline for arrays stalls as it ends, see there)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        return np.asarray(model.predict(batches(images, None, batch_size), verbose=0))
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0))
