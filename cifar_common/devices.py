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

Several processes (several machines, or several processes on one) train one model on JAX only: ``Cluster``
reads ``--coordinator``, ``--num-processes``, ``--process-id`` (or Keras's ``KERAS_DISTRIBUTION_*``
variables, or an ``srun``/``mpirun`` launch), ``keras.distribution.initialize`` joins the processes, and
``keras.distribution.DataParallel`` spans every device of every process; each process feeds its part of
every global batch (``ProcessBatches``). Process 0 alone writes the run folder (``cifar_common/train.py``).
"""

import contextlib
import dataclasses
import importlib
import os
import platform
import socket
import subprocess

import keras
import numpy as np


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
    processes: int = 1  # processes training the model together (several only on JAX)
    process_index: int = 0  # this one's; process 0 writes the run folder
    hosts: list = dataclasses.field(default_factory=lambda: [socket.gethostname()])  # each process's machine

    @property
    def replicas(self):
        return len(self.names)


# --- several processes (JAX) ------------------------------------------------------------------------------

@dataclasses.dataclass
class Cluster:
    """The processes that train one model together, as this process learns of them before it joins."""
    processes: int
    index: int
    coordinator: object  # "host:port" of process 0, or None where JAX finds it (SLURM, Open MPI)
    launcher: str  # how they were given: "flags", "SLURM", "Open MPI"


def _env_int(name, environ):
    text = environ.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise DeviceError(f"{name}={text}: not a whole number") from None


def cluster(coordinator=None, num_processes=None, process_id=None, environ=os.environ):
    """The cluster this process belongs to, or None when it trains alone.

    From the flags, else from Keras's variables (``KERAS_DISTRIBUTION_JOB_ADDRESSES``, ``_NUM_PROCESSES``,
    ``_PROCESS_ID``), else from a launcher JAX recognises: ``srun`` with several tasks
    (``SLURM_STEP_NUM_TASKS``), ``mpirun`` with several ranks (``OMPI_COMM_WORLD_SIZE``)."""
    addresses = coordinator or environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    count = num_processes if num_processes is not None else _env_int("KERAS_DISTRIBUTION_NUM_PROCESSES", environ)
    index = process_id if process_id is not None else _env_int("KERAS_DISTRIBUTION_PROCESS_ID", environ)
    if addresses is None and count is None and index is None:
        for launcher, size, rank in (("SLURM", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID"),
                                     ("Open MPI", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK")):
            n = _env_int(size, environ)
            if n is not None and n > 1:
                return Cluster(n, _env_int(rank, environ) or 0, None, launcher)
        return None
    if count is None or count < 1:
        raise DeviceError("--coordinator/--process-id without --num-processes: give all three (or none under "
                          "srun and mpirun)" if count is None else f"--num-processes {count}: must be 1 or more")
    if count == 1 and index in (None, 0):
        return None
    if index is None or not 0 <= index < count:
        raise DeviceError(f"--process-id {index}: give each of the {count} processes its index, 0 to {count - 1}"
                          if index is not None else f"--num-processes {count}: each process needs its --process-id "
                          f"(0 to {count - 1})")
    if not addresses:
        raise DeviceError(f"--num-processes {count}: every process needs --coordinator HOST:PORT, the address "
                          "process 0 listens on")
    first = addresses.split(",")[0]  # Keras's variable may list every process's address; JAX needs process 0's
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        raise DeviceError(f"--coordinator {first}: expected HOST:PORT, such as 10.0.0.1:12345")
    return Cluster(count, index, first, "flags")


def _join(cluster):
    """Joins this JAX process to the others (Keras's ``keras.distribution.initialize``, which calls
    ``jax.distributed.initialize``); returns every process's host name, in process order."""
    import jax
    from jax.experimental import multihost_utils

    # Collectives between processes' CPU devices (the simulation on one machine, and Keras's own start-up
    # collectives) need an implementation; GPUs use NCCL whatever this says.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    print(f"process {cluster.index} of {cluster.processes}: joining the others through "
          f"{cluster.coordinator or cluster.launcher} (JAX waits up to 5 minutes for all of them)", flush=True)
    try:
        keras.distribution.initialize(cluster.coordinator, cluster.processes if cluster.launcher == "flags" else None,
                                      cluster.index if cluster.launcher == "flags" else None)
    except (RuntimeError, ValueError) as e:
        raise DeviceError(f"could not join the {cluster.processes} processes through "
                          f"{cluster.coordinator or cluster.launcher}: {' '.join(str(e).split())[:200]}") from None
    name = np.frombuffer(socket.gethostname().encode()[:64].ljust(64), np.uint8)
    names = multihost_utils.process_allgather(name)
    return [bytes(row).decode().strip() for row in np.asarray(names)]


