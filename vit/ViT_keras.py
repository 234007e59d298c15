"""Vision Transformer, ViT (Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition
at Scale", 2020, arXiv 2010.11929), a small one on 32x32 images.

Adds over resnet/ResNet_zoo_keras.py: attention in place of convolution. The image is cut into 64 patches of
4x4 pixels, each patch becomes a vector of 256 numbers (the same linear map for every patch), and the 64
vectors, with a learned class token in front, go through encoder blocks in which every token looks at every
other: each token's query is compared with every token's key, the scores go through a softmax, and the token
takes that weighted average of the tokens' values. A 3x3 convolution sees its neighbours and needs many layers
to see across the image; attention sees the whole image in the first block, but knows which patches are
neighbours only from a learned position embedding added to the tokens, and has to learn from the data what a
convolution assumes. That is why ViT needs many images: in the paper, trained on ImageNet alone it falls behind
ResNets of its size, and it overtakes them pre-trained on 14 M to 300 M images. From scratch on CIFAR-10's
50,000, the zoo's figures below are 6 to 16 points under its AlexNet's 90.39 %. Multi-head attention (--heads)
splits the 256 numbers into groups that attend each on their own, so that the heads can look at different
things, with the same parameters.

The network, as this collection defines it for 32x32 images (the zoo whose figures are given below did not
publish its code, so its own definition, its width included, is unknown): the patches embedded by a 4x4
convolution with stride 4 of 256 filters (8x8 positions, reshaped to 64 tokens of 256), a class token in front
(65 tokens) and a learned 65x256 position embedding added (cifar_common/transformer.py), --depth pre-norm
encoder blocks, a final LayerNorm, and the class token's output alone to the classifier, a dense layer. A block:
LayerNorm, multi-head self-attention (--heads heads of 256 / heads dimensions each; queries, keys, values and
the output projection with biases), added to the block's input; LayerNorm, Dense 512 with GELU, Dropout 0.1,
Dense 256, added. Where it differs from the paper's ViT: far smaller (ViT-Base is 768 wide, with an MLP of
3072, 12 heads and 12 blocks, 86 M parameters); 4x4 patches of a 32x32 image (the paper's 16x16 of 224x224,
196 patches); dropout only after the MLP's first layer (the paper's code also has it after the MLP's second
layer, after the attention's output and after the position embedding, and drops attention weights); initial
weights: the class token and the position table from a normal draw of standard deviation 0.02 cut at two
standard deviations (the paper's code starts the class token at 0 and draws the table uncut), the other
kernels, the attention's included, PyTorch's own draw for a dense layer (uniform within +-1/sqrt(fan_in); the
paper's code uses Glorot's uniform draw, and starts the classifier at 0). LayerNorm's epsilon is the paper
code's, 1e-6. Parameters as PyTorch counts them (Keras's count_params adds nothing: there is no BatchNorm), the
same for any number of heads: 559,626 with 1 block, 1,086,730 with 2, 4,249,354 with 8 (the default).

Training: the zoo's shared recipe (doc/architectures.md, "The zoo's recipe"): 200 epochs, batch 128, SGD with
momentum 0.9 (not Nesterov) from 0.01, cosine annealing to 0 over the run, weight decay 5e-4 in PyTorch's
convention on every weight (optimizers.CoupledDecaySGD), crop-and-flip augmentation, per-channel
standardisation. Deliberate differences, as in every script of the zoo: the training set's own standard
deviations (kuangliu's code divides by 0.2023, 0.1994, 0.2010, a much-copied miscalculation of them), Keras's
"same" padding where a convolution halves the image (one pixel at the bottom and right, where PyTorch's
padding=1 puts one on every side), and biases that start at zero (PyTorch draws them like the weights).

Reference: the zoo's best epoch, 74.85 / 84.17 / 81.53 % (1 head and 1 block / 1 head and 8 blocks / 4 heads
and 2 blocks); this collection's figure is the final epoch's.

    python vit/ViT_keras.py                       # 1 head, 8 blocks
    python vit/ViT_keras.py --heads 4 --depth 2
"""

