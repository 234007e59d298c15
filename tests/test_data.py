"""The loader on synthetic batches in the official format, and on every kind of bad input."""

import gzip
import os
import pickle
import shutil

import numpy as np
import pytest

from cifar_common import data
from conftest import REAL_CIFAR10, batch_dict, official_pickle, write_archive, write_cifar10, write_cifar100


def test_folder_gives_shapes_dtypes_and_labels(tiny_cifar10):
    d = data.load(data_dir=tiny_cifar10)
    assert d.x_train.shape == (200, 32, 32, 3) and d.x_train.dtype == np.uint8
    assert d.y_train.shape == (200,) and d.y_train.dtype == np.int32
    assert d.x_test.shape == (60, 32, 32, 3) and d.y_test.shape == (60,)
    assert d.x_val is None and d.num_classes == 10
    assert d.class_names[:2] == ["airplane", "automobile"]
    expected = np.bincount(np.concatenate([batch_dict(40, seed=i)[b"labels"] for i in range(1, 6)]), minlength=10)
    assert np.array_equal(np.bincount(d.y_train, minlength=10), expected)


def test_rows_become_hwc_images(tmp_path):
    folder = write_cifar10(str(tmp_path / "c"), per_batch=2, test=2)
    batch = batch_dict(2, seed=1)
    d = data.read_official(folder)
    (x_train, _), _, _ = d
    row = batch[b"data"][0]
    # The official row holds the red plane, then green, then blue, each 32 x 32 row-major.
    assert np.array_equal(x_train[0, :, :, 0], row[:1024].reshape(32, 32))
    assert np.array_equal(x_train[0, :, :, 2], row[2048:].reshape(32, 32))


def test_archive_reads_like_the_folder(tiny_cifar10, tmp_path):
    archive = write_archive(tiny_cifar10, str(tmp_path / "cifar-10-python.tar.gz"))
    a, b = data.load(data_dir=archive), data.load(data_dir=tiny_cifar10)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    # A folder holding the archive (or the official folder) is found too.
    assert np.array_equal(data.load(data_dir=str(tmp_path)).y_train, b.y_train)
    assert np.array_equal(data.load(data_dir=os.path.dirname(tiny_cifar10)).y_train, b.y_train)


def test_files_written_under_numpy2_load(tmp_path):
    folder = write_cifar10(str(tmp_path / "c"), per_batch=3, test=3, numpy1=False)
    with open(os.path.join(folder, "test_batch"), "rb") as f:
        assert b"numpy._core.multiarray" in f.read()
    assert data.load(data_dir=folder).x_train.shape == (15, 32, 32, 3)


def test_validation_split_and_subset(tiny_cifar10):
    d = data.load(data_dir=tiny_cifar10, val_split=50, subset=100, seed=3)
    assert d.x_val.shape == (50, 32, 32, 3) and d.x_train.shape == (100, 32, 32, 3)
    full = data.load(data_dir=tiny_cifar10, val_split=50, seed=3)
    assert len(full.x_train) == 150
    # The validation images are the same whatever the subset, and never among the training images.
    assert np.array_equal(d.x_val, full.x_val)
    train_rows = {x.tobytes() for x in full.x_train}
    assert not any(x.tobytes() in train_rows for x in d.x_val)
    assert data.load(data_dir=tiny_cifar10, val_split=50, seed=4).x_val.tobytes() != d.x_val.tobytes()


def test_channel_stats_match_numpy():
    images = np.random.default_rng(0).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    mean, std = data.channel_stats(images)
    assert np.allclose(mean, images.reshape(-1, 3).mean(axis=0))
    assert np.allclose(std, images.reshape(-1, 3).std(axis=0))


# --- bad input: one clear line naming the file, DataError ---------------------------------------------------


def _error(data_dir, **kw):
    with pytest.raises(data.DataError) as e:
        data.load(data_dir=data_dir, **kw)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_missing_folder(tmp_path):
    assert "no such file or folder" in _error(str(tmp_path / "nowhere"))


