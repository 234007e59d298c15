"""EfficientNet-B0 (Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", 2019,
arXiv 1905.11946) on 32x32 images.

Adds over mobilenet/MobileNetV2_keras.py: three things in MobileNetV2's inverted residual block (1x1 expansion,
depthwise convolution, linear 1x1 projection, shortcut between the thin ends), and a way of sizing the network.
Each block weighs the channels of its depthwise convolution's output with squeeze-and-excitation (the gate of
senet/SENet_keras.py, its hidden layer a quarter of the block's input width); the activation is swish,
x sigmoid(x) (Keras's "silu"), smooth where ReLU has a corner; and three of the seven stages filter with 5x5
depthwise kernels, which cost little when each channel is filtered on its own. In training, each residual
branch is also dropped for a random share of the images ("drop-connect", stochastic depth image by image),
more often the deeper the block. B0, the baseline, came from a search for accuracy per multiply-add; the
paper's main idea is compound scaling, which grows B0 into B1 to B7 by making it deeper, wider and fed larger
images together, in fixed ratios (1.2, 1.1 and 1.15 a step), instead of along one of these alone. B0 has
5.3 M parameters and does 0.39 G multiply-adds on a 224x224 image, a tenth of ResNet-50's, and is more accurate.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/efficientnet.py at commit 49b7aa9): a
3x3 convolution of 32 filters with stride 1 (the paper's has stride 2), BN and swish; B0's seven stages of 16
blocks in all (expansion, channels, blocks, kernel, stride: 1-16-1-3-1, 6-24-2-3-2, 6-40-2-5-2, 6-80-3-3-2,
6-112-3-5-1, 6-192-4-5-2, 6-320-1-3-1), global average pooling of the last 2x2 map, 20 % dropout and the
classifier. A block: 1x1 expansion convolution, BN, swish (none in the first block, whose expansion is 1);
depthwise convolution, BN, swish; squeeze-and-excitation (average over the image, 1x1 convolution to a quarter
of the block's input channels, swish, 1x1 convolution back, sigmoid, multiply); 1x1 convolution, BN; plus the
input where the block keeps the shape. Differences from the paper: no 1x1 convolution to 1280 channels before
the pooling (the classifier reads the last block's 320), BN with PyTorch's defaults, and no drop-connect:
kuangliu's code sets a rate of 0.2 and gives block b the rate 0.2 b / 16, but never advances b, so every rate
is 0 and its networks train without it. So does this script by default; --drop-connect 0.2 gives the schedule
meant, 0.2 b / 16 for blocks b = 0 to 15 (the paper's code), on the blocks with a shortcut. kuangliu's first
block also makes an expansion convolution and BN that it never uses; PyTorch counts their 1,088 parameters in
its 3,599,686, and this network, without them, has 3,598,598 (Keras's count_params adds BatchNorm's moving
means and variances), 30 M multiply-accumulates an image.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 91.97 %; this collection's figure is the final epoch's.

    python efficientnet/EfficientNet_keras.py
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import cli, regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
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

# EfficientNet-B0: (expansion, output channels, blocks, kernel size, stride of the first block) of each stage.
STAGES = [(1, 16, 1, 3, 1), (6, 24, 2, 3, 2), (6, 40, 2, 5, 2), (6, 80, 3, 3, 2), (6, 112, 3, 5, 1),
          (6, 192, 4, 5, 2), (6, 320, 1, 3, 1)]
SE_RATIO = 0.25  # squeeze-and-excitation's hidden width over the block's input width
DROPOUT = 0.2  # before the classifier, in training
DROP_CONNECT = 0.0  # kuangliu's in effect (its 0.2 is never applied); the paper's: 0.2
MODEL_FLAGS = {"drop_connect": (DROP_CONNECT, "block b of 16 drops its residual branch for a share X b / 16 of the "
                                              "images in training (the paper: 0.2); 0 for none, as kuangliu's code",
                                cli.probability)}


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def bn_swish(x):
    return layers.Activation("silu")(bn(x))  # swish: x sigmoid(x)


def conv1x1(x, filters):
    return layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=pytorch_default())(x)


def squeeze_excite(x, hidden):
    """Rescales each channel of ``x`` by a weight in (0, 1) computed from the whole image: average, 1x1
    convolution to ``hidden`` channels, swish, 1x1 convolution back, sigmoid (the convolutions with biases)."""
    weights = layers.GlobalAveragePooling2D(keepdims=True)(x)  # squeeze: (batch, 1, 1, channels)
    weights = layers.Conv2D(hidden, 1, activation="silu", kernel_initializer=pytorch_default())(weights)
    weights = layers.Conv2D(x.shape[-1], 1, activation="sigmoid", kernel_initializer=pytorch_default())(weights)
    return layers.Multiply()([x, weights])  # excite


def mb_block(x, expansion, filters, kernel_size, stride, drop_rate):
    """1x1 to ``expansion`` times the width, BN, swish (if the expansion is above 1); depthwise convolution, BN,
    swish; squeeze-and-excitation; 1x1 to ``filters``, BN; plus the input where the shape is kept, the branch
    first dropped for a share ``drop_rate`` of the images in training."""
    in_channels = x.shape[-1]
    y = x if expansion == 1 else bn_swish(conv1x1(x, expansion * in_channels))
    y = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same", use_bias=False,
                               depthwise_initializer=pytorch_default(fan_in=kernel_size * kernel_size))(y)
    y = bn_swish(y)
    y = squeeze_excite(y, int(in_channels * SE_RATIO))
    y = bn(conv1x1(y, filters))
    if stride != 1 or in_channels != filters:
        return y
    if drop_rate > 0:
        # kuangliu's drop_connect: one Bernoulli draw per image, keeping the whole branch with probability
        # 1 - drop_rate and dividing it by that probability, in training only. Keras's Dropout does exactly
        # this when its mask has one entry per image (noise_shape (batch, 1, 1, 1), broadcast over the image
        # and channels): it zeroes an entry with probability `rate`, scales the rest by 1 / (1 - rate), and
        # passes its input unchanged outside training.
        y = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1))(y)
    return layers.Add()([y, x])


def build_model(data, drop_connect=DROP_CONNECT):
    if not 0 <= drop_connect <= 1:
        raise train.OptionError(f"--drop-connect {drop_connect}: a probability, from 0 to 1")
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = layers.Conv2D(32, 3, padding="same", use_bias=False, kernel_initializer=pytorch_default())(x)
    x = bn_swish(x)
    blocks = sum(stage[2] for stage in STAGES)
    index = 0  # the block's position in the network, from 0 to blocks - 1
    for expansion, filters, count, kernel_size, stride in STAGES:
        for block in range(count):
            x = mb_block(x, expansion, filters, kernel_size, stride if block == 0 else 1,
                         drop_connect * index / blocks)
            index += 1
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(DROPOUT)(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name="efficientnet_b0")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight",
                            model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.drop_connect)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
