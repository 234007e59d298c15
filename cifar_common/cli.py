"""The command line every script shares; each script supplies its own defaults (its paper's hyperparameters)."""

import argparse
import math
import os
import re
import sys

from . import data, devices, schedules


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line instead of argparse's usage block: ``script: error: message (see --help)``."""
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


INT_MAX = 2**31 - 1  # the largest count the backends' 32-bit integers hold (a batch of 1e20 crashed in fit)


def positive_int(text):
    value = int(text)
    if not 1 <= value <= INT_MAX:
        raise argparse.ArgumentTypeError(f"must be from 1 to {INT_MAX}, not {value}")
    return value


def non_negative_int(text):
    value = int(text)
    if not 0 <= value <= INT_MAX:
        raise argparse.ArgumentTypeError(f"must be from 0 to {INT_MAX}, not {value}")
    return value


def path(text):
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def absolute_path(text):
    """A path made absolute (and ``~`` expanded) as it is parsed: it is recorded in summary.json, and a run
    resumed or evaluated from another folder must find the same files."""
    return os.path.abspath(os.path.expanduser(path(text)))


def finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def positive_float(text):
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def non_negative_float(text):
    value = finite_float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


SEED_MAX = 2**32 - 1  # what NumPy's and the backends' generators take


def probability(text):
    value = finite_float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {text}")
    return value


def share_below_one(text):
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to less than 1, not {text}")
    return value


def lr_steps(text):
    """``80:0.1,120:0.01``: a step decay as (epoch, multiple of the base rate) pairs, epochs increasing. The
    text is kept as it is (summary.json records it, and a resumed run parses it again)."""
    try:
        pairs = [(int(epoch), float(factor)) for epoch, factor in (pair.split(":") for pair in text.split(","))]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be EPOCH:FACTOR pairs separated by commas (80:0.1,120:0.01), "
                                         f"not {text}") from None
    epochs = [epoch for epoch, _ in pairs]
    if any(epoch < 1 for epoch in epochs) or epochs != sorted(set(epochs)):
        raise argparse.ArgumentTypeError(f"its epochs must be 1 or more and increasing, not {text}")
    if not all(math.isfinite(factor) and factor > 0 for _, factor in pairs):
        raise argparse.ArgumentTypeError(f"its factors must be above 0, not {text}")
    return text


