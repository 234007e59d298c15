"""RegNetX-200MF (Radosavovic et al., "Designing Network Design Spaces", 2020, arXiv 2003.13678) on 32x32 images.

Adds over resnext/ResNeXt_keras.py: not a new block but a rule that sizes a whole network. RegNet's X block is
ResNeXt's (a 1x1 convolution, a grouped 3x3 one, a 1x1 one, added to the shortcut); what the paper designs is a
design space, a family of networks, narrowed step by step by training hundreds of small networks drawn from it
and keeping the constraints the good ones share. What remains is a handful of numbers. The widths of the d
blocks grow linearly, u_j = w_0 + w_a j for block j, and are then quantized: each is rounded to w_0 times a
whole power of w_m (and to a multiple of 8), so that blocks of equal width form a stage and each stage is about
w_m times as wide as the one before. Every grouped convolution has the same group width g (channels a group),
and the bottleneck ratio b, the block's width over its inner width, comes out best at 1: no bottleneck.
RegNetX-200MF (d = 13, w_0 = 24, w_a = 36.44, w_m = 2.49, g = 8, b = 1) is the paper's pick for a budget of
200 M multiply-adds on a 224x224 image: stages of 1, 1, 4 and 7 blocks, 24, 56, 152 and 368 channels wide.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/regnet.py at commit 49b7aa9): those
stages, their widths and depths written out, not computed from the rule. The paper's stem (a 3x3 convolution
of 32 filters with stride 2) becomes one of 64 filters with stride 1, and the first two stages keep the
image's size where the paper's four each halve it, so the stages see 32, 32, 16 and 8 pixels square. A block:
1x1 convolution, BN, ReLU; grouped 3x3 convolution (width / 8 groups of 8 channels; the first block of a
stage carries its stride), BN, ReLU; 1x1 convolution, BN; added to the input, or to a 1x1 convolution and BN
of it where the shape changes; ReLU. Then global average pooling and the classifier. (models/regnet.py also
defines RegNetX-400MF and RegNetY-400MF, whose blocks add squeeze-and-excitation; this script builds
RegNetX-200MF.) 2,321,946 parameters as PyTorch counts them (Keras's count_params adds BatchNorm's moving means
and variances), 0.22 G multiply-accumulates an image.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 93.89 %; this collection's figure is the final epoch's.

    python regnet/RegNet_keras.py
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
from cifar_common.grouped_conv import GroupedConv2D  # Conv2D(groups=...), fast on CPUs too
from cifar_common.initializers import pytorch_default
from cifar_common.optimizers import CoupledDecaySGD
import keras
from keras import layers

# The zoo's shared recipe.
EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.01
LR_SCHEDULE = "cosine"
WEIGHT_DECAY = 5e-4  # PyTorch's weight_decay: decay * w added to every weight's gradient

# RegNetX-200MF: (blocks, width, stride of the first block) of each stage; the paper's strides are all 2.
STAGES = [(1, 24, 1), (1, 56, 1), (4, 152, 2), (7, 368, 2)]
GROUP_WIDTH = 8  # channels in each group of the 3x3 convolutions
BOTTLENECK_RATIO = 1  # the width inside a block over its width, as kuangliu multiplies (the paper's b divides)


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def bn_relu(x):
    return layers.Activation("relu")(bn(x))


def conv(x, filters, size, stride=1, groups=1):
    return GroupedConv2D(filters, size, strides=stride, padding="same", groups=groups, use_bias=False,
                         kernel_initializer=pytorch_default())(x)


def x_block(x, width, stride):
    """1x1, BN, ReLU; grouped 3x3 (carrying the stride), BN, ReLU; 1x1, BN; plus the input (through a 1x1
    convolution and BN where the shape changes); ReLU."""
    inner = int(round(width * BOTTLENECK_RATIO))
    y = bn_relu(conv(x, inner, 1))
    y = bn_relu(conv(y, inner, 3, stride, groups=inner // GROUP_WIDTH))
    y = bn(conv(y, width, 1))
    shortcut = x
    if stride != 1 or x.shape[-1] != width:
        shortcut = bn(conv(x, width, 1, stride))
    return layers.Activation("relu")(layers.Add()([y, shortcut]))


def build_model(data):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = bn_relu(conv(x, 64, 3))
    for blocks, width, stride in STAGES:
        for index in range(blocks):
            x = x_block(x, width, stride if index == 0 else 1)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name="regnetx_200mf")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight")
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
