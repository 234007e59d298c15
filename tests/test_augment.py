"""Crop-and-flip augmentation and the alternating flip, on whichever backend KERAS_BACKEND names
(tests/test_backends.py reruns this file on JAX and PyTorch)."""

import numpy as np
import pytest

import cifar_common  # noqa: F401
import keras
from keras import ops

from cifar_common.augment import AlternatingFlip, RandomCropFlip, SetEpoch, mirror_half, random_crop_flip


def _unique_images(n, size=32):
    """Images whose every pixel value is distinct, so a window can be located exactly."""
    return np.arange(n * size * size * 3, dtype="float32").reshape(n, size, size, 3) + 1


def _locate(out, image, padding=4, mode="constant"):
    """The (down, across, flipped) that turns ``image`` into ``out``, or None."""
    h, w = image.shape[:2]
    for flipped, source in [(False, image), (True, image[:, ::-1])]:
        padded = np.pad(source, [(padding, padding), (padding, padding), (0, 0)], mode=mode)
        for down in range(2 * padding + 1):
            for across in range(2 * padding + 1):
                if np.array_equal(padded[down : down + h, across : across + w], out):
                    return down, across, flipped
    return None


def _augment(x, seed):
    return ops.convert_to_numpy(random_crop_flip(ops.convert_to_tensor(x), 4, keras.random.SeedGenerator(seed)))


def test_shape_and_dtype_are_kept():
    x = _unique_images(5)
    out = _augment(x, 0)
    assert out.shape == x.shape and out.dtype == x.dtype


def test_each_output_is_a_window_of_the_padded_or_mirrored_image():
    x = _unique_images(64)
    out = _augment(x, 1)
    found = [_locate(o, i) for o, i in zip(out, x)]
    assert all(f is not None for f in found)
    flips = sum(f[2] for f in found)
    assert 16 <= flips <= 48  # about half mirrored


def test_a_flip_is_a_mirror():
    # With no padding the only change left is the flip: each output is the image or its exact mirror.
    x = _unique_images(32)
    out = ops.convert_to_numpy(random_crop_flip(ops.convert_to_tensor(x), 0, keras.random.SeedGenerator(2)))
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert any(mirrored) and any(kept)


def test_without_flip_every_output_is_an_unmirrored_window():
    # MNIST's setting (flip=data.mirrorable is False): the crop stays, the mirror goes.
    x = _unique_images(64)[..., :1]
    out = ops.convert_to_numpy(random_crop_flip(ops.convert_to_tensor(x), 4, keras.random.SeedGenerator(1),
                                                flip=False))
    found = [_locate(o, i) for o, i in zip(out, x)]
    assert all(f is not None and not f[2] for f in found)
    assert len({f[:2] for f in found}) > 20  # and the windows still move
    layer = RandomCropFlip(padding=0, flip=False, seed=3)
    assert np.array_equal(ops.convert_to_numpy(layer(x, training=True)), x)
    assert RandomCropFlip.from_config(layer.get_config()).flip is False


def test_offsets_cover_all_81_positions():
    x = _unique_images(1, size=12)
    batch = np.repeat(x, 2000, axis=0)
    out = _augment(batch, 3)
    positions = {_locate(o, x[0])[:2] for o in out}
    assert positions == {(d, a) for d in range(9) for a in range(9)}


def test_padding_is_zero():
    x = np.full((400, 8, 8, 1), 7.0, dtype="float32")
    out = _augment(x, 4)
    assert set(np.unique(out)) == {0.0, 7.0}
    # An offset of 0 leaves 4 zero rows at the top: some image must show one.
    assert (out[:, 0, :, 0] == 0).all(axis=1).any()


def test_same_seed_same_draw_other_seed_other_draw():
    x = _unique_images(16)
    assert np.array_equal(_augment(x, 7), _augment(x, 7))
    assert not np.array_equal(_augment(x, 7), _augment(x, 8))


def test_layer_acts_only_in_training():
    layer = RandomCropFlip(padding=4, seed=5)
    x = ops.convert_to_tensor(_unique_images(8))
    assert np.array_equal(ops.convert_to_numpy(layer(x, training=False)), ops.convert_to_numpy(x))
    assert not np.array_equal(ops.convert_to_numpy(layer(x, training=True)), ops.convert_to_numpy(x))


def _classifier(augment):
    inputs = keras.Input((32, 32, 3))
    x = RandomCropFlip(seed=1)(inputs) if augment else inputs
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def test_layer_keeps_the_training_step_compiled(tmp_path):
    # Left to Keras ("auto"), the layer changes nothing: Keras compiles the model with it exactly where it
    # compiles the model without it (always on JAX; on TensorFlow only with a GPU; never on PyTorch).
    plain, model = _classifier(False), _classifier(True)
    for m in (plain, model):
        m.compile("sgd", "sparse_categorical_crossentropy", jit_compile="auto")
    assert model.jit_compile == plain.jit_compile
    if keras.backend.backend() == "jax":
        assert model.jit_compile is True
    # Asked for XLA (TensorFlow, JAX), the step trains compiled.
    jit = keras.backend.backend() != "torch"
    model.compile("sgd", "sparse_categorical_crossentropy", jit_compile=jit)
    model.fit(np.zeros((8, 32, 32, 3), "float32"), np.zeros(8, "int32"), batch_size=4, epochs=1, verbose=0)
    assert model.jit_compile == jit
    # It also survives saving and loading.
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[1], RandomCropFlip) and loaded.layers[1].padding == 4


