"""How long ``model.fit`` on TensorFlow waits at the end of each epoch, of its validation and of the whole
fit, when it is given NumPy arrays (Keras's own ``tf.data`` pipeline, autotuned) and when it is given the
collection's ``data.batches`` (the same batches, no autotuning).

Each feed trains the script's network in a fresh process, ``--runs`` times in turns, on ``--steps`` batches
of real images an epoch, with the first ``--steps`` test batches as validation data. Within each epoch the
benchmark times the gap between the last training batch and the start of validation (where Keras replaces the
epoch's data iterator), the gap between the end of validation and the end of the epoch, and after the last
epoch the gap between ``on_train_end`` and ``fit``'s return: the time the step itself does not account for.

    python benchmarks/tf_data_stall.py resnet/ResNet_keras.py --depth 20 --data-dir D --json stall.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEEDS = ("arrays", "batches")


def child(args, extra):
    """One run in this process: trains, times the gaps, prints them as one JSON line."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from cifar_common import data, train
    import keras
    from plain_keras import model_flags

    module = train.import_script(os.path.join(ROOT, args.script))
    images = args.steps * args.batch_size
    dataset = data.load(data_dir=args.data_dir, subset=images)
    keras.utils.set_random_seed(0)
    model = module.build_model(dataset, module.WEIGHT_DECAY, **model_flags(module.build_model, extra, sys.exit))
    model.compile(optimizer=keras.optimizers.SGD(module.LEARNING_RATE, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_val, y_val = dataset.x_test[:images], dataset.y_test[:images]
    marks = []

    class Marks(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            marks.append(("on_train_batch_end", time.perf_counter()))

        def on_test_begin(self, logs=None):
            marks.append(("on_test_begin", time.perf_counter()))

        def on_test_end(self, logs=None):
            marks.append(("on_test_end", time.perf_counter()))

        def on_epoch_begin(self, epoch, logs=None):
            marks.append(("on_epoch_begin", time.perf_counter()))

        def on_epoch_end(self, epoch, logs=None):
            marks.append(("on_epoch_end", time.perf_counter()))

        def on_train_end(self, logs=None):
            marks.append(("on_train_end", time.perf_counter()))

    if args.feed == "arrays":
        feed = dict(x=dataset.x_train, y=dataset.y_train, batch_size=args.batch_size,
                    validation_data=(x_val, y_val))
    else:
        feed = dict(x=data.batches(dataset.x_train, dataset.y_train, args.batch_size, shuffle=True),
                    validation_data=data.batches(x_val, y_val, args.batch_size))
    model.fit(**feed, epochs=args.epochs, verbose=0, callbacks=[Marks()])
    returned = time.perf_counter()
    epoch_ends, after_training, after_validation = [], [], []
    last_batch = test_end = None
    for name, t in marks:
        if name == "on_train_batch_end":
            last_batch = t
        elif name == "on_test_begin":
            after_training.append(t - last_batch)
        elif name == "on_test_end":
            test_end = t
        elif name == "on_epoch_end":
            after_validation.append(t - test_end)
            epoch_ends.append(t)
    train_end = next(t for name, t in marks if name == "on_train_end")
    print(json.dumps({"after_training": after_training, "after_validation": after_validation,
                      "fit_return": returned - train_end, "epoch_seconds": [b - a for a, b in zip(
                          [marks[0][1]] + epoch_ends, epoch_ends)]}))


def main():
    sys.path.insert(0, ROOT)
    from cifar_common import cli

    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("script", help="a training script of the collection, such as resnet/ResNet_keras.py")
    p.add_argument("--data-dir", required=True, metavar="PATH", help="a local CIFAR-10 copy (official layout)")
    p.add_argument("--steps", type=cli.positive_int, default=20, metavar="N", help="batches an epoch (default: 20)")
    p.add_argument("--epochs", type=cli.positive_int, default=3, metavar="N", help="epochs a run (default: 3)")
    p.add_argument("--batch-size", type=cli.positive_int, default=128, metavar="N", help="batch (default: 128)")
    p.add_argument("--runs", type=cli.positive_int, default=3, metavar="N", help="runs of each feed (default: 3)")
    p.add_argument("--json", metavar="FILE", help="write the figures to FILE")
    p.add_argument("--feed", choices=FEEDS, help=argparse.SUPPRESS)  # one run, in the child process
    args, extra = p.parse_known_args()
    if args.feed:
        return child(args, extra)
    if args.json and os.path.exists(args.json):
        p.error(f"--json {args.json}: exists; choose another file")
    results = {feed: [] for feed in FEEDS}
    for r in range(args.runs):
        for feed in FEEDS[r % 2:] + FEEDS[:r % 2]:
            proc = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--feed", feed],
                                  capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            if proc.returncode:
                p.error(f"the {feed} run failed: {(proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            results[feed].append(result)
            print(f"run {r + 1}/{args.runs} {feed:8s} waits after training "
                  f"{' '.join(f'{s:.2f}' for s in result['after_training'])} s, after validation "
                  f"{' '.join(f'{s:.2f}' for s in result['after_validation'])} s, fit returned "
                  f"{result['fit_return']:.2f} s after its end", flush=True)
    summary = {feed: {"wait_per_epoch_median": statistics.median(
        a + b for r in runs for a, b in zip(r["after_training"], r["after_validation"])),
        "wait_per_epoch_max": max(a + b for r in runs for a, b in zip(r["after_training"], r["after_validation"])),
        "fit_return_median": statistics.median(r["fit_return"] for r in runs),
        "fit_return_max": max(r["fit_return"] for r in runs), "runs": runs} for feed, runs in results.items()}
    for feed in FEEDS:
        s = summary[feed]
        print(f"{feed:8s} waits an epoch: median {s['wait_per_epoch_median']:.2f} s, at most "
              f"{s['wait_per_epoch_max']:.2f} s; fit's return: median {s['fit_return_median']:.2f} s, at most "
              f"{s['fit_return_max']:.2f} s")
    if args.json:
        import platform
        from cifar_common import devices
        import tensorflow as tf
        report = {"script": args.script, "model_flags": extra, "steps": args.steps, "epochs": args.epochs,
                  "batch_size": args.batch_size, "machine": devices.machine(), "python": platform.python_version(),
                  "tensorflow": tf.__version__, "date": time.strftime("%Y-%m-%d"), "feeds": summary}
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
