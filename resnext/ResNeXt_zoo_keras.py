"""ResNeXt-29 (Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", 2017, arXiv
1611.05431) in the shape a PyTorch collection gives it: a 1x1 stem, blocks that widen twice.

Adds over resnext/ResNeXt_keras.py: another reading of the same idea. A ResNeXt block is a bottleneck block
whose 3x3 convolution is split into C groups (the cardinality), each of d channels, that see only their own
inputs (`GroupedConv2D(groups=C)`, Keras's `Conv2D` fast on CPUs too): C parallel paths at the cost of one.
Here, as kuangliu/pytorch-cifar builds it, the stem is a single 1x1 convolution of 64 filters, a block's
output is twice its grouped width (C x d), and d doubles at each of the three stages, so ResNeXt-29 2 x 64d
has stages of 256, 512 and 1024 output channels and 9.1 M parameters, half those of the paper's 4 x 64d in
resnext/ResNeXt_keras.py.

The network, as kuangliu/pytorch-cifar defines it (models/resnext.py at commit 49b7aa9): the 1x1 stem with BN
and ReLU, three stages of three blocks (conv1x1 to C x d, BN, ReLU; grouped conv3x3, BN, ReLU; conv1x1 to
2 C d, BN; added to the input, through a 1x1 convolution and BN where the shape changes; ReLU), the second and
third halving the image, global average pooling and the classifier. 9,128,778 parameters as PyTorch counts
them for 2 x 64d (Keras's count_params adds BatchNorm's moving means and variances).

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 94.67 % (2 x 64d); this collection's figure is the final epoch's.

    python resnext/ResNeXt_zoo_keras.py
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

CARDINALITY = 2
BASE_WIDTH = 64
MODEL_FLAGS = {"cardinality": (CARDINALITY, "C: groups of the 3x3 convolutions"),
               "base_width": (BASE_WIDTH, "d: channels of each group in the first stage (doubling at each stage)")}


def conv(filters, size, stride=1, groups=1):
    return GroupedConv2D(filters, size, strides=stride, padding="same", groups=groups, use_bias=False,
                         kernel_initializer=pytorch_default())


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def relu(x):
    return layers.Activation("relu")(x)


def block(x, cardinality, width, stride):
    """conv1x1 to C x d, BN, ReLU; 3x3 in C groups, BN, ReLU; conv1x1 to 2 C d, BN; added to the input (through
    a 1x1 convolution and BN where the shape changes), then ReLU."""
    grouped = cardinality * width
    y = relu(bn(conv(grouped, 1)(x)))
    y = relu(bn(conv(grouped, 3, stride, groups=cardinality)(y)))
    y = bn(conv(2 * grouped, 1)(y))
    shortcut = x if stride == 1 and x.shape[-1] == 2 * grouped else bn(conv(2 * grouped, 1, stride)(x))
    return relu(layers.Add()([y, shortcut]))


def build_model(data, cardinality=CARDINALITY, base_width=BASE_WIDTH):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = relu(bn(conv(64, 1)(x)))
    for stage in range(3):
        for index in range(3):
            x = block(x, cardinality, base_width * 2**stage, 2 if stage > 0 and index == 0 else 1)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"resnext29_{cardinality}x{base_width}d")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight",
                            model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.cardinality, args.base_width)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
