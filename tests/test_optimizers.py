"""ScaledRateSGD (cifar_common/optimizers.py): a multiplied learning rate for the variables it names, the same
weight decay for all; CoupledDecaySGD: PyTorch's weight decay, an L2 penalty on every weight."""

import keras
import numpy as np
import pytest

from cifar_common.optimizers import CoupledDecaySGD, ScaledRateSGD


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


def _decayed_model(l2=0.0):
    """Dense, BatchNorm, Dense with biases; with ``l2``, an L2 penalty on every weight of them."""
    reg = keras.regularizers.l2(l2) if l2 else None
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((4,)), keras.layers.Dense(3, kernel_regularizer=reg, bias_regularizer=reg),
        keras.layers.BatchNormalization(gamma_regularizer=reg, beta_regularizer=reg),
        keras.layers.Dense(1, kernel_regularizer=reg, bias_regularizer=reg)])
    for v in model.trainable_variables:  # every weight away from 0, where decay shows
        v.assign(v + 0.3)
    return model


def _three_steps(model, optimizer):
    model.compile(optimizer=optimizer, loss="mse", jit_compile=keras.backend.backend() != "torch")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(24, 4)).astype("float32"), rng.normal(size=(24, 1)).astype("float32"),
              batch_size=8, shuffle=False, verbose=0)
    return [keras.ops.convert_to_numpy(v.value) for v in model.trainable_variables]


def test_coupled_decay_is_pytorchs_an_l2_penalty_of_half_on_every_weight_through_the_momentum():
    # torch.optim.SGD(weight_decay=wd) adds wd * w to each gradient: Keras's L2 penalty of wd / 2 on every
    # weight (its gradient is wd * w) does the same, here over three steps, the momentum carrying the decay.
    wd = 0.05
    coupled = _three_steps(_decayed_model(), CoupledDecaySGD(0.1, momentum=0.9, coupled_decay=wd))
    penalty = _three_steps(_decayed_model(l2=wd / 2), keras.optimizers.SGD(0.1, momentum=0.9))
    plain = _three_steps(_decayed_model(), keras.optimizers.SGD(0.1, momentum=0.9))
    assert len(coupled) == 6  # two kernels, two biases, BatchNorm's gamma and beta
    for c, p, n in zip(coupled, penalty, plain):
        np.testing.assert_allclose(c, p, rtol=1e-5, atol=1e-6)
        assert not np.allclose(c, n, atol=1e-4)  # the decay moved every weight
    again = CoupledDecaySGD.from_config(CoupledDecaySGD(0.1, coupled_decay=wd).get_config())
    assert again.coupled_decay == wd and again.weight_decay is None
