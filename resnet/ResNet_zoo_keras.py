"""ResNet-18, 34, 50, 101 and 152 (He et al., "Deep Residual Learning for Image Recognition", 2015, arXiv
1512.03385): the ImageNet networks, sized for 32x32 images.

Adds over resnet/ResNet_keras.py: the paper's ImageNet design instead of its CIFAR one. The CIFAR ResNets are
thin (16 to 64 channels) and deep; the ImageNet ones have four stages of 64, 128, 256 and 512 channels (four
times that at the output of a bottleneck block), with two or three stages halving the image, and blocks in the
original order, conv-BN-ReLU-conv-BN added to the shortcut, then ReLU (the pre-activation order of
resnet/ResNet_keras.py came a year later). --depth 18 and 34 stack basic blocks of two 3x3 convolutions; 50,
101 and 152 bottleneck blocks (1x1 to a quarter of the width, 3x3, 1x1 back). ResNet-18 has 11 M parameters,
40 times ResNet-20's, and does 0.56 G multiply-accumulates an image.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/resnet.py at commit 49b7aa9): the
ImageNet stem (a 7x7 convolution with stride 2 and a max pooling) becomes one 3x3 convolution of 64 filters
with stride 1, so the four stages see 32, 16, 8 and 4 pixels square; a shortcut is a 1x1 convolution and BN
where the shape changes. Parameters as PyTorch counts them (Keras's count_params adds BatchNorm's moving means
and variances): ResNet-18 11,173,962; ResNet-50 23,520,842; ResNet-101 42,512,970.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 94.15 / 94.48 / 94.48 % (ResNet-18 / 50 / 101); this collection's figure is the
final epoch's.

    python resnet/ResNet_zoo_keras.py --depth 18
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

DEPTH = 18
# Blocks in each of the four stages, and whether they are bottleneck blocks.
CONFIGURATIONS = {18: ([2, 2, 2, 2], False), 34: ([3, 4, 6, 3], False), 50: ([3, 4, 6, 3], True),
                  101: ([3, 4, 23, 3], True), 152: ([3, 8, 36, 3], True)}
MODEL_FLAGS = {"depth": (DEPTH, "layers: 18 or 34 (basic blocks), 50, 101 or 152 (bottleneck blocks)",
                         tuple(CONFIGURATIONS))}


def conv(filters, size, stride=1):
    return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False,
                         kernel_initializer=pytorch_default())


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def relu(x):
    return layers.Activation("relu")(x)


def block(x, filters, stride, bottleneck):
    """conv3x3-BN-ReLU-conv3x3-BN, or with ``bottleneck`` conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1 (to 4 x
    ``filters``)-BN; added to the input (through a 1x1 convolution and BN where the shape changes), then ReLU."""
    if bottleneck:
        y = relu(bn(conv(filters, 1)(x)))
        y = relu(bn(conv(filters, 3, stride)(y)))
        y = bn(conv(4 * filters, 1)(y))
    else:
        y = relu(bn(conv(filters, 3, stride)(x)))
        y = bn(conv(filters, 3)(y))
    shortcut = x if stride == 1 and x.shape[-1] == y.shape[-1] else bn(conv(y.shape[-1], 1, stride)(x))
    return relu(layers.Add()([y, shortcut]))


def build_model(data, depth=DEPTH):
    blocks, bottleneck = CONFIGURATIONS[depth]
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = relu(bn(conv(64, 3)(x)))
    for stage, (count, filters) in enumerate(zip(blocks, [64, 128, 256, 512])):
        for index in range(count):
            x = block(x, filters, 2 if stage > 0 and index == 0 else 1, bottleneck)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"resnet{depth}_imagenet")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight",
                            model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.depth)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
