"""MobileNetV3 (Howard et al., "Searching for MobileNetV3", 2019, arXiv 1905.02244), Large and Small (--size), on
32x32 images.

Adds over mobilenet/MobileNetV2_keras.py: three changes to MobileNetV2's inverted residual block, and a layout
found by search instead of drawn by hand. Some blocks weigh the channels of their depthwise convolution's output
with squeeze-and-excitation (the gate of senet/SENet_keras.py: the channels' averages through a layer a quarter
as wide, ReLU, a layer back and a hard sigmoid, relu6(x + 3) / 6, whose outputs multiply the channels). The
deeper blocks use hard swish, x relu6(x + 3) / 6, instead of ReLU: a piecewise-linear copy of swish,
x sigmoid(x), which trains to better networks than ReLU but whose sigmoid is slow on a phone; hard swish costs
little more than ReLU, and most of it is spent where the images are already small. Some depthwise convolutions
are 5x5, cheap when each channel is filtered on its own. Each block's kernel, widths, gate and activation came
from an architecture search for accuracy per millisecond on a phone, then a per-layer trimming of the widths
(NetAdapt); the head was made cheaper by hand, its 1x1 convolution to 1280 channels moved after the global
pooling, onto one pixel instead of 7x7. MobileNetV3-Large reaches 75.2 % top-1 on ImageNet for 219 M
multiply-adds (MobileNetV2: 72.0 % for 300 M); Small, 67.4 % for 56 M.

The network, as leaderj1001/MobileNetV3-Pytorch defines it (model.py at commit 2500981, 2019-05-24), which the
zoo trained on the 32x32 images as it is (its author resized CIFAR to 224x224): a 3x3 convolution of 16 filters
with stride 2, a bias, BN and hard swish, so that the blocks start at 16x16; the blocks (kernel, expansion
width, output channels, gate, activation, stride; RE: ReLU, HS: hard swish), for Large 3-16-16-RE-1,
3-64-24-RE-2, 3-72-24-RE-1, 5-72-40-SE-RE-2, 5-120-40-SE-RE-1 twice, 3-240-80-HS-2, 3-200-80-HS-1,
3-184-80-HS-1 twice, 3-480-112-SE-HS-1, 3-672-112-SE-HS-1, 5-672-160-SE-HS-1, 5-672-160-SE-HS-2,
5-960-160-SE-HS-1, then a 1x1 convolution to 960 with a bias, BN and hard swish; for Small 3-16-16-SE-RE-2,
3-72-24-RE-2, 3-88-24-RE-1, 5-96-40-SE-RE-2, 5-240-40-SE-RE-1 twice, 5-120-48-SE-HS-1, 5-144-48-SE-HS-1,
5-288-96-SE-HS-2, 5-576-96-SE-HS-1 twice, then a 1x1 convolution to 576 with a bias, a gate, BN and hard swish.
Both reach 1x1 before their last block (Large) or two (Small), where a 5x5 depthwise kernel sees only its
centre. The head: global average pooling, a 1x1 convolution to 1280 channels with a bias and no BN, hard swish,
dropout (at model.py's default rate, 0, which the zoo kept) and a 1x1 convolution to the classes, both written
here as Dense layers on the pooled pixel (the same weights). A block: a 1x1 expansion convolution without a
bias, BN and the activation (in Large's first block too, whose expansion width equals its input's); a
depthwise convolution with a bias, BN and no activation; the gate (average, a Linear layer with a bias to a
quarter of the channels, ReLU, a Linear layer with a bias back, hard sigmoid, multiply); a 1x1 projection with
a bias, BN and the activation; plus the input where the block keeps the shape. Where this differs from the
paper, kept here: the depthwise convolution is linear and the projection has the activation (the paper's
projection is linear, as in MobileNetV2); the convolutions before a BN have biases; Large halves the image in
the second 160-channel block, expanding to 672, as the paper's first arXiv version listed it (its later
versions halve it in the first and expand the second to 960); Small's 40-channel blocks use ReLU where the
paper's use hard swish, a gate sits between its last convolution and that convolution's BN, and its head has
1280 channels where the paper's has 1024; and the first convolution keeps the stride 2 meant for 224x224
images. model.py starts its convolutions with Xavier's uniform draw (Keras's Glorot uniform), its Linear
layers with a normal of standard deviation 0.01 and every bias at 0, and so does this script. Keras's "same"
padding of a 5x5 convolution that halves the image is one pixel at the top and left and two at the bottom and
right, where PyTorch's padding=2 puts two on every side. 3,884,328 parameters (Large) and 1,843,272 (Small) as
PyTorch counts them (Keras's count_params adds BatchNorm's moving means and variances).

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), and
Keras's "same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side). Its initial weights are model.py's own, above.

Reference: the zoo's best epoch, 90.28 % (Large; Small: 87.15 %); this collection's figure is the final epoch's.

    python mobilenet/MobileNetV3_keras.py
    python mobilenet/MobileNetV3_keras.py --size small
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
from cifar_common.optimizers import CoupledDecaySGD
import keras
from keras import layers

# The zoo's shared recipe.
EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.01
LR_SCHEDULE = "cosine"
WEIGHT_DECAY = 5e-4  # PyTorch's weight_decay: decay * w added to every weight's gradient

# (kernel size, expansion width, output channels, squeeze-and-excitation, activation, stride) of each block.
# Keras's "hard_swish" is x * relu6(x + 3) / 6 and its "hard_sigmoid" relu6(x + 3) / 6, model.py's h_swish and
# h_sigmoid exactly (Keras 3; Keras 2's hard_sigmoid was 0.2 x + 0.5).
LARGE = [(3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
         (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
         (3, 240, 80, False, "hard_swish", 2), (3, 200, 80, False, "hard_swish", 1),
         (3, 184, 80, False, "hard_swish", 1), (3, 184, 80, False, "hard_swish", 1),
         (3, 480, 112, True, "hard_swish", 1), (3, 672, 112, True, "hard_swish", 1),
         (5, 672, 160, True, "hard_swish", 1), (5, 672, 160, True, "hard_swish", 2),
         (5, 960, 160, True, "hard_swish", 1)]
SMALL = [(3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1),
         (5, 96, 40, True, "relu", 2), (5, 240, 40, True, "relu", 1), (5, 240, 40, True, "relu", 1),
         (5, 120, 48, True, "hard_swish", 1), (5, 144, 48, True, "hard_swish", 1),
         (5, 288, 96, True, "hard_swish", 2), (5, 576, 96, True, "hard_swish", 1),
         (5, 576, 96, True, "hard_swish", 1)]
# Each size: its blocks, the width of the 1x1 convolution after them, and whether that one has a gate.
SIZES = {"large": (LARGE, 960, False), "small": (SMALL, 576, True)}
STEM = 16  # filters of the first convolution
HEAD = 1280  # width of the 1x1 convolution after the pooling
SE_REDUCTION = 4  # the gate's hidden layer: the channels // 4
DROPOUT = 0.0  # before the classifier: model.py's default, which the zoo kept
SIZE = "large"
MODEL_FLAGS = {"size": (SIZE, "large: 15 blocks to 160 channels, 3.9 M parameters; small: 11 blocks to 96, "
                              "1.8 M", tuple(SIZES))}


def xavier():
    """model.py's start for every convolution (torch.nn.init.xavier_uniform_): uniform within
    +-sqrt(6 / (fan_in + fan_out)), Keras's Glorot uniform. Keras counts a depthwise kernel's fans the other way
    round from PyTorch (fan_in 9 C and fan_out 9 for 3x3, where PyTorch has 9 and 9 C), but the draw depends
    only on their sum. A new instance for every layer, since an unseeded Keras initializer called twice gives
    the same values twice."""
    return keras.initializers.GlorotUniform()


def linear_init():
    """model.py's start for the gate's Linear layers: normal, standard deviation 0.01."""
    return keras.initializers.RandomNormal(stddev=0.01)


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def conv1x1(x, filters, use_bias):
    return layers.Conv2D(filters, 1, use_bias=use_bias, kernel_initializer=xavier())(x)


def squeeze_excite(x):
    """Rescales each channel of ``x`` by a weight in [0, 1] computed from the whole image: average, Linear to a
    quarter of the channels, ReLU, Linear back, hard sigmoid (the Linear layers with biases)."""
    channels = x.shape[-1]
    weights = layers.GlobalAveragePooling2D(keepdims=True)(x)  # squeeze: (batch, 1, 1, channels)
    weights = layers.Dense(channels // SE_REDUCTION, activation="relu", kernel_initializer=linear_init())(weights)
    weights = layers.Dense(channels, activation="hard_sigmoid", kernel_initializer=linear_init())(weights)
    return layers.Multiply()([x, weights])  # excite


def bneck(x, kernel_size, expansion, filters, se, activation, stride):
    """1x1 to ``expansion`` channels, BN, activation; depthwise convolution with a bias, BN, no activation; the
    gate if ``se``; 1x1 to ``filters`` with a bias, BN, activation (model.py's projection is not linear); plus
    the input where the block keeps the shape."""
    y = layers.Activation(activation)(bn(conv1x1(x, expansion, use_bias=False)))
    y = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same", depthwise_initializer=xavier())(y)
    y = bn(y)
    if se:
        y = squeeze_excite(y)
    y = layers.Activation(activation)(bn(conv1x1(y, filters, use_bias=True)))
    if stride == 1 and x.shape[-1] == filters:
        return layers.Add()([x, y])
    return y


def build_model(data, size=SIZE):
    if size not in SIZES:
        raise train.OptionError(f"--size {size}: {' or '.join(SIZES)}")
    blocks, last_width, last_se = SIZES[size]
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = layers.Conv2D(STEM, 3, strides=2, padding="same", kernel_initializer=xavier())(x)  # 32x32 to 16x16
    x = layers.Activation("hard_swish")(bn(x))
    for kernel_size, expansion, filters, se, activation, stride in blocks:
        x = bneck(x, kernel_size, expansion, filters, se, activation, stride)
    x = conv1x1(x, last_width, use_bias=True)
    if last_se:
        x = squeeze_excite(x)  # Small: between the convolution and its BN
    x = layers.Activation("hard_swish")(bn(x))
    x = layers.GlobalAveragePooling2D()(x)
    # model.py's two 1x1 convolutions on the pooled pixel, as Dense layers: the same weights.
    x = layers.Dense(HEAD, activation="hard_swish", kernel_initializer=xavier())(x)
    x = layers.Dropout(DROPOUT)(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=xavier(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"mobilenet_v3_{size}")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight",
                            model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.size)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
