"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", 2018, arXiv
1801.04381) on 32x32 images.

Adds over mobilenet/MobileNet_keras.py: inverted residual blocks with linear bottlenecks. A block widens its
input six times with a 1x1 convolution, filters the wide tensor with a depthwise 3x3 convolution (cheap at
any width), and narrows it back with a 1x1 convolution that has no ReLU after it: the narrow tensor between
blocks is a low-dimensional summary that a ReLU would damage. Where input and output have the same shape the
narrow tensors are joined by a shortcut, as in a ResNet but between the thin ends. 2.3 M parameters, 0.1 G
multiply-accumulates an image, for a network 18 blocks deep.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/mobilenetv2.py at commit 49b7aa9): a
3x3 convolution of 32 filters with stride 1, seven stages of inverted residual blocks (expansion, channels,
blocks, stride: 1-16-1-1, 6-24-2-1, 6-32-3-2, 6-64-4-2, 6-96-3-1, 6-160-3-2, 6-320-1-1; the second stage's
stride is 1 where the paper's is 2), a 1x1 convolution to 1280 channels, global average pooling and the
classifier. kuangliu's blocks differ from the paper's in two ways kept here: the first block of a stage that
keeps the image size but changes the width has a shortcut through a 1x1 convolution and BN, and the expansion
and depthwise convolutions are followed by ReLU, not ReLU6. 2,296,922 parameters as PyTorch counts them
(Keras's count_params adds BatchNorm's moving means and variances).

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 93.99 %; this collection's figure is the final epoch's.

    python mobilenet/MobileNetV2_keras.py
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
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

# (expansion, output channels, blocks, stride of the first block) of each stage.
STAGES = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def bn_relu(x):
    return layers.Activation("relu")(bn(x))


def conv1x1(x, filters):
    return layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=pytorch_default())(x)


def inverted_residual(x, expansion, filters, stride):
    """1x1 to ``expansion`` times the width, BN, ReLU; depthwise 3x3, BN, ReLU; 1x1 to ``filters``, BN, no ReLU;
    plus the input where the block keeps the image's size (through a 1x1 convolution and BN if the width
    changes)."""
    y = bn_relu(conv1x1(x, expansion * x.shape[-1]))
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               depthwise_initializer=pytorch_default(fan_in=9))(y)
    y = bn(conv1x1(bn_relu(y), filters))
    if stride != 1:
        return y
    shortcut = x if x.shape[-1] == filters else bn(conv1x1(x, filters))
    return layers.Add()([y, shortcut])


def build_model(data):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = layers.Conv2D(32, 3, padding="same", use_bias=False, kernel_initializer=pytorch_default())(x)
    x = bn_relu(x)
    for expansion, filters, blocks, stride in STAGES:
        for index in range(blocks):
            x = inverted_residual(x, expansion, filters, stride if index == 0 else 1)
    x = bn_relu(conv1x1(x, 1280))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v2")


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
