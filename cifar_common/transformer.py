"""The two learned tables a Vision Transformer (Dosovitskiy et al. 2020, arXiv 2010.11929) adds to its sequence
of patches: a class token and a position embedding.

* ``ClassToken`` puts one learned vector in front of every image's sequence, (batch, length, dim) to
  (batch, length + 1, dim). Attention lets it gather from every patch, and the classifier reads it alone at the
  end: the same vector for every image, so what it holds at the output comes from the image.
* ``PositionEmbedding`` adds a learned (length, dim) table to the sequence, the same table to every image.
  Attention treats its inputs as a set; without the table the network could not tell where a patch was.

Both are variables the model trains that belong to no layer of core Keras: keras.layers (3.15) has
``Embedding``, a lookup of integer ids, but no class token and no position embedding. keras_hub has a
``PositionEmbedding`` layer, but this collection does not depend on keras_hub, and the class token would still
be missing. Each is written here with ``keras.ops`` only, so it runs on every backend and loads back from a saved
model. Both start from a normal draw of standard deviation 0.02 cut at two standard deviations, ViT's own.
"""

import keras
from keras import ops


def _initializer(initializer):
    """The given initializer, or ViT's: a normal draw of standard deviation 0.02, cut at two of them."""
    return keras.initializers.get(initializer or keras.initializers.TruncatedNormal(stddev=0.02))


@keras.saving.register_keras_serializable(package="cifar_common")
class ClassToken(keras.layers.Layer):
    """Prepends one learned vector of the sequence's width: (batch, length, dim) to (batch, length + 1, dim)."""

    def __init__(self, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.initializer = _initializer(initializer)

    def build(self, input_shape):
        self.token = self.add_weight(shape=(input_shape[-1],), initializer=self.initializer, name="token")

    def call(self, x):
        token = ops.cast(self.token, x.dtype)
        tokens = ops.broadcast_to(ops.reshape(token, (1, 1, -1)), (ops.shape(x)[0], 1, ops.shape(x)[-1]))
        return ops.concatenate([tokens, x], axis=1)

    def compute_output_shape(self, input_shape):
        batch, length, dim = input_shape
        return batch, None if length is None else length + 1, dim

    def get_config(self):
        return {**super().get_config(), "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="cifar_common")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned (length, dim) table to a (batch, length, dim) sequence; the length must be known when the
    layer is built."""

    def __init__(self, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.initializer = _initializer(initializer)

    def build(self, input_shape):
        length, dim = input_shape[-2:]
        if length is None:
            raise ValueError("PositionEmbedding: the sequence's length must be known to size its table")
        self.table = self.add_weight(shape=(length, dim), initializer=self.initializer, name="table")

    def call(self, x):
        return x + ops.cast(self.table, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "initializer": keras.initializers.serialize(self.initializer)}
