"""VGG-19 with batch normalisation (Simonyan and Zisserman, "Very Deep Convolutional Networks", 2015).

VGG's idea is uniformity: only 3x3 convolutions, stacked two to four deep between 2x2 max poolings, with the
number of filters doubling after each pooling (64, 128, 256, 512, 512). Two stacked 3x3 convolutions see a
5x5 window with fewer parameters and one more ReLU than a single 5x5 one. Sixteen convolutions, each with
batch normalisation and a ReLU, then three dense layers: 4096, 4096 (each with dropout 0.5) and the
classifier; 39 M parameters, most of them in the dense layers. Trained from scratch: no ImageNet weights.

Training, as the reference run (upstream BIGBALLON/cifar-10-cnn, 3_Vgg19_Network/Vgg19_keras.py at commit
7c2a294; its GTX 1080 Ti figure first appears in the README at b15094a): batch 128, 200 epochs, L2 1e-4,
SGD with Nesterov momentum from 0.1, a tenth from epoch 80 and a hundredth from epoch 160. Deliberate
difference: upstream started from ImageNet-trained convolutions (Keras's VGG19 weights, loaded by layer
name), subtracted the ImageNet mean only and batch-normalised the logits; this script trains from scratch on
standardised images, as every other script does, so that the row measures the architecture and recipe
alone. Expect it to fall somewhat short of the reference, which had a million ImageNet images behind it.

Reference test accuracy after 200 epochs: 93.53 % (with ImageNet weights, see above).

    python vgg/Vgg19_keras.py
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
import keras
from keras import layers, regularizers

EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.1
LR_STEPS = ((80, 0.1), (160, 0.01))
WEIGHT_DECAY = 1e-4
DROPOUT = 0.5
STAGES = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]  # (filters, convolutions) before each pooling


def build_model(data, weight_decay):
    l2 = regularizers.l2(weight_decay)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    for filters, convolutions in STAGES:
        for _ in range(convolutions):
            x = layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal", kernel_regularizer=l2)(x)
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)  # 1 x 1 x 512 after five poolings
    for units in (4096, 4096):
        x = layers.Dense(units, kernel_initializer="he_normal", kernel_regularizer=l2)(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        x = layers.Activation("relu")(x)
        x = layers.Dropout(DROPOUT)(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer="he_normal",
                           kernel_regularizer=l2, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="vgg19_bn")


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
