"""The scheduled lookahead callback (cifar_common/lookahead.py) updates the weights by its formula."""

import keras
import numpy as np
import pytest

from cifar_common.lookahead import Lookahead


class _Record(keras.callbacks.Callback):
    """Every variable of the model after each step (before or after the lookahead, by its place)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([keras.ops.convert_to_numpy(v.value).copy() for v in self.model.variables])


def _toy_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(),
                              keras.layers.Dense(1)])
    # Without momentum a step depends only on the weights it starts from (and the batch), not on the past.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def test_lookahead_equals_its_formula_on_a_toy_model():
    model = _toy_model()
    start = [keras.ops.convert_to_numpy(v.value).copy() for v in model.variables]
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")
    total = 10
    before, after = _Record(), _Record()
    model.fit(x, y, batch_size=4, shuffle=False, verbose=0, callbacks=[before, Lookahead(total, every=5), after])
    slow = start
    for step in range(1, total + 1):
        raw, got = before.steps[step - 1], after.steps[step - 1]
        if step % 5:
            expected = raw  # untouched between updates
        else:
            decay = 0.95**5 * (step / total) ** 3  # airbench94's schedule
            slow = [s + (1 - decay) * (r - s) for s, r in zip(slow, raw)]
            expected = slow  # the last step's second update (decay 1) leaves them at the slow copy
        for name, e, g in zip([v.path for v in model.variables], expected, got):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=f"step {step}, {name}")
    # The updates did something: the fifth step's weights were pulled back from where SGD took them,
    # BatchNorm's moving statistics included.
    assert not np.allclose(before.steps[4][0], after.steps[4][0])
    moving_mean = [i for i, v in enumerate(model.variables) if "moving_mean" in v.path][0]
    assert not np.allclose(before.steps[4][moving_mean], after.steps[4][moving_mean])
    # And the next step trained from the pulled-back weights: the same step from them, in a model given those
    # weights, lands where the sixth step did.
    replay = _toy_model()
    for variable, value in zip(replay.variables, after.steps[4]):
        variable.assign(value)
    replay.fit(x[20:24], y[20:24], batch_size=4, shuffle=False, verbose=0)
    for name, v, e in zip([v.path for v in replay.variables], replay.variables, before.steps[5]):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(v.value), e, rtol=1e-5, atol=1e-6, err_msg=name)


def test_lookahead_refuses_an_empty_schedule():
    with pytest.raises(ValueError, match="at least 1"):
        Lookahead(0)
