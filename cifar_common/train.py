"""``main``: what every script runs after defining its model.

It parses the shared command line, loads the data, sets up devices and precision, builds and compiles the
script's model (SGD with Nesterov momentum 0.9, sparse categorical cross-entropy), trains it with Keras's
progress bar and the learning-rate schedule, writes the run folder (see ``outputs``) and prints the test
accuracy as its last line. Bad input ends in one line on stderr and a non-zero exit status.
"""

import argparse
import functools
import importlib.util
import os
import platform
import shlex
import statistics
import sys
import time

import keras

from . import cli, data, devices, macs, outputs, schedules

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class OptionError(Exception):
    """A model flag with a value the script cannot build (say, a ResNet depth that is not 6n+2)."""


_KNOWN_ERRORS = (data.DataError, devices.DeviceError, outputs.OutputError, OptionError)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_script(path):
    """Imports another script of the collection, such as ``"resnext/ResNeXt_keras.py"``, to reuse its model
    code (SENet builds on ResNeXt, Wide-ResNet on ResNet); its training does not run."""
    full = os.path.join(REPO_ROOT, path)
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(build_model, *, doc, epochs, batch_size, lr, weight_decay, lr_schedule="step",
         lr_steps=schedules.REFERENCE_STEPS, options=None, runs=False, argv=None):
    """Trains ``build_model(data, weight_decay, **options)`` as the command line asks; returns the summary.

    ``build_model`` receives the loaded ``data.Data`` (for its image shape, class count and channel
    statistics), the L2 weight-decay factor and the values of the script's own flags, and returns an
    uncompiled ``keras.Model``; it raises ``OptionError`` for flag values it cannot build. The keyword
    arguments are the script's defaults; ``lr_steps`` are its step-decay boundaries, in epochs of a run of
    the default length; ``options`` its own flags, ``{"depth": (110, "help text")}`` for ``--depth``.
    ``runs=True`` adds ``--runs N``: N runs with seeds --seed, --seed+1, ... in DIR/seed-<seed>/ of the
    study folder DIR; returns the list of their summaries.
    """
    options = options or {}
    script = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    argv = sys.argv[1:] if argv is None else list(argv)
    p = cli.parser(sys.argv[0], doc, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                   lr_schedule=lr_schedule, options=options, runs=runs)
    args = p.parse_args(argv)
    run = functools.partial(_run, build_model, p=p, argv=argv, script=script, reference_epochs=epochs,
                            lr_steps=lr_steps, option_names=list(options))
    try:
        if runs and not args.resume:
            return _several_runs(run, args, p, script)
        return run(args)
    except _KNOWN_ERRORS as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def _several_runs(run, args, p, script):
    """Runs ``args.runs`` seeded runs, each in its own ``seed-<seed>`` folder of the study folder."""
    study = os.path.abspath(args.output_dir) if args.output_dir else outputs.fresh_run_path(script)
    seeds = [args.seed + i for i in range(args.runs)]
    folders = [os.path.join(study, f"seed-{seed}") for seed in seeds]
    for folder in folders:
        if os.path.exists(folder):
            raise outputs.OutputError(f"{folder}: exists; a study never overwrites a run (choose other --seed "
                                      "values, or continue that run with --resume)")
    summaries = []
    for i, (seed, folder) in enumerate(zip(seeds, folders)):
        print(f"run {i + 1} of {len(seeds)}: seed {seed}")
        try:
            summaries.append(run(argparse.Namespace(**{**vars(args), "seed": seed, "runs": 1,
                                                       "output_dir": folder})))
        except SystemExit as e:
            if e.code == EXIT_INTERRUPTED and i + 1 < len(seeds):
                print(f"then the remaining runs: python {sys.argv[0]} --seed {seed + 1} --runs "
                      f"{len(seeds) - i - 1} --output-dir {study} (with this command's other flags)",
                      file=sys.stderr)
            raise
    accuracies = sorted(100 * s["test_accuracy"] for s in summaries)
    print(f"study folder: {study}")
    print(f"Test accuracy: median {statistics.median(accuracies):.2f} % over {len(accuracies)} "
          f"run{'s' if len(accuracies) != 1 else ''} (min {accuracies[0]:.2f}, max {accuracies[-1]:.2f}; "
          f"{script}, {args.lr_schedule})")
    return summaries


