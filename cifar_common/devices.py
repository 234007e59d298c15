"""Training on several devices, and mixed precision: the only backend-specific code of the collection.

``--gpus N`` (default: every visible GPU) picks the devices; ``--batch-size`` is the global batch, split
evenly across them.

* TensorFlow: ``tf.distribute.MirroredStrategy``; the model is built and compiled inside its scope.
* JAX: ``keras.distribution.DataParallel``, set before the model is built.
* PyTorch: one device; a request for more prints a one-line notice.

``--gpus N`` with no GPU visible is refused. ``--cpu-replicas N`` trains N replicas on the CPU instead, which is
how multi-device training is tried and tested on a machine without GPUs: TensorFlow splits the CPU into N
logical devices; JAX needs ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` in the environment before it
starts. ``--gpus 0`` trains on the CPU even where GPUs are visible.
"""

import contextlib
import dataclasses
import importlib
import os
import platform
import subprocess

import keras


class DeviceError(Exception):
    """A device request that cannot be met; the message is one line meant for the user."""


@dataclasses.dataclass
class Devices:
    backend: str
    names: list  # the devices the replicas run on
    scope: contextlib.AbstractContextManager  # enter it while building and compiling the model
    notice: str = ""  # something the user should know, printed at start-up
    # What --jit auto passes to model.compile: "auto" leaves it to Keras (XLA on GPUs and on JAX; on a
    # CPU-only TensorFlow machine TensorFlow's own graph kernels, which beat XLA's CPU convolutions; PyTorch
    # eager), False where Keras would choose XLA that cannot work or does not pay.
    auto_jit: object = "auto"

    @property
    def replicas(self):
        return len(self.names)


def _count(requested, available, kind):
    """How many devices to use: all by default, or ``requested``, which must not exceed ``available``."""
    n = available if requested is None else requested
    if n > available:
        raise DeviceError(f"--gpus {requested}: only {available} {kind} visible")
    return n


def _no_gpu(gpus):
    """``--gpus N`` on a machine without GPUs: one line, rather than N replicas on the CPU it did not ask for."""
    if gpus:
        raise DeviceError(f"--gpus {gpus}: no GPU is visible; train on the CPU without --gpus, or try data "
                          f"parallelism on the CPU with --cpu-replicas {gpus}")


def _tensorflow(gpus, cpu_replicas):
    import tensorflow as tf

    physical = tf.config.list_physical_devices("GPU")
    if physical and gpus != 0 and not cpu_replicas:
        n = _count(gpus, len(physical), "GPU(s)")
        try:
            tf.config.set_visible_devices(physical[:n], "GPU")
            for gpu in physical[:n]:
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the runtime already started (a second run in one process): keep what it has
            pass
        names = [f"/gpu:{i}" for i in range(n)]
    else:
        _no_gpu(None if physical else gpus)
        if physical:
            tf.config.set_visible_devices([], "GPU")
        n = cpu_replicas or 1
        if n > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            try:
                tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
            except RuntimeError:
                pass
            available = len(tf.config.list_logical_devices("CPU"))
            if available < n:
                raise DeviceError(f"--cpu-replicas {n}: TensorFlow already started with {available} CPU device(s)")
        names = [f"/cpu:{i}" for i in range(n)]
    if len(names) > 1:
        # XLA cannot reach a MirroredStrategy's per-replica variables from one compiled step (keras-team/keras
        # issue 19005, "Trying to access resource ... located in device"), so several replicas on TensorFlow
        # run as a graph without XLA. JAX compiles its data-parallel step.
        strategy = tf.distribute.MirroredStrategy(names)
        notice = "TensorFlow with several devices: the training step runs as a graph, without XLA"
        return Devices("tensorflow", names, strategy.scope(), notice, auto_jit=False)
    # Keras's "auto" sees the machine's GPUs, not the CPU that --gpus 0 chose: there, as on a machine
    # without GPUs, TensorFlow's own kernels.
    return Devices("tensorflow", names, contextlib.nullcontext(),
                   auto_jit="auto" if physical and gpus != 0 and not cpu_replicas else False)


def _jax(gpus, cpu_replicas):
    import jax

    accelerators = [d for d in jax.devices() if d.platform != "cpu"]
    if accelerators and gpus != 0 and not cpu_replicas:
        n = _count(gpus, len(accelerators), "GPU(s)")
        chosen = accelerators[:n]
    else:
        _no_gpu(None if accelerators else gpus)
        cpus = jax.devices("cpu")
        n = cpu_replicas or 1
        if n > len(cpus):
            raise DeviceError(
                f"--cpu-replicas {n}: JAX sees {len(cpus)} CPU device(s); for {n} start with "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={n}"
            )
        chosen = cpus[:n]
        if accelerators:
            jax.config.update("jax_default_device", chosen[0])
    names = [f"{d.platform}:{d.id}" for d in chosen]
    if n > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=names))
    return Devices("jax", names, contextlib.nullcontext())


