"""Wide Residual Network (Zagoruyko and Komodakis, "Wide Residual Networks", 2016).

Adds over resnet/ResNet_keras.py: width instead of depth. The same pre-activation network (imported from
the ResNet script), but each stage has k times more filters (16k, 32k, 64k after a 16-filter first convolution)
and the network is much shallower: WRN-d-k has (d-4)/6 blocks per stage. A wide, shallow network does the
same work in fewer, larger convolutions, which a GPU runs far more efficiently, and it is more accurate
than a thin, deep one with the same number of parameters.

--depth 16 --width 8: 11.0 M parameters; --depth 28 --width 10: 36.5 M (the defaults).

Training, as the reference run of WRN-28-10 (upstream BIGBALLON/cifar-10-cnn,
5_Wide_Residual_Network/Wide_ResNet_keras.py at commit 30db1f4, where its figure first appears): batch 128,
200 epochs, L2 5e-4, SGD with Nesterov momentum from 0.1, times 0.2 from epochs 60, 120 and 160. The
WRN-16-8 figure (first at 51d3d70) came from the script of commit 6271036: the same, except that each rate
held one epoch longer (drops from epochs 61, 121 and 161). Deliberate differences: the paper's shortcuts
(upstream 6271036 gave every block a 1x1 projection through a scoping bug, hence its 11.3 M parameters),
empty borders of shifted images filled with zeros as in every other script (upstream 30db1f4 reflected
the image into them), and Keras 3's he_normal (see doc/initialisation.md).

Reference test accuracy after 200 epochs: 95.13 / 95.78 % (WRN-16-8 / WRN-28-10).

    python wrn/Wide_ResNet_keras.py --depth 16 --width 8

--dropout 0.3 puts Dropout between the two convolutions of every block, after the ReLU, as the paper does
(section 2.4): it zeroes 30 % of the second convolution's inputs in training, so that the wide blocks cannot
lean on single channels. The paper's WRN-28-10 with it: 3.89 % error (96.11 %), with its own weight decay,
5e-4 in PyTorch's convention, which is --weight-decay 2.5e-4 here (doc/weight-decay.md: Keras's L2 penalty
is twice as strong for the same number):

    python wrn/Wide_ResNet_keras.py --depth 28 --width 10 --dropout 0.3 --weight-decay 2.5e-4
"""

import functools

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import cli, regularisers, schedules, train
import keras

resnet = train.import_script("resnet/ResNet_keras.py")  # the pre-activation ResNet, built to any width

EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.1
LR_STEPS = ((60, 0.2), (120, 0.04), (160, 0.008))  # 0.1, 0.02, 0.004, 0.0008
WEIGHT_DECAY = 5e-4
DEPTH = 28
WIDTH = 10
DROPOUT = 0.0
MODEL_FLAGS = {"depth": (DEPTH, "layers, 6n+4: 16, 22, 28, 40"),  # its own flags, --depth N
               "width": (WIDTH, "widening factor k: filters 16k, 32k, 64k"),
               "dropout": (DROPOUT, "share of each block's second convolution's inputs zeroed in training "
                                    "(the paper's dropout: 0.3)", cli.share_below_one)}


def build_model(data, weight_decay, depth=DEPTH, width=WIDTH, dropout=DROPOUT):
    if depth < 10 or (depth - 4) % 6:
        raise train.OptionError(f"--depth {depth}: a wide ResNet has 6n+4 layers (16, 22, 28, 40)")
    # The ResNet of resnet/ResNet_keras.py with k times the filters and (depth - 4) / 6 blocks per stage, and
    # with --dropout, Dropout between each block's two convolutions.
    return resnet.preact_resnet(data, weight_decay, blocks=(depth - 4) // 6,
                                widths=[16 * width, 32 * width, 64 * width], name=f"wrn_{depth}_{width}",
                                block=functools.partial(resnet.residual_block, dropout=dropout))


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.weight_decay, args.depth, args.width, args.dropout)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # The step decay LR_STEPS scaled to --epochs, or the schedule --lr-schedule names (cosine, htd).
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
