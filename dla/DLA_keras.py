"""DLA-34 (Yu, Wang, Shelhamer and Darrell, "Deep Layer Aggregation", 2017, arXiv 1707.06484) on 32x32 images.

Adds over resnet/ResNet_zoo_keras.py: deeper aggregation of what the blocks compute. A ResNet merges its blocks
one at a time, each block's output added to its input, and the features of the early blocks reach the classifier
only through all the later ones. DLA merges them in aggregation nodes, Roots: a Root concatenates several earlier
outputs and mixes them with a 1x1 convolution, BN and ReLU. Hierarchical aggregation arranges a stage's blocks as
a tree: two blocks are merged by a Root, that Root's output goes on into the next two blocks, and the Root above
merges those two with the first Root's output, so the stage's shallow and deep blocks are mixed at every level of
the tree instead of only at its end. Iterative aggregation feeds what each stage starts from, the previous
stage's aggregate, into the Root that ends it, so the merging runs on from the shallowest stage to the deepest.
The paper finds its DLA networks more accurate than ResNets and ResNeXts of as many parameters on ImageNet; DLA-34
has 16.3 M of them here and does 1.03 G multiply-accumulates an image, where ResNet-18 has 11.2 M and does 0.56 G.

The network, as kuangliu/pytorch-cifar defines it for 32x32 images (models/dla.py at commit 49b7aa9): three 3x3
convolution-BN-ReLU layers of 16, 16 and 32 filters, all with stride 1 (the paper's first is 7x7 and its third
halves the image), then four trees of basic blocks (ResNet-18's: conv3x3-BN-ReLU-conv3x3-BN added to the input,
through a 1x1 convolution and BN where the shape changes, then ReLU) of 64, 128, 256 and 512 channels, of levels
1, 2, 2 and 1 as in the paper's DLA-34, the last three halving the image (32, 16, 8 and 4 pixels square), global
average pooling and the classifier. A level-1 tree is two blocks under a Root. A level-2 tree is a level-1 tree,
two more blocks after it, and a Root over four tensors: the level-1 tree's Root, the two blocks, and a block of
its own applied to the tree's input (kuangliu's prev_root), which stands for the iterative link. The paper's code
(ucbdrive/dla) feeds the stage's input, max-pooled, to that Root directly, and in the last stage too, where
kuangliu's level-1 tree has no such input; its first block's shortcut is that pooled input through a 1x1
convolution, where kuangliu's is a 1x1 convolution with stride 2. 16,291,386 parameters as PyTorch counts them
(Keras's count_params adds BatchNorm's moving means and variances).

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 94.47 %; this collection's figure is the final epoch's.

    python dla/DLA_keras.py
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

BASE = [16, 16, 32]  # filters of the three plain 3x3 convolutions (kuangliu's base, layer1 and layer2)
# (channels, level, stride) of each tree (layer3 to layer6).
TREES = [(64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 1, 2)]


def conv(filters, size, stride=1):
    return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False,
                         kernel_initializer=pytorch_default())


def bn(x):
    """BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras's 0.9)."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def relu(x):
    return layers.Activation("relu")(x)


def basic_block(x, filters, stride):
    """conv3x3-BN-ReLU-conv3x3-BN, added to the input (through a 1x1 convolution and BN where the shape changes),
    then ReLU."""
    y = relu(bn(conv(filters, 3, stride)(x)))
    y = bn(conv(filters, 3)(y))
    shortcut = x if stride == 1 and x.shape[-1] == filters else bn(conv(filters, 1, stride)(x))
    return relu(layers.Add()([y, shortcut]))


def root(xs, filters):
    """The aggregation node: the tensors ``xs`` concatenated, then conv1x1-BN-ReLU to ``filters`` channels."""
    return relu(bn(conv(filters, 1)(layers.Concatenate()(xs))))


def tree(x, filters, level, stride):
    """kuangliu's Tree. Level 1: two blocks and a Root over both. Level 2: a block of the input (prev_root), a
    level-1 tree, two more blocks, and a Root over the four."""
    xs = []
    if level > 1:
        xs.append(basic_block(x, filters, stride))  # prev_root
        for sublevel in reversed(range(1, level)):  # level_1 (the subtrees of a level-2 tree)
            x = tree(x, filters, sublevel, stride)
            xs.append(x)
        stride = 1
    x = basic_block(x, filters, stride)  # left_node
    xs.append(x)
    x = basic_block(x, filters, 1)  # right_node
    xs.append(x)
    return root(xs, filters)


def build_model(data):
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    for filters in BASE:
        x = relu(bn(conv(filters, 3)(x)))
    for filters, level, stride in TREES:
        x = tree(x, filters, level, stride)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name="dla34")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight")
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
