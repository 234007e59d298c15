"""Pre-activation ResNet for CIFAR-10 (He et al., "Identity Mappings in Deep Residual Networks", 2016).

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
MODEL_FLAGS = {"depth": (DEPTH, "layers, 6n+2: 20, 32, 44, 56, 110")}  # its own flags, --depth N


def conv(filters, size, stride, l2):
    return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False,
                         kernel_initializer="he_normal", kernel_regularizer=l2)


def bn_relu(x):
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return layers.Activation("relu")(x)


def residual_block(x, filters, stride, l2):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3, added to the input (through a 1x1 convolution where the shape
    changes)."""
    activated = bn_relu(x)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv(filters, 1, stride, l2)(activated)
    else:
        shortcut = x
    y = conv(filters, 3, stride, l2)(activated)
    y = bn_relu(y)
    y = conv(filters, 3, 1, l2)(y)
    return layers.Add()([shortcut, y])


def preact_resnet(data, weight_decay, blocks, widths, name):
    """A 3x3 convolution with 16 filters, one stage of ``blocks`` residual blocks per width (each stage after
    the first halves the image), then BN-ReLU, global average pooling and the classifier."""
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = conv(16, 3, 1, l2)(x)
    for stage, filters in enumerate(widths):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = residual_block(x, filters, stride, l2)
    x = bn_relu(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer="he_normal",
                           kernel_regularizer=l2, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_model(data, weight_decay, depth=DEPTH):
    if depth < 8 or (depth - 2) % 6:
        raise train.OptionError(f"--depth {depth}: a pre-activation ResNet has 6n+2 layers (20, 32, 44, 56, 110)")
    return preact_resnet(data, weight_decay, blocks=(depth - 2) // 6, widths=[16, 32, 64], name=f"resnet{depth}")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.weight_decay, args.depth)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # The step decay LR_STEPS scaled to --epochs, or the schedule --lr-schedule names (cosine, htd).
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