def _resume_args(args, p, argv):
    """The arguments of the run in ``args.resume``, with the machine flags of this command line."""
    given = cli.explicit_flags(p, argv)
    conflicting = given - {"resume", *cli.MACHINE_FLAGS}
    if conflicting:
        flags = ", ".join("--" + f.replace("_", "-") for f in sorted(conflicting))
        raise outputs.OutputError(f"{flags}: a resumed run keeps its own arguments (only --data-dir, --gpus "
                                  "and --jit may change)")
    summary = outputs.read_summary(args.resume)
    if summary.get("finished"):
        raise outputs.OutputError(f"{args.resume}: that run has finished; nothing to resume")
    if not isinstance(summary.get("arguments"), dict):
        raise outputs.OutputError(f"{args.resume}: summary.json holds no arguments to resume with")
    saved = {**vars(p.parse_args([])), **summary["arguments"]}  # flags added since then keep their defaults
    for flag in cli.MACHINE_FLAGS:
        if flag in given:
            saved[flag] = getattr(args, flag)
    saved["resume"] = args.resume
    return type(args)(**saved), summary


def _run(build_model, args, *, p, argv, script, reference_epochs, lr_steps, option_names):
    started = time.perf_counter()
    previous = None
    if args.resume:
        args, previous = _resume_args(args, p, argv)
        script = previous["script"]

    # Everything that can fail on bad input happens before the run folder is created.
    if not args.resume:
        outputs.check_output_dir(args.output_dir)
    if args.lr_schedule == "htd" and not args.htd_lower < args.htd_upper:
        raise OptionError(f"--htd-lower {args.htd_lower:g} --htd-upper {args.htd_upper:g}: the lower bound must "
                          "be below the upper one")
    dataset = data.load(args.dataset, args.data_dir, subset=args.subset, val_split=args.val_split,
                        seed=args.seed)
    hardware = devices.setup(args.gpus)
    if hardware.notice:
        print(hardware.notice)
    if args.batch_size % hardware.replicas:
        raise devices.DeviceError(f"--batch-size {args.batch_size}: must divide evenly over "
                                  f"{hardware.replicas} devices")
    policy = devices.mixed_precision_policy(hardware) if args.mixed_precision else "float32"
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(args.seed)
    jit_compile = devices.jit_compile(hardware, args.jit)

    with hardware.scope:
        model = build_model(dataset, args.weight_decay, **{name: getattr(args, name) for name in option_names})
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=args.lr, momentum=0.9, nesterov=True),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
            jit_compile=jit_compile,  # --jit; summary.json records what Keras resolved it to
        )
    params = model.count_params()
    macs_per_image = macs.per_image(model)

    run_dir = os.path.abspath(args.resume) if args.resume else outputs.new_run_dir(args.output_dir, script)
    held_out = "val" if args.val_split else "test"

    # As typed (a wrapper such as benchmarks/initialiser.py included), with "python" for the interpreter's path.
    command = shlex.join(["python", *sys.orig_argv[1:]]) if argv == sys.argv[1:] else shlex.join(
        ["python", sys.argv[0], *argv])
    summary = {
        "script": script,
        # The command that started the run (a resumed run keeps it, and adds the one that resumed it).
        "command": (previous or {}).get("command", command),
        "arguments": vars(args),
        "finished": False,
        "backend": keras.backend.backend(),
        "backend_version": devices.backend_version(keras.backend.backend()),
        "keras_version": keras.__version__,
        "machine": devices.machine(),
        "python": platform.python_version(),
        "devices": hardware.names,
        "replicas": hardware.replicas,
        "dtype_policy": policy,
        "jit_compiled": bool(model.jit_compile),
        "parameters": params,
        "macs_per_image": macs_per_image,
        "data": {
            "source": dataset.source,
            "dataset": args.dataset,
            "train_images": len(dataset.x_train),
            "validation_images": 0 if dataset.x_val is None else len(dataset.x_val),
            "test_images": len(dataset.x_test),
            "held_out_during_training": "validation split" if args.val_split else "test set",
        },
        "run_dir": run_dir,
    }
    if args.resume:
        summary["resumed_with"] = [*(previous or {}).get("resumed_with", []), command]
    summary["started"] = previous.get("started") if previous else time.strftime("%Y-%m-%dT%H:%M:%S%z")
    outputs.write_summary(run_dir, summary)

    print(f"{script}: {model.name}, {params:,} parameters, {macs_per_image / 1e6:,.1f} M multiply-accumulates "
          f"per image; {keras.backend.backend()} on "
          f"{', '.join(hardware.names)}; {policy}; training step: "
          f"{devices.describe_step(keras.backend.backend(), model.jit_compile)}")
    print(f"data: {args.dataset} from {dataset.source}: {len(dataset.x_train)} training, "
          f"{summary['data']['validation_images']} validation, {len(dataset.x_test)} test images")
    print(f"run folder: {run_dir}" + (" (resuming from its last backup)" if args.resume else ""))

    history = outputs.HistoryWriter(run_dir, held_out)
    callbacks = [
        schedules.callback(args.lr_schedule, args.lr, args.epochs, lr_steps, reference_epochs, args.htd_lower,
                           args.htd_upper),
        history,  # after the scheduler, which puts the epoch's learning rate into the logs
        # Two checkpoints, so that a kill while one is being written leaves the previous one to resume from.
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, outputs.BACKUP), double_checkpoint=True),
    ]
    best_weights = os.path.join(run_dir, outputs.BEST_WEIGHTS)
    if args.val_split:
        # With a validation split the model is chosen on validation accuracy: keep the best epoch's weights
        # (on resume, only an epoch better than the best one so far replaces them).
        restored = outputs.restored_epoch(run_dir)
        seen = [r["val_accuracy"] for r in outputs.read_history(run_dir) if r["epoch"] <= restored]
        callbacks.append(keras.callbacks.ModelCheckpoint(
            best_weights, monitor="val_accuracy", mode="max", save_best_only=True, save_weights_only=True,
            initial_value_threshold=max(seen) if seen else None, verbose=0))
    validation = (dataset.x_val, dataset.y_val) if args.val_split else (dataset.x_test, dataset.y_test)
    try:
        model.fit(dataset.x_train, dataset.y_train, batch_size=args.batch_size, epochs=args.epochs,
                  validation_data=validation, callbacks=callbacks, shuffle=True, verbose=1)
    except KeyboardInterrupt:
        finished = outputs.restored_epoch(run_dir)
        outputs.plot_curves(run_dir, f"{script} (interrupted)")
        print(f"\ninterrupted after epoch {finished}; continue with: "
              f"python {sys.argv[0]} --resume {run_dir}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)

    rows = outputs.read_history(run_dir)
    best = max(rows, key=lambda r: r[f"{held_out}_accuracy"])
    if args.val_split:
        # The model of the best validation epoch; the test set is used once, now, on that model.
        model.load_weights(best_weights)
        os.remove(best_weights)
        _, test_accuracy = model.evaluate(dataset.x_test, dataset.y_test, batch_size=args.batch_size, verbose=0)
    else:
        test_accuracy = rows[-1]["test_accuracy"]
    model.save(os.path.join(run_dir, outputs.MODEL))
    steady = history.train_seconds[1:] or history.train_seconds  # the first epoch includes compilation
    # The loss of the very first batch, before any update: runs that start from the same weights and see the
    # same first batch (same seed) have the same value, whatever their learning-rate schedule.
    summary["first_batch_loss"] = (history.first_batch_loss if history.first_batch_loss is not None
                                   else (previous or {}).get("first_batch_loss"))
    if args.resume:
        summary["resumed_from_epoch"] = args.epochs if history.first_epoch is None else history.first_epoch
    summary.update({
        "finished": True,
        "epochs": len(rows),
        "test_accuracy": float(test_accuracy),
        # The test set's best epoch is for reference only; a validation split's best epoch is the model.
        "best_epoch": {"epoch": best["epoch"], f"{held_out}_accuracy": best[f"{held_out}_accuracy"]},
        "test_accuracy_of": f"the model of epoch {best['epoch']}, best on validation" if args.val_split
                            else "the final epoch's model",
        "wall_seconds": round(time.perf_counter() - started, 1),
        "training_seconds": round(sum(r["seconds"] for r in rows), 1),
        "seconds_per_epoch": round(statistics.median(r["seconds"] for r in rows[1:] or rows), 3),
        "train_images_per_second": round(len(dataset.x_train) / statistics.median(steady)) if steady else None,
        "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    outputs.write_summary(run_dir, summary)
    outputs.plot_curves(run_dir, f"{script}: {args.dataset}, test accuracy {100 * test_accuracy:.2f} %")
    print(f"outputs: {run_dir}")
    print(f"Test accuracy: {100 * test_accuracy:.2f} % ({script}, after {len(rows)} "
          f"epoch{'s' if len(rows) != 1 else ''})")
    return summary
