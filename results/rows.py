"""The rows of the results table: which script and arguments reproduce each reference figure.

Every row names the script and flags that train it with the recipe of the upstream run behind its figure
(the scripts' docstrings give the upstream file and commit, and every deliberate difference), the figure and
the upstream commit whose README first published it. ``results/<name>/`` holds the runs filed for the row;
``results/table.py`` turns them into the README's table, ``results/reproduce.py`` trains them.
"""

import dataclasses
import functools
import glob
import os
import re

from cifar_common import run_folder

# Where the reference figures were published: the upstream Keras collection's README at a given commit.
UPSTREAM = "https://github.com/BIGBALLON/cifar-10-cnn/blob/{commit}/README.md"
# The speed-run's: airbench94's ablation (its README) and airbench94 itself (its first lines).
AIRBENCH_ABLATIONS = ("https://github.com/KellerJordan/cifar10-zoo/blob/347bc00aadc160f1e36b55c58cbd32ddd8a1adc0/"
                      "airbench/ablations/README.md")
# A peer's: hysts/pytorch_image_classification's README, at the commit where its WRN-28-10 Cutout figure appears.
HYSTS = ("https://github.com/hysts/pytorch_image_classification/blob/71482cad74259f5a976723b207399f23c8572674/"
         "README.md")
# hysts's README at the commit where its PyramidNet, shake-shake and ResNet-preact figures first appear.
HYSTS_2017 = ("https://github.com/hysts/pytorch_image_classification/blob/72f898b3be9f964babca7733813f5baee1cfc22a/"
              "README.md")
# The papers whose own figures are the references where no peer's run is of the same network.
PYRAMIDNET = "https://arxiv.org/abs/1610.02915"
SHAKE_SHAKE = "https://arxiv.org/abs/1705.07485"
WRN = "https://arxiv.org/abs/1605.07146"
# google/flax's CIFAR-10 example: PyramidNet-272 with ShakeDrop.
FLAX = ("https://github.com/google/flax/blob/11be3ca584ea0a1ff62dcbba20fab53271484150/examples/cifar10/"
        "README.md")
# The PyTorch zoo "玩转CIFAR10": its README's table, as reposted (the original repository was not found).
ZOO = "https://blog.51cto.com/u_15786578/5667479"
AIRBENCH94 = ("https://github.com/KellerJordan/cifar10-airbench/blob/1b8f794961dede8c4a3480bc7753904818f70d97/"
              "legacy/airbench94.py")


@dataclasses.dataclass(frozen=True)
class Row:
    name: str  # the folder under results/ and the name reproduce.py takes
    model: str  # as the table shows it
    script: str
    args: tuple  # the flags that make the script's defaults this row's recipe
    parameters: int
    macs: float  # multiply-accumulates per image, millions (what the script prints at start-up)
    epochs: float  # the length of the reference run (the speed-run's are fractions: 9.9)
    reference: float | None = None  # test accuracy, %, of the upstream table (None: it has none)
    published: str | None = None  # the upstream commit whose README first gave the figure (or the paper's URL)
    best_epoch_reference: bool = False  # the reference is a best epoch chosen on the test set, not a final one

    @property
    def command(self):
        return " ".join(["python", self.script, *self.args])

    @property
    def cost(self):
        """Multiply-accumulates of a whole run per training image: what "small rows first" sorts by."""
        return self.macs * self.epochs


