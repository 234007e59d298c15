"""Test-time augmentation: the model's answer averaged over shifted and mirrored copies of each test image.

A network trained on mirrored and shifted images answers a little differently for each copy of an image;
their weighted average is more accurate than the answer for the image alone. These are airbench94's six
views (KellerJordan/cifar10-airbench, legacy/airbench94.py, ``infer`` at ``tta_level=2``): the image and its
mirror, weight 1/4 each, and the image shifted one pixel down and right and one pixel up and left (from the
image padded by reflection), each with its mirror, weight 1/8 each (``mirror_views``: the first two alone,
1/2 each, upstream's ``tta_level=1``). Upstream averages the network's outputs as they are (its logits); so
does ``predict``, whatever the model outputs.
"""

import numpy as np

from . import data


def views(images):
    """airbench94's six ``(weight, images)`` views of NHWC images; the weights sum to 1."""
    images = np.asarray(images, "float32")
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")  # PyTorch's "reflect"
    shifted = [padded[:, :height, :width], padded[:, 2:height + 2, 2:width + 2]]  # content moves +1 and -1

    def mirrored(x):
        return x[:, :, ::-1]

    return [(0.25, images), (0.25, mirrored(images)),
            *[(0.125, view) for x in shifted for view in (x, mirrored(x))]]


def mirror_views(images):
    """The image and its mirror, weight 1/2 each (airbench94's ``tta_level=1``)."""
    images = np.asarray(images, "float32")
    return [(0.5, images), (0.5, images[:, :, ::-1])]


def predict(model, images, batch_size=2000, make_views=views):
    """The weighted average of the model's outputs over the views ``make_views`` gives (by default the six),
    as a NumPy array (N, outputs)."""
    return sum(weight * data.predict(model, np.ascontiguousarray(view), batch_size)
               for weight, view in make_views(images))