def _torch(gpus, cpu_replicas):
    import torch

    notice = ""
    if torch.cuda.is_available() and gpus != 0 and not cpu_replicas:
        name = "cuda:0"
        if (gpus is None and torch.cuda.device_count() > 1) or (gpus or 1) > 1:
            notice = "PyTorch backend: training on one GPU (use TensorFlow or JAX for several)"
    else:
        _no_gpu(None if torch.cuda.is_available() else gpus)
        if torch.cuda.is_available() and os.environ.get("KERAS_TORCH_DEVICE") != "cpu":
            raise DeviceError("the CPU on PyTorch with a GPU visible: start with KERAS_TORCH_DEVICE=cpu")
        name = "cpu"
        if (cpu_replicas or 1) > 1:
            notice = f"PyTorch backend: training on one CPU device, not the {cpu_replicas} replicas asked for"
    return Devices("torch", [name], contextlib.nullcontext(), notice)


def setup(gpus=None, cpu_replicas=None):
    """Chooses the devices for ``--gpus`` (None: all visible GPUs, else the CPU) or ``--cpu-replicas N`` (data
    parallelism over N replicas on the CPU, to try or test it without a GPU) on the current backend."""
    if gpus is not None and gpus < 0:
        raise DeviceError(f"--gpus {gpus}: must be 0 or more")
    if gpus and cpu_replicas:
        raise DeviceError(f"--gpus {gpus} --cpu-replicas {cpu_replicas}: choose one")
    backend = keras.backend.backend()
    setups = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}
    if backend not in setups:
        raise DeviceError(f"unsupported Keras backend '{backend}' (use tensorflow, jax or torch)")
    return setups[backend](gpus, cpu_replicas)


JIT_CHOICES = ("auto", "on", "off")


def jit_compile(devices, jit):
    """The ``jit_compile`` argument of ``model.compile`` for ``--jit`` (auto, on or off)."""
    if jit == "off":
        return False
    if jit == "on":
        if devices.backend == "tensorflow" and devices.replicas > 1:
            raise DeviceError("--jit on: XLA cannot compile TensorFlow's step on several devices (keras-team/keras "
                              "issue 19005); use --jit auto, or the JAX backend")
        return True
    return devices.auto_jit


def describe_step(backend, jit):
    """How the training step runs, in a few words, for the start-up line."""
    if jit:
        return "torch.compile" if backend == "torch" else "XLA"
    return "TensorFlow graph, no XLA" if backend == "tensorflow" else "eager, not compiled"


def _compute_capability(devices):
    """The (major, minor) compute capability of the first GPU in use, or None on the CPU."""
    if not devices.names[0].lower().lstrip("/").startswith(("gpu", "cuda")):
        return None
    try:
        if devices.backend == "tensorflow":
            import tensorflow as tf

            details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
            return tuple(details.get("compute_capability", (0, 0)))
        if devices.backend == "jax":
            import jax

            gpu = [d for d in jax.devices() if d.platform != "cpu"][0]
            return tuple(int(v) for v in str(gpu.compute_capability).split("."))
        import torch

        return torch.cuda.get_device_capability(0)
    except Exception:  # an unknown GPU: treat it as an old one
        return (0, 0)


def mixed_precision_policy(devices):
    """``mixed_bfloat16`` on the CPU and on GPUs from Ampere on (compute capability 8.0), else ``mixed_float16``."""
    capability = _compute_capability(devices)
    if capability is None or capability >= (8, 0):
        return "mixed_bfloat16"
    return "mixed_float16"


def gpu_names():
    """The GPUs' names as nvidia-smi gives them (an empty list without an NVIDIA GPU)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def machine():
    """One line naming this machine's GPUs (if any) and CPU, for run summaries and results tables."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpus = gpu_names()
    gpu = f"{len(gpus)} x {gpus[0]}" if len(set(gpus)) == 1 and len(gpus) > 1 else ", ".join(gpus)
    return (gpu + "; " if gpu else "") + f"{cpu}, {os.cpu_count()} cores"


def backend_version(backend):
    """The version of the backend's own package (tensorflow, jax or torch)."""
    return importlib.import_module(backend).__version__  # the backends' names are their module names