ROWS = [
    Row("lenet", "LeNet-5", "lenet/LeNet_keras.py", (), 62_006, 0.65, 200, 58.48, "4318859"),
    Row("lenet-dp", "LeNet-5 + preprocessing", "lenet/LeNet_dp_keras.py", (), 62_006, 0.65, 200, 60.41, "4318859"),
    Row("lenet-dp-da", "LeNet-5 + augmentation", "lenet/LeNet_dp_da_keras.py", (), 62_006, 0.65, 200, 75.06,
        "4318859"),
    Row("lenet-dp-da-wd", "LeNet-5 + weight decay", "lenet/LeNet_dp_da_wd_keras.py", (), 62_006, 0.65, 200, 76.23,
        "4318859"),
    Row("nin", "NiN", "nin/Network_in_Network_keras.py", (), 966_986, 223, 200),
    Row("nin-bn", "NiN + batch norm", "nin/Network_in_Network_bn_keras.py", (), 972_658, 223, 200, 91.63, "51d3d70"),
    Row("vgg19", "VGG-19 (BN)", "vgg/Vgg19_keras.py", (), 39_002_698, 417, 200, 93.53, "b15094a"),
    Row("resnet-20", "ResNet-20", "resnet/ResNet_keras.py", ("--depth", "20"), 273_658, 41, 200, 91.82, "30db1f4"),
    Row("resnet-32", "ResNet-32", "resnet/ResNet_keras.py", ("--depth", "32"), 468_986, 69, 200, 92.68, "30db1f4"),
    Row("resnet-110", "ResNet-110", "resnet/ResNet_keras.py", ("--depth", "110"), 1_738_618, 253, 200, 93.93,
        "30db1f4"),
    Row("wrn-16-8", "WRN-16-8", "wrn/Wide_ResNet_keras.py", ("--depth", "16", "--width", "8"), 10_968_570, 1550,
        200, 95.13, "51d3d70"),
    Row("wrn-28-10", "WRN-28-10", "wrn/Wide_ResNet_keras.py", ("--depth", "28", "--width", "10"), 36_497_146, 5240,
        200, 95.78, "30db1f4"),
    # A peer's row: WRN-28-10 with Cutout 16 and cosine annealing to 0 (hysts, one run: 3.19 % error), batch 64,
    # the rate 0.1, weight decay 5e-4 in PyTorch's convention (Keras's 2.5e-4), no dropout. Its cosine steps
    # every iteration and its decay reaches BatchNorm's weights too; ours steps once an epoch and decays the
    # convolutions and the classifier.
    Row("wrn-28-10-cutout", "WRN-28-10 + Cutout 16, cosine (hysts)", "wrn/Wide_ResNet_keras.py",
        ("--depth", "28", "--width", "10", "--cutout", "16", "--lr-schedule", "cosine", "--batch-size", "64",
         "--weight-decay", "2.5e-4"), 36_497_146, 5240, 200, 96.81, HYSTS),
    # The paper's WRN-28-10 with dropout 0.3 between each block's convolutions (3.89 % error, median of 5 runs):
    # the WRN recipe with the paper's weight decay, 5e-4 in PyTorch's (Torch's) convention. Its decay reaches
    # BatchNorm's weights too.
    Row("wrn-28-10-dropout", "WRN-28-10 + dropout 0.3 (paper)", "wrn/Wide_ResNet_keras.py",
        ("--depth", "28", "--width", "10", "--dropout", "0.3", "--weight-decay", "2.5e-4"), 36_497_146, 5240, 200,
        96.11, WRN),
    # The peers' residual networks (pyramidnet/, shake_shake/, resnet/ --block bottleneck), with the recipes of
    # hysts's configs at 72f898b (the papers' own). Weight decay 1e-4 in PyTorch's convention is Keras's 5e-5.
    # hysts's ResNet-preact: 160 epochs, a tenth from epochs 80 and 120. Its networks start He-normal by their
    # outputs and decay BatchNorm's weights; the ResNet script keeps the collection's he_normal and decays the
    # convolutions and the classifier. hysts's 164-layer network has a first stage of 16 output channels
    # (1,619,290 parameters in PyTorch's count), ours the paper's 64 (1,703,258), for which the paper gives 5.46 %.
    Row("resnet-preact-110-hysts", "ResNet-110, hysts's recipe", "resnet/ResNet_keras.py",
        ("--depth", "110", "--epochs", "160", "--lr-steps", "80:0.1,120:0.01", "--weight-decay", "5e-5"), 1_738_618,
        253, 160, 93.53, HYSTS_2017),
    Row("resnet-preact-164-bottleneck-hysts", "ResNet-164, bottleneck, hysts's recipe", "resnet/ResNet_keras.py",
        ("--depth", "164", "--block", "bottleneck", "--epochs", "160", "--lr-steps", "80:0.1,120:0.01",
         "--weight-decay", "5e-5"), 1_727_482, 248, 160, 94.10, HYSTS_2017),
    # PyramidNet: the script's defaults are the recipe (300 epochs, 0.1, a tenth at 150 and 225, 5e-5). hysts's
    # runs for the basic networks; the paper's figures for the bottleneck ones (hysts's 3.44 % for the 164-layer
    # one came from code that started bottleneck networks with 64 channels, not 16).
    Row("pyramidnet-110-84", "PyramidNet-110, alpha 84", "pyramidnet/PyramidNet_keras.py", (), 3_923_554, 772, 300,
        95.60, HYSTS_2017),
    Row("pyramidnet-110-270", "PyramidNet-110, alpha 270", "pyramidnet/PyramidNet_keras.py", ("--alpha", "270"),
        28_535_275, 4718, 300, 96.08, HYSTS_2017),
    Row("pyramidnet-164-270", "PyramidNet-164, bottleneck, alpha 270", "pyramidnet/PyramidNet_keras.py",
        ("--depth", "164", "--alpha", "270", "--block", "bottleneck"), 27_381_865, 4570, 300, 96.52, PYRAMIDNET),
    Row("pyramidnet-272-200", "PyramidNet-272, bottleneck, alpha 200", "pyramidnet/PyramidNet_keras.py",
        ("--depth", "272", "--alpha", "200", "--block", "bottleneck"), 26_421_706, 4489, 300, 96.69, PYRAMIDNET),
    # google/flax's ShakeDrop run: its recipe is the paper's with batch 256; its network rounds the widths down
    # and gives the convolutions biases, and its decay reaches the convolutions and the classifier only.
    Row("pyramidnet-272-200-shakedrop", "PyramidNet-272, bottleneck, alpha 200 + ShakeDrop (flax)",
        "pyramidnet/PyramidNet_keras.py", ("--depth", "272", "--alpha", "200", "--block", "bottleneck",
                                           "--shakedrop", "0.5", "--batch-size", "256"), 26_421_706, 4489, 300,
        96.74, FLAX),
    # Shake-shake-26, S-S-I: the paper's figures (hysts's came from an earlier network); the script's defaults are
    # the paper's recipe (1800 epochs, cosine from 0.2, batch 128, 5e-5).
    Row("shake-shake-26-2x32d", "Shake-shake-26 2x32d", "shake_shake/ShakeShake_keras.py", (), 2_930_810, 427, 1800,
        96.45, SHAKE_SHAKE),
    Row("shake-shake-26-2x64d", "Shake-shake-26 2x64d", "shake_shake/ShakeShake_keras.py", ("--width", "64"),
        11_669_242, 1686, 1800, 97.02, SHAKE_SHAKE),
    Row("shake-shake-26-2x96d", "Shake-shake-26 2x96d", "shake_shake/ShakeShake_keras.py", ("--width", "96"),
        26_215_802, 3777, 1800, 97.14, SHAKE_SHAKE),
    # The k=12 figure came from the earlier upstream recipe: 0.05 and L2 2e-4 (see the script's docstring).
    Row("densenet-bc-100-12", "DenseNet-BC-100, k=12", "densenet/DenseNet_keras.py",
        ("--depth", "100", "--growth-rate", "12", "--lr", "0.05", "--weight-decay", "2e-4"), 793_150, 288, 250,
        94.91, "51d3d70"),
    Row("densenet-bc-100-24", "DenseNet-BC-100, k=24", "densenet/DenseNet_keras.py",
        ("--depth", "100", "--growth-rate", "24"), 3_068_482, 1150, 250, 95.30, "328f314"),
    Row("densenet-bc-160-24", "DenseNet-BC-160, k=24", "densenet/DenseNet_keras.py",
        ("--depth", "160", "--growth-rate", "24"), 6_943_642, 2500, 250, 95.90, "455cc41"),
    Row("resnext-29-4x64d", "ResNeXt-29, 4 x 64d", "resnext/ResNeXt_keras.py",
        ("--cardinality", "4", "--base-width", "64"), 17_598_410, 2740, 250, 95.19, "51d3d70"),
    Row("se-resnext-29-4x64d", "SE-ResNeXt-29, 4 x 64d", "senet/SENet_keras.py",
        ("--cardinality", "4", "--base-width", "64"), 18_120_218, 2740, 250, 95.60, "51d3d70"),
    # The PyTorch zoo ("玩转CIFAR10": kuangliu/pytorch-cifar's networks at 49b7aa9, MobileNetV3 from
    # leaderj1001/MobileNetV3-Pytorch, its own AlexNet and ViT), every network trained with one recipe, each
    # zoo script's defaults: 200 epochs, batch 128, SGD with momentum 0.9 from 0.01, cosine to 0, PyTorch's
    # weight decay 5e-4 on every weight. Its figures are each run's best epoch, chosen on the test set, on an RTX
    # 3060 (PyTorch 1.9.1); the copy of its table read here shows the training time of its first rows only:
    # AlexNet 1 h 17 min, VGG-11 1 h 10 min, VGG-13 1 h 39 min, VGG-16 1 h 55 min, VGG-19 2 h 10 min, GoogLeNet
    # 8 h 42 min. Its rows after GoogLeNet are cut from that copy: their figures are as the zoo's table was
    # quoted to this project, not checked against its page.
    Row("zoo-alexnet", "AlexNet (zoo recipe)", "alexnet/AlexNet_keras.py", (), 7_511_370, 172, 200, 90.39, ZOO, True),
    Row("zoo-vgg-11", "VGG-11 (zoo recipe)", "vgg/VGG_zoo_keras.py",
        ("--depth", "11"), 9_236_618, 153, 200, 92.23, ZOO, True),
    Row("zoo-vgg-13", "VGG-13 (zoo recipe)", "vgg/VGG_zoo_keras.py",
        ("--depth", "13"), 9_421_898, 228, 200, 93.68, ZOO, True),
    Row("zoo-vgg-16", "VGG-16 (zoo recipe)", "vgg/VGG_zoo_keras.py",
        ("--depth", "16"), 14_736_714, 313, 200, 93.35, ZOO, True),
    Row("zoo-vgg-19", "VGG-19 (zoo recipe)", "vgg/VGG_zoo_keras.py",
        ("--depth", "19"), 20_051_530, 398, 200, 93.34, ZOO, True),
    Row("zoo-googlenet", "GoogLeNet (zoo recipe)", "googlenet/GoogLeNet_keras.py",
        (), 6_182_058, 1522, 200, 94.94, ZOO, True),
    Row("zoo-resnet-18", "ResNet-18 (zoo recipe)", "resnet/ResNet_zoo_keras.py",
        ("--depth", "18"), 11_183_562, 555, 200, 94.15, ZOO, True),
    Row("zoo-resnet-50", "ResNet-50 (zoo recipe)", "resnet/ResNet_zoo_keras.py",
        ("--depth", "50"), 23_573_962, 1298, 200, 94.48, ZOO, True),
    Row("zoo-resnet-101", "ResNet-101 (zoo recipe)", "resnet/ResNet_zoo_keras.py",
        ("--depth", "101"), 42_618_314, 2510, 200, 94.48, ZOO, True),
    Row("zoo-mobilenet", "MobileNet (zoo recipe)", "mobilenet/MobileNet_keras.py",
        (), 3_239_114, 46.4, 200, 91.51, ZOO, True),
    Row("zoo-mobilenet-v2", "MobileNetV2 (zoo recipe)", "mobilenet/MobileNetV2_keras.py",
        (), 2_332_010, 91.2, 200, 93.99, ZOO, True),
    Row("zoo-mobilenet-v3-large", "MobileNetV3 Large (zoo recipe)", "mobilenet/MobileNetV3_keras.py",
        ("--size", "large"), 3_907_608, 7.51, 200, 90.28, ZOO, True),
    Row("zoo-mobilenet-v3-small", "MobileNetV3 Small (zoo recipe)", "mobilenet/MobileNetV3_keras.py",
        ("--size", "small"), 1_855_416, 2.55, 200, 87.15, ZOO, True),
    Row("zoo-shufflenet-g1", "ShuffleNet g=1 (zoo recipe)", "shufflenet/ShuffleNet_keras.py",
        ("--groups", "1"), 974_818, 44, 200, 91.33, ZOO, True),
    Row("zoo-shufflenet-g2", "ShuffleNet g=2 (zoo recipe)", "shufflenet/ShuffleNet_keras.py",
        ("--groups", "2"), 960_682, 43.2, 200, 91.20, ZOO, True),
    Row("zoo-shufflenet-g3", "ShuffleNet g=3 (zoo recipe)", "shufflenet/ShuffleNet_keras.py",
        ("--groups", "3"), 938_242, 42, 200, 91.01, ZOO, True),
    Row("zoo-shufflenet-g4", "ShuffleNet g=4 (zoo recipe)", "shufflenet/ShuffleNet_keras.py",
        ("--groups", "4"), 917_402, 40.9, 200, 90.66, ZOO, True),
    Row("zoo-shufflenet-g8", "ShuffleNet g=8 (zoo recipe)", "shufflenet/ShuffleNet_keras.py",
        ("--groups", "8"), 951_730, 42.1, 200, 90.51, ZOO, True),
    Row("zoo-efficientnet-b0", "EfficientNet-B0 (zoo recipe)", "efficientnet/EfficientNet_keras.py",
        (), 3_638_054, 30.3, 200, 91.97, ZOO, True),
    Row("zoo-resnext-29-2x64d", "ResNeXt-29, 2 x 64d (zoo recipe)", "resnext/ResNeXt_zoo_keras.py",
        (), 9_153_994, 1409, 200, 94.67, ZOO, True),
    Row("zoo-regnetx-200mf", "RegNetX-200MF (zoo recipe)", "regnet/RegNet_keras.py",
        (), 2_342_858, 223, 200, 93.89, ZOO, True),
    Row("zoo-densenet-121-12", "DenseNet-121, k=12 (zoo recipe)", "densenet/DenseNet_zoo_keras.py",
        ("--depth", "121", "--growth-rate", "12"), 1_031_938, 125, 200, 93.51, ZOO, True),
    Row("zoo-densenet-121-16", "DenseNet-121, k=16 (zoo recipe)", "densenet/DenseNet_zoo_keras.py",
        ("--depth", "121", "--growth-rate", "16"), 1_804_714, 223, 200, 94.11, ZOO, True),
    Row("zoo-densenet-121-24", "DenseNet-121, k=24 (zoo recipe)", "densenet/DenseNet_zoo_keras.py",
        ("--depth", "121", "--growth-rate", "24"), 3_993_466, 500, 200, 94.34, ZOO, True),
    Row("zoo-densenet-121-32", "DenseNet-121, k=32 (zoo recipe)", "densenet/DenseNet_zoo_keras.py",
        ("--depth", "121", "--growth-rate", "32"), 7_039_818, 888, 200, 95.37, ZOO, True),
    Row("zoo-densenet-169-32", "DenseNet-169, k=32 (zoo recipe)", "densenet/DenseNet_zoo_keras.py",
        ("--depth", "169", "--growth-rate", "32"), 12_651_594, 1060, 200, 95.01, ZOO, True),
    Row("zoo-senet-18", "SENet-18 (zoo recipe)", "senet/SENet18_zoo_keras.py",
        (), 11_267_266, 556, 200, 94.25, ZOO, True),
    Row("zoo-pnasnet-a", "PNASNet-A (zoo recipe)", "pnasnet/PNASNet_keras.py",
        ("--cell", "A"), 135_486, 28, 200, 84.34, ZOO, True),
    Row("zoo-pnasnet-b", "PNASNet-B (zoo recipe)", "pnasnet/PNASNet_keras.py",
        ("--cell", "B"), 464_362, 74.5, 200, 91.41, ZOO, True),
    Row("zoo-dla", "DLA (zoo recipe)", "dla/DLA_keras.py", (), 16_309_178, 1031, 200, 94.47, ZOO, True),
    Row("zoo-dpn-26", "DPN-26 (zoo recipe)", "dpn/DPN_keras.py",
        ("--depth", "26"), 11_610_730, 665, 200, 94.05, ZOO, True),
    Row("zoo-dpn-92", "DPN-92 (zoo recipe)", "dpn/DPN_keras.py",
        ("--depth", "92"), 34_349_962, 2042, 200, 94.73, ZOO, True),
    Row("zoo-vit-1-head-1-block", "ViT, 1 head, 1 block (zoo recipe)", "vit/ViT_keras.py",
        ("--depth", "1"), 559_626, 37, 200, 74.85, ZOO, True),
    Row("zoo-vit-1-head-8-blocks", "ViT, 1 head, 8 blocks (zoo recipe)", "vit/ViT_keras.py",
        (), 4_249_354, 291, 200, 84.17, ZOO, True),
    Row("zoo-vit-4-heads-2-blocks", "ViT, 4 heads, 2 blocks (zoo recipe)", "vit/ViT_keras.py",
        ("--depth", "2", "--heads", "4"), 1_086_730, 73.3, 200, 81.53, ZOO, True),
    # The speed-run series (speedrun/): each step at the epochs its ablation needs for 94 % (the ablation's
    # README: "each script attains slightly over 94 %"); the last step is airbench94, 94.01 % over 1000 runs.
    Row("speedrun-0", "Speed-run 0: baseline, 34 epochs", "speedrun/step0_baseline_keras.py", (), 1_973_992, 118, 34,
        94.00, AIRBENCH_ABLATIONS),
    Row("speedrun-1", "Speed-run 1: + whitening, 21 epochs", "speedrun/step1_whitening_keras.py", (), 1_973_944, 118,
        21, 94.00, AIRBENCH_ABLATIONS),
    Row("speedrun-2", "Speed-run 2: + identity initialisation, 18 epochs", "speedrun/step2_dirac_keras.py", (),
        1_973_944, 118, 18, 94.00, AIRBENCH_ABLATIONS),
    Row("speedrun-3", "Speed-run 3: + 64x rate for BatchNorm biases, 13.5 epochs", "speedrun/step3_bias_rate_keras.py",
        (), 1_973_944, 118, 13.5, 94.00, AIRBENCH_ABLATIONS),
    Row("speedrun-4", "Speed-run 4: + whitening bias frozen after 3 epochs, 13.5 epochs",
        "speedrun/step4_frozen_bias_keras.py", (), 1_973_944, 118, 13.5, 94.00, AIRBENCH_ABLATIONS),
    Row("speedrun-5", "Speed-run 5: + lookahead, 12 epochs", "speedrun/step5_lookahead_keras.py", (), 1_973_944, 118,
        12, 94.00, AIRBENCH_ABLATIONS),
    Row("speedrun-6", "Speed-run 6: + six-view test-time augmentation, 10.8 epochs", "speedrun/step6_tta_keras.py", (),
        1_973_944, 118, 10.8, 94.00, AIRBENCH_ABLATIONS),
    Row("speedrun-7", "Speed-run 7: + alternating flip = airbench94, 9.9 epochs",
        "speedrun/step7_alternating_flip_keras.py", (), 1_973_945, 118, 9.9, 94.01, AIRBENCH94),
    # The README's one-minute first run: a fifth of the training images, 15 epochs. No reference: it shows what
    # a first run gives, and the README's figures for it are checked against this row's runs.
    Row("lenet-dp-da-wd-quick-start", "LeNet-5 + weight decay, 10,000 images, 15 epochs (the quick start)",
        "lenet/LeNet_dp_da_wd_keras.py", ("--subset", "10000", "--epochs", "15"), 62_006, 0.65, 15),
    # Other data sets (--dataset). MNIST's figure is LeNet-5's in its paper (LeCun et al. 1998, Fig. 9: 0.80 %
    # error with distorted training images, our crops being the nearest recipe), with 60 epochs of the LeNet
    # series' recipe (rate 0.01, the step schedule scaled; the paper's 20 passes used another optimiser).
    # Fashion-MNIST has no reference for this network; 20 epochs.
    Row("lenet-dp-da-wd-mnist", "LeNet-5 + weight decay, MNIST, 60 epochs", "lenet/LeNet_dp_da_wd_keras.py",
        ("--dataset", "mnist", "--epochs", "60"), 61_706, 0.42, 60, 99.20,
        "http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf"),
    Row("lenet-dp-da-wd-fashion-mnist", "LeNet-5 + weight decay, Fashion-MNIST, 20 epochs",
        "lenet/LeNet_dp_da_wd_keras.py", ("--dataset", "fashion_mnist", "--epochs", "20"), 61_706, 0.42, 20),
    # What a 2-core CPU shows of shake-shake in a few hours: 15 epochs on a fifth of the training images, each
    # script's own recipe shortened to that (shake-shake: cosine from 0.2; ResNet-110: its steps, scaled),
    # against ResNet-110 at the same budget. No reference: the papers' runs are 1800 and 200 epochs long.
    Row("resnet-110-cpu-15-epochs", "ResNet-110, 10,000 images, 15 epochs (CPU)", "resnet/ResNet_keras.py",
        ("--depth", "110", "--subset", "10000", "--epochs", "15"), 1_738_618, 253, 15),
    Row("shake-shake-26-2x32d-cpu-15-epochs", "Shake-shake-26 2x32d, 10,000 images, 15 epochs (CPU)",
        "shake_shake/ShakeShake_keras.py", ("--subset", "10000", "--epochs", "15"), 2_930_810, 427, 15),
    # How far a 2-core CPU takes a small network of the zoo in under an hour: ShuffleNet g = 1 with the zoo's
    # recipe on all the training images, its cosine shortened to 12 epochs. No reference: the zoo's run is 200
    # epochs long (row zoo-shufflenet-g1).
    Row("shufflenet-g1-cpu-12-epochs", "ShuffleNet g=1, 12 epochs (CPU; the zoo's 200)",
        "shufflenet/ShuffleNet_keras.py", ("--groups", "1", "--epochs", "12"), 974_818, 44, 12),
    # The HTD study's network on CIFAR-100, shortened to what a 2-core CPU trains in a session: 10 epochs of
    # the 200 behind the study's reference (HTD 70.81 %, median of 5 runs of 200 epochs, best epoch), which
    # this row therefore does not claim.
    Row("resnet-50-cifar100-htd-10-epochs", "ResNet-50, CIFAR-100, HTD, 10 epochs (CPU; the reference's 200)",
        "htd/ResNet_schedules_keras.py", ("--dataset", "cifar100", "--epochs", "10"), 767_828, 112, 10),
]
BY_NAME = {row.name: row for row in ROWS}
SPEEDRUN = [row for row in ROWS if row.name.startswith("speedrun-")]  # the speed-run's steps, in order


