"""SE-ResNeXt-29 (Hu et al., "Squeeze-and-Excitation Networks", 2018).

Adds over resnext/ResNeXt_keras.py, whose network this script imports unchanged: a squeeze-and-excitation
gate in every block. Squeeze: average each channel of the block's output over the whole image, one number
per channel. Excite: two small dense layers (down to channels/16, ReLU, back up, sigmoid) turn those
numbers into a weight between 0 and 1 per channel. The block's output is multiplied by its weights before
the residual addition, so the network learns which channels matter for the image at hand. It costs about
3 % more parameters (18.1 M for 4 x 64d) and almost no compute.

Training, as the reference run (upstream BIGBALLON/cifar-10-cnn, 8_SENet/SENet_Keras.py at commit 8ed6753;
figure first in its README at 51d3d70): ResNeXt's recipe (250 epochs, L2 5e-4, 0.05, then 0.005 from epoch
76, 0.0005 from 151 and 0.0001 from 211) but batch 64, which is what that script sets (its README and its
commit message say 120). The gate's two dense layers are initialised with he_normal and decayed with the
network's L2, as upstream. Deliberate differences, to follow the paper (its Fig. 3 and released models): the
gate rescales the block's last batch-normalised output (upstream: after a ReLU that the paper does not have
there), and its dense layers have biases (upstream: none); the rest as resnext/ResNeXt_keras.py says.

Reference test accuracy after 250 epochs: 95.60 % (4 x 64d; ResNeXt without the gate: 95.19 %).

    python senet/SENet_keras.py --cardinality 4 --base-width 64
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
import keras
from keras import layers

resnext = train.import_script("resnext/ResNeXt_keras.py")

EPOCHS = resnext.EPOCHS
BATCH_SIZE = 64
LEARNING_RATE = resnext.LEARNING_RATE
LR_STEPS = resnext.LR_STEPS
WEIGHT_DECAY = resnext.WEIGHT_DECAY
REDUCTION = 16
MODEL_FLAGS = resnext.MODEL_FLAGS  # --cardinality, --base-width


def squeeze_excite(x, l2):
    """Rescales each channel of ``x`` by a weight in (0, 1) computed from the whole image."""
    channels = x.shape[-1]
    weights = layers.GlobalAveragePooling2D(keepdims=True)(x)  # squeeze: (batch, 1, 1, channels)
    weights = layers.Dense(channels // REDUCTION, activation="relu", kernel_initializer="he_normal",
                           kernel_regularizer=l2)(weights)
    weights = layers.Dense(channels, activation="sigmoid", kernel_initializer="he_normal",
                           kernel_regularizer=l2)(weights)  # excite
    return layers.Multiply()([x, weights])


def build_model(data, weight_decay, cardinality=resnext.CARDINALITY, base_width=resnext.BASE_WIDTH):
    return resnext.build_model(data, weight_decay, cardinality, base_width, gate=squeeze_excite,
                               name="se_resnext29")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.weight_decay, args.cardinality, args.base_width)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                                      **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # The step decay LR_STEPS scaled to --epochs, or the schedule --lr-schedule names (cosine, htd).
        schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
