"""The second baseline of benchmarks/speed.py: a collection network in a plain PyTorch loop.

What a user who leaves Keras for PyTorch on a CPU would write, for two of the collection's scripts
(``--network``):

* ``resnet``, resnet/ResNet_keras.py's: the same pre-activation ResNet (6n+2 layers, BN-ReLU-conv blocks, the
  1x1 shortcut convolutions, batch normalisation's momentum and epsilon, he_normal weights), per-channel
  standardisation, a random crop of each zero-padded image (4 pixels) mirrored with probability 1/2, batches
  of 128 in a new random order each epoch, SGD with Nesterov momentum 0.9 from 0.1, L2 1e-4 on the kernels.
  Two things differ in form, not in work: Keras's L2 adds 1e-4 * sum(w**2) to the loss, so its gradient is
  2e-4 * w, which is PyTorch's weight_decay=2e-4 on the same kernels; and a stride-2 "same" convolution pads
  one pixel below and right in Keras, one on every side here (the same output size and arithmetic).
* ``airbench94``, speedrun/step7_alternating_flip_keras.py's, as upstream writes it in PyTorch
  (KellerJordan/cifar10-airbench, legacy/airbench94.py at 1b8f794): the frozen 2x2 whitening convolution
  (its kernel from the first 5000 training images, cifar_common/initializers.py's arithmetic) with a bias,
  three conv groups of widths 64/256/256 with identity-initialised 3x3 convolutions, batch normalisation
  without scale (momentum 0.4 in PyTorch's convention, epsilon 1e-12), GELU, the logits times 1/9; 2-pixel
  shifts of reflect-padded images and a flip with probability 1/2; whole batches of 1024 only; SGD with
  Nesterov momentum 0.85, upstream's rate and weight decay (the batch-norm biases at 64 times the rate),
  label smoothing 0.2. The schedule, lookahead and alternating flip are left out: they cost nothing a step
  on a CPU, and the test evaluation is one view, as the Keras contenders' per-epoch evaluation is. The
  whitening bias trains in every epoch: upstream freezes it after 3, which spares the first convolution's
  input gradient from then on (a few per cent of a step); the Keras script computes that gradient throughout
  and undoes the bias's step (cifar_common/freeze.py), so the two loops do the same work.

Both: the test set evaluated after every epoch; eager PyTorch on its own defaults (all cores, NCHW tensors);
nothing from Keras but the data loader. torchvision's transforms are not used: they crop one image at a time
in DataLoader worker processes, which on two cores take the cores the training needs (and torchvision is not
installable beside this PyTorch build here); the crop and mirror are one indexing of the padded batch, the
same draw as cifar_common/augment.py.

The timings are written as benchmarks/plain_keras.py writes them: each epoch's wall time since the previous
one ended (training and test evaluation) and the seconds of its training part, as JSON.

    python benchmarks/plain_torch.py --depth 20 --data-dir D --epochs 3 --json t.json
    python benchmarks/plain_torch.py --network airbench94 --batch-size 1024 --data-dir D --json t.json
"""

import collections
import json
import math
import os
import sys
import time

os.environ["KERAS_BACKEND"] = "torch"  # the data loader imports Keras; TensorFlow need not load beside PyTorch
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cifar_common import cli, data  # noqa: E402

# Keras 3's he_normal: a normal distribution cut at two standard deviations, widened so that the cut one has
# the spread sqrt(2 / fan_in) (doc/initialisation.md).
TRUNCATED_STD = 0.87962566103423978


def he_normal_(weight):
    fan_in = weight[0].numel()
    std = math.sqrt(2 / fan_in) / TRUNCATED_STD
    nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


def conv(cin, cout, size, stride):
    layer = nn.Conv2d(cin, cout, size, stride, padding=size // 2, bias=False)
    he_normal_(layer.weight)
    return layer


def bn(channels):
    return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)  # Keras's momentum=0.9 is PyTorch's 0.1


