"""The run around a script's Keras workflow: its command line, its data and devices, its folder.

Every script shows its own model, compile, learning-rate callback and fit; this module does the rest::

    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY)
    with train.Run(args) as run:  # data, devices, precision, seed; bad input ends in one line
        model = build_model(run.data, args.weight_decay)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                     **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])

* ``parse_args``: the shared command line with the script's defaults; with ``--resume DIR``, the arguments
  that run was started with.
* ``Run``: entering it loads the data (``run.data``), sets up the devices (and enters their scope, so the
  model is built there), the precision policy and the seed, and chooses ``run.jit_compile``. Leaving it
  turns bad input (data, flags, output folder) into one line and exit status 2, and Ctrl-C into a run folder
  that ``--resume`` continues (exit status 130).
* ``run.fit``: opens the run folder (see ``run_folder``) and trains with ``model.fit``, with the script's
  callbacks and the run's own (history, backups for ``--resume``, the best-on-validation model); then tests,
  saves the model, draws the curves, records in summary.json that the run has finished, and only then
  removes the backup; it prints the test accuracy as its last line. A resumed run whose every epoch was
  trained (it was stopped in that last part) does only that last part.
  With several processes (``--num-processes``, JAX) every process trains and process 0 alone writes. With
  ``--ema``, every evaluation uses the average of the weights (Keras's ``SwapEMAWeights``).
* ``seeded_runs``: the ``--runs N`` of a study, one run per seed in ``DIR/seed-<seed>/``.
"""

import argparse
import contextlib
import gc
import importlib.util
import math
import os
import platform
import shlex
import signal
import subprocess
import statistics
import sys
import time

import keras
import numpy as np

from . import cli, data, devices, initializers, macs, run_folder, tta as test_time

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_WRITE_FAILED = 4  # a file of the run could not be written (a full disk): resumable once it can be
EXIT_INTERRUPTED = 130

# An epoch whose mean training loss is above this has diverged, even where it is still a finite number: the
# loss of a guess is ln(classes), 2.3 to 4.6 here, and a loss of a million means the right class was given a
# probability of e^-1000000; from there the weights only grow, to infinity and NaN.
DIVERGED_LOSS = 1e6

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class OptionError(Exception):
    """A model flag with a value the script cannot build (say, a ResNet depth that is not 6n+2)."""


class ScriptError(Exception):
    """A script whose training cannot work as written (say, two things setting the learning rate)."""


class Diverged(Exception):
    """An epoch's loss was not a number, infinite, or beyond any meaningful value: the weights are lost."""

    def __init__(self, epoch, losses):
        self.epoch, self.losses = epoch, losses  # losses: "training loss 3.2e+20, test loss nan"
        super().__init__(f"epoch {epoch}: {losses}")


class _StopOnDivergence(keras.callbacks.Callback):
    """Raises ``Diverged`` at the end of the first epoch whose training loss is not finite or above
    ``DIVERGED_LOSS``, or whose held-out (test or validation) loss is not finite, before the history and the
    backup see that epoch: the folder keeps the epoch before, as an interrupted run's does. (Keras's
    ``TerminateOnNaN`` looks at the training loss only, and only asks fit to stop, after the epoch's
    callbacks have backed up NaN weights: the run would end as finished.)"""

    def __init__(self, held_out_name):
        super().__init__()
        self.held_out_name = held_out_name  # "test" or "validation"

    def on_epoch_end(self, epoch, logs=None):
        loss, held_out = float(logs["loss"]), float(logs.get("val_loss", 0.0))
        if not (math.isfinite(loss) and loss <= DIVERGED_LOSS and math.isfinite(held_out)):
            raise Diverged(epoch + 1, f"training loss {loss:.4g}" + (
                f", {self.held_out_name} loss {held_out:.4g}" if "val_loss" in logs else ""))


class _WarnOnDeadNetwork(keras.callbacks.Callback):
    """Warns when an epoch ends with the network answering one class for every image (accuracy at chance,
    typically ReLUs that a too-large step silenced): it rarely recovers, and its accuracy is no result.

    Looked at only when the training accuracy is near chance; then on ``images`` held-out images."""

    def __init__(self, images, num_classes):
        super().__init__()
        self.images, self.num_classes = images, num_classes
        self.warnings = []

    def on_epoch_end(self, epoch, logs=None):
        if "accuracy" not in logs or float(logs["accuracy"]) > 1.5 / self.num_classes:
            return
        answers = set(self.model.predict(self.images, verbose=0).argmax(axis=-1).tolist())
        if len(answers) == 1:
            warning = (f"epoch {epoch + 1}: the network answers class {answers.pop()} for every image (a dead "
                       f"network, accuracy at chance); a lower --lr or another --seed usually avoids it")
            print(f"\nwarning: {warning}", file=sys.stderr)
            self.warnings.append(warning)


class _StopAtStep(keras.callbacks.Callback):
    """Ends training after the run's ``total_steps``-th step, within its last epoch (a fractional --epochs);
    Keras then ends that epoch as usual (its test evaluation, the history's row, the backup). The steps are
    counted from the optimizer's at the start, so a resumed run stops at the same step."""

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = total_steps

    def on_train_begin(self, logs=None):
        self.step = int(self.model.optimizer.iterations)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step >= self.total_steps:
            self.model.stop_training = True


