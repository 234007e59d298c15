"""Multiply-accumulates (MACs) per image: the usual measure of a network's compute.

Counts the convolutions and dense layers, which hold all but a sliver of the work: a convolution costs
output height x output width x output channels x kernel height x kernel width x input channels / groups;
a dense layer, inputs x units; multi-head attention, its four projections (each a dense layer at every
position) and its two products of a query length by key length table, the scores (queries times keys) and
the weighted sum of the values. Normalisation, activations, softmax, pooling and additions are left out.
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
        elif isinstance(layer, keras.layers.MultiHeadAttention):
            query, value = layer.input[:2]  # (batch, positions, features); key is value unless given
            q_len, v_len, out_dim = query.shape[1], value.shape[1], layer.output.shape[-1]
            heads, key_dim, value_dim = layer.num_heads, layer.key_dim, layer.value_dim
            total += q_len * query.shape[-1] * heads * key_dim  # queries
            total += v_len * value.shape[-1] * heads * (key_dim + value_dim)  # keys and values
            total += heads * q_len * v_len * (key_dim + value_dim)  # the scores, then the weighted sum
            total += q_len * heads * value_dim * out_dim  # the output projection
    return int(total)