def smallest_first(rows):
    return sorted(rows, key=lambda row: row.cost)


# What a filed run keeps of its run folder (never the model).
FILED = ("summary.json", "history.csv", "curves.png")


class ResultsError(Exception):
    """A run that cannot be filed or shown, or a bad request; the message is the one line the tools print."""


def read_summary(folder):
    """The run's summary.json, or None where the folder has none yet."""
    if not os.path.exists(os.path.join(folder, run_folder.SUMMARY)):
        return None
    try:
        return run_folder.read_summary(folder)
    except run_folder.OutputError as e:
        raise ResultsError(str(e)) from None


def _flag_value(arguments, flag):
    return arguments.get(flag[2:].replace("-", "_"))


def _same(value, text):
    if str(value) == text:
        return True
    try:
        return float(value) == float(text)
    except (TypeError, ValueError):
        return False


# The regularisers of the shared command line, off in every reference recipe: a run with one is not the row's.
REGULARISERS = {"cutout": 0, "random_erasing": 0.0, "mixup": None, "cutmix": None, "ema": 0.0}


@functools.cache
def script_label_smoothing(script):
    """The label smoothing of a script's recipe: its LABEL_SMOOTHING (the speed-run's 0.2), else none."""
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), script)) as f:
        found = re.search(r"^LABEL_SMOOTHING = ([0-9.]+)", f.read(), re.M)
    return float(found.group(1)) if found else 0.0