class _KeepInterrupts(keras.callbacks.Callback):
    """Ctrl-C (or reproduce.py's --stop-after) always stops training. Keras converts every batch's logs to
    numbers inside a bare ``except: pass`` (``pythonify_logs`` in keras/src/utils/python_utils.py, Keras 3.15),
    and that is where the backends wait for the step to finish: a KeyboardInterrupt raised there was dropped
    and training went on (on JAX, 1 interrupt in 8 on a small run). While ``active``, the interrupt handler
    notes each Ctrl-C before raising it, and this callback raises it again at the next batch or epoch
    boundary unless it has already ended the fit; ``run.fit`` calls ``raise_pending`` between the steps that
    follow the fit (Keras's saving code has bare excepts too)."""

    def __init__(self):
        super().__init__()
        self.pending = False

    @contextlib.contextmanager
    def active(self):
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # ignored (nohup), or a caller's
            yield
            return
        signal.signal(signal.SIGINT, self._interrupted)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _interrupted(self, signum, frame):
        self.pending = True
        # Inside a garbage-collector callback (JAX registers one, and TensorFlow's Keras imports JAX where it is
        # installed) Python would print the interrupt as "Exception ignored" with a traceback and drop it: leave
        # it pending for the next boundary instead.
        if frame is not None and frame.f_code in {getattr(c, "__code__", None) for c in gc.callbacks}:
            return
        raise KeyboardInterrupt

    def raise_pending(self, *args, **kwargs):
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_test_end = on_epoch_end = raise_pending


class _LogsInTheLoop(keras.callbacks.Callback):
    """A batch hook that does nothing: with one, Keras reads each batch's logs in its own loop rather than
    on helper threads (``CallbackList._configure_async_dispatch``, Keras 3.15). Several processes evaluate
    with it: those threads' reads hung two CPU processes once, in the collectives of the steps they waited
    for."""

    def on_test_batch_end(self, batch, logs=None):
        pass


# Bad input: each ends the run with its one-line message.
USER_ERRORS = (data.DataError, devices.DeviceError, run_folder.OutputError, OptionError, ScriptError,
               initializers.WhiteningError)


def resume_command(folder):
    """The command that continues the run in ``folder``, quoted for the shell."""
    return shlex.join(["python", sys.argv[0], "--resume", folder])


def import_script(path):
    """Imports another script of the collection, such as ``"resnext/ResNeXt_keras.py"``, to reuse its model
    code (SENet builds on ResNeXt, the htd study on ResNet); its training does not run."""
    full = os.path.join(REPO_ROOT, path)
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prog():
    return os.path.basename(sys.argv[0])


def _script_name():
    return os.path.splitext(_prog())[0]


