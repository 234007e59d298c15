"""VGG-11, 13, 16 and 19 with batch normalisation (Simonyan and Zisserman, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", 2015, arXiv 1409.1556), sized for 32x32 images.

Adds over vgg/Vgg19_keras.py: nothing to the convolutions, and the dense layers go. On a 32x32 image the five
poolings leave a 1x1 map of 512 channels, and this version classifies it with one dense layer of 512 x 10
weights instead of VGG's 4096-4096 head, which holds 20 of Vgg19_keras.py's 39 M parameters. --depth picks
the paper's configurations A, B, D and E: 8, 10, 13 or 16 convolutions of 3x3 (each with BN and ReLU) in five
stages of 64, 128, 256, 512 and 512 filters, each stage ending in a 2x2 max pooling.

The network, as kuangliu/pytorch-cifar defines it (models/vgg.py at commit 49b7aa9); its convolutions keep
their biases before BN. Parameters as PyTorch counts them (Keras's count_params adds BatchNorm's moving means
and variances): VGG-11 9,231,114; VGG-13 9,416,010; VGG-16 14,728,266; VGG-19 20,040,522.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 92.23 / 93.68 / 93.35 / 93.34 % (VGG-11 / 13 / 16 / 19); this collection's
figure is the final epoch's.

    python vgg/VGG_zoo_keras.py --depth 16
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

DEPTH = 16
# Filters of each convolution, "M" for a 2x2 max pooling (the paper's configurations A, B, D, E).
CONFIGURATIONS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
MODEL_FLAGS = {"depth": (DEPTH, "weight layers: 11, 13, 16 or 19", tuple(CONFIGURATIONS))}


def build_model(data, depth=DEPTH):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    for filters in CONFIGURATIONS[depth]:
        if filters == "M":
            x = layers.MaxPooling2D(2)(x)
        else:
            x = layers.Conv2D(filters, 3, padding="same", kernel_initializer=pytorch_default())(x)
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)  # PyTorch's defaults
            x = layers.Activation("relu")(x)
    x = layers.Flatten()(x)  # 1 x 1 x 512 after five poolings of a 32 x 32 image
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"vgg{depth}")


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
