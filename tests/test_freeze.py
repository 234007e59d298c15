"""FreezeAfterEpochs (cifar_common/freeze.py): a layer trains for its epochs, then keeps its values, whatever
the optimizer's momentum and weight decay would do; what a later callback sets still stands."""

import keras
import numpy as np
import pytest

from cifar_common.freeze import FreezeAfterEpochs


class _AtEpochEnd(keras.callbacks.Callback):
    """The kernel and bias of layer "a" and the kernel of layer "b" at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append([keras.ops.convert_to_numpy(v.value).copy() for v in
                            (*self.model.get_layer("a").weights, self.model.get_layer("b").kernel)])


class _Nudge(keras.callbacks.Callback):
    """Adds 1 to layer a's bias after every step (as the lookahead sets the weights between steps)."""

    def on_train_batch_end(self, batch, logs=None):
        bias = self.model.get_layer("a").bias
        bias.assign(bias + 1.0)


def _fit(callbacks, epochs=3):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(1, name="b")])
    # Momentum and weight decay: the frozen layer would still move if only its gradient were left out.
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=0.1), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)  # 4 steps an epoch
    return model


def test_a_layer_trains_for_its_epochs_and_then_keeps_its_values():
    record = _AtEpochEnd()
    _fit([FreezeAfterEpochs("a", 2), record])
    (a1, bias1, b1), (a2, bias2, b2), (a3, bias3, b3) = record.epochs
    assert not np.allclose(a1, a2) and not np.allclose(bias1, bias2)  # epoch 2 still trains "a"
    np.testing.assert_array_equal(a3, a2)  # epoch 3 leaves it as it was
    np.testing.assert_array_equal(bias3, bias2)
    assert not np.allclose(b2, b3)  # the other layer trains on


def test_what_a_later_callback_sets_between_steps_stands():
    record = _AtEpochEnd()
    _fit([FreezeAfterEpochs("a", 2), _Nudge(), record])
    (_, _, _), (a2, bias2, _), (a3, bias3, _) = record.epochs
    np.testing.assert_array_equal(a3, a2)
    np.testing.assert_allclose(bias3, bias2 + 4.0)  # the four nudges of epoch 3, and nothing of the optimizer's


def test_a_layer_name_the_model_lacks_fails_at_the_first_epoch():
    with pytest.raises(ValueError, match="no layer named 'c'"):
        _fit([FreezeAfterEpochs("c", 2)], epochs=1)