def seed(text):
    value = int(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be from 0 to {SEED_MAX}, not {value}")
    return value


# Types get a readable name in argparse's "invalid ... value" messages.
for _fn, _name in [(positive_int, "positive integer"), (non_negative_int, "non-negative integer"),
                   (finite_float, "finite number"), (positive_float, "positive number"),
                   (non_negative_float, "non-negative number"), (probability, "probability"),
                   (share_below_one, "share below 1"), (seed, "seed"), (path, "path"), (lr_steps, "step decay")]:
    _fn.__name__ = _name

# "-1e-4" or "-.5": a negative number, which argparse would take for a flag when it follows one.
_NEGATIVE_NUMBER = re.compile(r"^-((\d+\.?\d*|\.\d+)(e[-+]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)


def attach_negative_values(argv):
    """``--weight-decay -1e-4`` as ``--weight-decay=-1e-4``: a negative number after a flag is its value, so
    that the flag's own range check answers (argparse would say "expected one argument")."""
    joined = []
    for word in argv:
        if joined and joined[-1].startswith("--") and "=" not in joined[-1] and _NEGATIVE_NUMBER.match(word):
            joined[-1] = f"{joined[-1]}={word}"
        else:
            joined.append(word)
    return joined


def split_at_double_dash(argv):
    """A tool's own arguments, and those after ``--``, which it passes on to the scripts it runs."""
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    return argv[:at], argv[at + 1:]


def tool_parser(script, description):
    """The parser of a helper script that trains nothing (plots, comparisons): the same one-line errors."""
    return _Parser(prog=os.path.basename(script), description=description,
                   formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)


def parser(script, description, *, epochs, batch_size, lr, weight_decay, lr_schedule, model_flags=None,
           runs=False, lr_help=None, weight_decay_help=None, label_smoothing=0.0):
    """The argument parser of ``script`` with its defaults shown in ``--help``.

    ``model_flags`` are the script's own model flags, ``{"depth": (110, "help text")}`` for ``--depth``; their
    type is that of the default (a positive integer, a finite number), or a third item gives it: a type
    function (``probability``) or a tuple of choices (``("basic", "bottleneck")``). ``runs`` adds ``--runs N``
    (several seeded runs in one command).

    A script whose optimizer holds its own per-step schedule passes ``lr_schedule=None``: it has no
    ``--lr-schedule`` (nor HTD's bounds). An ``epochs`` that is a float (9.9) makes ``--epochs`` take a
    fraction: the last epoch ends early. ``lr_help`` and ``weight_decay_help`` describe ``--lr`` and
    ``--weight-decay`` where the script's optimizer is not the usual SGD with momentum 0.9 and an L2 penalty.
    ``label_smoothing`` is the default of ``--label-smoothing`` (the script's loss).
    """
    p = _Parser(
        prog=os.path.basename(script),
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    training = p.add_argument_group("training (defaults: this script's reference hyperparameters)")
    if isinstance(epochs, float):
        training.add_argument("--epochs", type=positive_float, default=epochs, metavar="E",
                              help="epochs to train; a fraction trains that share of the last epoch's steps "
                                   f"(default: {epochs:g})")
    else:
        training.add_argument("--epochs", type=positive_int, default=epochs, metavar="N",
                              help=f"epochs to train (default: {epochs})")
    training.add_argument("--batch-size", type=positive_int, default=batch_size, metavar="N",
                          help=f"global batch size, split across the devices (default: {batch_size})")
    training.add_argument("--lr", type=positive_float, default=lr, metavar="RATE",
                          help=f"{lr_help or 'base learning rate of SGD with Nesterov momentum 0.9'} "
                               f"(default: {lr})")
    training.add_argument("--weight-decay", type=non_negative_float, default=weight_decay, metavar="L2",
                          help=f"{weight_decay_help or 'L2 penalty on the weights, 0 for none'} "
                               f"(default: {weight_decay})")
    if lr_schedule is not None:
        training.add_argument("--lr-schedule", choices=sorted(schedules.SCHEDULES), default=lr_schedule,
                              help="step: the script's step decay, scaled to --epochs; cosine: cosine annealing "
                                   "to 0; htd: hyperbolic-tangent decay from --htd-lower to --htd-upper "
                                   f"(default: {lr_schedule})")
        training.add_argument("--lr-steps", type=lr_steps, metavar="E:F,...",
                              help="the step decay written out, in epochs of this run: the base rate times F from "
                                   "epoch index E on (counted from 0, as PyTorch's MultiStepLR counts its "
                                   "milestones), e.g. 80:0.1,120:0.01 (default: the script's own, scaled to "
                                   "--epochs)")
        training.add_argument("--htd-lower", type=finite_float, default=schedules.HTD_LOWER, metavar="L",
                              help=f"HTD's tanh argument at the first epoch; lower keeps the base rate longer "
                                   f"(default: {schedules.HTD_LOWER:g})")
        training.add_argument("--htd-upper", type=finite_float, default=schedules.HTD_UPPER, metavar="U",
                              help="HTD's tanh argument at the end; higher ends nearer 0 "
                                   f"(default: {schedules.HTD_UPPER:g})")
    training.add_argument("--seed", type=seed, default=0, metavar="N",
                          help="seed of weights, augmentation and data splits; same seed, same run (default: 0)")
    if runs:
        training.add_argument("--runs", type=positive_int, default=1, metavar="N",
                              help="train N runs one after another, with seeds --seed, --seed+1, ...; run i starts "
                                   "from the same weights whatever the schedule (default: 1)")

    regularisers = p.add_argument_group(
        "regularisers (off by default but label smoothing where the script's recipe has it; "
        "doc/regularisation.md)")
    regularisers.add_argument("--cutout", type=non_negative_int, default=0, metavar="SIDE",
                              help="Cutout: zero one SIDE x SIDE square of every training image after the "
                                   "augmentation, its centre anywhere in the image (the paper: 16 for CIFAR-10, "
                                   "8 for CIFAR-100); 0 for none (default: 0)")
    regularisers.add_argument("--random-erasing", type=probability, default=0.0, metavar="P",
                              help="Random Erasing: fill a rectangle of 2-40 %% of the image, aspect ratio 0.3 to "
                                   "3.3, with random pixels, in each training image with probability P (the "
                                   "paper: 0.5); 0 for none (default: 0)")
    regularisers.add_argument("--mixup", type=positive_float, metavar="ALPHA",
                              help="Mixup: blend each training batch's images and labels in pairs, by a share "
                                   "drawn from Beta(ALPHA, ALPHA) (the paper: 1 for CIFAR) (default: none)")
    regularisers.add_argument("--cutmix", type=positive_float, metavar="ALPHA",
                              help="CutMix: paste a box of another image of the batch into each training image, "
                                   "its area's share from Beta(ALPHA, ALPHA), and mix the labels by the areas "
                                   "(the paper: 1) (default: none)")
    regularisers.add_argument("--label-smoothing", type=share_below_one, default=label_smoothing, metavar="E",
                              help="train towards 1 - E + E/K for the true class and E/K for each other of K "
                                   f"classes (default: {label_smoothing:g})")
    regularisers.add_argument("--ema", type=share_below_one, default=0.0, metavar="M",
                              help="evaluate and save an exponential moving average of the weights, updated "
                                   "after every step as M * average + (1 - M) * weights (e.g. 0.999); 0 for "
                                   "none (default: 0)")

    data_flags = p.add_argument_group("data")
    data_flags.add_argument("--dataset", choices=data.DATASETS, default="cifar10",
                            help="the classifier head follows; mnist and fashion_mnist are 28 x 28 grey images, "
                                 "zero-padded to 32 x 32 with one channel, and mnist is never mirrored in "
                                 "augmentation (default: cifar10)")
    data_flags.add_argument("--data-dir", type=absolute_path, metavar="PATH",
                            help="local copy: the official cifar-10-batches-py folder or cifar-10-python.tar.gz "
                                 "(cifar-100-python for cifar100), or a folder holding one; for mnist and "
                                 "fashion_mnist a folder with the four IDX files (train-images-idx3-ubyte.gz "
                                 "...) or mnist.npz; default: download through keras.datasets")
    data_flags.add_argument("--subset", type=positive_int, metavar="N",
                            help="train on only N training images (quick runs)")
    data_flags.add_argument("--test-subset", type=positive_int, metavar="N",
                            help="evaluate on only N test images, a random sample that is the same for every "
                                 "run (quick runs: the test set is evaluated every epoch); its accuracy is not "
                                 "the test set's, and results/ refuses such runs")
    data_flags.add_argument("--val-split", type=non_negative_int, default=0, metavar="N",
                            help="hold out N training images for validation (e.g. 5000); the test set is then "
                                 "evaluated once, at the end (default: 0, validate on the test set)")

    hardware = p.add_argument_group("hardware")
    hardware.add_argument("--gpus", type=non_negative_int, metavar="N",
                          help="number of GPUs (default: all visible); 0 trains on the CPU")
    hardware.add_argument("--cpu-replicas", type=positive_int, metavar="N",
                          help="data parallelism over N replicas on the CPU, to try or test multi-device "
                               "training without a GPU (JAX: start with "
                               "XLA_FLAGS=--xla_force_host_platform_device_count=N)")
    hardware.add_argument("--jit", choices=devices.JIT_CHOICES, default="auto",
                          help="compile the training step with XLA: auto as Keras decides (on GPUs and on JAX; "
                               "not on a CPU-only TensorFlow machine, where TensorFlow's own kernels are faster; "
                               "PyTorch runs eagerly), on (PyTorch: torch.compile), off (default: auto)")
    hardware.add_argument("--mixed-precision", action="store_true",
                          help="compute in bfloat16 (float16 on GPUs older than Ampere), keep weights in "
                               "float32")

    cluster = p.add_argument_group(
        "several processes, one model (JAX backend; doc/devices-and-backends.md)",
        "  Every process runs the same command on its machine's devices, with the same --output-dir, which\n"
        "  process 0 alone writes; --batch-size stays the global batch. Under srun or mpirun none of these\n"
        "  is needed; Keras's KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and _PROCESS_ID may replace them.")
    cluster.add_argument("--coordinator", metavar="HOST:PORT",
                         help="the address process 0 listens on, the same for every process")
    cluster.add_argument("--num-processes", type=positive_int, metavar="N", help="how many processes train")
    cluster.add_argument("--process-id", type=non_negative_int, metavar="I",
                         help="this process's index, 0 to N-1; process 0 writes the run folder")

    if model_flags:
        model = p.add_argument_group("model (this script's own flags)")
        for name, (default, text, *kind) in model_flags.items():
            flag = "--" + name.replace("_", "-")
            if kind and isinstance(kind[0], (tuple, list)):  # its choices
                model.add_argument(flag, choices=kind[0], type=type(default), default=default,
                                   help=f"{text} (default: {default})")
                continue
            value_type = kind[0] if kind else positive_int if isinstance(default, int) else \
                finite_float if isinstance(default, float) else type(default)
            model.add_argument(flag, type=value_type, default=default,
                               metavar="N" if isinstance(default, int) else "X", help=f"{text} (default: {default})")

    outputs = p.add_argument_group("outputs")
    if runs:
        outputs.add_argument("--output-dir", type=path, metavar="DIR",
                             help="the study folder (default: runs/<script>-<date>-<time>); each run writes "
                                  "DIR/seed-<seed>/, which must not exist yet (other seeds' folders may)")
    else:
        outputs.add_argument("--output-dir", type=path, metavar="DIR",
                             help="a new folder for this run's outputs (default: runs/<script>-<date>-<time>); "
                                  "an existing, non-empty folder is refused")
    outputs.add_argument("--tensorboard", action="store_true",
                         help="also write TensorBoard logs into the run folder's tensorboard/: every epoch's "
                              "loss, accuracy and learning rate, and the model's layer graph (Keras 3 writes "
                              "no op graph of the training step); view with: tensorboard --logdir RUN_FOLDER "
                              "(needs TensorFlow and TensorBoard installed, on any backend; requirements.txt "
                              "has both)")
    outputs.add_argument("--resume", type=path, metavar="DIR",
                         help="continue the interrupted run in DIR from its last finished epoch, with its "
                              "arguments (a run stopped after its last epoch is completed without training)")
    outputs.add_argument("--summary", action="store_true",
                         help="print the model (Keras's model.summary(): each layer's output shape and "
                              "parameters) and its multiply-accumulates per image, and exit: no data is read "
                              "(the model is built on random images of the data set's shape) and nothing is "
                              "written")
    return p


# Flags that describe the machine (and what is logged) rather than the experiment: a resumed run may change them.
MACHINE_FLAGS = ("data_dir", "gpus", "cpu_replicas", "jit", "tensorboard", "coordinator", "num_processes",
                 "process_id")


def check_saved_arguments(p, saved):
    """What is wrong with the arguments a run's summary.json recorded, as the parser's flags take them (a
    number that is text, a value out of range, an unknown choice), or None. Each is checked as the flag's
    own type checks a value typed on the command line."""
    for action in p._actions:
        if not action.option_strings or action.dest not in saved or action.dest in ("help", "resume"):
            continue
        value, flag = saved[action.dest], action.option_strings[0]
        if value is None and action.default is None:
            continue
        try:
            if isinstance(action, argparse._StoreTrueAction):
                ok = isinstance(value, bool)
            elif action.type is not None:
                ok = not isinstance(value, bool) and isinstance(value, (int, float, str)) and \
                    action.type(str(value)) == value
            else:
                ok = isinstance(value, str)
            ok = ok and (action.choices is None or value in action.choices)
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            ok = False
        if not ok:
            return f"its argument {action.dest} is {value!r}, which {flag} does not take"
    return None


def explicit_flags(p, argv):
    """The destinations of the flags actually written on the command line (not left at their defaults)."""
    given = set()
    for action in p._actions:
        for option in action.option_strings:
            if any(arg == option or arg.startswith(option + "=") for arg in argv):
                given.add(action.dest)
    return given
