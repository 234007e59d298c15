"""DenseNet-121 and DenseNet-169 (Huang et al., "Densely Connected Convolutional Networks", 2017, arXiv
1608.06993): the ImageNet networks, sized for 32x32 images, at any growth rate.

Adds over densenet/DenseNet_keras.py: the paper's ImageNet layout instead of its CIFAR one. The same dense
block (each layer, BN-ReLU-conv1x1 to 4k channels-BN-ReLU-conv3x3 to k, gets every earlier map of its block
concatenated), but four blocks of 6, 12, 24 and 16 layers (DenseNet-121) or 6, 12, 32 and 32 (DenseNet-169)
instead of three equal ones, with transitions that halve the channels and the image between them. The growth
rate k sets the width: the paper's 32, or the 12 of its CIFAR networks.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/densenet.py at commit 49b7aa9): the
ImageNet stem (a 7x7 convolution with stride 2 and a max pooling) becomes one 3x3 convolution of 2k filters,
so the four blocks see 32, 16, 8 and 4 pixels square; a layer's new maps come first in the concatenation.
Parameters as PyTorch counts them (Keras's count_params adds BatchNorm's moving means and variances):
DenseNet-121 with k = 12, 16, 24, 32: 1,000,618, 1,762,954, 3,930,826, 6,956,298; DenseNet-169 with k = 32:
12,493,322.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, DenseNet-121 with k = 12, 16, 24, 32: 93.51, 94.11, 94.34, 95.37 %; DenseNet-169
with k = 32: 95.01 %; this collection's figure is the final epoch's.

    python densenet/DenseNet_zoo_keras.py --depth 121 --growth-rate 32
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

DEPTH = 121
GROWTH_RATE = 32
BLOCKS = {121: [6, 12, 24, 16], 169: [6, 12, 32, 32], 201: [6, 12, 48, 32]}  # layers in each dense block
MODEL_FLAGS = {"depth": (DEPTH, "layers: 121, 169 or 201", tuple(BLOCKS)),
               "growth_rate": (GROWTH_RATE, "k: channels each layer adds (the paper's CIFAR networks: 12)")}


def bn_relu(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9), then ReLU."""
    return layers.Activation("relu")(layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x))


def conv(filters, size):
    return layers.Conv2D(filters, size, padding="same", use_bias=False, kernel_initializer=pytorch_default())


def dense_layer(x, growth_rate):
    """BN-ReLU-conv1x1 to 4k channels, BN-ReLU-conv3x3 to k; its k new maps joined to its input."""
    y = conv(4 * growth_rate, 1)(bn_relu(x))
    y = conv(growth_rate, 3)(bn_relu(y))
    return layers.Concatenate()([y, x])


def transition(x):
    """BN-ReLU-conv1x1 to half the channels (rounded down), then 2x2 average pooling."""
    x = conv(x.shape[-1] // 2, 1)(bn_relu(x))
    return layers.AveragePooling2D(2)(x)


def build_model(data, depth=DEPTH, growth_rate=GROWTH_RATE):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = conv(2 * growth_rate, 3)(x)
    for stage, count in enumerate(BLOCKS[depth]):
        if stage > 0:
            x = transition(x)
        for _ in range(count):
            x = dense_layer(x, growth_rate)
    x = layers.GlobalAveragePooling2D()(bn_relu(x))
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"densenet{depth}_k{growth_rate}")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight",
                            model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.depth, args.growth_rate)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