def _fail(message):
    """Ends the process with one line on stderr, as argparse does for a bad flag."""
    print(f"{_prog()}: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def _code():
    """The code a run runs: the git commit of the checkout its script is in, and whether the checkout had
    uncommitted changes (tracked or new files, as ``git status`` lists them); None outside a git checkout or
    where git is missing."""
    folder = os.path.dirname(os.path.abspath(sys.argv[0]))
    try:
        head = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=30)
        status = subprocess.run(["git", "-C", folder, "status", "--porcelain"], capture_output=True, text=True,
                                timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode or status.returncode:
        return None
    return {"commit": head.stdout.strip(), "uncommitted_changes": bool(status.stdout.strip())}


def _command():
    """The command as typed (a wrapper such as benchmarks/initialiser.py included), with "python" for the
    interpreter's path."""
    return shlex.join(["python", *sys.orig_argv[1:]])


# --- the command line -------------------------------------------------------------------------------------

def parse_args(doc, *, epochs, batch_size, lr, weight_decay, lr_schedule="step", model_flags=None, runs=False,
               lr_help=None, weight_decay_help=None, label_smoothing=0.0):
    """The script's command line, with its defaults (shown by ``--help``).

    ``doc`` is the script's docstring (the help's description); ``model_flags`` its own flags,
    ``{"depth": (110, "help text")}`` for ``--depth N``; ``runs=True`` adds ``--runs N`` (see
    ``seeded_runs``); ``lr_schedule=None``, a float ``epochs``, ``lr_help``, ``weight_decay_help`` and
    ``label_smoothing``: see ``cli.parser``. With ``--resume DIR`` it returns the arguments that run was
    started with, and the machine flags (``--data-dir``, ``--gpus``, ``--jit``) of this command line.
    """
    parser = cli.parser(sys.argv[0], doc, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                        lr_schedule=lr_schedule, model_flags=model_flags or {}, runs=runs, lr_help=lr_help,
                        weight_decay_help=weight_decay_help, label_smoothing=label_smoothing)
    argv = cli.attach_negative_values(sys.argv[1:])
    args = parser.parse_args(argv)
    if getattr(args, "lr_steps", None) and args.lr_schedule != "step":
        parser.error(f"--lr-steps is a step decay; it does not go with --lr-schedule {args.lr_schedule}")
    if args.resume:
        try:
            args = _arguments_of_resumed_run(args, parser, argv)
        except run_folder.OutputError as e:
            _fail(e)
    return args


def _arguments_of_resumed_run(args, parser, argv):
    """The arguments of the run in ``args.resume``, with the machine flags of this command line.

    Refused before anything is written: a folder that is not an unfinished run, a run of another script, and
    flags that differ from the run's own (repeating the run's own values is fine: "my command, plus
    --resume").
    """
    if os.path.exists(args.resume) and not os.path.isdir(args.resume):
        raise run_folder.OutputError(f"{args.resume}: not a folder; --resume takes the run's folder")
    summary = run_folder.read_summary(args.resume)
    if not isinstance(summary.get("arguments"), dict):
        raise run_folder.OutputError(f"{args.resume}: summary.json holds no arguments to resume with")
    if summary.get("script") != _script_name():
        raise run_folder.OutputError(f"{args.resume}: a run of {summary.get('script')}.py, not of {_prog()} "
                                     f"(it was started with: {summary.get('command', '?')}); resume it with its "
                                     "own script")
    saved = {**vars(parser.parse_args([])), **summary["arguments"]}  # flags added since keep their defaults
    problem = cli.check_saved_arguments(parser, saved)
    if problem:
        raise run_folder.OutputError(f"{os.path.join(args.resume, run_folder.SUMMARY)}: {problem}; the summary is "
                                     "damaged, and the run is not resumed")
    given = cli.explicit_flags(parser, argv)
    differing = [f"--{flag.replace('_', '-')} {getattr(args, flag)} (the run's: {saved[flag]})"
                 for flag in sorted(given - {"resume", *cli.MACHINE_FLAGS}) if getattr(args, flag) != saved[flag]]
    if differing:
        raise run_folder.OutputError(f"{', '.join(differing)}: a resumed run keeps its own arguments (only "
                                     "--data-dir, --gpus, --cpu-replicas, --jit, --tensorboard and the process "
                                     "flags may change)")
    if summary.get("finished"):
        raise run_folder.OutputError(f"{args.resume}: that run has finished; nothing to resume")
    for flag in cli.MACHINE_FLAGS:
        if flag in given:
            saved[flag] = getattr(args, flag)
    saved["resume"] = args.resume
    return argparse.Namespace(**saved)


# --- a study: several seeded runs ----------------------------------------------------------------------------

def seeded_runs(args):
    """Yields the arguments of each run of a ``--runs N`` study: seeds --seed, --seed+1, ..., each run in
    ``DIR/seed-<seed>/`` of the study folder ``--output-dir DIR``; prints the median test accuracy at the end.

    With ``--resume`` it yields the resumed run's arguments alone.
    """
    if args.resume:
        yield args
        return
    study = os.path.abspath(args.output_dir) if args.output_dir else run_folder.fresh_run_path(_script_name())
    seeds = [args.seed + i for i in range(args.runs)]
    folders = [os.path.join(study, f"seed-{seed}") for seed in seeds]
    # With several processes, process 0 makes the folders (and may have made the first already) and reports.
    try:
        cluster = devices.cluster(args.coordinator, args.num_processes, args.process_id)
    except devices.DeviceError as e:
        _fail(e)
    writes = cluster is None or cluster.index == 0
    for folder in folders if writes else []:
        if os.path.exists(folder):
            _fail(f"{folder}: exists; a study never overwrites a run (choose other --seed values, or continue "
                  "that run with --resume)")
    for i, (seed, folder) in enumerate(zip(seeds, folders)):
        print(f"run {i + 1} of {len(seeds)}: seed {seed}")
        then = None
        if i + 1 < len(seeds):
            remaining = ["python", sys.argv[0], "--seed", str(seed + 1), "--runs", str(len(seeds) - i - 1),
                         "--output-dir", study]
            then = f"then the remaining runs: {shlex.join(remaining)} (with this command's other flags)"
        # _then: what an interrupted run tells the user besides its own --resume (not an argument of the run).
        yield argparse.Namespace(**{**vars(args), "seed": seed, "runs": 1, "output_dir": folder, "_then": then})
    if not writes:
        return
    accuracies = sorted(100 * run_folder.read_summary(folder)["test_accuracy"] for folder in folders)
    print(f"study folder: {study}")
    print(f"Test accuracy: median {statistics.median(accuracies):.2f} % over {len(accuracies)} "
          f"run{'s' if len(accuracies) != 1 else ''} (min {accuracies[0]:.2f}, max {accuracies[-1]:.2f}; "
          f"{_script_name()}{f', {args.lr_schedule}' if getattr(args, 'lr_schedule', None) else ''})")


# --- one run ----------------------------------------------------------------------------------------------------

class Run:
    """One training run of a script: ``with train.Run(args) as run: ... run.fit(model, callbacks)``.

    Inside the ``with`` block: ``run.data`` (a ``data.Data``: the images, their shape, class count and
    channel statistics), ``run.jit_compile`` (what ``--jit`` asks ``model.compile`` for), ``run.steps_per_epoch``
    and ``run.total_steps`` (the training steps of the whole run, for a per-step schedule), and the devices'
    scope, in which the model is built and compiled.

    ``drop_remainder=True`` trains on whole batches only, every epoch leaving out the images that do not fill
    one (PyTorch's ``drop_last``). A fractional ``--epochs`` (9.9) trains ``ceil(9.9)`` epochs, the last one
    stopped after ``run.total_steps = ceil(9.9 * steps_per_epoch)`` steps in all.
    """

    def __init__(self, args, drop_remainder=False):
        self.args = args
        self.drop_remainder = drop_remainder
        self.epochs = math.ceil(args.epochs)  # the epochs fit runs; the last may stop early (total_steps)
        self.steps_per_epoch = None
        self.total_steps = None
        self.script = _script_name()
        self.previous = None  # the summary of the run that --resume continues
        self.previous_rows = []  # and its history (run_folder.resume_point)
        self.folder = None  # the run folder, taken (created or, for --resume, locked) as the run starts
        self._owner = None  # its lock, held until the run ends
        self._training = False  # whether fit has begun to write into the folder
        self.cluster = None  # the processes training together (devices.Cluster), None for this one alone
        self.writes = True  # this process writes the run folder (process 0 of several)
        self.data = None
        self.hardware = None
        self.dtype_policy = None
        self.jit_compile = None
        self._started = time.perf_counter()
        self._wall_before = 0.0  # a resumed run's seconds before this invocation, to the backup it resumes from
        self.code = _code()  # before the run folder exists: a folder inside the checkout is not a change
        self._scope = contextlib.ExitStack()

    def __enter__(self):
        try:
            self._prepare()
        except BaseException as e:
            self._end(type(e), e)
            raise
        self._scope.enter_context(self.hardware.scope)
        return self

    def __exit__(self, kind, error, traceback):
        self._scope.close()
        self._end(kind, error)
        return False

    def _end(self, kind, error):
        """Gives the folder up (a new one that holds nothing is removed); bad input ends in one line, Ctrl-C in
        a resumable folder."""
        try:
            if kind is not None and issubclass(kind, KeyboardInterrupt):
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C would cut the report short
                self._report_interrupt()
            if kind is not None and issubclass(kind, Diverged) and self.writes:
                with contextlib.suppress(run_folder.WriteError):
                    run_folder.plot_curves(self.folder, f"{self.script} (diverged)")
        finally:
            if self._owner is not None:
                self._owner.release()
        if kind is not None and issubclass(kind, USER_ERRORS):
            _fail(error)
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            sys.exit(EXIT_INTERRUPTED)
        if kind is not None and issubclass(kind, Diverged):
            kept = f"epochs 1 to {error.epoch - 1}" if error.epoch > 1 else "no epoch"
            print(flush=True)  # end the progress bar's line
            print(f"{_prog()}: error: diverged in epoch {error.epoch} ({error.losses}); try a lower "
                  f"--lr than {self.args.lr:g}. The folder keeps {kept}, as an interrupted run: {self.folder}",
                  file=sys.stderr)
            sys.exit(EXIT_DIVERGED)
        if kind is not None and issubclass(kind, run_folder.WriteError):
            print(flush=True)
            if self._training and self.writes:
                epochs = run_folder.restored_epoch(self.folder)
                kept = (f"it keeps epoch{f's 1 to {epochs}' if epochs > 1 else ' 1'}" if epochs
                        else "it holds no finished epoch yet")
                print(f"{_prog()}: error: {error}; the run stops, and {kept}: once the file can be written, "
                      f"continue with: {resume_command(self.folder)}", file=sys.stderr)
            else:
                print(f"{_prog()}: error: {error}", file=sys.stderr)
            sys.exit(EXIT_WRITE_FAILED)

    def _prepare(self):
        """Everything that can fail on bad input, before anything is written: the run folder is taken first
        (created, or locked for --resume), then the data, devices and precision are set up."""
        args = self.args
        # Several processes (JAX): every one trains, process 0 alone writes the run folder, which all name.
        self.cluster = devices.cluster(args.coordinator, args.num_processes, args.process_id)
        devices.check_cluster_backend(self.cluster)
        self.writes = self.cluster is None or self.cluster.index == 0
        if self.cluster and not (args.output_dir or args.resume):
            raise OptionError(f"{self.cluster.processes} processes write one run folder: give every process the "
                              "same --output-dir (or --resume)")
        if args.summary:  # the model alone: no run folder, no data read
            self.writes = False
        elif not self.writes:
            self._owner = None
            self.previous = run_folder.read_summary(args.resume) if args.resume else None
            self.script = self.previous["script"] if args.resume else _script_name()
            self.folder = os.path.abspath(args.resume or args.output_dir)
        elif args.resume:
            self._owner = run_folder.own_existing(args.resume)  # refused while another process trains there
            self.previous = run_folder.read_summary(args.resume)
            if self.previous.get("finished"):  # it may have finished since the command line was read
                raise run_folder.OutputError(f"{args.resume}: that run has finished; nothing to resume")
            self.script = self.previous["script"]
            self.previous_rows = run_folder.resume_point(args.resume, self.epochs)
        else:
            self._owner = run_folder.own_new(args.output_dir, self.script)
        if self.writes:
            self.folder = self._owner.folder
        if getattr(args, "lr_schedule", None) == "htd" and not args.htd_lower < args.htd_upper:
            raise OptionError(f"--htd-lower {args.htd_lower:g} --htd-upper {args.htd_upper:g}: the lower bound "
                              "must be below the upper one")
        side = min(data.image_shape(args.dataset)[:2])
        if args.cutout > side:
            raise OptionError(f"--cutout {args.cutout}: larger than the {side} x {side} images")
        if args.mixup and args.cutmix:
            raise OptionError("--mixup and --cutmix: both mix the batch's images in pairs; choose one")
        if args.ema and args.val_split:
            raise OptionError("--ema with --val-split: the model of the best validation epoch would be kept "
                              "without its average; choose one")
        self.data = (data.stand_in(args.dataset) if args.summary else
                     data.load(args.dataset, args.data_dir, subset=args.subset, test_subset=args.test_subset,
                               val_split=args.val_split, seed=args.seed))
        if self.cluster:
            keras.utils.set_random_seed(args.seed)  # before the processes join, or Keras draws a seed for them
        self.hardware = devices.setup(args.gpus, args.cpu_replicas, self.cluster)
        if self.hardware.notice:
            print(self.hardware.notice)
        if args.batch_size % self.hardware.replicas:
            raise devices.DeviceError(f"--batch-size {args.batch_size}: must divide evenly over "
                                      f"{self.hardware.replicas} devices")
        train_images = len(self.data.x_train)
        if self.drop_remainder:
            if self.cluster:
                raise OptionError(f"{self.script} trains on whole batches only, which several processes do not "
                                  "support yet; train it in one process")
            if train_images < args.batch_size:
                raise OptionError(f"--batch-size {args.batch_size}: the {train_images} training images do not fill "
                                  "one batch, and this script trains on whole batches only; give a smaller "
                                  "--batch-size or more images")
        self.steps_per_epoch = (train_images // args.batch_size if self.drop_remainder
                                else math.ceil(train_images / args.batch_size))
        self.total_steps = math.ceil(self.steps_per_epoch * args.epochs)
        if self.cluster and args.val_split:  # the best epoch's weights: process 0 writes them, all read them
            blind = [i for i, seen in enumerate(devices.gather(os.path.isdir(self.folder))) if not seen]
            if blind:
                raise OptionError(f"{self.folder}: process {', '.join(map(str, blind))} cannot see it; with "
                                  "--val-split every process reads the run folder: put it on a file system that "
                                  "every machine shares")
        if self.cluster:
            for images, what in ((self.data.x_train, "training set"), (self.data.x_val, "validation set"),
                                 (self.data.x_test, "test set")):
                if images is not None:
                    devices.check_split(images, args.batch_size, self.hardware.replicas, what)
        if (args.mixup or args.cutmix) and keras.backend.backend() == "tensorflow" and self.hardware.replicas > 1:
            # Each replica would mix its own share of the batch and write its own lambda to one variable.
            raise OptionError(f"--{'mixup' if args.mixup else 'cutmix'} on {self.hardware.replicas} devices: "
                              "TensorFlow's replicas cannot share the batch's mixing share; train on one device, "
                              "or on JAX")
        self.dtype_policy = devices.mixed_precision_policy(self.hardware) if args.mixed_precision else "float32"
        keras.config.set_dtype_policy(self.dtype_policy)
        keras.utils.set_random_seed(args.seed)
        self.jit_compile = devices.jit_compile(self.hardware, args.jit)
        if args.tensorboard and not all(importlib.util.find_spec(package) for package in ("tensorflow", "tensorboard")):
            raise OptionError("--tensorboard writes its logs with TensorFlow and TensorBoard (on every backend); "
                              "install them: python -m pip install tensorflow tensorboard")

    def _report_interrupt(self):
        """Ctrl-C: the run folder keeps its history, curves and last backup; say how to continue."""
        if self.args.summary:
            print("\ninterrupted", file=sys.stderr)
        elif not self.writes:
            print(f"\ninterrupted (process {self.cluster.index}; process 0 reports the run)", file=sys.stderr)
        elif not self._training:
            print("\ninterrupted before training began", file=sys.stderr)
        else:
            finished = run_folder.restored_epoch(self.folder)
            with contextlib.suppress(run_folder.WriteError):  # the curves of a full disk: the older ones stay
                run_folder.plot_curves(self.folder, f"{self.script} (interrupted)")
            when = (f"after its last epoch ({finished}), before it was recorded as finished; complete it with"
                    if finished == self.epochs else f"after epoch {finished}; continue with")
            print(f"\ninterrupted {when}: {resume_command(self.folder)}", file=sys.stderr)
            then = getattr(self.args, "_then", None)
            if then:
                print(then, file=sys.stderr)

    def fit(self, model, callbacks=(), tta=None):
        """Trains the compiled ``model`` on the run's data with ``callbacks`` (the script's learning-rate
        callback, or none when the optimizer holds a ``keras.optimizers.schedules`` object) and the run's own;
        returns the completed summary.

        ``tta``, a function of test images giving ``(weight, images)`` views (``tta.views``): the final test
        accuracy is that of the model's outputs averaged over the views (test-time augmentation); every
        epoch's test accuracy in the history stays that of the images alone."""
        args = self.args
        if args.summary:
            model.summary()
            print(f"{model.name}: {model.count_params():,} parameters, {macs.per_image(model):,} "
                  "multiply-accumulates per image (--summary: nothing was trained or written)")
            return None
        _check_learning_rate_setters(model, callbacks)
        views = len(tta(self.data.x_test[:1])) if tta else 0  # for the summary and the last line
        if tta is not None and self.cluster:
            raise OptionError("test-time augmentation with several processes is not supported; train in one "
                              "process")
        # For --resume: two checkpoints, each with the run's wall seconds so far.
        backup = run_folder.Backup(self.folder, writes=self.writes, clock=self._wall_seconds)
        # A resumed run loads its backup before it writes anything: a backup that is not usable leaves the
        # folder as it was.
        restored = backup.restore(model) if args.resume else 0
        if args.resume:  # a backup older than that record: the restored epochs' own seconds
            self._wall_before = (backup.wall_seconds if backup.wall_seconds is not None
                                 else sum(r["seconds"] for r in self.previous_rows[:restored]))
        self._training = True
        summary = self._start_summary(model)
        self._print_start(model, summary, restored)
        held_out = "val" if args.val_split else "test"
        held_out_images, held_out_labels = ((self.data.x_val, self.data.y_val) if args.val_split
                                            else (self.data.x_test, self.data.y_test))
        # The rows up to the restored epoch; a row written after that backup is trained again.
        history = run_folder.HistoryWriter(self.folder, held_out, self.previous_rows[:restored])
        # It predicts, and several processes' predictions are spread over them: one process watches alone.
        self._dead = _WarnOnDeadNetwork(held_out_images[:256], self.data.num_classes) if not self.cluster else None
        interrupts = _KeepInterrupts()
        callbacks = [
            interrupts,  # first: an interrupt Keras dropped ends the epoch before the history sees it
            _StopOnDivergence("validation" if args.val_split else "test"),  # a diverged epoch is never recorded
            *([self._dead] if self._dead else []),
            *([_StopAtStep(self.total_steps)] if self.total_steps < self.epochs * self.steps_per_epoch else []),
            *callbacks,  # then the script's: a scheduler sets the epoch's rate before the history reads it
            # --ema: the average of the weights is swapped in for every evaluation; fit ends with it in the model.
            *([keras.callbacks.SwapEMAWeights()] if getattr(model.optimizer, "use_ema", False) else []),
            *([history] if self.writes else []),
            backup,  # after the history: an epoch's checkpoint is written once its row is
            *(self._best_on_validation(restored) if self.writes else []),
            *(self._tensorboard() if self.writes else []),
        ]
        train_data, held_out_data = (self.data.x_train, self.data.y_train), (held_out_images, held_out_labels)
        if self.cluster:  # each process feeds its part of every global batch
            train_data = (self._process_batches(*train_data, shuffle=True),)
            held_out_data = self._process_batches(*held_out_data)
        elif keras.backend.backend() == "tensorflow":  # Keras's own pipeline stalls as fit ends (data.batches)
            train_data = (data.batches(*train_data, args.batch_size, shuffle=True,
                                       drop_remainder=self.drop_remainder),)
            held_out_data = data.batches(*held_out_data, args.batch_size)
        elif self.drop_remainder:  # Keras's fit on arrays always trains the partial last batch
            train_data = (data.whole_batches(*train_data, args.batch_size, seed=args.seed + restored),)
        with interrupts.active():
            # From the restored epoch on; a run that had trained every epoch trains none (only what follows).
            model.fit(*train_data, batch_size=None if len(train_data) == 1 else args.batch_size, epochs=self.epochs,
                      initial_epoch=restored, validation_data=held_out_data, callbacks=callbacks,
                      shuffle=len(train_data) == 2,  # the batches shuffle; Keras would reorder them too
                      verbose=1 if self.writes else 0)
            test_accuracy = self._test_accuracy(model, tta)
            if not self.writes:
                print(f"process {self.cluster.index} of {self.cluster.processes}: done; process 0 wrote the run "
                      f"folder {self.folder}")
                print(f"Test accuracy: {100 * test_accuracy:.2f} % ({self.script}, after {args.epochs:g} epochs)")
                return None
            # The model and the curves, then the summary that says the run has finished; only then does the
            # backup go. Stopped anywhere before that, the run has its backup, and --resume completes it.
            run_folder.save_model(model, os.path.join(self.folder, run_folder.MODEL))
            interrupts.raise_pending()  # a Ctrl-C that Keras's saving code swallowed (it has bare excepts too)
            run_folder.plot_curves(self.folder, f"{self.script}: {args.dataset}, test accuracy "
                                                f"{100 * test_accuracy:.2f} %")
            interrupts.raise_pending()
            self._finish_summary(summary, history, test_accuracy, restored, views)
        backup.remove()
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.folder, run_folder.BEST_MODEL))
        for warning in self._dead.warnings if self._dead else []:
            print(f"warning: {warning}")
        print(f"outputs: {self.folder}")
        part = f"; on {len(self.data.x_test)} test images only (--test-subset)" if args.test_subset else ""
        print(f"Test accuracy: {100 * test_accuracy:.2f} % ({self.script}, after {args.epochs:g} "
              f"epoch{'s' if args.epochs != 1 else ''}{f', {views} views of each test image' if views else ''}"
              f"{part})")
        return summary

    def _best_on_validation(self, restored):
        """With a validation split the model is chosen on validation accuracy: keep the best epoch's model
        (on resume, only an epoch better than the best one so far replaces it)."""
        if not self.args.val_split:
            return []
        seen = [r["val_accuracy"] for r in self.previous_rows[:restored]]
        return [_BestModel(os.path.join(self.folder, run_folder.BEST_MODEL), max(seen) if seen else None)]

    def _tensorboard(self):
        """--tensorboard: TensorBoard's logs into RUN/tensorboard/ (see ``tensorboard_callback``)."""
        if not self.args.tensorboard:
            return []
        return [tensorboard_callback(os.path.join(self.folder, run_folder.TENSORBOARD))]

    def _process_batches(self, images, labels, shuffle=False):
        return devices.ProcessBatches(images, labels, self.args.batch_size, self.cluster.processes,
                                      self.cluster.index, shuffle)

    def _test_accuracy(self, model, tta=None):
        """The final epoch's test accuracy; with a validation split, the test set is used once, now, on the
        model of the best validation epoch. With ``tta``, that of the outputs averaged over its views."""
        if tta is not None:
            if self.args.val_split:
                self._load_best_model(model)
            outputs = test_time.predict(model, self.data.x_test, self.args.batch_size, make_views=tta)
            return float(np.mean(outputs.argmax(axis=-1) == np.reshape(self.data.y_test, -1)))
        if not self.args.val_split:
            if not self.writes:  # the same figure as process 0's history.csv
                return float(model.history.history["val_accuracy"][-1])
            return run_folder.read_history(self.folder)[-1]["test_accuracy"]
        self._load_best_model(model)
        test = (self.data.x_test, self.data.y_test)
        if self.cluster:
            test = (self._process_batches(*test),)
        elif keras.backend.backend() == "tensorflow":
            test = (data.batches(*test, self.args.batch_size),)
        _, accuracy = model.evaluate(*test, batch_size=None if len(test) == 1 else self.args.batch_size, verbose=0,
                                     callbacks=[_LogsInTheLoop()] if self.cluster else None)
        return float(accuracy)

    def _load_best_model(self, model):
        devices.barrier("best model written")  # by process 0, read by all
        try:
            model.load_weights(os.path.join(self.folder, run_folder.BEST_MODEL))
        except (OSError, ValueError) as e:
            raise run_folder.OutputError(f"{os.path.join(self.folder, run_folder.BEST_MODEL)}: cannot be loaded "
                                         f"({e}); the model of the best validation epoch is lost") from None
        devices.barrier("best model read")

    def _start_summary(self, model):
        """summary.json as the run starts (``"finished": false``); ``_finish_summary`` completes it."""
        args, previous = self.args, self.previous or {}
        backend = keras.backend.backend()
        summary = {
            "script": self.script,
            # The command that started the run (a resumed run keeps it, and adds the one that resumed it).
            "command": previous.get("command", _command()),
            # The code that started the run (a resumed run keeps it, and adds the code that resumed it).
            "code": previous.get("code") if args.resume else self.code,
            "arguments": {k: v for k, v in vars(args).items() if not k.startswith("_")},
            "finished": False,
            "backend": backend,
            "backend_version": devices.backend_version(backend),
            "keras_version": keras.__version__,
            "machine": devices.machine(),
            "python": platform.python_version(),
            "devices": self.hardware.names,
            "replicas": self.hardware.replicas,
            "processes": self.hardware.processes,  # several: process i ran on hosts[i]
            "hosts": self.hardware.hosts,
            "dtype_policy": self.dtype_policy,
            "jit_compiled": bool(model.jit_compile),  # what Keras resolved --jit to
            "parameters": model.count_params(),
            "macs_per_image": macs.per_image(model),
            "data": {
                "source": self.data.source,
                "dataset": args.dataset,
                "train_images": len(self.data.x_train),
                "validation_images": 0 if self.data.x_val is None else len(self.data.x_val),
                "test_images": len(self.data.x_test),
                "class_names": self.data.class_names,
                "held_out_during_training": "validation split" if args.val_split else "test set",
            },
            "run_dir": self.folder,
        }
        if args.resume:
            summary["resumed_with"] = [*previous.get("resumed_with", []), _command()]
            summary["resumed_code"] = [*previous.get("resumed_code", []), self.code]
            # The run's seconds before each resumed process (its wall_seconds then adds them all up); None for a
            # resume by code that did not record them.
            before = previous.get("resumed_after_seconds", [None] * len(previous.get("resumed_with", [])))
            summary["resumed_after_seconds"] = [*before, round(self._wall_before, 1)]
        summary["started"] = previous.get("started") or time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if self.writes:
            run_folder.write_summary(self.folder, summary)
        return summary

    def _finish_summary(self, summary, history, test_accuracy, restored, views=0):
        args, previous = self.args, self.previous or {}
        held_out = "val" if args.val_split else "test"
        rows = run_folder.read_history(self.folder)
        best = max(rows, key=lambda r: r[f"{held_out}_accuracy"])
        steady = history.train_seconds[1:] or history.train_seconds  # the first epoch includes compilation
        # The loss of the very first batch, before any update: runs that start from the same weights and see
        # the same first batch (same seed) have the same value, whatever their learning-rate schedule.
        summary["first_batch_loss"] = (history.first_batch_loss if history.first_batch_loss is not None
                                       else previous.get("first_batch_loss"))
        if args.resume:
            summary["resumed_from_epoch"] = restored
        summary.update({
            "finished": True,
            "epochs": len(rows),
            "test_accuracy": float(test_accuracy),
            # The test set's best epoch is for reference only; a validation split's best epoch is the model.
            "best_epoch": {"epoch": best["epoch"], f"{held_out}_accuracy": best[f"{held_out}_accuracy"]},
            "test_accuracy_of": (f"the model of epoch {best['epoch']}, best on validation" if args.val_split
                                 else "the final epoch's model") + (
                f", its outputs averaged over {views} views of each test image (test-time augmentation)"
                if views else ""),
            "training_steps": self.total_steps,
            "wall_seconds": round(self._wall_seconds(), 1),
            "training_seconds": round(sum(r["seconds"] for r in rows), 1),
            "seconds_per_epoch": round(statistics.median(r["seconds"] for r in rows[1:] or rows), 3),
            "train_images_per_second": (round(len(self.data.x_train) / statistics.median(steady)) if steady
                                        else None),
            "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "warnings": self._dead.warnings if self._dead else [],  # a dead network's epochs (one process)
        })
        run_folder.write_summary(self.folder, summary)

    def _wall_seconds(self):
        """The run's seconds from its start to now, over all its invocations: each one before this counts up to
        the backup that the next resumed from (work lost to an interruption is not counted)."""
        return self._wall_before + time.perf_counter() - self._started

    def _print_start(self, model, summary, restored):
        backend = keras.backend.backend()
        print(f"{self.script}: {model.name}, {summary['parameters']:,} parameters, "
              f"{summary['macs_per_image'] / 1e6:,.1f} M multiply-accumulates per image; {backend} on "
              f"{', '.join(self.hardware.names)}; {self.dtype_policy}; training step: "
              f"{devices.describe_step(backend, model.jit_compile)}")
        counts = summary["data"]
        held_out = "validation split" if self.args.val_split else "test set"
        print(f"data: {self.args.dataset} from {self.data.source}: {counts['train_images']} training, "
              f"{counts['validation_images']} validation, {counts['test_images']} test images; the progress "
              f"bar's val_ figures are the {held_out}'s (history.csv: {'val' if self.args.val_split else 'test'}_)")
        resuming = ""
        if self.args.resume:
            resuming = (f" (resuming after epoch {restored}, from its last backup)" if restored < self.epochs
                        else " (every epoch was trained: completing the run from its last backup)")
        print(f"run folder: {self.folder}{resuming}" + ("" if self.writes else "; process 0 writes it"))
        if self.cluster:
            print(f"process {self.cluster.index} of {self.cluster.processes} ({self.cluster.launcher}), on "
                  f"{self.hardware.hosts[self.cluster.index]}; {len(set(self.hardware.hosts))} host(s), "
                  f"{self.hardware.replicas} devices, {self.args.batch_size // self.cluster.processes} images of "
                  f"every batch of {self.args.batch_size} from this process")


