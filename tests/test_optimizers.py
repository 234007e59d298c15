"""ScaledRateSGD (cifar_common/optimizers.py): a multiplied learning rate for the variables it names, the same
weight decay for all."""

import keras
import numpy as np
import pytest

from cifar_common.optimizers import ScaledRateSGD


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, use_bias=False),
                              keras.layers.BatchNormalization(scale=False), keras.layers.Dense(1, use_bias=False)])
    model.layers[1].beta.assign(np.array([0.5, -0.2, 0.1], "float32"))  # decay shows only on non-zero weights
    return model


def _one_step(optimizer):
    model = _model()
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    # By position and the variable's own name: the layers' names differ from model to model (dense_1, ...).
    before = {(i, v.name): keras.ops.convert_to_numpy(v.value).copy() for i, v in enumerate(model.trainable_variables)}
    model.fit(rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 1)).astype("float32"), batch_size=8,
              verbose=0)
    return before, {(i, v.name): keras.ops.convert_to_numpy(v.value) for i, v in enumerate(model.trainable_variables)}


def test_the_named_variables_train_at_the_multiple_and_decay_like_the_others():
    lr, wd = 0.01, 0.05
    kwargs = dict(momentum=0.85, nesterov=True, weight_decay=wd)
    start, scaled = _one_step(ScaledRateSGD(lr, rate_multipliers={r"beta$": 64.0}, **kwargs))
    _, plain = _one_step(keras.optimizers.SGD(lr, **kwargs))
    (beta,) = [p for p in start if p[1] == "beta"]
    assert len(start) == 3
    for path in start:
        decayed = start[path] * (1 - lr * wd)  # Keras's decoupled decay, the same for every variable
        multiple = 64.0 if path == beta else 1.0
        # The gradient's part of the step is `multiple` times plain SGD's (the same start, the same gradient).
        np.testing.assert_allclose(scaled[path] - decayed, multiple * (plain[path] - decayed), rtol=1e-4,
                                   atol=1e-7, err_msg=str(path))
        assert not np.allclose(plain[path], decayed)  # the gradient part is not zero
    optimizer = ScaledRateSGD(lr, rate_multipliers={r"beta$": 64.0}, **kwargs)
    again = ScaledRateSGD.from_config(optimizer.get_config())
    assert again.rate_multipliers == {r"beta$": 64.0} and again.momentum == pytest.approx(0.85)


def test_a_saved_model_keeps_the_optimizer_and_its_multipliers(tmp_path):
    model = _model()
    model.compile(optimizer=ScaledRateSGD(0.01, rate_multipliers={r"beta$": 64.0}, momentum=0.85), loss="mse")
    model.fit(np.ones((4, 4), "float32"), np.ones((4, 1), "float32"), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, ScaledRateSGD) and loaded.optimizer.rate_multipliers == {r"beta$": 64.0}
    assert int(loaded.optimizer.iterations) == 1
    assert [loaded.optimizer.multiplier(v) for v in loaded.trainable_variables] == [1.0, 64.0, 1.0]


def test_gradient_clipping_is_refused():
    # Clipping comes after the multiplied gradients: the multiples would not hold.
    for clip in ("clipnorm", "clipvalue", "global_clipnorm"):
        with pytest.raises(ValueError, match=clip):
            ScaledRateSGD(0.1, rate_multipliers={"beta$": 64.0}, **{clip: 1.0})
