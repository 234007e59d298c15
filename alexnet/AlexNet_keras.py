"""AlexNet (Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep Convolutional Neural Networks",
NIPS 2012; no arXiv version) on 32x32 images.

Adds over lenet/LeNet_dp_da_wd_keras.py: size, and what made a network of that size train. AlexNet won the
ImageNet challenge of 2012 with a top-5 error of 15.3 %, against 26.2 % for the next entry, with five
convolutions and three dense layers, 60 M parameters. Four things it brought in are now everywhere: ReLU in
place of tanh (in the paper a four-layer network reaches 25 % training error on CIFAR-10 six times sooner);
dropout, each unit of the first two dense layers set to 0 with probability 0.5 while training, so that the
dense layers' millions of weights cannot memorise the training set; GPUs, two GTX 580s of 3 GB, each holding
half the filters, which trained it in five to six days; and data augmentation, random 224x224 crops of the
256x256 images and their mirror images (2048 times as many images), and a colour jitter along the principal
components of the pixels. The LeNet scripts here already have its ReLU and its crops and flips; this one adds
dropout, and width: 64 to 384 filters a convolution, where LeNet-5 has 6 and 16.

The network, as this collection defines it for 32x32 images (the zoo whose figure is given below did not
publish its code, so its own definition is unknown): five 3x3 convolutions with stride 1 of 64, 192, 384, 256
and 256 filters (torchvision's one-GPU widths, from Krizhevsky's "One weird trick for parallelizing
convolutional neural networks", 2014, arXiv 1404.5997; the 2012 network has 96, 256, 384, 384 and 256), each
with its bias and followed by BN and ReLU, 2x2 max pooling after the first, second and fifth (32 to 16, 8, 4),
then the classifier in torchvision's order: Flatten, Dropout 0.5, Dense 1024, ReLU, Dropout 0.5, Dense 1024,
ReLU, Dense to the classes. Where it differs from the 2012 network: 3x3 convolutions with stride 1 throughout
(the paper's first is 11x11 with stride 4 and its second 5x5, for 224x224 images); batch normalisation after
every convolution, an addition (the 2012 network had local response normalisation after its first two; BN,
from 2015, is what lets a network of this kind reach about 90 % with the zoo's recipe); 2x2 pooling (the
paper's overlaps, 3x3 with stride 2); dense layers of 1024 units (4096 on a 4x4x256 input would be 16.8 M
weights in the first alone); and no split over two GPUs (nor the paper's convolutions that see only their
own GPU's half of the channels). 7,509,066 parameters as PyTorch counts them (Keras's count_params adds
BatchNorm's moving means and variances).

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 90.39 %; this collection's figure is the final epoch's.

    python alexnet/AlexNet_keras.py
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

# Filters of the five 3x3 convolutions, "M" a 2x2 max pooling; the dense layers' units and dropout rate.
FEATURES = [64, "M", 192, "M", 384, 256, 256, "M"]
DENSE_UNITS = 1024
DROPOUT = 0.5


def conv_bn_relu(x, filters):
    """3x3 convolution with its bias (AlexNet's), BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's
    0.9), ReLU."""
    x = layers.Conv2D(filters, 3, padding="same", kernel_initializer=pytorch_default())(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return layers.Activation("relu")(x)


def build_model(data):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    for filters in FEATURES:
        x = layers.MaxPooling2D(2)(x) if filters == "M" else conv_bn_relu(x, filters)
    x = layers.Flatten()(x)  # 4 x 4 x 256 after three poolings of a 32 x 32 image
    for _ in range(2):
        x = layers.Dropout(DROPOUT)(x)
        x = layers.Dense(DENSE_UNITS, activation="relu", kernel_initializer=pytorch_default())(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name="alexnet")


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
