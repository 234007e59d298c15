"""What --tensorboard costs: the time spent inside Keras's TensorBoard callback, against the epoch's time.

Timing two whole runs against each other cannot see a cost this small on a shared machine (two runs of the
same command differ by more than 10 %). So this measures the callback itself: one run trains a script's
network with the callback that ``--tensorboard`` adds (``train.tensorboard_callback``), every hook of which
is timed, and reports its seconds per epoch (its first epoch apart: that is when it writes
the graph) beside the epoch's wall time (training, validation on the test set, every callback).

    python benchmarks/tensorboard_cost.py lenet/LeNet_dp_da_wd_keras.py --data-dir ~/data/cifar-10-batches-py
    KERAS_BACKEND=jax python benchmarks/tensorboard_cost.py lenet/LeNet_dp_da_wd_keras.py --data-dir D --epochs 3
"""

import json
import os
import statistics
import sys
import tempfile
import time

from cifar_common import cli, data, train  # cifar_common before keras (see its __init__)
import keras

HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end"]


def timed(callback):
    """Wraps every hook of ``callback`` so that its time adds up in ``callback.seconds``, per epoch."""
    callback.seconds = [0.0]

    def wrap(hook):
        original = getattr(callback, hook)

        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                callback.seconds[-1] += time.perf_counter() - start
        return run

    for hook in HOOKS:
        setattr(callback, hook, wrap(hook))
    return callback


class EpochClock(keras.callbacks.Callback):
    """Each epoch's wall time, from its beginning to the next epoch's (the last: to the end of training)."""

    def __init__(self, board):
        super().__init__()
        self.board, self.epochs = board, []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(time.perf_counter() - self.start)
        self.board.seconds.append(0.0)  # the callback's time from here on counts for the next epoch


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("script", help="a training script of the collection, such as lenet/LeNet_dp_da_wd_keras.py")
    p.add_argument("--data-dir", metavar="PATH", help="a local CIFAR-10 copy (default: keras.datasets)")
    p.add_argument("--epochs", type=cli.positive_int, default=4, metavar="N", help="epochs (default: 4)")
    p.add_argument("--subset", type=cli.positive_int, default=10000, metavar="N",
                   help="training images (default: 10000)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args(sys.argv[1:])
    if args.json and os.path.exists(args.json):
        p.error(f"--json {args.json}: exists; a figure file is never overwritten")
    module = train.import_script(args.script)
    d = data.load(data_dir=args.data_dir, subset=args.subset)
    keras.utils.set_random_seed(0)
    model = module.build_model(d, module.WEIGHT_DECAY)
    model.compile(optimizer=keras.optimizers.SGD(module.LEARNING_RATE, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with tempfile.TemporaryDirectory() as logs:
        board = timed(train.tensorboard_callback(logs))
        clock = EpochClock(board)
        model.fit(d.x_train, d.y_train, batch_size=module.BATCH_SIZE, epochs=args.epochs,
                  validation_data=(d.x_test, d.y_test), callbacks=[board, clock], verbose=0)
    per_epoch = board.seconds[1:len(clock.epochs)]  # epochs 2..N (the first writes the graph)
    steady = statistics.median(clock.epochs[1:])
    figures = {
        "backend": keras.backend.backend(), "script": args.script, "train_images": len(d.x_train),
        "epoch_seconds": clock.epochs, "tensorboard_seconds": board.seconds[:len(clock.epochs)],
        "first_epoch_tensorboard_seconds": board.seconds[0],
        "tensorboard_seconds_per_epoch": statistics.median(per_epoch), "epoch_seconds_median": steady,
        "share": statistics.median(per_epoch) / steady,
    }
    print(f"{args.script} on {keras.backend.backend()}, {len(d.x_train)} training images: an epoch takes "
          f"{steady:.2f} s (median of epochs 2 to {args.epochs}); the TensorBoard callback "
          f"{1000 * figures['tensorboard_seconds_per_epoch']:.1f} ms of it ({100 * figures['share']:.3f} %), "
          f"{1000 * board.seconds[0]:.0f} ms in the first epoch (the graph)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