def test_bfloat16_images_stay_exact():
    x = np.round(_unique_images(4) % 200).astype("float32")
    out = ops.convert_to_numpy(ops.cast(random_crop_flip(ops.cast(x, "bfloat16"), 4, keras.random.SeedGenerator(0)), "float32"))
    assert all(_locate(o, i) is not None for o, i in zip(out, x))


def test_reflect_padding_translates_by_up_to_two_pixels_without_mirroring():
    # airbench94's translation: a window of the image padded by 2 pixels of reflection (NumPy's and
    # PyTorch's "reflect": the edge pixel not repeated), all 25 offsets, never mirrored with flip=False.
    x = _unique_images(200, size=8)
    layer = RandomCropFlip(padding=2, flip=False, mode="reflect", seed=3)
    out = ops.convert_to_numpy(layer(ops.convert_to_tensor(x), training=True))
    found = [_locate(o, i, padding=2, mode="reflect") for o, i in zip(out, x)]
    assert None not in found and not any(f[2] for f in found)
    assert {f[:2] for f in found} == {(d, a) for d in range(5) for a in range(5)}
    assert RandomCropFlip.from_config(layer.get_config()).mode == "reflect"


def test_alternating_flip_mirrors_in_the_second_epoch_exactly_the_images_it_did_not_in_the_first():
    images = _unique_images(64, size=8)
    start = mirror_half(images, seed=0)
    mirrored_at_start = np.array([np.array_equal(s, i[:, ::-1]) for s, i in zip(start, images)])
    assert 16 < mirrored_at_start.sum() < 48  # about half, drawn once
    layer = AlternatingFlip()
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(layer(inputs))))
    model.compile("sgd", "mse")

    seen_epochs = []

    class SeenEpochs(keras.callbacks.Callback):  # the layer's epoch at the start of every step
        def on_train_batch_begin(self, batch, logs=None):
            self.model  # on JAX, reading self.model brings the trainer's state into the variables
            seen_epochs.append(int(ops.convert_to_numpy(layer.epoch)))

    model.fit(start, np.zeros((64, 2), "float32"), batch_size=32, epochs=3, verbose=0,
              callbacks=[SetEpoch(), SeenEpochs()])
    assert seen_epochs == [0, 0, 1, 1, 2, 2]  # set before each epoch's steps, kept by the step
    assert int(ops.convert_to_numpy(layer.epoch)) == 2
    seen = {}
    for epoch in range(3):
        layer.epoch.assign(epoch)
        out = ops.convert_to_numpy(layer(ops.convert_to_tensor(start), training=True))
        seen[epoch] = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)])
        unmirrored = np.array([np.array_equal(o, i) for o, i in zip(out, images)])
        assert np.all(seen[epoch] ^ unmirrored)  # every image as it is or mirrored, nothing else
    np.testing.assert_array_equal(seen[0], mirrored_at_start)
    np.testing.assert_array_equal(seen[1], ~seen[0])
    np.testing.assert_array_equal(seen[2], seen[0])
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(ops.convert_to_tensor(start))), start)  # not training


def test_the_training_step_sees_the_epochs_side():
    # One image, one step an epoch, a linear model from zero: each step moves the weights along the image the
    # step saw (the gradient of a squared error is proportional to the input), so the moves show the side.
    image = _unique_images(1, size=4) / 100
    inputs = keras.Input((4, 4, 3))
    dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(AlternatingFlip()(inputs))))
    model.compile(keras.optimizers.SGD(1e-3), "mse")
    kernels = [np.zeros(48)]

    class Kernel(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model
            kernels.append(ops.convert_to_numpy(dense.kernel).ravel().copy())

    model.fit(image, np.ones((1, 1), "float32"), batch_size=1, epochs=2, verbose=0, callbacks=[SetEpoch(), Kernel()])
    for epoch, side in ((0, image[0]), (1, image[0, :, ::-1])):
        move = kernels[epoch + 1] - kernels[epoch]
        cosine = move @ side.ravel() / np.linalg.norm(move) / np.linalg.norm(side)
        assert cosine == pytest.approx(1.0, abs=1e-5), epoch


def test_set_epoch_without_an_alternating_flip_is_refused():
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="no AlternatingFlip"):
        model.fit(np.zeros((2, 4, 4, 3), "float32"), np.zeros((2, 1), "float32"), verbose=0, callbacks=[SetEpoch()])
