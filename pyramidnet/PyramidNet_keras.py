"""PyramidNet (Han, Kim and Kim, "Deep Pyramidal Residual Networks", 2017, arXiv 1610.02915), with ShakeDrop
(Yamada et al., "ShakeDrop Regularization for Deep Residual Learning", 2018, arXiv 1802.02375) as --shakedrop.

Adds over resnet/ResNet_keras.py: the width grows a little at every block instead of doubling at the start of
each stage. A ResNet puts all of a stage's new channels into the one block that halves the image, and removing
that block hurts it far more than removing any other; PyramidNet spreads the widening over all N blocks, by
alpha / N channels each (16 + k * alpha / N for block k, rounded), so every block matters about equally. The
block changes too: BN-conv3x3-BN-ReLU-conv3x3-BN, with no ReLU before the first convolution (so the branch
sees the negative parts of the sum too; the paper measured the block better without it) and a BN after the
last. The shortcut has no weights: the input, averaged over 2x2 pixels where the block halves the image, with
zero channels added to match the wider output. --block bottleneck:
BN-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1-BN, whose last 1x1 widens four times; 9n+2 layers instead of 6n+2.

--shakedrop P scales each block's residual branch by a random number before the addition: with probability
1 - p_k by 1 (the block works as usual), otherwise by alpha ~ U[-1, 1] in the forward pass and by an
independent beta ~ U[0, 1] in the backward pass, drawn per image; p_k grows linearly with the depth, from
P / N at the first block to P at the last (P = 0.5 in the paper). A branch multiplied by a negative number
disturbs the training far more than dropping it, so the network cannot rely on any one block; at test time
each branch is scaled by its expectation, 1 - p_k. cifar_common/shake.py writes the two coefficients once,
with a stop-gradient, for every backend.

Sizes, as PyTorch counts the trained parameters (Keras's count_params adds BatchNorm's moving statistics),
the counts of a peer's definition (hysts/pytorch_image_classification, models/cifar/pyramidnet.py at commit
993089a), with the error of the paper and of that peer (its README):

    --depth 110 --alpha 84 (the default)          3,904,446   paper 4.26 +- 0.23 %, hysts 4.40 %
    --depth 110 --alpha 270                      28,485,477   paper 3.73 +- 0.04 %, hysts 3.92 %
    --depth 164 --alpha 270 --block bottleneck   27,216,021   paper 3.48 +- 0.20 %
    --depth 272 --alpha 200 --block bottleneck   26,210,842   paper 3.31 +- 0.08 %
      and --shakedrop 0.5                        26,210,842   ShakeDrop paper 3.08 %, google/flax 3.26 %

(hysts's 3.44 % for the 164-layer network came from its earlier code, whose bottleneck networks started with a
convolution of 64 channels instead of 16.)

Training, as the paper's and as hysts's configs/pyramidnet.json at commit 72f898b, where its figures first
appear: 300 epochs, batch 128, SGD with Nesterov momentum 0.9 from 0.1, a tenth from epoch 150 and a
hundredth from epoch 225, weight decay 1e-4 in PyTorch's convention on every weight (the convolutions,
BatchNorm's scales and offsets, the classifier and its bias), which is an L2 penalty of 5e-5 here (Keras's
penalty doubles in its gradient: doc/weight-decay.md), crop-and-flip augmentation. The convolutions start
He-normal by their outputs (PyTorch's kaiming_normal_ with mode="fan_out", not cut at two standard
deviations as Keras's he_normal is), the classifier as PyTorch's Linear starts. google/flax's ShakeDrop run
(examples/cifar10/README.md at commit 11be3ca) took batch 256 and decayed the convolutions and the classifier
only, on a network whose widths it rounds down and whose convolutions have biases:

    python pyramidnet/PyramidNet_keras.py
    python pyramidnet/PyramidNet_keras.py --depth 272 --alpha 200 --block bottleneck --shakedrop 0.5 --batch-size 256
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import cli, regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
from cifar_common.initializers import pytorch_default, pytorch_he_fan_out
from cifar_common.shake import ShakeDrop
import keras
from keras import layers, regularizers

EPOCHS = 300
BATCH_SIZE = 128
LEARNING_RATE = 0.1
LR_STEPS = ((150, 0.1), (225, 0.01))  # (epoch index of 300, multiple of the base rate): 0.1, 0.01, 0.001
WEIGHT_DECAY = 5e-5  # PyTorch's weight_decay=1e-4
DEPTH = 110
ALPHA = 84.0
BLOCK = "basic"
SHAKEDROP = 0.0
MODEL_FLAGS = {"depth": (DEPTH, "layers: 6n+2 with basic blocks (110), 9n+2 with bottleneck blocks (164, 272)"),
               "alpha": (ALPHA, "channels the network widens by over all its blocks", cli.positive_float),
               "block": (BLOCK, "basic: two 3x3 convolutions a block; bottleneck: 1x1, 3x3, 1x1 four times wider",
                         ("basic", "bottleneck")),
               "shakedrop": (SHAKEDROP, "ShakeDrop's probability of shaking the last block's branch (the "
                                        "paper: 0.5), less by depth for the blocks before it; 0 for none",
                             cli.probability)}


def conv(filters, size, stride, l2):
    return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False,
                         kernel_initializer=pytorch_he_fan_out(), kernel_regularizer=l2)


def bn(x, l2):
    """Batch normalisation as PyTorch's defaults (momentum 0.1 there is 0.9 here), its scale and offset decayed."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, gamma_regularizer=l2, beta_regularizer=l2)(x)