def recipe_differences(summary, row):
    """How a run's arguments differ from the row's recipe, {flag: what differs} (empty if they do not): its
    flags, its length (the row's epochs) and its training set (the whole one unless the row's flags give
    --subset)."""
    arguments = summary.get("arguments") or {}
    flags = dict(zip(row.args[::2], row.args[1::2]))
    differences = {flag: f"{flag} {_flag_value(arguments, flag)}, the row's {value}" for flag, value in flags.items()
                   if not _same(_flag_value(arguments, flag), value)}
    if "--epochs" not in flags and not _same(arguments.get("epochs"), f"{row.epochs:g}"):
        differences["--epochs"] = f"--epochs {arguments.get('epochs')}, the row's {row.epochs:g}"
    if "--subset" not in flags and arguments.get("subset"):
        differences["--subset"] = f"--subset {arguments['subset']}, the row's whole training set"
    # Runs from before the regularisers' flags lack them: they trained without.
    recipe = {**REGULARISERS, "label_smoothing": script_label_smoothing(row.script)}
    for name, default in recipe.items():
        flag = "--" + name.replace("_", "-")
        value = arguments.get(name, default)
        if flag not in flags and value != default and not (value is not None and default is not None and
                                                           _same(value, str(default))):
            differences[flag] = f"{flag} {value}, the row's {'none' if default in (None, 0) else default}"
    return differences


