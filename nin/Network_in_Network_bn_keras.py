"""Network in Network with batch normalisation (Ioffe and Szegedy, 2015).

Adds over Network_in_Network_keras.py: batch normalisation after every convolution. It standardises each
channel over the batch (then rescales it with two learnt numbers), so every layer sees inputs of a steady
scale however the layers before it change during training. The network tolerates a five times larger
learning rate: 0.05, then 0.01 from epoch 61, 0.002 from epoch 121 and 0.0004 from epoch 161 of 200.
0.97 M parameters.

Reference test accuracy after 200 epochs: 91.63 %.

    python nin/Network_in_Network_bn_keras.py
"""

from cifar_common import train
from cifar_common.augment import RandomCropFlip
import keras
from keras import layers, regularizers

EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.05
LR_STEPS = ((61, 0.2), (121, 0.04), (161, 0.008))  # 0.05, 0.01, 0.002, 0.0004
WEIGHT_DECAY = 1e-4
DROPOUT = 0.5


def mlpconv(x, filters, size, l2):
    """A size x size convolution and two 1x1 convolutions, each with batch normalisation and a ReLU."""
    for f, k in zip(filters, (size, 1, 1)):
        x = layers.Conv2D(f, k, padding="same", kernel_initializer="he_normal", kernel_regularizer=l2)(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        x = layers.Activation("relu")(x)
    return x


def build_model(data, weight_decay):
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4)(x)
    x = mlpconv(x, (192, 160, 96), 5, l2)
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
    train.main(build_model, doc=__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
               weight_decay=WEIGHT_DECAY, lr_steps=LR_STEPS)