def test_folder_without_cifar(tmp_path):
    assert "holds no CIFAR-10 data" in _error(str(tmp_path))


def test_missing_batch(tmp_path):
    folder = write_cifar10(str(tmp_path / "c"), per_batch=2, test=2)
    os.remove(os.path.join(folder, "data_batch_3"))
    message = _error(folder)
    assert "data_batch_3" in message and "missing" in message


def _truncate(path):
    """Cuts a file to half its length, as an interrupted download or copy would."""
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[: len(raw) // 2])


def test_truncated_batch(tmp_path):
    folder = write_cifar10(str(tmp_path / "c"), per_batch=4, test=2)
    _truncate(os.path.join(folder, "data_batch_2"))
    message = _error(folder)
    assert "data_batch_2" in message and "corrupt or truncated" in message


def test_garbage_batch(tmp_path):
    folder = write_cifar10(str(tmp_path / "c"), per_batch=2, test=2)
    with open(os.path.join(folder, "test_batch"), "wb") as f:
        f.write(b"this is not a pickle at all")
    assert "test_batch" in _error(folder)


def test_wrong_shape(tmp_path):
    folder = write_cifar10(str(tmp_path / "c"), per_batch=2, test=2)
    with open(os.path.join(folder, "data_batch_1"), "wb") as f:
        f.write(official_pickle(batch_dict(2, seed=1, columns=3000)))
    message = _error(folder)
    assert "data_batch_1" in message and "3072" in message


def test_labels_that_do_not_match(tmp_path):
    folder = write_cifar10(str(tmp_path / "c"), per_batch=2, test=2)
    bad = batch_dict(3, seed=1)
    bad[b"labels"] = bad[b"labels"][:2]
    with open(os.path.join(folder, "data_batch_4"), "wb") as f:
        f.write(official_pickle(bad))
    assert "expected 3 labels" in _error(folder)
    bad = batch_dict(3, seed=1)
    bad[b"labels"] = [0, 1, 12]
    with open(os.path.join(folder, "data_batch_4"), "wb") as f:
        f.write(official_pickle(bad))
    assert "0..9" in _error(folder)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_runs_code_is_refused(tmp_path):
    folder = write_cifar10(str(tmp_path / "c"), per_batch=2, test=2)
    marker = tmp_path / "pwned"
    with open(os.path.join(folder, "data_batch_1"), "wb") as f:
        pickle.dump({b"data": _RunsCode(marker), b"labels": [0]}, f, protocol=3)
    message = _error(folder)
    assert "data_batch_1" in message and "refused" in message and "system" in message
    assert not marker.exists()
    # Plain pickle would have run it: the test payload is real.
    with open(os.path.join(folder, "data_batch_1"), "rb") as f:
        pickle.load(f)
    assert marker.exists()


def test_other_globals_are_refused():
    for module, name in [("builtins", "eval"), ("numpy", "load"), ("numpy.core.multiarray", "scalar")]:
        raw = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n."
        with pytest.raises(data.DataError, match="refused"):
            data.safe_unpickle(raw, "x")


def test_truncated_archive(tiny_cifar10, tmp_path):
    archive = write_archive(tiny_cifar10, str(tmp_path / "cifar-10-python.tar.gz"))
    _truncate(archive)
    message = _error(archive)
    assert "cifar-10-python.tar.gz" in message and "corrupt" in message


def test_archive_that_is_not_an_archive(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(gzip.compress(b"plain text, not a tar"))
    assert "corrupt" in _error(str(path))


def test_archive_missing_a_batch(tiny_cifar10, tmp_path):
    folder = str(tmp_path / "c")
    shutil.copytree(tiny_cifar10, folder)
    os.remove(os.path.join(folder, "test_batch"))
    archive = write_archive(folder, str(tmp_path / "a.tar.gz"))
    message = _error(archive)
    assert "cifar-10-batches-py/test_batch" in message and "missing" in message


def test_split_sizes_are_checked(tiny_cifar10):
    assert "--val-split" in _error(tiny_cifar10, val_split=200)
    assert "--subset" in _error(tiny_cifar10, subset=201)
    assert "--subset" in _error(tiny_cifar10, val_split=100, subset=101)


def test_failed_download_points_to_data_dir(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: None -- "
                        "[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(data.DataError) as e:
        data.load()
    message = str(e.value)
    assert "could not download CIFAR-10" in message and "--data-dir" in message and "\n" not in message


def test_cifar100_layout(tmp_path):
    write_cifar100(str(tmp_path / "cifar-100-python"))
    d = data.load("cifar100", data_dir=str(tmp_path))
    assert d.num_classes == 100 and d.x_train.shape == (30, 32, 32, 3) and d.class_names[5] == "c5"
    assert d.y_train.max() < 100


@pytest.mark.skipif(not os.path.isdir(REAL_CIFAR10), reason="real CIFAR-10 not found at ../shared/data/cifar10")
def test_real_cifar10():
    d = data.load(data_dir=REAL_CIFAR10)
    assert d.x_train.shape == (50000, 32, 32, 3) and d.x_test.shape == (10000, 32, 32, 3)
    assert np.array_equal(np.bincount(d.y_train), [5000] * 10)
    assert np.array_equal(np.bincount(d.y_test), [1000] * 10)
    # The published per-channel statistics of the training set.
    assert np.allclose(d.mean, data.CIFAR10_MEAN, atol=1e-3)
    assert np.allclose(d.std, data.CIFAR10_STD, atol=1e-3)


def test_a_folder_or_batch_that_cannot_be_read_says_so(tiny_cifar10, monkeypatch):
    """Permission denied, as a user without rights gets it (the tests run as root, whom no mode stops, so
    the system's answer is stood in for)."""
    real_listdir, real_open = os.listdir, open

    def listdir(path):
        if os.path.abspath(path) == os.path.abspath(tiny_cifar10):
            raise PermissionError(13, "Permission denied", path)
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    with pytest.raises(data.DataError, match=r"cifar-10-batches-py: cannot be read \(Permission denied\)"):
        data.load(data_dir=tiny_cifar10)
    monkeypatch.setattr(os, "listdir", real_listdir)

    def open_(path, *args, **kwargs):
        if str(path).endswith("data_batch_3"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", open_)
    with pytest.raises(data.DataError, match=r"data_batch_3: cannot be read \(Permission denied\)"):
        data.load(data_dir=tiny_cifar10)


def _epochs(dataset, n):
    return [[tuple(np.asarray(a) for a in batch) for batch in dataset] for _ in range(n)]


def test_tensorflow_batches_give_every_image_once_an_epoch_with_its_label():
    pytest.importorskip("tensorflow")
    images = np.arange(50 * 2 * 2 * 1, dtype=np.uint8).reshape(50, 2, 2, 1)  # image i holds 4i .. 4i+3
    labels = np.arange(50, dtype=np.int32)
    dataset = data.batches(images, labels, 16, shuffle=True)
    assert dataset.options().autotune.enabled is False  # no autotuning thread to wait for as an iterator ends
    orders = []
    for epoch in _epochs(dataset, 2):
        assert [len(y) for _, y in epoch] == [16, 16, 16, 2]  # the last batch the remainder
        for x, y in epoch:
            assert x.dtype == np.uint8 and np.array_equal(x, images[y])  # each image beside its own label
        orders.append(np.concatenate([y for _, y in epoch]))
        assert sorted(orders[-1]) == list(range(50))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[0], labels)  # reshuffled
    (in_order,) = _epochs(data.batches(images, labels, 16), 1)
    assert np.array_equal(np.concatenate([y for _, y in in_order]), labels)
    (alone,) = _epochs(data.batches(images, None, 20), 1)  # images only, for predict
    assert [len(b) for b in alone] == [1, 1, 1] and np.array_equal(np.concatenate([b[0] for b in alone]), images)
