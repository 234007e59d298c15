"""The class token and the position embedding of cifar_common/transformer.py: each adds the same learned table to
every image, both come back from a saved model with the same answers, and one training step of the smallest
ViT (vit/ViT_keras.py) moves both (on the backend KERAS_BACKEND names)."""

import os

import numpy as np

import cifar_common  # noqa: F401
import keras
from keras import layers, ops

from cifar_common import train
from cifar_common.transformer import ClassToken, PositionEmbedding
from test_models import TinyData

JIT = keras.backend.backend() != "torch"  # compiled as the scripts compile it: XLA on TensorFlow and JAX
LENGTH, DIM = 5, 8


def _sequences(seed, n=3):
    return np.random.default_rng(seed).normal(size=(n, LENGTH, DIM)).astype("float32")


def _model(layer):
    inputs = keras.Input((LENGTH, DIM))
    return keras.Model(inputs, layer(inputs))


def test_the_class_token_is_the_same_learned_vector_in_front_of_every_image():
    token = ClassToken()
    model = _model(token)
    assert model.output.shape == (None, LENGTH + 1, DIM)
    value = token.token.numpy()
    assert value.shape == (DIM,) and np.any(value != 0)
    for seed in (0, 1):
        x = _sequences(seed)
        y = ops.convert_to_numpy(model(x))
        np.testing.assert_array_equal(y[:, 0], np.broadcast_to(value, (len(x), DIM)))
        np.testing.assert_array_equal(y[:, 1:], x)  # the sequence itself, one place later


def test_the_position_embedding_adds_the_same_table_to_every_image():
    embedding = PositionEmbedding()
    model = _model(embedding)
    table = embedding.table.numpy()
    assert table.shape == (LENGTH, DIM) and np.std(table) > 0
    assert np.all(np.abs(table) <= 2 * 0.02 + 1e-7)  # ViT's draw: normal of 0.02, cut at two deviations
    for seed in (0, 1):
        x = _sequences(seed)
        np.testing.assert_allclose(ops.convert_to_numpy(model(x)) - x, np.broadcast_to(table, x.shape), atol=1e-6)


def test_both_save_and_load_with_the_same_answers(tmp_path):
    inputs = keras.Input((LENGTH, DIM))
    x = PositionEmbedding()(ClassToken()(inputs))
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    x = _sequences(2)
    np.testing.assert_array_equal(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)))


def test_one_training_step_of_the_smallest_vit_moves_the_class_token_and_the_position_table():
    model = train.import_script("vit/ViT_keras.py").build_model(TinyData(), depth=1, heads=1)
    token, = [layer.token for layer in model.layers if isinstance(layer, ClassToken)]
    table, = [layer.table for layer in model.layers if isinstance(layer, PositionEmbedding)]
    before = token.numpy().copy(), table.numpy().copy()
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", jit_compile=JIT)
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("uint8")
    model.train_on_batch(images, np.arange(4))
    assert np.all(np.isfinite(token.numpy()))
    assert not np.array_equal(token.numpy(), before[0])
    assert not np.array_equal(table.numpy(), before[1])


def test_the_mac_count_includes_attention():
    """Two heads of 4 dimensions over 5 tokens of 8: the query, key, value and output projections, 5 x 8 x 8
    each (1,280), and the 2 x 5 x 5 scores and weighted sums over 4 dimensions each (400)."""
    from cifar_common import macs
    inputs = keras.Input((LENGTH, DIM))
    model = keras.Model(inputs, layers.MultiHeadAttention(2, 4)(inputs, inputs))
    assert macs.per_image(model) == 4 * LENGTH * DIM * DIM + 2 * 2 * LENGTH * LENGTH * 4 == 1680
