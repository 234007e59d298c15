"""Network in Network (Lin, Chen and Yan, "Network In Network", 2014).

A plain convolution is a linear filter followed by a ReLU. NiN replaces it with an "mlpconv" block: a
convolution followed by two 1x1 convolutions, a small multilayer perceptron slid over every position of the
image, which can model far richer local patterns. And instead of dense layers at the end, the last 1x1
convolution outputs one feature map per class and global average pooling turns each map into that class's
score: no dense layer, fewer parameters, less overfitting.

Three mlpconv blocks (192-160-96, 192-192-192, 192-192-10 filters) with 3x3 max pooling (stride 2) and
dropout 0.5 between them; 0.97 M parameters. Training, as upstream's last version (BIGBALLON/cifar-10-cnn,
2_Network_in_Network/Network_in_Network_keras.py at commit 4318859): batch 128, L2 1e-4, SGD with Nesterov
momentum from 0.01, 0.005 from epoch 81 and 0.001 from epoch 141 of 200; he_normal initialisation (that
version used Keras's glorot_uniform; its predecessors from commit 7416e7d he_normal). The upstream table
gives no figure for this network without batch normalisation. The next script,
Network_in_Network_bn_keras.py, adds batch normalisation.

Reference test accuracy after 200 epochs, with batch normalisation (the next script): 91.63 %.

    python nin/Network_in_Network_keras.py
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
import keras
from keras import layers, regularizers

EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.01
LR_STEPS = ((81, 0.5), (141, 0.1))  # 0.01, 0.005, 0.001
WEIGHT_DECAY = 1e-4
DROPOUT = 0.5


def mlpconv(x, filters, size, l2):
    """A size x size convolution and two 1x1 convolutions, each with a ReLU."""
    for f, k in zip(filters, (size, 1, 1)):
        x = layers.Conv2D(f, k, padding="same", kernel_initializer="he_normal", kernel_regularizer=l2)(x)
        x = layers.Activation("relu")(x)
    return x


def build_model(data, weight_decay):
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
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
    return keras.Model(inputs, outputs, name="nin")


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
