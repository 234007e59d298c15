"""MNIST and Fashion-MNIST: the IDX files and Keras's mnist.npz on synthetic data, every bad form, and the
real copies in ../shared."""

import gzip
import os

import numpy as np
import pytest

from cifar_common import data
from conftest import REAL_FASHION_MNIST, REAL_MNIST, grey_images, idx_bytes, refusal_in_process, write_idx

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def test_idx_folder_gives_padded_grey_images(tiny_mnist):
    d = data.load("mnist", data_dir=tiny_mnist)
    assert d.x_train.shape == (120, 32, 32, 1) and d.x_train.dtype == np.uint8
    assert d.y_train.shape == (120,) and d.y_train.dtype == np.int32 and d.x_test.shape == (40, 32, 32, 1)
    images, labels = grey_images(120, seed=1)
    # The 28 x 28 image sits in the middle, two zero rows and columns on every side.
    assert np.array_equal(d.x_train[:, 2:30, 2:30, 0], images) and np.array_equal(d.y_train, labels)
    assert not d.x_train[:, :2].any() and not d.x_train[:, 30:].any() and not d.x_train[:, :, :2].any()
    assert np.array_equal(np.bincount(d.y_train, minlength=10), np.bincount(labels, minlength=10))
    assert d.num_classes == 10 and d.class_names == [str(i) for i in range(10)] and not d.mirrorable
    # One channel's statistics, from the padded training images as the network sees them.
    assert d.mean.shape == (1,) and np.isclose(d.mean[0], d.x_train.mean())


def test_uncompressed_files_and_fashion_names(tmp_path):
    folder = write_idx(str(tmp_path / "f"), gz=False)
    d = data.load("fashion_mnist", data_dir=folder)
    assert d.x_train.shape == (120, 32, 32, 1) and d.class_names[0] == "T-shirt/top" and d.mirrorable
    assert np.array_equal(d.y_test, grey_images(40, seed=2)[1])


def test_mnist_npz_file_or_folder(tiny_mnist, tmp_path):
    (x_train, y_train), (x_test, y_test) = grey_images(30, 3), grey_images(10, 4)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train.astype(np.int64), x_test=x_test,
             y_test=y_test)
    for where in (str(tmp_path / "mnist.npz"), str(tmp_path)):
        d = data.load("mnist", data_dir=where)
        assert d.x_train.shape == (30, 32, 32, 1) and np.array_equal(d.y_test, y_test)


def test_download_pads_keras_arrays(monkeypatch):
    import keras

    (x, y) = grey_images(8, 5)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: ((x, y), (x[:3], y[:3])))
    d = data.load("fashion_mnist")
    assert d.x_train.shape == (8, 32, 32, 1) and d.source == "keras.datasets" and d.class_names[9] == "Ankle boot"