class _BestModel(keras.callbacks.Callback):
    """Saves the model of the epoch with the best validation accuracy so far (above ``best``, the best of the
    epochs before a resume). Keras's ``ModelCheckpoint`` would, but it writes the file in place, where a kill
    or a full disk leaves half of the only copy: ``run_folder.save_model`` writes it whole or not at all."""

    def __init__(self, path, best=None):
        super().__init__()
        self.path, self.best = path, best

    def on_epoch_end(self, epoch, logs=None):
        accuracy = float(logs["val_accuracy"])
        if self.best is None or accuracy > self.best:
            self.best = accuracy
            run_folder.save_model(self.model, self.path)


class _EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras's TensorBoard callback, writing once an epoch. Keras 3.15's own, asked for epochs only, still
    hands every batch's logs to ``tf.summary.scalar`` with no writer to take them: half a millisecond a batch
    for nothing (benchmarks/README.md). Its batch hook keeps its other work (the graph, after the first
    batch)."""

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs=None)


def tensorboard_callback(log_dir):
    """What ``--tensorboard`` adds to a run: every epoch's loss, accuracy and learning rate (train/, and
    validation/ for the held-out set: the test set unless --val-split), the model's layer graph (TensorBoard's
    conceptual graph: Keras 3.15 writes no op graph of the training step, on any backend). A resumed run adds
    event files to the same folder, numbered by epoch as before."""
    return _EpochTensorBoard(log_dir, write_graph=True, update_freq="epoch")


def _check_learning_rate_setters(model, callbacks):
    """The model is compiled, and one thing sets its learning rate: a ``keras.optimizers.schedules`` object
    inside the optimizer sets it at every step, and a ``LearningRateScheduler`` callback cannot set it too."""
    if getattr(model, "optimizer", None) is None:
        raise ScriptError("run.fit needs a compiled model: call model.compile(optimizer=..., loss=...) first")
    # Keras keeps the optimizer's schedule object in _learning_rate; learning_rate gives its current value.
    if isinstance(getattr(model.optimizer, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule):
        if any(isinstance(c, keras.callbacks.LearningRateScheduler) for c in callbacks):
            raise ScriptError("the optimizer's learning rate is a keras.optimizers.schedules object, which sets "
                              "the rate at every step; drop the LearningRateScheduler callback (callbacks=[]), "
                              "see doc/learning-rate-schedules.md")