def gather(flag):
    """Every process's ``flag`` (a bool), in process order; all processes must call it."""
    from jax.experimental import multihost_utils

    return [bool(v) for v in np.asarray(multihost_utils.process_allgather(np.array([int(flag)], np.int32))).ravel()]


def barrier(name):
    """Waits until every process has reached this point (a no-op for one process)."""
    if keras.backend.backend() == "jax":
        import jax
        from jax.experimental import multihost_utils

        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(name)


@contextlib.contextmanager
def writing():
    """Around process 0's saving of what every process holds (weights, the model). Keras creates a throwaway
    variable while it saves (an optimizer, to know which attributes to skip), and under a distribution over
    several processes creating a variable is a collective that the other processes would never join: the
    save runs without the distribution. The weights themselves are replicated, so process 0 reads them whole."""
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is None:
        yield
        return
    import jax

    if jax.process_count() == 1:
        yield
        return
    distribution = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(distribution)


class ProcessBatches(keras.utils.PyDataset):
    """This process's part of every global batch of ``batch_size`` images: what ``DataParallel`` takes from
    each process when several train together (``auto_shard_dataset=False``). Process i of P gives rows
    i/P to (i+1)/P of each global batch, so the devices hold the rows one process would have put on them.

    With ``shuffle``, an epoch's order is one ``np.random.permutation``, from NumPy's generator, which
    ``keras.utils.set_random_seed`` seeds alike in every process: every process cuts the same global
    batches, and they are those of Keras's own shuffling of NumPy arrays on JAX, the same draw."""

    def __init__(self, x, y, batch_size, cluster_size, index, shuffle):
        super().__init__()
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.cluster_size, self.index = cluster_size, index
        self.order = np.arange(len(x))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def on_epoch_begin(self):
        if self.shuffle:
            self.order = np.random.permutation(len(self.x))

    def __getitem__(self, i):
        start = i * self.batch_size
        part = (min(start + self.batch_size, len(self.x)) - start) // self.cluster_size
        rows = self.order[start + self.index * part:start + (self.index + 1) * part]
        return self.x[rows], self.y[rows]


def check_split(images, batch_size, replicas, what):
    """Every batch of ``images``, the last one too, splits evenly over the devices of several processes."""
    last = len(images) % batch_size
    if last % replicas:
        raise DeviceError(f"the {what}'s last batch of {last} images does not split over {replicas} devices; "
                          f"choose a --batch-size whose remainder of {len(images)} does (or --subset)")


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


def _jax(gpus, cpu_replicas, cluster):
    import jax

    hosts = _join(cluster) if cluster else [socket.gethostname()]
    accelerators = [d for d in jax.local_devices() if d.platform != "cpu"]
    if accelerators and gpus != 0 and not cpu_replicas:
        n = _count(gpus, len(accelerators), "GPU(s)")
        chosen = accelerators[:n]
    else:
        _no_gpu(None if accelerators else gpus)
        cpus = jax.local_devices(backend="cpu")
        n = cpu_replicas or 1
        if n > len(cpus):
            raise DeviceError(
                f"--cpu-replicas {n}: JAX sees {len(cpus)} CPU device(s); for {n} start with "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={n}"
            )
        chosen = cpus[:n]
        if accelerators:
            jax.config.update("jax_default_device", chosen[0])
    if cluster:
        # The same devices on every process: its first n of the kind, the others' too, in JAX's global order.
        local = {}
        for d in jax.devices(chosen[0].platform):
            local.setdefault(d.process_index, []).append(d)
        chosen = [d for d in jax.devices(chosen[0].platform) if d in local[d.process_index][:n]]
    names = [f"{d.platform}:{d.id}" for d in chosen]
    if len(chosen) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=chosen, auto_shard_dataset=False if cluster else True))
    return Devices("jax", names, contextlib.nullcontext(), processes=cluster.processes if cluster else 1,
                   process_index=jax.process_index(), hosts=hosts)


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


