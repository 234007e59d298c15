"""Shake-shake regularisation (Gastaldi, "Shake-Shake regularization", 2017, arXiv 1705.07485) on a 26-layer
ResNet of two branches per block.

Adds over resnet/ResNet_keras.py: every block has two residual branches of the same shape, and the training
mixes them with random weights, a fresh pair for every image at every step: a * alpha + b * (1 - alpha) in the
forward pass, with alpha ~ U[0, 1], while the gradient flows back as if the weights had been an independent
beta and 1 - beta ("Shake-Shake-Image", the paper's best on CIFAR-10). Neither branch can count on its share,
nor on getting the blame it earned, so both must work on their own: noise that regularises like the data
augmentation it was modelled on, but inside the network. At test time each branch counts half.
cifar_common/shake.py writes the two weights once, with a stop-gradient, for every backend.

The network, as the paper's (and as hysts/pytorch_image_classification's models/cifar/shake_shake.py at commit
993089a, whose parameter counts it matches): a 3x3 convolution of 16 filters and BN, three stages of four
blocks whose branches are ReLU-conv3x3-BN-ReLU-conv3x3-BN with --width, twice and four times --width channels
(the first block of the second and third stages halves the image), then ReLU, global average pooling and the
classifier. Where a block changes the width its shortcut is ReLU, then two 1x1 convolutions of half the
channels each, one on the image and one on the image shifted by a pixel (with the stride, they see the even
and the odd pixels), concatenated, and BN; elsewhere the shortcut is the input itself.

Sizes (--width 32 is "2x32d": two branches of 32 channels in the first stage), as PyTorch counts the trained
parameters (Keras's count_params adds BatchNorm's moving statistics), with the paper's error (mean of 3 runs,
5 for 2x96d):

    --width 32 (the default)    2,923,162   3.55 %
    --width 64                 11,653,978   2.98 %
    --width 96                 26,192,922   2.86 %

(hysts's README gives 3.68, 2.88 and 2.90 %, from its earlier code: a first convolution of --width channels
and a ReLU after it, no shortcut convolutions in the first stage, no ReLU before the pooling.)

Training, as the paper's, which hysts's configs/shake_shake.json (commit 72f898b) repeats: 1800 epochs, batch
128, SGD with Nesterov momentum 0.9 from 0.2, cosine annealing to 0, weight decay 1e-4 in PyTorch's convention
on every weight (an L2 penalty of 5e-5 here: doc/weight-decay.md), crop-and-flip augmentation. The
convolutions start He-normal by their outputs (PyTorch's kaiming_normal_ with mode="fan_out", not cut at two
standard deviations as Keras's he_normal is), the classifier as PyTorch's Linear starts. Deliberate
difference: the cosine steps once an epoch (the paper's code: every step; over 1800 epochs the two rates
differ by under 0.1 % of the base rate).

    python shake_shake/ShakeShake_keras.py
    python shake_shake/ShakeShake_keras.py --width 96
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
from cifar_common.initializers import pytorch_default, pytorch_he_fan_out
from cifar_common.shake import ShakeShake
import keras
from keras import layers, regularizers

EPOCHS = 1800
BATCH_SIZE = 128
LEARNING_RATE = 0.2
LR_SCHEDULE = "cosine"
WEIGHT_DECAY = 5e-5  # PyTorch's weight_decay=1e-4
DEPTH = 26
WIDTH = 32
MODEL_FLAGS = {"depth": (DEPTH, "layers, 6n+2 (26: four blocks a stage)"),
               "width": (WIDTH, "channels of each branch in the first stage: 32, 64, 96 for 2x32d, 2x64d, "
                                   "2x96d (at least 16 on PyTorch's CPU)")}


def conv(filters, size, stride, l2):
    return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False,
                         kernel_initializer=pytorch_he_fan_out(), kernel_regularizer=l2)


def bn(x, l2):
    """Batch normalisation as PyTorch's defaults (momentum 0.1 there is 0.9 here), its scale and offset decayed."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, gamma_regularizer=l2, beta_regularizer=l2)(x)


def branch(x, filters, stride, l2):
    """ReLU-conv3x3-BN-ReLU-conv3x3-BN."""
    y = conv(filters, 3, stride, l2)(layers.Activation("relu")(x))
    y = conv(filters, 3, 1, l2)(layers.Activation("relu")(bn(y, l2)))
    return bn(y, l2)


def shortcut(x, filters, stride, l2):
    """The input, or where the width changes: ReLU, 1x1 convolutions of half the filters on the image and on the
    image shifted up and left by a pixel (with the stride, the even and the odd pixels), concatenated, BN."""
    if x.shape[-1] == filters:
        return x
    x = layers.Activation("relu")(x)
    shifted = layers.ZeroPadding2D(((0, 1), (0, 1)))(layers.Cropping2D(((1, 0), (1, 0)))(x))
    halves = [conv(filters // 2, 1, stride, l2)(x), conv(filters // 2, 1, stride, l2)(shifted)]
    return bn(layers.Concatenate()(halves), l2)


def shake_block(x, filters, stride, l2):
    mixed = ShakeShake()([branch(x, filters, stride, l2), branch(x, filters, stride, l2)])
    return layers.Add()([shortcut(x, filters, stride, l2), mixed])


def build_model(data, weight_decay, depth=DEPTH, width=WIDTH):
    if depth < 8 or (depth - 2) % 6:
        raise train.OptionError(f"--depth {depth}: a shake-shake ResNet has 6n+2 layers (26)")
    if width % 2:
        raise train.OptionError(f"--width {width}: an even number (a shortcut has two halves)")
    blocks = (depth - 2) // 6  # per stage
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = bn(conv(16, 3, 1, l2)(x), l2)
    for stage, filters in enumerate([width, 2 * width, 4 * width]):
        for index in range(blocks):
            x = shake_block(x, filters, 2 if stage > 0 and index == 0 else 1, l2)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    # The classifier starts as PyTorch's Linear does (uniform within +-1/sqrt(inputs)), its bias at 0.
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           kernel_regularizer=l2, bias_regularizer=l2, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"shake_shake{depth}_2x{width}d")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE, model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        if run.hardware.names == ["cpu"] and run.hardware.backend == "torch" and args.width < 16:
            # PyTorch's CPU kernels (oneDNN) hang or miscompute the weight gradient of a strided 1x1
            # convolution of fewer than 16 channels in, which the shortcuts of --width 8 and below are.
            raise train.OptionError(f"--width {args.width}: at least 16 on PyTorch's CPU (its strided 1x1 "
                                    "convolutions of fewer channels hang); use TensorFlow or JAX")
        model = build_model(run.data, args.weight_decay, args.depth, args.width)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
