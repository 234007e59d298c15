"""Multiply-accumulates (MACs) per image: the usual measure of a network's compute.

Counts the convolutions and dense layers, which hold all but a sliver of the work: a convolution costs
output height x output width x output channels x kernel height x kernel width x input channels / groups;
a dense layer, inputs x units. Batch normalisation, activations, pooling and additions are left out.
"""

import math

import keras


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def per_image(model):
    """MACs of one forward pass of one image through ``model`` (a built functional model)."""
    total = 0
    for layer in _layers(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            out_h, out_w, out_c = layer.output.shape[1:]
            in_c = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                total += out_h * out_w * out_c * kh * kw
            else:
                total += out_h * out_w * out_c * kh * kw * in_c // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            positions = math.prod(layer.output.shape[1:-1])  # 1 for the usual (batch, features) input
            total += positions * layer.input.shape[-1] * layer.units
    return int(total)
