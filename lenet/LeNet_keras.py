"""LeNet-5 on CIFAR-10: the baseline of the LeNet series.

The classic convolutional network of LeCun et al. (1998): two 5x5 convolutions, each followed by 2x2 max
pooling, then three dense layers (120, 84, 10 units); 62,006 parameters. Pixels are scaled to [0, 1];
no augmentation, no weight decay. The next script, LeNet_dp_keras.py, adds per-channel standardisation.

Reference test accuracy after 200 epochs: 58.48 %.
Ours, the final epoch: median 56.82 % (54.71 to 59.79) over 5 runs (results/lenet/).
The recipe is that of the reference runs (see the hyperparameters below); one deliberate difference:
Keras 3's he_normal, whose spread is 1/0.88 times that of the Keras 2.1 the reference ran on
(doc/initialisation.md measures both).

    python lenet/LeNet_keras.py                                   # downloads CIFAR-10
    python lenet/LeNet_keras.py --data-dir ~/cifar-10-batches-py  # a local copy
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
import keras
from keras import layers, regularizers

# Hyperparameters of the runs behind the reference figures (upstream BIGBALLON/cifar-10-cnn, the LeNet
# scripts of commit fe1d0d3): SGD with Nesterov momentum 0.9 from a rate of 0.01, half of it from epoch 100
# and a tenth from epoch 150 (the step schedule; its boundaries scale with --epochs).
EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.01
LR_STEPS = ((100, 0.5), (150, 0.1))  # 0.01, 0.005, 0.001
WEIGHT_DECAY = 0.0


def build_model(data, weight_decay):
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(6, 5, activation="relu", kernel_initializer="he_normal", kernel_regularizer=l2)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 5, activation="relu", kernel_initializer="he_normal", kernel_regularizer=l2)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(120, activation="relu", kernel_initializer="he_normal", kernel_regularizer=l2)(x)
    x = layers.Dense(84, activation="relu", kernel_initializer="he_normal", kernel_regularizer=l2)(x)
    # The class probabilities stay in float32, also under --mixed-precision.
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer="he_normal",
                           kernel_regularizer=l2, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="lenet")


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
