"""PNASNet-A and PNASNet-B, kuangliu's small networks after Liu et al. ("Progressive Neural Architecture Search",
2017, arXiv 1712.00559), on 32x32 images.

Adds over mobilenet/MobileNet_keras.py: a building block found by a search instead of designed by hand. Neural
architecture search trains many candidate networks and keeps what works. NASNet's search (Zoph et al., 2018)
looks for a cell, a small graph of operations that is stacked to make the network: a cell of B blocks, each
block summing two operations (a 3x3, 5x5 or 7x7 depthwise separable convolution, a 3x3 max or average pooling,
the identity, ...) applied to two earlier tensors. Progressive search grows the cells one block at a time: it
trains every cell of one block, then extends the best K of them by a block each; since there are far too many
extensions to train, a predictor (a small model fitted to the accuracies measured so far) ranks them, only its
top K are trained, and their accuracies refit the predictor for the next step, up to five blocks. The paper
finds its cells with up to 5 times fewer networks trained than NASNet's reinforcement learning, and 8 times less
compute; its five-block cell, PNASNet-5, matched the best accuracies then published on CIFAR-10 and ImageNet.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/pnasnet.py at commit 49b7aa9): a 3x3
convolution-BN-ReLU of F filters, then three stages of 6 cells of F, 2F and 4F channels, with a cell of stride
2 that doubles the width before the second and third (32, 16 and 8 pixels square; 20 cells in all), global
average pooling and the classifier. kuangliu's cells are small ones of one and two blocks, the kind the search
starts from, not the paper's five-block cell, and each reads only the cell before it (the paper's read the two
before). --cell A (F = 44): one block, a 7x7 separable convolution plus a 3x3 max pooling, then ReLU. --cell B
(F = 32): two blocks, a 7x7 plus a 3x3 separable convolution and a 3x3 max pooling plus a 5x5 separable
convolution, each sum through a ReLU, the two concatenated and brought back to the cell's width by a 1x1
convolution, BN and ReLU. kuangliu's separable convolution is only the depthwise half: a convolution of each
channel on its own (groups = the input's channels), then BN, with no pointwise 1x1 convolution to mix the
channels (the paper's has one); where a cell doubles the width it draws two filters from each channel (Keras's
depth_multiplier=2), and the max pooling branch gets a 1x1 convolution and BN to the new width. The max pooling
of stride 2 is padded as the convolutions are, one pixel at the bottom and right. Parameters as PyTorch counts
them (Keras's count_params adds BatchNorm's moving means and variances): PNASNet-A 130,646, PNASNet-B 451,626;
they do 28 and 74 M multiply-accumulates an image. --cell B is the default, the more accurate of the two.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 84.34 / 91.41 % (PNASNet-A / B); this collection's figure is the final epoch's.

    python pnasnet/PNASNet_keras.py --cell B
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

CELL = "B"
PLANES = {"A": 44, "B": 32}  # F: the first stage's width (kuangliu's num_planes)
CELLS_PER_STAGE = 6
MODEL_FLAGS = {"cell": (CELL, "A: one block (7x7 separable convolution + max pooling), 44 channels first; B: two "
                              "blocks, 32", tuple(PLANES))}


def conv1x1(filters):
    return layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=pytorch_default())


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def relu(x):
    return layers.Activation("relu")(x)


def sep_conv(x, filters, size, stride):
    """kuangliu's SepConv: a depthwise ``size`` x ``size`` convolution, ``filters`` / channels filters on each
    channel (1, or 2 where the cell doubles the width), then BN; no pointwise convolution."""
    x = layers.DepthwiseConv2D(size, strides=stride, padding="same", depth_multiplier=filters // x.shape[-1],
                               use_bias=False, depthwise_initializer=pytorch_default(fan_in=size * size))(x)
    return bn(x)


def max_pool(x, filters, stride):
    """3x3 max pooling; where the cell halves the image, then a 1x1 convolution and BN to the new width."""
    y = layers.MaxPooling2D(3, strides=stride, padding="same")(x)
    if stride == 2:
        y = bn(conv1x1(filters)(y))
    return y


def cell_a(x, filters, stride):
    """One block: a 7x7 separable convolution plus a 3x3 max pooling, then ReLU."""
    y1 = sep_conv(x, filters, 7, stride)
    y2 = max_pool(x, filters, stride)
    return relu(layers.Add()([y1, y2]))


def cell_b(x, filters, stride):
    """Two blocks, (7x7 + 3x3 separable convolutions) and (max pooling + 5x5 separable convolution), each through
    a ReLU; the two concatenated, then conv1x1-BN-ReLU back to ``filters`` channels."""
    # Left branch
    y1 = sep_conv(x, filters, 7, stride)
    y2 = sep_conv(x, filters, 3, stride)
    # Right branch
    y3 = max_pool(x, filters, stride)
    y4 = sep_conv(x, filters, 5, stride)
    # Concatenate and reduce the channels
    b1 = relu(layers.Add()([y1, y2]))
    b2 = relu(layers.Add()([y3, y4]))
    y = layers.Concatenate()([b1, b2])
    return relu(bn(conv1x1(filters)(y)))


def build_model(data, cell=CELL):
    cell_type = {"A": cell_a, "B": cell_b}[cell]
    planes = PLANES[cell]
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = layers.Conv2D(planes, 3, padding="same", use_bias=False, kernel_initializer=pytorch_default())(x)
    x = relu(bn(x))
    for stage, filters in enumerate([planes, 2 * planes, 4 * planes]):
        if stage > 0:
            x = cell_type(x, filters, 2)  # kuangliu's _downsample: halves the image, doubles the width
        for _ in range(CELLS_PER_STAGE):
            x = cell_type(x, filters, 1)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"pnasnet_{cell.lower()}")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight",
                            model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.cell)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
