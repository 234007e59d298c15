"""DenseNet-BC (Huang et al., "Densely Connected Convolutional Networks", 2017).

In a dense block every layer receives the feature maps of all the layers before it, concatenated, and adds
k new ones (the growth rate): features are reused rather than relearnt, so each layer can be very narrow.
"BC" are the two economies that make it practical: a 1x1 bottleneck convolution to 4k channels before
each 3x3 convolution (B), and transitions between the blocks that halve the number of channels (C,
compression 0.5) as well as the image size (2x2 average pooling).

Three dense blocks of (depth - 4) / 6 bottleneck layers each, after a 3x3 convolution with 2k filters.
--depth 100 --growth-rate 12: 0.8 M parameters (the default); --growth-rate 24: 3.1 M;
--depth 160 --growth-rate 24: 6.9 M.

Training, as the reference runs of 100-24 and 160-24 (upstream BIGBALLON/cifar-10-cnn,
7_DenseNet/DenseNet_keras.py at commit cb9feee; figures first in its README at 328f314 and 455cc41):
batch 64, 250 epochs, L2 1e-4, SGD with Nesterov momentum from 0.1, then 0.01 from epoch 76, 0.001 from
epoch 151 and 0.0005 from epoch 211. The 100-12 figure (first at 51d3d70) came from the earlier recipe of
commit 3c73256: 0.05, L2 2e-4, the same epochs; `--lr 0.05 --weight-decay 2e-4` repeats it, except that
the last 39 epochs run at 0.00025 where upstream used 0.0001 (one script, one set of step factors).
Deliberate differences: the architecture is the paper's (convolutions without biases, as upstream), batch
normalisation has the momentum 0.9 and epsilon 1e-5 of the paper's Torch code (upstream used Keras's
0.99 and 1e-3), and Keras 3's he_normal (see doc/initialisation.md).

Reference test accuracy after 250 epochs: 94.91 / 95.30 / 95.90 % (100-12 / 100-24 / 160-24).

    python densenet/DenseNet_keras.py --depth 100 --growth-rate 12
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
import keras
from keras import layers, regularizers

EPOCHS = 250
BATCH_SIZE = 64
LEARNING_RATE = 0.1
LR_STEPS = ((76, 0.1), (151, 0.01), (211, 0.005))  # 0.1, 0.01, 0.001, 0.0005
WEIGHT_DECAY = 1e-4
DEPTH = 100
GROWTH_RATE = 12
COMPRESSION = 0.5
MODEL_FLAGS = {"depth": (DEPTH, "layers, 6n+4: 40, 100, 160, 190, 250"),  # its own flags, --depth N
               "growth_rate": (GROWTH_RATE, "feature maps each layer adds (k): 12, 24, 40")}


def conv(filters, size, l2):
    return layers.Conv2D(filters, size, padding="same", use_bias=False, kernel_initializer="he_normal",
                         kernel_regularizer=l2)


def bn_relu(x):
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return layers.Activation("relu")(x)


def dense_layer(x, growth_rate, l2):
    """BN-ReLU-conv1x1 (4k) - BN-ReLU-conv3x3 (k): k new feature maps, appended to the input's."""
    y = conv(4 * growth_rate, 1, l2)(bn_relu(x))
    y = conv(growth_rate, 3, l2)(bn_relu(y))
    return layers.Concatenate()([x, y])


def transition(x, l2):
    """BN-ReLU-conv1x1 to half the channels, then 2x2 average pooling to half the size."""
    x = conv(int(x.shape[-1] * COMPRESSION), 1, l2)(bn_relu(x))
    return layers.AveragePooling2D(2)(x)


def build_model(data, weight_decay, depth=DEPTH, growth_rate=GROWTH_RATE):
    if depth < 10 or (depth - 4) % 6:
        raise train.OptionError(f"--depth {depth}: DenseNet-BC has 6n+4 layers (40, 100, 160, 190, 250)")
    n = (depth - 4) // 6
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = conv(2 * growth_rate, 3, l2)(x)
    for block in range(3):
        for _ in range(n):
            x = dense_layer(x, growth_rate, l2)
        if block < 2:
            x = transition(x, l2)
    x = bn_relu(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer="he_normal",
                           kernel_regularizer=l2, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"densenet_bc_{depth}_{growth_rate}")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.weight_decay, args.depth, args.growth_rate)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # The step decay LR_STEPS scaled to --epochs, or the schedule --lr-schedule names (cosine, htd).
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
