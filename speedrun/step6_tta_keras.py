"""Speed-run, step 6 of 7: test-time augmentation over six views, 94 % in 10.8 epochs (12 before).

Adds over step5_lookahead_keras.py: the final test accuracy averages the logits of six views of each test
image (``tta.views``) instead of two: the image and its mirror, weight 1/4 each, and the image shifted by
one pixel down and right and by one pixel up and left (padded by reflection), each with its mirror, weight 1/8
each. The network was trained on shifted and mirrored images, and the average of its answers over such views
is more accurate than its answer for any one of them. Training is the same; the per-epoch test accuracy in
the history stays that of the images alone.

Upstream: KellerJordan/cifar10-zoo, airbench/ablations/main6_tta.py at commit 1a8b762 (``tta_level`` 2, 10.8
epochs). Deliberate differences: those of step 5.

    python speedrun/step6_tta_keras.py --data-dir ~/cifar-10-batches-py
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import initializers, optimizers, regularisers, schedules, train, tta
from cifar_common.augment import RandomCropFlip
from cifar_common.freeze import FreezeAfterEpochs
from cifar_common.lookahead import Lookahead
import keras
from keras import layers

# Upstream's hyperparameters, in its own conventions: a rate per 1024 images of a loss summed over the batch,
# and a weight decay per 1024 images decoupled from that rate.
UPSTREAM_LR = 11.5
UPSTREAM_WEIGHT_DECAY = 0.0153
MOMENTUM = 0.85
# In Keras's: upstream divides its rate by 1024 * (1 + 1/(1 - momentum)) for a loss summed over 1024 images;
# over a loss averaged over them, that is UPSTREAM_LR / (1 + 1/(1 - momentum)). Its L2 term, wd / lr of the
# weights, shrinks them by (rate at this step) * wd / lr per step, 1/(1 - momentum) times that once it has
# gone through the momentum; Keras's decoupled decay shrinks them by (rate) * WEIGHT_DECAY per step.
LEARNING_RATE = UPSTREAM_LR / (1 + 1 / (1 - MOMENTUM))  # 1.5
WEIGHT_DECAY = UPSTREAM_WEIGHT_DECAY / (UPSTREAM_LR * (1 - MOMENTUM))  # 0.00887
EPOCHS = 10.8  # a float: --epochs takes a fraction
BATCH_SIZE = 1024
LABEL_SMOOTHING = 0.2
WHITENING_BIAS_EPOCHS = 3  # then the whitening bias stays as it is
BIAS_SCALER = 64.0  # BatchNorm's biases train at 64 times the rate (their weight decay stays)
# The rate, as multiples of LEARNING_RATE at fractions of the run's steps, linear in between.
LR_KNOTS = ((0.0, 0.2), (0.23, 1.0), (1.0, 0.07))
BATCHNORM_MOMENTUM = 0.6  # Keras's convention: moving = 0.6 * moving + 0.4 * batch (PyTorch's momentum 0.4)
WIDTHS = (64, 256, 256)
LOGIT_SCALE = 1 / 9


def conv3x3(width, name):
    return layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=initializers.Dirac(), name=name)


def batch_norm(name):
    return layers.BatchNormalization(momentum=BATCHNORM_MOMENTUM, epsilon=1e-12, scale=False, name=name)


def conv_group(x, width, name):
    x = conv3x3(width, f"{name}_conv1")(x)
    x = layers.MaxPooling2D(2)(x)
    x = batch_norm(f"{name}_norm1")(x)
    x = layers.Activation("gelu")(x)
    x = conv3x3(width, f"{name}_conv2")(x)
    x = batch_norm(f"{name}_norm2")(x)
    return layers.Activation("gelu")(x)


def build_model(data):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    # Shifted by up to 2 pixels (the image padded by reflection) and mirrored at random (not digits: a mirrored
    # digit is often another), in training only.
    x = RandomCropFlip(padding=2, flip=data.mirrorable, mode="reflect")(x)
    # The whitening convolution: a frozen kernel computed from the training images (below), then a bias that
    # trains; 24 filters for colour images, the 12 directions of a 2x2x3 patch and their negations.
    x = layers.Conv2D(2 * 2 * 2 * data.image_shape[-1], 2, use_bias=False, trainable=False, name="whitening")(x)
    x = initializers.Bias(name="whitening_bias")(x)
    x = layers.Activation("gelu")(x)
    for i, width in enumerate(WIDTHS):
        x = conv_group(x, width, f"group{i + 1}")
    x = layers.MaxPooling2D(3)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(data.num_classes, use_bias=False, kernel_initializer=initializers.pytorch_default(),
                     name="classifier")(x)
    # The logits, scaled down; in float32, also under --mixed-precision.
    outputs = layers.Rescaling(LOGIT_SCALE, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="speedrun_step6")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY,
                            label_smoothing=LABEL_SMOOTHING,
                            lr_schedule=None, lr_help=f"peak learning rate of SGD with Nesterov momentum {MOMENTUM}",
                            weight_decay_help="weight decay, decoupled: each step shrinks every weight by the "
                                              "step's rate times this share")
    with train.Run(args, drop_remainder=True) as run:  # whole batches only; run.total_steps for the schedule
        model = build_model(run.data)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        # The whitening kernel from the first 5000 training images, standardised as the network sees them.
        images = (run.data.x_train[:5000] - run.data.mean) / run.data.std
        model.get_layer("whitening").kernel.assign(initializers.whitening_kernel(images))
        knots = [(fraction * run.total_steps, multiple) for fraction, multiple in LR_KNOTS]
        optimizer = optimizers.ScaledRateSGD(schedules.PiecewiseLinear(args.lr, knots), momentum=MOMENTUM,
                                             nesterov=True, weight_decay=args.weight_decay,
                                             rate_multipliers={r"_norm\d/beta$": BIAS_SCALER},
                                             **regularisers.ema_arguments(args))
        model.compile(optimizer=optimizer, loss=regularisers.loss(args, model, from_logits=True),
                      metrics=["accuracy"], jit_compile=run.jit_compile)
        # The final test accuracy averages the logits of six views of each test image (tta.views).
        # The lookahead comes after the freeze, which undoes the optimizer's step alone.
        callbacks = [FreezeAfterEpochs("whitening_bias", WHITENING_BIAS_EPOCHS), Lookahead(run.total_steps, every=5)]
        run.fit(model, callbacks=callbacks, tta=tta.views)
