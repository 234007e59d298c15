"""Shared test helpers: synthetic CIFAR batches in the official format, and running a script end to end."""

import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
import pytest

# Before anything imports Keras: the test process starts TensorFlow as the scripts do (oneDNN's CPU kernels
# on), so a model a script saved scores the same here as in that script.
import cifar_common  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_CIFAR10 = os.path.join(ROOT, "..", "shared", "data", "cifar10", "cifar-10-batches-py")
REAL_MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist")
REAL_FASHION_MNIST = os.path.join(ROOT, "..", "shared", "data", "fashion-mnist")
LENET_SCRIPTS = ["LeNet_keras.py", "LeNet_dp_keras.py", "LeNet_dp_da_keras.py", "LeNet_dp_da_wd_keras.py"]


def pytest_configure(config):
    """One JAX compilation cache for the session: the suite's many JAX runs (scripts in subprocesses, xdist's
    workers) compile the same small networks again and again, and JAX reads a compiled program back from the
    cache rather than compiling it anew (a JAX LeNet run: 14-16 s cold, 9 s warm). The program is the same,
    so every figure a test compares is too. The controller makes the folder before the workers start, and
    every process inherits it; a cache the caller set (JAX_COMPILATION_CACHE_DIR) is left as it is."""
    if hasattr(config, "workerinput") or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    config.jax_cache = tempfile.mkdtemp(prefix="cifar-tests-jax-cache-")
    os.environ.update(JAX_COMPILATION_CACHE_DIR=config.jax_cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")


def pytest_unconfigure(config):
    if getattr(config, "jax_cache", None):
        shutil.rmtree(config.jax_cache, ignore_errors=True)


def batch_dict(n, seed, num_classes=10, label_key=b"labels", columns=3072):
    """One batch as the official files hold it: bytes keys, uint8 rows of 3072 CHW pixels, a list of labels.

    Each image is a flat colour per class plus noise, so a small network can learn it in one epoch.
    """
    rng = np.random.default_rng(seed)
    labels = [int(v) for v in rng.integers(0, num_classes, n)]
    base = (np.array(labels)[:, None] * 255 // max(num_classes - 1, 1)).astype(np.int64)
    data = np.clip(base + rng.integers(-40, 40, (n, columns)), 0, 255).astype(np.uint8)
    return {b"batch_label": b"synthetic", label_key: labels, b"data": data,
            b"filenames": [b"img%d.png" % i for i in range(n)]}


def official_pickle(obj, numpy1=True):
    """Pickles like the official files (protocol 3: bytes stay bytes). ``numpy1`` names the array reconstructor the way files
    written under NumPy 1 do (numpy.core.multiarray), as the official batches do."""
    raw = pickle.dumps(obj, protocol=3)
    if numpy1:
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return raw


def write_cifar10(folder, per_batch=40, test=60, numpy1=True):
    """Writes a tiny CIFAR-10 in the official layout (5 data batches, test batch, batches.meta)."""
    os.makedirs(folder, exist_ok=True)
    for i in range(1, 6):
        with open(os.path.join(folder, f"data_batch_{i}"), "wb") as f:
            f.write(official_pickle(batch_dict(per_batch, seed=i), numpy1))
    with open(os.path.join(folder, "test_batch"), "wb") as f:
        f.write(official_pickle(batch_dict(test, seed=99), numpy1))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        f.write(official_pickle({b"label_names": names, b"num_cases_per_batch": per_batch, b"num_vis": 3072}))
    return folder


def write_cifar100(folder, train=30, test=10):
    """Writes a tiny CIFAR-100 in the official layout (train, test, meta; fine labels)."""
    os.makedirs(folder, exist_ok=True)
    for name, n, seed in [("train", train, 1), ("test", test, 2)]:
        with open(os.path.join(folder, name), "wb") as f:
            f.write(official_pickle(batch_dict(n, seed, 100, b"fine_labels")))
    with open(os.path.join(folder, "meta"), "wb") as f:
        f.write(official_pickle({b"fine_label_names": [b"c%d" % i for i in range(100)]}))
    return folder


def grey_images(n, seed, num_classes=10):
    """(images uint8 (n, 28, 28), labels uint8 (n,)): a bright square whose place and size depend on the class,
    plus noise, so that a small network learns it in an epoch or two."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        top, side = 2 + 2 * int(label), 6 + int(label) % 3 * 2
        image[top:top + side, top:top + side] = 230
    return images, labels


def idx_bytes(array, magic=None):
    """An IDX file's bytes: big-endian int32 magic and sizes, then the uint8 payload."""
    magic = magic if magic is not None else (2051 if array.ndim == 3 else 2049)
    return np.array([magic, *array.shape], dtype=">i4").tobytes() + array.astype(np.uint8).tobytes()


def write_idx(folder, train=120, test=40, gz=True):
    """Writes a tiny MNIST-format folder: the four official IDX files (gzipped by default)."""
    import gzip

    os.makedirs(folder, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = grey_images(train, seed=1), grey_images(test, seed=2)
    for name, array in [("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                        ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)]:
        raw = idx_bytes(array)
        with open(os.path.join(folder, name + (".gz" if gz else "")), "wb") as f:
            f.write(gzip.compress(raw) if gz else raw)
    return folder


def write_archive(folder, archive):
    """Packs an official folder into a .tar.gz with the official inner folder name."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return archive


@pytest.fixture(scope="session")
def tiny_cifar10(tmp_path_factory):
    """A tiny synthetic CIFAR-10 folder: 5 x 40 training images, 60 test images."""
    return write_cifar10(str(tmp_path_factory.mktemp("tiny") / "cifar-10-batches-py"))


@pytest.fixture(scope="session")
def small_cifar10(tmp_path_factory):
    """A small synthetic CIFAR-10 folder for training runs: 5 x 256 training images, 256 test images."""
    return write_cifar10(str(tmp_path_factory.mktemp("small") / "cifar-10-batches-py"), per_batch=256, test=256)


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """A tiny synthetic MNIST folder in the official IDX form: 120 training images, 40 test images."""
    return write_idx(str(tmp_path_factory.mktemp("mnist") / "mnist"))


def run_script(script, *args, backend="tensorflow", env=None, cwd=None, timeout=600):
    """Runs a script in a subprocess as a user would; returns the CompletedProcess."""
    path = script if os.path.isabs(script) else os.path.join(ROOT, script)
    full_env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, path, *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd or ROOT, timeout=timeout)


def epochs_done(run_dir):
    """Finished epochs of a run, by the lines of its history.csv (read while the run writes it)."""
    try:
        with open(os.path.join(run_dir, "history.csv")) as f:
            return max(len(f.read().strip().splitlines()) - 1, 0)
    except FileNotFoundError:
        return 0


def summary_of(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        return json.load(f)


def check_ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"


def one_line_error(proc, *needles, code=2):
    """The process failed on bad input the way the scripts promise: exit 2 (or ``code``: 3 for a diverged
    run, 4 for a full disk), one ``: error:`` line on stderr holding each of ``needles``, no traceback.
    Returns that line."""
    return the_one_error_line(proc.returncode, proc.stderr, needles, proc.stdout + proc.stderr, code)


def the_one_error_line(code, err, needles, shown, expected=2):
    """The check of one_line_error on an exit status and a stderr text; ``shown`` is what a failure prints."""
    assert code == expected, shown
    lines = [line for line in err.splitlines() if ": error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def run_in_process(script, *args, capsys):
    """Runs a script's ``__main__`` in this process, for the refusals that end it before it trains (no new
    process to start: the same code path, in a fraction of the time); returns (exit status, stdout, stderr)."""
    import runpy

    path = script if os.path.isabs(script) else os.path.join(ROOT, script)
    argv, sys.argv = sys.argv, [path, *args]
    try:
        runpy.run_path(path, run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out, out.err


def refusal_in_process(script, *args, capsys, needles=()):
    """one_line_error for a script refused before it trains, run in this process (see run_in_process): exit
    status 2, one ``: error:`` line holding each of ``needles``, no traceback. Returns that line."""
    code, out, err = run_in_process(script, *args, capsys=capsys)
    return the_one_error_line(code, err, needles, out + err)


def folder_bytes(folder):
    """Every file under ``folder`` and its bytes: to check that a refusal left a folder as it was."""
    found = {}
    for path, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(path, name), "rb") as f:
                found[os.path.relpath(os.path.join(path, name), folder)] = f.read()
    return found
