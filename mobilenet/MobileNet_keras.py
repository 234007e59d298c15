"""MobileNet (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", 2017, arXiv 1704.04861) on 32x32 images.

Adds over vgg/: depthwise separable convolutions. A 3x3 convolution from C to C' channels mixes space and
channels at once, 9 C C' multiply-accumulates a pixel; MobileNet splits it into a depthwise 3x3 convolution,
which filters each channel on its own (9 C), and a pointwise 1x1 convolution, which mixes the channels (C C'),
each followed by BN and ReLU. At 512 channels that is 8 to 9 times less arithmetic, and a network of 13 such
blocks has 3.2 M parameters where VGG-16 has 14.7 M.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/mobilenet.py at commit 49b7aa9): a
3x3 convolution of 32 filters with stride 1 (the paper's has stride 2, for 224x224 images), 13 depthwise
separable blocks to 1024 channels (four of them halving the image, to 2x2), global average pooling and the
classifier. 3,217,226 parameters as PyTorch counts them (Keras's count_params adds BatchNorm's moving means and
variances).

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 91.51 %; this collection's figure is the final epoch's.

    python mobilenet/MobileNet_keras.py
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

# (output channels, stride) of each depthwise separable block.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1)]


def bn_relu(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9), then ReLU."""
    return layers.Activation("relu")(layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x))


def separable_block(x, filters, stride):
    """Depthwise 3x3 (each channel on its own), BN, ReLU, then pointwise 1x1 (the channels mixed), BN, ReLU."""
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               depthwise_initializer=pytorch_default(fan_in=9))(x)
    x = bn_relu(x)
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=pytorch_default())(x)
    return bn_relu(x)


def build_model(data):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = layers.Conv2D(32, 3, padding="same", use_bias=False, kernel_initializer=pytorch_default())(x)
    x = bn_relu(x)
    for filters, stride in BLOCKS:
        x = separable_block(x, filters, stride)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mobilenet")


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