def test_failed_mnist_download_points_to_data_dir(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(data.DataError, match="could not download MNIST.*--data-dir.*IDX files or 'mnist.npz'"):
        data.load("mnist")


# --- bad input: one line naming the file ------------------------------------------------------------------------


def _error(data_dir, dataset="mnist"):
    with pytest.raises(data.DataError) as e:
        data.load(dataset, data_dir=data_dir)
    message = str(e.value)
    assert "\n" not in message
    return message


def _rewrite(folder, name, raw):
    for old in (name, name + ".gz"):
        if os.path.exists(os.path.join(folder, old)):
            os.remove(os.path.join(folder, old))
    with open(os.path.join(folder, name + ".gz"), "wb") as f:
        f.write(gzip.compress(raw))


def test_wrong_magic_number(tmp_path):
    folder = write_idx(str(tmp_path / "m"))
    images, _ = grey_images(120, 1)
    _rewrite(folder, NAMES[0], idx_bytes(images, magic=2049))
    message = _error(folder)
    assert "train-images-idx3-ubyte.gz: not an IDX file of images (magic number 2049, expected 2051)" in message


def test_truncated_and_overlong_files(tmp_path):
    folder = write_idx(str(tmp_path / "m"))
    raw = idx_bytes(grey_images(40, 2)[0])
    _rewrite(folder, NAMES[2], raw[:-100])
    assert "t10k-images-idx3-ubyte.gz: truncated (the header announces 40 images, 31360 bytes; the file holds " \
           "31260)" in _error(folder)
    _rewrite(folder, NAMES[2], raw + b"\0")
    assert "longer than its header says" in _error(folder)
    _rewrite(folder, NAMES[2], raw[:10])
    assert "shorter than the 16-byte header" in _error(folder)


def test_truncated_gzip(tmp_path):
    folder = write_idx(str(tmp_path / "m"))
    path = os.path.join(folder, NAMES[1] + ".gz")
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[: len(raw) // 2])
    assert f"{path}: truncated or corrupt gzip file" in _error(folder)


def test_counts_that_disagree(tmp_path):
    folder = write_idx(str(tmp_path / "m"))
    _rewrite(folder, NAMES[1], idx_bytes(grey_images(119, 1)[1]))
    message = _error(folder)
    assert "train-labels-idx1-ubyte.gz: 119 labels for the 120 images of" in message


def test_labels_out_of_range(tmp_path):
    folder = write_idx(str(tmp_path / "m"))
    labels = grey_images(40, 2)[1]
    labels[3] = 10
    _rewrite(folder, NAMES[3], idx_bytes(labels))
    assert "t10k-labels-idx1-ubyte.gz: labels must lie in 0..9, found 0..10" in _error(folder)


def test_wrong_image_size(tmp_path):
    folder = write_idx(str(tmp_path / "m"))
    _rewrite(folder, NAMES[0], idx_bytes(np.zeros((120, 32, 32), np.uint8)))
    assert "images of 32 x 32 pixels, expected 28 x 28" in _error(folder)


def test_missing_file_and_empty_folder(tmp_path):
    folder = write_idx(str(tmp_path / "m"))
    os.remove(os.path.join(folder, NAMES[3] + ".gz"))
    assert "t10k-labels-idx1-ubyte.gz: missing (expected the official file" in _error(folder)
    os.makedirs(tmp_path / "empty")
    assert "holds no Fashion-MNIST data" in _error(str(tmp_path / "empty"), "fashion_mnist")
    assert "no such file or folder" in _error(str(tmp_path / "nowhere"))
    (tmp_path / "notes.txt").write_text("hello")
    assert "expected a folder with the four official IDX files" in _error(str(tmp_path / "notes.txt"))


def test_bad_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file at all")
    assert "mnist.npz: not a readable .npz file" in _error(str(tmp_path / "mnist.npz"))
    x, y = grey_images(5, 1)
    np.savez(tmp_path / "a.npz", x_train=x, y_train=y)
    assert "expected the arrays x_train, y_train, x_test and y_test, found ['x_train', 'y_train']" in _error(
        str(tmp_path / "a.npz"))
    np.savez(tmp_path / "b.npz", x_train=x.astype(np.float32), y_train=y, x_test=x, y_test=y)
    assert "expected x_train as uint8 images of 28 x 28, found float32 (5, 28, 28)" in _error(str(tmp_path / "b.npz"))
    np.savez(tmp_path / "c.npz", x_train=x, y_train=y[:4], x_test=x, y_test=y)
    assert "c.npz:y_train: 4 labels for the 5 images" in _error(str(tmp_path / "c.npz"))
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=np.array([0, 1, 2, 3, 12]))
    assert "d.npz:y_test: labels must lie in 0..9, found 0..12" in _error(str(tmp_path / "d.npz"))
    np.savez(tmp_path / "e.npz", x_train=x, y_train=np.array([None] * 5, dtype=object), x_test=x, y_test=y)
    assert "e.npz: not a readable .npz file" in _error(str(tmp_path / "e.npz"))  # pickled arrays are refused


def test_the_other_grey_data_set_is_told_by_its_images_per_class():
    """MNIST's and Fashion-MNIST's files have the same format and names: their official counts per class tell
    them apart, in any order; other counts (a synthetic set, a subset) are taken as given."""
    rng = np.random.default_rng(0)
    for dataset, other in (("mnist", "fashion_mnist"), ("fashion_mnist", "mnist")):
        splits = [(None, rng.permutation(np.repeat(np.arange(10), counts))) for counts in
                  data.IDX_LAYOUTS[dataset].label_counts]
        with pytest.raises(data.DataError, match=f"given --dataset {dataset}|give --dataset {dataset}"):
            data._check_idx_dataset(splits, other, "/data/here")
        assert data._check_idx_dataset(splits, dataset, "/data/here") is splits
        assert data._check_idx_dataset([(None, s[1][1:]) for s in splits], other, "/data/here")  # not the files


def test_a_script_given_a_bad_file_says_one_line(tmp_path, capsys):
    folder = write_idx(str(tmp_path / "m"))
    _rewrite(folder, NAMES[3], idx_bytes(grey_images(40, 2)[1], magic=2051))
    refusal_in_process("lenet/LeNet_keras.py", "--dataset", "mnist", "--data-dir", folder, "--output-dir",
                       str(tmp_path / "run"), capsys=capsys,
                       needles=["t10k-labels-idx1-ubyte.gz: not an IDX file of labels (magic number 2051, "
                                "expected 2049)"])
    assert not os.path.exists(tmp_path / "run")


# --- the real copies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset,folder,train_counts", [
    ("mnist", REAL_MNIST, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
    ("fashion_mnist", REAL_FASHION_MNIST, [6000] * 10),
])
def test_real_copies(dataset, folder, train_counts):
    if not os.path.isdir(folder):
        pytest.skip(f"real {dataset} not found at {folder}")
    d = data.load(dataset, data_dir=folder)
    assert d.x_train.shape == (60000, 32, 32, 1) and d.x_test.shape == (10000, 32, 32, 1)
    other = "fashion_mnist" if dataset == "mnist" else "mnist"  # the other set's files are refused
    with pytest.raises(data.DataError, match=f"these are {data.IDX_LAYOUTS[dataset].name}'s files .* give "
                                             f"--dataset {dataset}"):
        data.load(other, data_dir=folder)
    assert np.bincount(d.y_train).tolist() == train_counts and np.bincount(d.y_test).sum() == 10000
    if dataset == "mnist":
        assert d.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
        # The published statistics (0.1307, 0.3081 on the 0-1 scale) are of the 28 x 28 images.
        unpadded = d.x_train[:, 2:30, 2:30] / 255.0
        assert abs(unpadded.mean() - 0.1307) < 1e-4 and abs(unpadded.std() - 0.3081) < 1e-4
