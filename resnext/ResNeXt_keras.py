"""ResNeXt-29 (Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", 2017).

A ResNeXt block is a bottleneck residual block (1x1 convolution down, 3x3, 1x1 up, added to the input)
whose 3x3 convolution is split into C independent groups, the cardinality: each group sees only its own
slice of the channels. C paths of width d do the work of one wide convolution at a fraction of the cost,
and the paper finds more paths better than wider or deeper ones. The grouped convolution is one Keras
layer, ``Conv2D(..., groups=C)``, here its subclass ``GroupedConv2D`` (cifar_common/grouped_conv.py), the same
layer but for how it computes on a CPU with TensorFlow or JAX, where Keras's grouped convolution trains this
network 5.6 times slower (TensorFlow) than the same work as C ordinary convolutions (benchmarks/README.md).

29 layers: a 3x3 convolution with 64 filters, then three stages of three blocks with 256, 512 and 1024
output channels and inner widths C x d, 2 C x d and 4 C x d; the second and third stages start with
stride 2, and a 1x1 convolution adapts the shortcut only where the shape changes. --cardinality 4 --base-width 64 (4 x 64d, the
default): 17.6 M parameters; --cardinality 8 --base-width 64: 34.4 M.

Training, as the reference run (upstream BIGBALLON/cifar-10-cnn, 6_ResNeXt/ResNeXt_keras.py at commit
3c73256; figure first in its README at 51d3d70): batch 120, 250 epochs, L2 5e-4, SGD with Nesterov
momentum from 0.05, then 0.005 from epoch 76, 0.0005 from epoch 151 and 0.0001 from epoch 211.
Deliberate differences, to follow the paper: shortcuts projected only where the shape changes, no ReLU
between the block's last batch normalisation and the addition (upstream had one), batch normalisation
with the momentum 0.9 and epsilon 1e-5 of the paper's Torch code (upstream: Keras's 0.99 and 1e-3);
and Keras 3's he_normal (see doc/initialisation.md).

Reference test accuracy after 250 epochs: 95.19 % (4 x 64d).

    python resnext/ResNeXt_keras.py --cardinality 4 --base-width 64
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
from cifar_common.grouped_conv import GroupedConv2D
import keras
from keras import layers, regularizers

EPOCHS = 250
BATCH_SIZE = 120
LEARNING_RATE = 0.05
LR_STEPS = ((76, 0.1), (151, 0.01), (211, 0.002))  # 0.05, 0.005, 0.0005, 0.0001
WEIGHT_DECAY = 5e-4
CARDINALITY = 4
BASE_WIDTH = 64
MODEL_FLAGS = {"cardinality": (CARDINALITY, "groups of the 3x3 convolutions (C)"),  # --cardinality N
               "base_width": (BASE_WIDTH, "channels per group in the first stage (d)")}


def conv(filters, size, stride, l2, groups=1):
    return GroupedConv2D(filters, size, strides=stride, padding="same", groups=groups, use_bias=False,
                         kernel_initializer="he_normal", kernel_regularizer=l2)


def bn(x):
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def resnext_block(x, width, out_channels, cardinality, stride, l2, gate=None):
    """conv1x1-BN-ReLU, grouped conv3x3-BN-ReLU, conv1x1-BN, [gate], + shortcut, ReLU.

    ``gate(y, l2)``, a function of a tensor and the L2 regulariser, rescales the block's output before the
    addition: SENet's squeeze-and-excitation (senet/SENet_keras.py)."""
    y = layers.Activation("relu")(bn(conv(width, 1, 1, l2)(x)))
    y = layers.Activation("relu")(bn(conv(width, 3, stride, l2, groups=cardinality)(y)))
    y = bn(conv(out_channels, 1, 1, l2)(y))
    if gate is not None:
        y = gate(y, l2)
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = bn(conv(out_channels, 1, stride, l2)(x))
    return layers.Activation("relu")(layers.Add()([shortcut, y]))


def build_model(data, weight_decay, cardinality=CARDINALITY, base_width=BASE_WIDTH, gate=None,
                name="resnext29"):
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = layers.Activation("relu")(bn(conv(64, 3, 1, l2)(x)))
    for stage, out_channels in enumerate([256, 512, 1024]):
        width = cardinality * base_width * 2**stage
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            x = resnext_block(x, width, out_channels, cardinality, stride, l2, gate)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer="he_normal",
                           kernel_regularizer=l2, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"{name}_{cardinality}x{base_width}d")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.weight_decay, args.cardinality, args.base_width)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # The step decay LR_STEPS scaled to --epochs, or the schedule --lr-schedule names (cosine, htd).
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
