"""Shared plumbing of the cifar-10-cnn scripts.

* ``data``      loading CIFAR-10/100, MNIST, Fashion-MNIST (download or ``--data-dir``), safe unpickling, splits,
                channel statistics
* ``augment``   crop-and-flip augmentation as a compiled Keras layer, and the alternating flip
* ``schedules`` learning-rate schedules: step, cosine, HTD by epoch; piecewise linear by step
* ``initializers`` identity (Dirac) filters, and a whitening convolution computed from the images
* ``optimizers`` SGD with a multiplied learning rate for some variables (parameter groups); SGD with PyTorch's
                weight decay (CoupledDecaySGD)
* ``grouped_conv`` Keras's grouped Conv2D, computed group by group on a CPU (TensorFlow, JAX), where that is
                far faster
* ``transformer`` the class token and the position embedding of a Vision Transformer
* ``losses``    cross-entropy with label smoothing (and Mixup's or CutMix's mixed labels) for integer labels
* ``regularisers`` Cutout, Random Erasing, Mixup, CutMix as compiled layers, put after a model's augmentation
                from the command line; the average of the weights (--ema)
* ``shake``     shake-shake and ShakeDrop: a residual branch scaled by one random number forward and another
                backward (a stop-gradient identity)
* ``lookahead`` scheduled lookahead: the weights pulled back to a slow copy every few steps (a callback)
* ``devices``   multi-device training, several processes training one model (JAX), mixed precision
* ``cli``       the command line every script shares
* ``run_folder`` the run folder: summary, history, curves, model, backup
* ``macs``      multiply-accumulates per image of a model
* ``tta``       test-time augmentation: the answer averaged over shifted and mirrored views
* ``trained``   a finished run: load its model, evaluate it on the test set, classify image files (tools/)
* ``train``     the run around a script's compile and fit: ``parse_args``, ``Run`` (data, devices, one-line
                errors, Ctrl-C), ``run.fit`` (the run folder, history, backups, the final line)
"""

import os

# Both are read when TensorFlow is imported, so they are set here: a script imports cifar_common before keras.
# TensorFlow's start-up chatter (oneDNN, CUDA probing) is noise for a tutorial; CIFAR_TF_LOGS=1 shows it all.
if os.environ.get("CIFAR_TF_LOGS") != "1":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow runs its CPU convolutions with oneDNN only on CPUs with AVX-512 VNNI, BF16 or AMX; on the others
# (most laptops, AMD EPYC) its fallback kernels train LeNet-5 about 2.5 times slower (benchmarks/README.md).
# Results differ from those kernels' only by floating-point round-off. TF_ENABLE_ONEDNN_OPTS=0 turns it off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import contextlib  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402

# The backend Keras will load (KERAS_BACKEND, else TensorFlow): missing, it is one line, not Keras's traceback.
_BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
if _BACKEND in _PACKAGES and importlib.util.find_spec(_PACKAGES[_BACKEND]) is None:
    sys.stderr.write(f"{os.path.basename(sys.argv[0]) or 'python'}: error: KERAS_BACKEND={_BACKEND}: "
                     f"{_PACKAGES[_BACKEND]} is not installed; install it "
                     f"(pip install {_PACKAGES[_BACKEND]}, or requirements-test.txt for all three backends) or "
                     "choose another backend\n")
    sys.exit(2)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Sends file descriptor 2 to /dev/null while TensorFlow's C++ start-up writes to it: since TensorFlow 2.20
    its absl log lines ("oneDNN custom operations are on", the CPU's instructions, "failed call to cuInit")
    come before TF_CPP_MIN_LOG_LEVEL is read, often twice. CIFAR_TF_LOGS=1 keeps them. Python's own errors
    are raised after the descriptor is back, so none is lost."""
    if os.environ.get("CIFAR_TF_LOGS") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no descriptor 2 to silence
        yield
        return
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


with _quiet_native_stderr():
    import keras  # noqa: E402,F401

    if keras.backend.backend() == "tensorflow":
        import tensorflow as _tf

        _tf.config.list_physical_devices("GPU")  # the CUDA probe, which logs once per process

# Registers the layers, initializers, loss, optimizer and schedule of the package with Keras, so that `import
# cifar_common` is all a saved model.keras (and its optimizer) needs to load.
from . import augment, initializers, losses, optimizers, regularisers, schedules  # noqa: E402,F401
