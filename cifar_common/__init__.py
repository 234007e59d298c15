"""Shared plumbing of the cifar-10-cnn scripts.

* ``data``      loading CIFAR-10/100 (download or ``--data-dir``), safe unpickling, splits, channel statistics
* ``augment``   crop-and-flip augmentation as a compiled Keras layer
* ``schedules`` learning-rate schedules: step, cosine, HTD
* ``devices``   multi-device training, mixed precision
* ``cli``       the command line every script shares
* ``outputs``   the run folder: history, curves, summary
* ``macs``      multiply-accumulates per image of a model
* ``train``     ``train.main``, which a script calls with its model builder and hyperparameters
"""

import os

# TensorFlow's start-up chatter (oneDNN, CUDA probing) is noise for a tutorial; set before Keras imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Registers RandomCropFlip with Keras, so that `import cifar_common` is all a saved model.keras needs to load.
from . import augment  # noqa: E402,F401
