r"""Pre-activation ResNet for CIFAR-10 (He et al., "Identity Mappings in Deep Residual Networks", 2016).

A residual block does not learn its output from scratch: it learns a correction F(x) that is added to its
input, y = x + F(x). When a block has nothing useful to add it can leave F near zero and pass x through, so
very deep stacks still train: the gradient flows back through the additions undisturbed. The
pre-activation form puts batch normalisation and ReLU before each convolution (BN-ReLU-conv-BN-ReLU-conv),
so the path through the additions is a pure identity from the first block to the last.

The network has 6n+2 layers (--depth 20, 32, 110: n = 3, 5, 18): a 3x3 convolution with 16 filters, three
stages of n blocks with 16, 32 and 64 filters (the second and third start with stride 2, halving the image,
and a 1x1 convolution adapts the shortcut), then global average pooling and the classifier.
0.27 / 0.47 / 1.7 M parameters. Training, as the reference runs (upstream BIGBALLON/cifar-10-cnn,
4_Residual_Network/ResNet_keras.py at commit 30db1f4, where the three figures first appear): crop-and-flip
augmentation, per-channel standardisation, batch 128, L2 1e-4, SGD with Nesterov momentum from 0.1, a tenth
from epoch 81 and a hundredth from epoch 122 of 200; Keras 3's he_normal (see doc/initialisation.md).

Reference test accuracy after 200 epochs: 91.82 / 92.68 / 93.93 % (depth 20 / 32 / 110).

Without flags it trains ResNet-110 for 200 epochs, the largest of the three (days on a CPU, hours on a GPU);
start with the smallest, whose 200 epochs take an afternoon on a 2-core CPU (its epoch times are in
benchmarks/README.md):

    python resnet/ResNet_keras.py --depth 20
    python resnet/ResNet_keras.py --depth 32

--block bottleneck builds the paper's deeper networks: each block narrows to a quarter of its channels with a
1x1 convolution, runs the 3x3 convolution there (with the block's stride), and widens back with another 1x1
(BN-ReLU before each), so a block of three layers costs about what a basic block of two costs at a quarter of
the width. Stages of 64, 128 and 256 output channels; 9n+2 layers. ResNet-164 (n = 18) has 1,703,258 trained
parameters, the paper's 1.7 M (Keras's count_params adds BatchNorm's moving means and variances, 24,224 more,
which PyTorch does not count; ResNet-110's 1,730,522 likewise). The paper reports 5.46 % error for it. A peer,
hysts/pytorch_image_classification (configs/cifar/resnet_preact.yaml at commit 993089a), trains it 160 epochs,
the rate a tenth from epochs 80 and 120, weight decay 1e-4 in PyTorch's convention (5e-5 here), and got 5.90 %
with a first stage of 16 output channels instead of 64 (1,619,290 parameters); its recipe, with this script's
network:

    python resnet/ResNet_keras.py --depth 164 --block bottleneck \
        --epochs 160 --lr-steps 80:0.1,120:0.01 --weight-decay 5e-5
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
import keras
from keras import layers, regularizers

EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.1
LR_STEPS = ((81, 0.1), (122, 0.01))  # (epoch of 200, multiple of the base rate)
WEIGHT_DECAY = 1e-4
DEPTH = 110
BLOCK = "basic"
MODEL_FLAGS = {"depth": (DEPTH, "layers: 6n+2 with basic blocks (20, 32, 44, 56, 110), 9n+2 with bottleneck "
                                "blocks (164, 1001)"),  # its own flags, --depth N
               "block": (BLOCK, "basic: two 3x3 convolutions a block; bottleneck: 1x1, 3x3, 1x1, four times "
                                "wider outputs", ("basic", "bottleneck"))}


def conv(filters, size, stride, l2):
    return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False,
                         kernel_initializer="he_normal", kernel_regularizer=l2)


def bn_relu(x):
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return layers.Activation("relu")(x)


def shortcut(x, activated, filters, stride, l2):
    """The block's input itself, or a 1x1 convolution of its activated input where the shape changes."""
    if stride != 1 or x.shape[-1] != filters:
        return conv(filters, 1, stride, l2)(activated)
    return x


def residual_block(x, filters, stride, l2, dropout=0.0):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3, added to the input (through a 1x1 convolution where the shape
    changes). ``dropout``: the share of the second convolution's inputs that Dropout zeroes in training
    (Wide-ResNet's)."""
    activated = bn_relu(x)
    y = conv(filters, 3, stride, l2)(activated)
    y = bn_relu(y)
    if dropout:
        y = layers.Dropout(dropout)(y)
    y = conv(filters, 3, 1, l2)(y)
    return layers.Add()([shortcut(x, activated, filters, stride, l2), y])


def bottleneck_block(x, filters, stride, l2):
    """BN-ReLU-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1: the 1x1 convolutions narrow the block to a quarter of
    its ``filters`` and widen it back, so the 3x3 runs on a quarter of the channels (the stride is the 3x3's)."""
    activated = bn_relu(x)
    y = conv(filters // 4, 1, 1, l2)(activated)
    y = bn_relu(y)
    y = conv(filters // 4, 3, stride, l2)(y)
    y = bn_relu(y)
    y = conv(filters, 1, 1, l2)(y)
    return layers.Add()([shortcut(x, activated, filters, stride, l2), y])


def preact_resnet(data, weight_decay, blocks, widths, name, block=residual_block):
    """A 3x3 convolution with 16 filters, one stage of ``blocks`` residual blocks per width (each stage after
    the first halves the image), then BN-ReLU, global average pooling and the classifier. ``block(x, filters,
    stride, l2)`` builds one block."""
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = conv(16, 3, 1, l2)(x)
    for stage, filters in enumerate(widths):
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            x = block(x, filters, stride, l2)
    x = bn_relu(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer="he_normal",
                           kernel_regularizer=l2, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_model(data, weight_decay, depth=DEPTH, block=BLOCK):
    if block == "bottleneck":  # three layers a block: 9n+2; stages of 64, 128 and 256 output channels
        if depth < 11 or (depth - 2) % 9:
            raise train.OptionError(f"--depth {depth}: a pre-activation ResNet of bottleneck blocks has 9n+2 "
                                    "layers (164, 1001)")
        return preact_resnet(data, weight_decay, blocks=(depth - 2) // 9, widths=[64, 128, 256],
                             name=f"resnet{depth}_bottleneck", block=bottleneck_block)
    if depth < 8 or (depth - 2) % 6:
        raise train.OptionError(f"--depth {depth}: a pre-activation ResNet has 6n+2 layers (20, 32, 44, 56, 110)")
    return preact_resnet(data, weight_decay, blocks=(depth - 2) // 6, widths=[16, 32, 64], name=f"resnet{depth}")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.weight_decay, args.depth, args.block)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # The step decay LR_STEPS scaled to --epochs, or the schedule --lr-schedule names (cosine, htd).
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
