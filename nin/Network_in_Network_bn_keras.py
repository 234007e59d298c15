"""Network in Network with batch normalisation (Ioffe and Szegedy, 2015).

Adds over Network_in_Network_keras.py: batch normalisation after every convolution. It standardises each
channel over the batch (then rescales it with two learnt numbers), so every layer sees inputs of a steady
scale however the layers before it change during training. The network tolerates a five times larger
learning rate: 0.05, then 0.01 from epoch 61, 0.002 from epoch 121 and 0.0004 from epoch 161 of 200.
0.97 M parameters.

Training, as the reference run (upstream BIGBALLON/cifar-10-cnn, 2_Network_in_Network/
Network_in_Network_bn_keras.py at commit 6271036; figure first in its README at 51d3d70): the schedule above,
batch 128, L2 1e-4, and that run's initialisation and normalisation: weights drawn from a normal
distribution of standard deviation 0.05 (0.01 for the first convolution) and Keras's batch normalisation
defaults (momentum 0.99, epsilon 1e-3). Those two differ from the previous script, which keeps he_normal.

Reference test accuracy after 200 epochs: 91.63 %.

    python nin/Network_in_Network_bn_keras.py
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
import keras
from keras import initializers, layers, regularizers

EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.05
LR_STEPS = ((61, 0.2), (121, 0.04), (161, 0.008))  # 0.05, 0.01, 0.002, 0.0004
WEIGHT_DECAY = 1e-4
DROPOUT = 0.5
INIT_STDDEV = 0.05  # 0.01 for the network's first convolution


def mlpconv(x, filters, size, l2, first_stddev=INIT_STDDEV):
    """A size x size convolution and two 1x1 convolutions, each with batch normalisation and a ReLU.

    Weights start from a normal distribution of standard deviation INIT_STDDEV (``first_stddev`` for the
    first convolution), as in the reference run."""
    for f, k, stddev in zip(filters, (size, 1, 1), (first_stddev, INIT_STDDEV, INIT_STDDEV)):
        x = layers.Conv2D(f, k, padding="same", kernel_initializer=initializers.RandomNormal(stddev=stddev),
                          kernel_regularizer=l2)(x)
        x = layers.BatchNormalization()(x)  # Keras's defaults: momentum 0.99, epsilon 1e-3
        x = layers.Activation("relu")(x)
    return x


def build_model(data, weight_decay):
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = mlpconv(x, (192, 160, 96), 5, l2, first_stddev=0.01)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.Dropout(DROPOUT)(x)
    x = mlpconv(x, (192, 192, 192), 5, l2)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.Dropout(DROPOUT)(x)
    x = mlpconv(x, (192, 192, data.num_classes), 3, l2)
    # One feature map per class; its average over the image is the class score.
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Activation("softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="nin_bn")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.weight_decay)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # The step decay LR_STEPS scaled to --epochs, or the schedule --lr-schedule names (cosine, htd).
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
