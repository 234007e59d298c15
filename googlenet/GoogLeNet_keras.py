"""GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", 2014, arXiv 1409.4842) on 32x32 images.

Adds over vgg/VGG_zoo_keras.py: Inception modules. Where VGG stacks one 3x3 convolution on another, an
Inception module runs four branches side by side on the same input and concatenates their outputs along the
channels: a 1x1 convolution, a 3x3 convolution, a 5x5 one and a 3x3 max pooling. The network sees several
sizes of neighbourhood at every layer and training decides how much of each to use. 1x1 convolutions in front
of the 3x3 and 5x5 branches (and after the pooling) first shrink the channels, which keeps this affordable:
the 3x3 branch of the first module reduces 192 channels to 96 before its 3x3 convolution to 128, which then
does half the multiply-accumulates of one on all 192. Nine modules make the paper's network 22 layers deep
(counting those with weights) for about 7 M parameters, where VGG-16 has 16 and 138 M (14.7 M without its
dense layers, as vgg/VGG_zoo_keras.py builds it).

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/googlenet.py at commit 49b7aa9): the
paper's stem (a 7x7 convolution with stride 2, max pooling, 1x1 and 3x3 convolutions, max pooling) becomes one
3x3 convolution of 192 filters with stride 1; then modules 3a and 3b at 32x32, a 3x3 max pooling of stride 2,
modules 4a to 4e at 16x16, the same pooling, modules 5a and 5b at 8x8 (1024 channels), global average pooling
and the classifier. Each module has the paper's widths (1x1; 3x3 reduce, 3x3; 5x5 reduce, 5x5; pool proj),
but its "5x5" branch is two 3x3 convolutions of the 5x5 width, as in BN-Inception (Ioffe and Szegedy, "Batch
Normalization", 2015, arXiv 1502.03167), which also put BN after every convolution (before its ReLU); the
convolutions keep their biases before BN. Left out from the paper: the two auxiliary classifiers, local
response normalisation and the 40 % dropout before the classifier. The two max poolings that halve the image
use Keras's "same" padding as the convolutions do (see below). 6,166,250 parameters as PyTorch counts them
(Keras's count_params adds BatchNorm's moving means and variances), 1.52 G multiply-accumulates an image.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 94.94 %; this collection's figure is the final epoch's.

    python googlenet/GoogLeNet_keras.py
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

# The modules of each stage, a max pooling of stride 2 between stages; each module's widths are
# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), the paper's Table 1.
STAGES = [
    [(64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)],  # 3a, 3b: 256 and 480 channels, 32x32
    [(192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
     (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)],  # 4a to 4e: 512 to 832 channels, 16x16
    [(256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)],  # 5a, 5b: 832 and 1024 channels, 8x8
]


def conv_bn_relu(x, filters, size):
    """Convolution (with its bias, as PyTorch's default), BatchNorm with PyTorch's defaults (its momentum 0.1 is
    Keras's 0.9), ReLU."""
    x = layers.Conv2D(filters, size, padding="same", kernel_initializer=pytorch_default())(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return layers.Activation("relu")(x)


def inception(x, n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj):
    """Four branches on ``x``, concatenated in this order: 1x1; 1x1 then 3x3; 1x1 then two 3x3 (the "5x5");
    3x3 max pooling of stride 1 then 1x1."""
    branch1 = conv_bn_relu(x, n1x1, 1)
    branch2 = conv_bn_relu(conv_bn_relu(x, n3x3_reduce, 1), n3x3, 3)
    branch3 = conv_bn_relu(conv_bn_relu(conv_bn_relu(x, n5x5_reduce, 1), n5x5, 3), n5x5, 3)
    branch4 = conv_bn_relu(layers.MaxPooling2D(3, strides=1, padding="same")(x), pool_proj, 1)
    return layers.Concatenate()([branch1, branch2, branch3, branch4])


def build_model(data):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = conv_bn_relu(x, 192, 3)
    for stage, modules in enumerate(STAGES):
        if stage > 0:
            x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        for widths in modules:
            x = inception(x, *widths)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name="googlenet")


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
