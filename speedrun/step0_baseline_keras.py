"""Speed-run, step 0 of 7: the baseline network and recipe, 94 % on CIFAR-10 in 34 epochs.

The speed-run series trains one small network to 94 % test accuracy and then, one trick per script, makes it
get there in fewer epochs: 34 here, 9.9 at the end (step7_alternating_flip_keras.py, which is airbench94).
Its recipe and its ablation are Keller Jordan's (arXiv 2404.00498; KellerJordan/cifar10-zoo,
airbench/ablations/, each script's file named below).

The network: a 2x2 convolution of the image (24 filters) with BatchNorm and GELU, then three groups of
[3x3 convolution, 2x2 max-pooling, BatchNorm, GELU, 3x3 convolution, BatchNorm, GELU] of 64, 256 and 256
filters (32 -> 31 -> 15 -> 7 -> 3 pixels), a 3x3 max-pooling, and a linear layer to the 10 logits, scaled by
1/9. BatchNorm normalises without a scale (it stays 1) and learns only its bias, with epsilon 1e-12. About
1.97 M weights and 0.36 PFLOP per run: a seventh of one 200-epoch ResNet-20 run.

The recipe: batches of 1024 (the last, partial one of every epoch left out), SGD with Nesterov momentum 0.85,
a learning rate per step that warms up over the first 20 % of the steps from 0.2 times its peak and then falls
linearly to 0, weight decay on every weight, label smoothing 0.2, and each image shifted by up to 2 pixels
(padded by reflection) and mirrored at random. The final test accuracy averages the network's logits for
each test image and its mirror.

Upstream: KellerJordan/cifar10-zoo, airbench/ablations/main0_network.py at commit 1a8b762 ("94.00 in
n=100": the mean test accuracy of 100 runs on an A100, with the mirror averaging). Deliberate differences:
- upstream's hyperparameters are converted to Keras's conventions, the arithmetic below: Keras averages the
  loss over the batch and decouples the weight decay from the momentum, where upstream sums the loss and
  hands PyTorch's SGD an L2 term that goes through the momentum (about 1/(1-0.85) times stronger there).
  Keras's SGD folds the rate into the velocity at each step, PyTorch's applies each step's rate to the
  whole velocity: the same update at a constant rate, a little different while the rate changes.
- float32 (upstream: float16 on the GPU, BatchNorm in float32); ``--mixed-precision`` gives bfloat16.
- the images are standardised with the training set's own channel statistics, which upstream rounds to four
  digits; the shifts and flips are drawn inside the compiled model (upstream: on the batch, beforehand).

    python speedrun/step0_baseline_keras.py                                   # downloads CIFAR-10
    python speedrun/step0_baseline_keras.py --data-dir ~/cifar-10-batches-py  # a local copy
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import initializers, regularisers, schedules, train, tta
from cifar_common.augment import RandomCropFlip
import keras
from keras import layers

# Upstream's hyperparameters, in its own conventions: a rate per 1024 images of a loss summed over the batch,
# and a weight decay per 1024 images decoupled from that rate.
UPSTREAM_LR = 10.0
UPSTREAM_WEIGHT_DECAY = 0.0153
MOMENTUM = 0.85
# In Keras's: upstream divides its rate by 1024 * (1 + 1/(1 - momentum)) for a loss summed over 1024 images;
# over a loss averaged over them, that is UPSTREAM_LR / (1 + 1/(1 - momentum)). Its L2 term, wd / lr of the
# weights, shrinks them by (rate at this step) * wd / lr per step, 1/(1 - momentum) times that once it has
# gone through the momentum; Keras's decoupled decay shrinks them by (rate) * WEIGHT_DECAY per step.
LEARNING_RATE = UPSTREAM_LR / (1 + 1 / (1 - MOMENTUM))  # 1.304
WEIGHT_DECAY = UPSTREAM_WEIGHT_DECAY / (UPSTREAM_LR * (1 - MOMENTUM))  # 0.0102
EPOCHS = 34.0  # a float: --epochs takes a fraction
BATCH_SIZE = 1024
LABEL_SMOOTHING = 0.2
# The rate, as multiples of LEARNING_RATE at fractions of the run's steps, linear in between.
LR_KNOTS = ((0.0, 0.2), (0.2, 1.0), (1.0, 0.0))
BATCHNORM_MOMENTUM = 0.9  # Keras's convention: moving = 0.9 * moving + 0.1 * batch (PyTorch's momentum 0.1)
WIDTHS = (64, 256, 256)
LOGIT_SCALE = 1 / 9


def conv3x3(width, name):
    return layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=initializers.pytorch_default(),
                         name=name)


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
    x = layers.Conv2D(24, 2, use_bias=False, kernel_initializer=initializers.pytorch_default(), name="first_conv")(x)
    x = batch_norm("first_norm")(x)
    x = layers.Activation("gelu")(x)
    for i, width in enumerate(WIDTHS):
        x = conv_group(x, width, f"group{i + 1}")
    x = layers.MaxPooling2D(3)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(data.num_classes, use_bias=False, kernel_initializer=initializers.pytorch_default(),
                     name="classifier")(x)
    # The logits, scaled down; in float32, also under --mixed-precision.
    outputs = layers.Rescaling(LOGIT_SCALE, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="speedrun_step0")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY,
                            label_smoothing=LABEL_SMOOTHING,
                            lr_schedule=None, lr_help=f"peak learning rate of SGD with Nesterov momentum {MOMENTUM}",
                            weight_decay_help="weight decay, decoupled: each step shrinks every weight by the "
                                              "step's rate times this share")
    with train.Run(args, drop_remainder=True) as run:  # whole batches only; run.total_steps for the schedule
        model = build_model(run.data)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        knots = [(fraction * run.total_steps, multiple) for fraction, multiple in LR_KNOTS]
        optimizer = keras.optimizers.SGD(schedules.PiecewiseLinear(args.lr, knots), momentum=MOMENTUM, nesterov=True,
                                         weight_decay=args.weight_decay, **regularisers.ema_arguments(args))
        model.compile(optimizer=optimizer, loss=regularisers.loss(args, model, from_logits=True),
                      metrics=["accuracy"], jit_compile=run.jit_compile)
        # The final test accuracy averages the logits of each test image and its mirror.
        run.fit(model, callbacks=[], tta=tta.mirror_views)