# cifar_common before keras: it sets TensorFlow's log level and CPU kernels, read when keras is imported.
from cifar_common import regularisers, schedules, train
from cifar_common.augment import RandomCropFlip
from cifar_common.initializers import pytorch_default
from cifar_common.optimizers import CoupledDecaySGD
from cifar_common.transformer import ClassToken, PositionEmbedding
import keras
from keras import layers

# The zoo's shared recipe.
EPOCHS = 200
BATCH_SIZE = 128
LEARNING_RATE = 0.01
LR_SCHEDULE = "cosine"
WEIGHT_DECAY = 5e-4  # PyTorch's weight_decay: decay * w added to every weight's gradient

# The model: patch side, width of the tokens, of the MLP's hidden layer, dropout rate; blocks and heads by default.
PATCH = 4
DIM = 256
MLP_DIM = 512
DROPOUT = 0.1
DEPTH = 8
HEADS = 1

MODEL_FLAGS = {"depth": (DEPTH, "encoder blocks (the zoo's: 1 or 8 with one head, 2 with four)"),
               "heads": (HEADS, f"attention heads, each of {DIM} / heads dimensions: a divisor of {DIM}")}


def layer_norm(x):
    return layers.LayerNormalization(epsilon=1e-6)(x)


def encoder_block(x, heads):
    """Pre-norm: LayerNorm, self-attention, added to the input; LayerNorm, MLP (Dense, GELU, Dropout, Dense),
    added. Every projection of the attention has DIM inputs, hence the fan_in."""
    y = layer_norm(x)
    y = layers.MultiHeadAttention(heads, DIM // heads, kernel_initializer=pytorch_default(fan_in=DIM))(y, y)
    x = layers.Add()([x, y])
    y = layer_norm(x)
    y = layers.Dense(MLP_DIM, activation="gelu", kernel_initializer=pytorch_default())(y)
    y = layers.Dropout(DROPOUT)(y)
    y = layers.Dense(DIM, kernel_initializer=pytorch_default())(y)
    return layers.Add()([x, y])


def build_model(data, depth=DEPTH, heads=HEADS):
    if DIM % heads:
        raise train.OptionError(f"--heads {heads}: the {DIM} dimensions of a token must split evenly over the "
                                "heads (1, 2, 4, 8, ...)")
    height, width = data.image_shape[:2]
    patches = (height // PATCH) * (width // PATCH)
    inputs = keras.Input(shape=data.image_shape)
    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)
    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)
    x = layers.Conv2D(DIM, PATCH, strides=PATCH, kernel_initializer=pytorch_default())(x)  # one vector a patch
    x = layers.Reshape((patches, DIM))(x)
    x = ClassToken()(x)
    x = PositionEmbedding()(x)
    for _ in range(depth):
        x = encoder_block(x, heads)
    x = layer_norm(x)
    x = layers.Flatten()(layers.Cropping1D((0, patches))(x))  # the class token alone
    outputs = layers.Dense(data.num_classes, activation="softmax", kernel_initializer=pytorch_default(),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"vit_{heads}_heads_{depth}_blocks")


if __name__ == "__main__":
    args = train.parse_args(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                            weight_decay=WEIGHT_DECAY, lr_schedule=LR_SCHEDULE,
                            lr_help="base learning rate of SGD with momentum 0.9",
                            weight_decay_help="weight decay as PyTorch's SGD applies it, to every weight",
                            model_flags=MODEL_FLAGS)
    with train.Run(args) as run:  # loads the data; sets up devices, precision and seed; one-line errors
        model = build_model(run.data, args.depth, args.heads)
        model = regularisers.insert(model, args)  # --cutout, --random-erasing, --mixup, --cutmix, if given
        model.compile(optimizer=CoupledDecaySGD(args.lr, momentum=0.9, coupled_decay=args.weight_decay,
                                                **regularisers.ema_arguments(args)),
                      loss=regularisers.loss(args, model), metrics=["accuracy"], jit_compile=run.jit_compile)
        # Cosine annealing from --lr to 0 over --epochs, or the schedule --lr-schedule names.
        schedule = schedules.from_args(args)
        run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
