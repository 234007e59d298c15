"""ShuffleNet (Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
Devices", 2017, arXiv 1707.01083) on 32x32 images.

Adds over mobilenet/MobileNet_keras.py: grouped 1x1 convolutions and the channel shuffle. In a network of
depthwise convolutions most of the arithmetic is in the 1x1 convolutions that mix the channels; ShuffleNet
splits them into g groups, each mixing only its own C/g channels (g times cheaper), and lets information
cross the groups by shuffling the channels between the two 1x1 convolutions of a unit: reshape to (g, C/g),
transpose, flatten, so that each group of the next convolution receives channels from every group of the
last. A unit is a bottleneck (grouped 1x1 to a quarter of the output width, BN, ReLU, shuffle, depthwise 3x3,
BN, grouped 1x1, BN) added to its input, or, where it halves the image, concatenated with the input averaged
over 3x3 pixels; then ReLU. --groups: the paper's g = 1, 2, 3, 4, 8, with the widths of its Table 1 (stages
of 144, 288, 576 output channels for g = 1; 200, 400, 800 for g = 2; 240, 480, 960 for g = 3; 272, 544, 1088
for g = 4; 384, 768, 1536 for g = 8), so that every g costs about the same.

The network, as kuangliu/pytorch-cifar builds it (models/shufflenet.py at commit 49b7aa9, which defines only
g = 2 and 3 and no longer runs on today's PyTorch), with the paper's widths: a 1x1 convolution of 24 filters
with BN and ReLU (the paper's stem, a 3x3 convolution with stride 2 and a max pooling, is for 224x224
images), three stages of 4, 8 and 4 units, the first of each halving the image, global average pooling and
the classifier. Every unit's bottleneck is a quarter of its stage's output width, as the paper says (kuangliu
takes a quarter of the branch's width, which in a stage's first unit is narrower), and the first 1x1
convolution of the network's first unit is not grouped (24 input channels). Parameters as PyTorch counts
them (Keras's count_params adds BatchNorm's moving means and variances), for g = 1, 2, 3, 4, 8: 960,130,
940,282, 913,762, 889,658, 912,562. Keras's average pooling leaves the padding out of its averages at the
borders; PyTorch's (count_include_pad) counts it as zeros.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 91.33 / 91.20 / 91.01 / 90.66 / 90.51 % (g = 1 / 2 / 3 / 4 / 8); this
collection's figure is the final epoch's.

    python shufflenet/ShuffleNet_keras.py --groups 3
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

GROUPS = 3
STAGE_WIDTHS = {1: [144, 288, 576], 2: [200, 400, 800], 3: [240, 480, 960], 4: [272, 544, 1088],
                8: [384, 768, 1536]}  # the paper's Table 1: output channels of each stage
UNITS = [4, 8, 4]
MODEL_FLAGS = {"groups": (GROUPS, "g: groups of the 1x1 convolutions", tuple(STAGE_WIDTHS))}


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def relu(x):
    return layers.Activation("relu")(x)


def pointwise(x, filters, groups):
    return GroupedConv2D(filters, 1, groups=groups, use_bias=False, kernel_initializer=pytorch_default())(x)


def channel_shuffle(x, groups):
    """The channels as a (groups, C / groups) table, transposed: channel j of group i moves to j * groups + i."""
    height, width, channels = x.shape[1:]
    x = layers.Reshape((height, width, groups, channels // groups))(x)
    x = layers.Permute((1, 2, 4, 3))(x)
    return layers.Reshape((height, width, channels))(x)


def unit(x, width, stride, groups):
    """A ShuffleNet unit whose output has ``width`` channels."""
    bottleneck = width // 4
    first_groups = 1 if x.shape[-1] == 24 else groups  # the network's first unit: 24 channels, not grouped
    y = relu(bn(pointwise(x, bottleneck, first_groups)))
    y = channel_shuffle(y, first_groups)
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               depthwise_initializer=pytorch_default(fan_in=9))(y)
    y = bn(y)
    if stride == 1:
        return relu(layers.Add()([bn(pointwise(y, width, groups)), x]))
    y = bn(pointwise(y, width - x.shape[-1], groups))  # the rest of the width comes from the input
    shortcut = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    return relu(layers.Concatenate()([y, shortcut]))


def build_model(data, groups=GROUPS):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = relu(bn(pointwise(x, 24, 1)))
    for units, width in zip(UNITS, STAGE_WIDTHS[groups]):
        for index in range(units):
            x = unit(x, width, 2 if index == 0 else 1, groups)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"shufflenet_g{groups}")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight",
                            model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.groups)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