class Block(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3, added to the input (through a 1x1 convolution where the shape changes)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.conv1 = bn(cin), conv(cin, cout, 3, stride)
        self.bn2, self.conv2 = bn(cout), conv(cout, cout, 3, 1)
        self.shortcut = conv(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        activated = F.relu(self.bn1(x))
        shortcut = self.shortcut(activated) if self.shortcut is not None else x
        y = self.conv2(F.relu(self.bn2(self.conv1(activated))))
        return shortcut + y


class PreactResNet(nn.Module):
    def __init__(self, depth, num_classes=10, channels=3, widths=(16, 32, 64)):
        super().__init__()
        blocks, layers, cin = (depth - 2) // 6, [conv(channels, 16, 3, 1)], 16
        for stage, width in enumerate(widths):
            for block in range(blocks):
                layers.append(Block(cin, width, 2 if stage > 0 and block == 0 else 1))
                cin = width
        self.body = nn.Sequential(*layers)
        self.bn = bn(cin)
        self.classifier = nn.Linear(cin, num_classes)
        he_normal_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x):
        x = F.relu(self.bn(self.body(x)))
        return self.classifier(x.mean(dim=(2, 3)))


class GELUConvGroup(nn.Module):
    """airbench94's group: conv3x3, max-pool 2, BN, GELU, conv3x3, BN, GELU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1, self.conv2 = dirac_conv(cin, cout), dirac_conv(cout, cout)
        self.norm1, self.norm2 = scale_free_bn(cout), scale_free_bn(cout)

    def forward(self, x):
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


def dirac_conv(cin, cout):
    """A 3x3 convolution without bias whose first ``cin`` filters pass their input channel through."""
    layer = nn.Conv2d(cin, cout, 3, padding="same", bias=False)
    nn.init.dirac_(layer.weight[:cin])
    return layer


def scale_free_bn(channels):
    layer = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)  # Keras's momentum=0.6 is PyTorch's 0.4
    layer.weight.requires_grad = False  # the scale stays 1
    return layer


class Airbench94(nn.Module):
    def __init__(self, whitening, num_classes=10, widths=(64, 256, 256)):
        super().__init__()
        self.whiten = nn.Conv2d(whitening.shape[1], whitening.shape[0], whitening.shape[2], bias=True)
        self.whiten.weight.data.copy_(whitening)
        self.whiten.weight.requires_grad = False
        nn.init.zeros_(self.whiten.bias)
        cins = (whitening.shape[0],) + widths[:-1]
        self.groups = nn.Sequential(*(GELUConvGroup(cin, cout) for cin, cout in zip(cins, widths)))
        self.classifier = nn.Linear(widths[-1], num_classes, bias=False)

    def forward(self, x):
        x = self.groups(F.gelu(self.whiten(x)))
        return self.classifier(F.max_pool2d(x, 3).flatten(1)) / 9


def weights_count(model):
    """Parameters and batch normalisation's moving statistics: what Keras's ``count_params`` counts."""
    statistics = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return sum(p.numel() for p in model.parameters()) + statistics


def random_crop_flip(images, padding, generator, mode="constant"):
    """A random window of each padded NCHW image (zeros, or ``mode="reflect"``), mirrored with probability 1/2
    (one indexing)."""
    batch, _, height, width = images.shape
    side = width + 2 * padding
    offsets = torch.randint(0, 2 * padding + 1, (batch, 2), generator=generator)
    flips = torch.rand(batch, generator=generator) < 0.5
    rows = torch.arange(height)[None, :] + offsets[:, :1]  # (batch, height): source rows in the padded image
    cols = torch.arange(width)[None, :] + offsets[:, 1:]
    cols = torch.where(flips[:, None], side - 1 - cols, cols)
    padded = F.pad(images, (padding, padding, padding, padding), mode=mode)
    picked = padded[torch.arange(batch)[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return picked.permute(0, 3, 1, 2).contiguous()


# What the loop needs of a network: its optimizer, the loss of a batch (the sum over it, or the mean), the
# augmentation of a batch, and whether a partial last batch is dropped.
Recipe = collections.namedtuple("Recipe", "model optimizer loss summed augment whole_batches")


def resnet(args, dataset, channels):
    model = PreactResNet(args.depth, dataset.num_classes, channels)
    kernels = [w for name, w in model.named_parameters() if name.endswith("weight") and w.ndim > 1]
    others = [w for name, w in model.named_parameters() if not (name.endswith("weight") and w.ndim > 1)]
    optimizer = torch.optim.SGD([{"params": kernels, "weight_decay": 2e-4}, {"params": others, "weight_decay": 0}],
                                lr=0.1, momentum=0.9, nesterov=True)
    return Recipe(model, optimizer, F.cross_entropy, False, lambda images, g: random_crop_flip(images, 4, g), False)


def airbench94(args, dataset, channels):
    from cifar_common.initializers import whitening_kernel  # NumPy arithmetic

    images = (dataset.x_train[:5000] - dataset.mean) / dataset.std
    whitening = torch.from_numpy(whitening_kernel(images)).permute(3, 2, 0, 1).contiguous()  # HWIO to OIHW
    model = Airbench94(whitening, dataset.num_classes)
    # Upstream's conventions: a rate per image of a summed loss, an L2 term divided by the rate.
    momentum = 0.85
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    rate, decay = 11.5 / kilostep, 0.0153 * args.batch_size / kilostep
    biases = [w for name, w in model.named_parameters() if "norm" in name and w.requires_grad]
    others = [w for name, w in model.named_parameters() if "norm" not in name and w.requires_grad]
    optimizer = torch.optim.SGD([{"params": biases, "lr": 64 * rate, "weight_decay": decay / (64 * rate)},
                                 {"params": others, "lr": rate, "weight_decay": decay / rate}],
                                momentum=momentum, nesterov=True)

    def loss(logits, labels):
        return F.cross_entropy(logits, labels, label_smoothing=0.2, reduction="sum")

    return Recipe(model, optimizer, loss, True, lambda images, g: random_crop_flip(images, 2, g, mode="reflect"), True)


NETWORKS = {"resnet": resnet, "airbench94": airbench94}


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("--network", choices=sorted(NETWORKS), default="resnet",
                   help="resnet/ResNet_keras.py's or speedrun/step7_alternating_flip_keras.py's (default: resnet)")
    p.add_argument("--depth", type=int, default=20, metavar="N", help="the ResNet's layers, 6n+2 (default: 20)")
    p.add_argument("--data-dir", required=True, metavar="PATH", help="a local CIFAR-10 copy (official layout)")
    p.add_argument("--subset", type=cli.positive_int, metavar="N", help="train on N images only")
    p.add_argument("--epochs", type=cli.positive_int, default=3, metavar="N", help="epochs (default: 3)")
    p.add_argument("--batch-size", type=cli.positive_int, default=128, metavar="N", help="batch (default: 128)")
    p.add_argument("--mixed-precision", action="store_true", help="compute in bfloat16 (torch.autocast)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of weights and data order (default: 0)")
    p.add_argument("--json", required=True, metavar="FILE", help="where the timings go")
    args = p.parse_args()
    if args.network == "resnet" and (args.depth < 8 or (args.depth - 2) % 6):
        p.error(f"--depth {args.depth}: a pre-activation ResNet has 6n+2 layers (20, 32, 44, 56, 110)")
    if os.path.exists(args.json):
        p.error(f"--json {args.json}: exists; choose another file")
    try:
        dataset = data.load(data_dir=args.data_dir, subset=args.subset, seed=args.seed)
    except data.DataError as e:
        p.error(str(e))
    if args.network == "airbench94" and len(dataset.x_train) < args.batch_size:
        p.error(f"--batch-size {args.batch_size}: airbench94 trains whole batches only, and there are "
                f"{len(dataset.x_train)} training images")

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    order = np.random.default_rng(args.seed)
    x_train = torch.from_numpy(dataset.x_train).permute(0, 3, 1, 2).contiguous()  # uint8, NCHW
    y_train = torch.from_numpy(dataset.y_train).long()
    x_test = torch.from_numpy(dataset.x_test).permute(0, 3, 1, 2).contiguous()
    y_test = torch.from_numpy(dataset.y_test).long()
    mean = torch.tensor(dataset.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(dataset.std, dtype=torch.float32).view(1, -1, 1, 1)

    recipe = NETWORKS[args.network](args, dataset, x_train.shape[1])
    model, optimizer = recipe.model, recipe.optimizer
    precision = (torch.autocast("cpu", dtype=torch.bfloat16) if args.mixed_precision
                 else torch.autocast("cpu", enabled=False))

    epoch_seconds, train_seconds, accuracies = [], [], []
    mark = time.perf_counter()
    for epoch in range(args.epochs):
        start = time.perf_counter()
        model.train()
        seen = correct = loss_sum = 0
        permutation = order.permutation(len(x_train))
        if recipe.whole_batches:
            permutation = permutation[:len(x_train) // args.batch_size * args.batch_size]
        for batch in np.array_split(permutation, math.ceil(len(permutation) / args.batch_size)):
            index = torch.from_numpy(batch)
            images = recipe.augment((x_train[index].float() - mean) / std, generator)
            labels = y_train[index]
            with precision:
                logits = model(images)
                loss = recipe.loss(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            loss_sum += float(loss) * (1 if recipe.summed else len(labels))
        trained = time.perf_counter()
        model.eval()
        right = 0
        with torch.no_grad(), precision:
            for begin in range(0, len(x_test), args.batch_size):
                images = (x_test[begin:begin + args.batch_size].float() - mean) / std
                right += int((model(images).argmax(1) == y_test[begin:begin + args.batch_size]).sum())
        now = time.perf_counter()
        train_seconds.append(trained - start)
        epoch_seconds.append(now - mark)
        mark = now
        accuracies.append(right / len(x_test))
        print(f"epoch {epoch + 1}/{args.epochs}: {epoch_seconds[-1]:.1f} s, loss {loss_sum / seen:.4f}, "
              f"accuracy {correct / seen:.4f}, test accuracy {accuracies[-1]:.4f}", flush=True)

    with open(args.json, "w") as f:
        json.dump({"epoch_seconds": epoch_seconds, "train_seconds": train_seconds, "test_accuracy": accuracies,
                   "train_images": seen, "jit_compiled": False, "parameters": weights_count(model),
                   "backend": "pytorch", "backend_version": torch.__version__, "threads": torch.get_num_threads()},
                  f, indent=2)


if __name__ == "__main__":
    main()
