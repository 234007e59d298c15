"""SENet-18 (Hu et al., "Squeeze-and-Excitation Networks", 2018, arXiv 1709.01507): the squeeze-and-excitation
gate on an 18-layer pre-activation ResNet with ImageNet widths, sized for 32x32 images.

Adds over senet/SENet_keras.py: the same gate on a simpler network. At the end of each block's residual
branch, its channels are averaged over the image (squeeze), passed through a small two-layer network, 1/16 of
the channels wide, ending in a sigmoid (excitation), and the branch's channels are multiplied by the result:
the block learns, per image, which of its channels to let through. The network under it is ResNet-18's
layout (four stages of two blocks, 64 to 512 channels) with pre-activation blocks, BN-ReLU-conv3x3-BN-ReLU-
conv3x3, as in resnet/ResNet_keras.py.

The network, as kuangliu/pytorch-cifar defines it (models/senet.py at commit 49b7aa9): a 3x3 convolution of 64
filters with BN and ReLU, four stages of two pre-activation blocks with the gate (its two layers are 1x1
convolutions with biases; a shortcut is a 1x1 convolution of the activated input where the shape changes, with
no BN), the last three stages halving the image, then global average pooling and the classifier, with no BN
or ReLU before the pooling. 11,260,354 parameters as PyTorch counts them (Keras's count_params adds
BatchNorm's moving means and variances).

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 94.25 %; this collection's figure is the final epoch's.

    python senet/SENet18_zoo_keras.py
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


def conv(filters, size, stride=1):
    return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False,
                         kernel_initializer=pytorch_default())


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def relu(x):
    return layers.Activation("relu")(x)


def squeeze_excite(x):
    """x times a per-channel gate: the channels' averages through conv1x1 to 1/16 of them, ReLU, conv1x1
    back, sigmoid."""
    channels = x.shape[-1]
    w = layers.GlobalAveragePooling2D(keepdims=True)(x)
    w = layers.Conv2D(channels // 16, 1, activation="relu", kernel_initializer=pytorch_default())(w)
    w = layers.Conv2D(channels, 1, activation="sigmoid", kernel_initializer=pytorch_default())(w)
    return layers.Multiply()([x, w])


def block(x, filters, stride):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3, gated, added to the input (or, where the shape changes, to a 1x1
    convolution of the activated input)."""
    activated = relu(bn(x))
    shortcut = x if stride == 1 and x.shape[-1] == filters else conv(filters, 1, stride)(activated)
    y = conv(filters, 3, stride)(activated)
    y = conv(filters, 3)(relu(bn(y)))
    return layers.Add()([squeeze_excite(y), shortcut])


def build_model(data):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = relu(bn(conv(64, 3)(x)))
    for stage, filters in enumerate([64, 128, 256, 512]):
        for index in range(2):
            x = block(x, filters, 2 if stage > 0 and index == 0 else 1)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name="senet18")


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