def is_the_tables(results_dir):
    """Whether ``results_dir`` is the results/ the tables are written from (beside this file)."""
    return os.path.abspath(results_dir) == os.path.dirname(os.path.abspath(__file__))


def check_run(folder, summary, row, recipe=True):
    """Raises ResultsError unless ``folder`` holds a finished run of ``row`` with every file that is filed, and,
    unless ``recipe`` is False (a trial with flags of its own, filed outside results/), with the row's recipe.
    The table's own results/ holds recipe runs only."""
    if not summary or not summary.get("finished"):
        raise ResultsError(f"{folder}: not a finished run (no summary.json saying finished)")
    differences = recipe_differences(summary, row) if recipe else {}
    if differences:
        raise ResultsError(f"{folder}: not row {row.name}'s recipe: {'; '.join(differences.values())}")
    if summary.get("parameters") != row.parameters:
        raise ResultsError(f"{folder}: {summary.get('parameters')} parameters, but row {row.name} has "
                           f"{row.parameters}: is it that row's run?")
    if (summary.get("arguments") or {}).get("test_subset"):
        raise ResultsError(f"{folder}: evaluated on part of the test set (--test-subset); a row's figure is the "
                           "whole test set's")
    for name in FILED:
        if not os.path.exists(os.path.join(folder, name)):
            raise ResultsError(f"{folder}: {name} is missing")


def filed_runs(row, results_dir):
    """(folder, summary) of each of the row's runs filed in ``results_dir``/<row>/, oldest first, the keys
    added when it was filed merged in; a folder that is not a finished run of the row is a ResultsError (in the
    table's own results/, one that is not the row's recipe too)."""
    found = []
    for path in sorted(glob.glob(os.path.join(results_dir, row.name, "*", "summary.json"))):
        folder = os.path.dirname(path)
        summary = read_summary(folder)
        check_run(folder, summary, row, recipe=is_the_tables(results_dir))
        # What was added when it was filed (reproduce.py --file --add) reads like what the run recorded.
        found.append((folder, {**summary.get("added_when_filed", {}), **summary}))
    return sorted(found, key=lambda run: run[1].get("started", ""))
