"""DPN-26 and DPN-92 (Chen et al., "Dual Path Networks", 2017, arXiv 1707.01629) on 32x32 images.

Adds over resnext/ResNeXt_keras.py and densenet/DenseNet_zoo_keras.py: both ways of passing features on, in one
block. A residual path adds each block's output to its input: the width stays fixed and later blocks refine the
same features (re-use, in the paper's words). A dense path concatenates: each block appends a few new channels
that no later block can overwrite (exploration), at the price of a width that grows with the depth. A dual path
block computes both from one shared body, ResNeXt's bottleneck (1x1 convolution, grouped 3x3 convolution with 32
groups, 1x1 convolution): of the last convolution's outputs, the first d are added to the residual path's d
channels and the other k are appended to the dense path, and the next block reads both paths concatenated. The
residual path carries most of the width (d = 256 to 2048 channels a stage) and the dense path grows slowly
(k = 16 to 128 channels a block). On ImageNet, the paper reports, a DPN shallower than ResNeXt-101 (64x4d) beats
it with 26 % fewer parameters and 25 % less arithmetic.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/dpn.py at commit 49b7aa9): a 3x3
convolution of 64 filters with stride 1 (the paper's is 7x7 with stride 2, then a max pooling), four stages of
dual path blocks, bottleneck widths 96, 192, 384, 768, residual widths d = 256, 512, 1024, 2048, dense
increments k = 16, 32, 24, 128, the last three stages halving the image (32, 16, 8 and 4 pixels square), global
average pooling of both paths and the classifier. --depth 92: 3, 4, 20 and 3 blocks, the paper's DPN-92; 26:
2 blocks a stage, a shortening of kuangliu's own. The first block of a stage starts both paths afresh from a 1x1
convolution and BN of its whole input (with the stage's stride), to d + k channels. kuangliu's blocks differ
from the authors' code in two ways kept here: they are post-activation (conv-BN-ReLU, with a ReLU over both paths
after the joining), where the authors' are pre-activation (BN-ReLU-conv); and the first block's projection starts
the dense path at k channels, where the authors' starts it at 2k. kuangliu's last 1x1 convolution (and BN) has
d + k outputs, cut in two; here it is two 1x1 convolutions, to d and to k, the same weights and arithmetic
without slicing a tensor (which Keras does with no layer), and the first block's projection likewise.
Parameters as PyTorch counts them (Keras's count_params adds BatchNorm's moving means and variances): DPN-26
11,574,842; DPN-92 34,236,634. They do 0.67 and 2.04 G multiply-accumulates an image. --depth 92 is the default:
the paper's network, and the better of the two in the zoo.

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 94.05 / 94.73 % (DPN-26 / 92); this collection's figure is the final epoch's.

    python dpn/DPN_keras.py --depth 92
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
from cifar_common.grouped_conv import GroupedConv2D  # Conv2D(groups=...), fast on CPUs too
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

DEPTH = 92
GROUPS = 32  # of the 3x3 convolutions
WIDTHS = [96, 192, 384, 768]  # the bottleneck's width in each stage (kuangliu's in_planes)
RESIDUAL = [256, 512, 1024, 2048]  # d: the residual path's width in each stage (out_planes)
DENSE = [16, 32, 24, 128]  # k: the channels each block of a stage appends to the dense path (dense_depth)
BLOCKS = {26: [2, 2, 2, 2], 92: [3, 4, 20, 3]}  # blocks in each stage
MODEL_FLAGS = {"depth": (DEPTH, "layers: 26 (kuangliu's 2 blocks a stage) or 92 (the paper's DPN-92)",
                         tuple(BLOCKS))}


def conv(filters, size, stride=1, groups=1):
    return GroupedConv2D(filters, size, strides=stride, padding="same", groups=groups, use_bias=False,
                         kernel_initializer=pytorch_default())


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def relu(x):
    return layers.Activation("relu")(x)


def dual_path_block(x, residual, dense, width, d, k, stride, first):
    """kuangliu's Bottleneck: conv1x1-BN-ReLU, grouped conv3x3-BN-ReLU, then conv1x1-BN to d channels added to the
    residual path and conv1x1-BN to k channels appended to the dense path; ReLU. ``x`` is the block's input, the
    two paths concatenated; a stage's ``first`` block starts both paths from a 1x1 convolution and BN of it.
    Returns the two paths."""
    y = relu(bn(conv(width, 1)(x)))
    y = relu(bn(conv(width, 3, stride, GROUPS)(y)))
    new_residual = bn(conv(d, 1)(y))  # kuangliu's conv3 and bn3, its first d channels
    new_dense = bn(conv(k, 1)(y))  # and its last k
    if first:  # the shortcut: a 1x1 convolution and BN to d + k channels, cut in two as conv3 is
        residual = bn(conv(d, 1, stride)(x))
        dense = bn(conv(k, 1, stride)(x))
    residual = relu(layers.Add()([residual, new_residual]))
    dense = relu(layers.Concatenate()([dense, new_dense]))
    return residual, dense


def build_model(data, depth=DEPTH):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = relu(bn(conv(64, 3)(x)))
    residual = dense = None
    for stage, (count, width, d, k) in enumerate(zip(BLOCKS[depth], WIDTHS, RESIDUAL, DENSE)):
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            residual, dense = dual_path_block(x, residual, dense, width, d, k, stride, first=index == 0)
            x = layers.Concatenate()([residual, dense])  # the next block's input: d + (blocks + 1) k channels
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"dpn{depth}")


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