def setup(gpus=None, cpu_replicas=None, cluster=None):
    """Chooses the devices for ``--gpus`` (None: all visible GPUs, else the CPU) or ``--cpu-replicas N`` (data
    parallelism over N replicas on the CPU, to try or test it without a GPU) on the current backend; with a
    ``cluster`` (JAX; ``check_cluster_backend`` refuses the other backends before a run makes its folder),
    this process joins the others first and the devices are those of every process."""
    if gpus is not None and gpus < 0:
        raise DeviceError(f"--gpus {gpus}: must be 0 or more")
    if gpus and cpu_replicas:
        raise DeviceError(f"--gpus {gpus} --cpu-replicas {cpu_replicas}: choose one")
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax", "torch"):
        raise DeviceError(f"unsupported Keras backend '{backend}' (use tensorflow, jax or torch)")
    if backend == "jax":
        return _jax(gpus, cpu_replicas, cluster)
    return (_tensorflow if backend == "tensorflow" else _torch)(gpus, cpu_replicas)


def check_cluster_backend(cluster):
    """Several processes train one model on JAX only: one line elsewhere."""
    backend = keras.backend.backend()
    if cluster is None or backend == "jax":
        return
    why = ("TensorFlow's MultiWorkerMirroredStrategy does not work with Keras 3's model.fit, "
           "keras-team/keras#20585" if backend == "tensorflow" else "Keras 3 has no multi-process training on PyTorch")
    raise DeviceError(f"{cluster.processes} processes ({cluster.launcher}) train one model on the JAX backend only "
                      f"({why}): start every process with KERAS_BACKEND=jax")


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
            cpu = cpu_name(f.read()) or cpu
    except OSError:
        pass
    gpus = gpu_names()
    gpu = f"{len(gpus)} x {gpus[0]}" if len(set(gpus)) == 1 and len(gpus) > 1 else ", ".join(gpus)
    return (gpu + "; " if gpu else "") + f"{cpu}, {os.cpu_count()} cores"


def cpu_name(cpuinfo):
    """The CPU's model name from /proc/cpuinfo's text, with its family and model numbers, its widest vector
    instructions and its bfloat16 ones: "AMD EPYC, family 25 model 17 (AVX-512, BF16)"; None if the text
    names no model.

    The numbers and the instructions decide a CPU's training speed more than its name does (a virtual
    machine's "AMD EPYC" is several generations, whose epochs differ by a factor of two). BF16 (AVX-512 BF16)
    converts and multiplies bfloat16 in vector registers; AMX multiplies bfloat16 tiles, the matrix units that
    make --mixed-precision pay on a CPU."""
    lines = cpuinfo.splitlines()

    def field(key):
        return next((line.split(":", 1)[1].strip() for line in lines if line.split(":", 1)[0].strip() == key), None)

    name = field("model name")
    if name is None:
        return None
    family, model = field("cpu family"), field("model")
    if family and model:
        name += f", family {family} model {model}"
    flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    widest = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))
                   if flag in flags), None)
    labels = [widest, "BF16" if flags & {"avx512_bf16", "amx_bf16"} else None, "AMX" if "amx_bf16" in flags else None]
    return name + (f" ({', '.join(label for label in labels if label)})" if widest else "")


def backend_version(backend):
    """The version of the backend's own package (tensorflow, jax or torch)."""
    return importlib.import_module(backend).__version__  # the backends' names are their module names