def pad_channels(x, channels):
    """``x`` with zero channels appended up to ``channels``. Keras has no layer that pads the channel axis, so
    the channels become a third spatial axis for a moment, which ZeroPadding3D pads."""
    height, width, have = x.shape[1:]
    x = layers.Reshape((height, width, have, 1))(x)
    x = layers.ZeroPadding3D(((0, 0), (0, 0), (0, channels - have)))(x)
    return layers.Reshape((height, width, channels))(x)


def pyramid_block(x, channels, stride, bottleneck, l2, shakedrop):
    """One block whose output has ``channels`` channels (four times that with ``bottleneck``); ``shakedrop``:
    ShakeDrop's probability for this block's branch (0: none)."""
    y = bn(x, l2)  # no ReLU before the first convolution
    if bottleneck:
        y = conv(channels, 1, 1, l2)(y)
        y = layers.Activation("relu")(bn(y, l2))
        y = conv(channels, 3, stride, l2)(y)
        y = layers.Activation("relu")(bn(y, l2))
        y = conv(4 * channels, 1, 1, l2)(y)
    else:
        y = conv(channels, 3, stride, l2)(y)
        y = layers.Activation("relu")(bn(y, l2))
        y = conv(channels, 3, 1, l2)(y)
    y = bn(y, l2)  # and a BN after the last
    if shakedrop:
        y = ShakeDrop(shakedrop)(y)
    shortcut = layers.AveragePooling2D(2)(x) if stride == 2 else x
    if y.shape[-1] > shortcut.shape[-1]:
        shortcut = pad_channels(shortcut, y.shape[-1])
    return layers.Add()([shortcut, y])


def build_model(data, weight_decay, depth=DEPTH, alpha=ALPHA, block=BLOCK, shakedrop=SHAKEDROP):
    bottleneck = block == "bottleneck"
    layers_per_block = 9 if bottleneck else 6
    if depth < layers_per_block + 2 or (depth - 2) % layers_per_block:
        raise train.OptionError(f"--depth {depth}: a PyramidNet of {block} blocks has {layers_per_block}n+2 "
                                f"layers ({'164, 272' if bottleneck else '110'})")
    if not alpha > 0:
        raise train.OptionError(f"--alpha {alpha}: the widening must be above 0")
    if not 0 <= shakedrop <= 1:
        raise train.OptionError(f"--shakedrop {shakedrop}: a probability, from 0 to 1")
    blocks = (depth - 2) // layers_per_block  # per stage
    total = 3 * blocks
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = bn(conv(16, 3, 1, l2)(x), l2)
    for k in range(1, total + 1):
        # Block k's width: 16 + k * alpha / total, rounded half to even as NumPy rounds (hysts's definition).
        channels = round(16 + k * alpha / total)
        stride = 2 if k in (blocks + 1, 2 * blocks + 1) else 1  # the first block of stages 2 and 3
        x = pyramid_block(x, channels, stride, bottleneck, l2, shakedrop * k / total)
    x = layers.Activation("relu")(bn(x, l2))
    x = layers.GlobalAveragePooling2D()(x)
    # The classifier starts as PyTorch's Linear does (uniform within +-1/sqrt(inputs)), its bias at 0.
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           kernel_regularizer=l2, bias_regularizer=l2, dtype="float32")(x)
    name = f"pyramidnet{depth}_alpha{alpha:g}" + ("_bottleneck" if bottleneck else "") + \
        ("_shakedrop" if shakedrop else "")
    return keras.Model(inputs, outputs, name=name)


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.weight_decay, args.depth, args.alpha, args.block, args.shakedrop)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # The step decay LR_STEPS scaled to --epochs, or the schedule --lr-schedule names (cosine, htd).
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
