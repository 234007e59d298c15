"""Each learning-rate schedule's value at chosen epochs (0-based epoch indices, as Keras passes them)."""

import argparse
import math

import pytest

from cifar_common import schedules


def test_step_at_the_reference_length():
    lr = schedules.step(0.05, 200)
    assert [lr(e) for e in (0, 80, 81, 121, 122, 199)] == pytest.approx([0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005])


def test_step_scales_with_the_run():
    # 20 epochs: boundaries at 8.1 and 12.2, so epoch indices 0-8 base, 9-12 a tenth, 13-19 a hundredth.
    lr = schedules.step(0.1, 20)
    assert [lr(e) for e in range(20)] == pytest.approx([0.1] * 9 + [0.01] * 4 + [0.001] * 7)


def test_step_with_other_boundaries():
    # A WRN-style schedule: 0.1, 0.02, 0.004, 0.0008 at 60, 120, 160 of 200; as a 100-epoch run.
    lr = schedules.step(0.1, 100, steps=((60, 0.2), (120, 0.04), (160, 0.008)), reference_epochs=200)
    assert [lr(e) for e in (29, 30, 59, 60, 79, 80)] == pytest.approx([0.1, 0.02, 0.02, 0.004, 0.004, 0.0008])


def test_cosine():
    lr = schedules.cosine(0.1, 200)
    assert lr(0) == pytest.approx(0.1)
    assert lr(100) == pytest.approx(0.05)
    assert lr(50) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))
    assert lr(199) == pytest.approx(0.05 * (1 + math.cos(math.pi * 199 / 200)))
    assert lr(199) < 1e-5 and lr(200) == pytest.approx(0.0, abs=1e-12)


def test_htd():
    lr = schedules.htd(0.1, 200)
    # lr0/2 (1 - tanh(-6 + 9 t/T)): starts at the base rate, halves where the argument crosses 0 (t = 2T/3).
    assert lr(0) == pytest.approx(0.05 * (1 - math.tanh(-6)))
    assert lr(0) == pytest.approx(0.1, rel=1e-5)
    assert lr(400 / 3) == pytest.approx(0.05)
    assert lr(100) == pytest.approx(0.05 * (1 - math.tanh(-1.5)))
    assert lr(200) == pytest.approx(0.05 * (1 - math.tanh(3)))
    other = schedules.htd(0.1, 200, lower=-4, upper=4)
    assert other(100) == pytest.approx(0.05)


def _args(**given):
    """The schedule flags of a parsed command line: the shared parser's defaults and ``given``."""
    defaults = {"lr": 0.1, "epochs": 50, "lr_schedule": "step", "htd_lower": schedules.HTD_LOWER,
                "htd_upper": schedules.HTD_UPPER}
    return argparse.Namespace(**{**defaults, **given})


def test_schedules_decrease():
    for name in ("step", "cosine", "htd"):
        lr = schedules.from_args(_args(lr_schedule=name))
        values = [lr(e) for e in range(50)]
        assert all(b <= a for a, b in zip(values, values[1:])), name
        assert values[0] == pytest.approx(0.1, rel=1e-4) and values[-1] < 0.01, name


def test_from_args_scales_the_scripts_steps_to_the_run():
    lr = schedules.from_args(_args(lr=0.01, epochs=20), steps=((100, 0.5), (150, 0.1)), reference_epochs=200)
    assert [lr(e) for e in range(20)] == pytest.approx([0.01] * 10 + [0.005] * 5 + [0.001] * 5)


def test_from_args_passes_the_htd_bounds():
    assert schedules.from_args(_args(lr_schedule="htd", epochs=200, htd_lower=-4, htd_upper=4))(100) == \
        pytest.approx(0.05)
    assert schedules.from_args(_args(lr_schedule="htd", epochs=200))(100) == \
        pytest.approx(0.05 * (1 - math.tanh(-1.5)))


def test_piecewise_linear_per_step_as_airbench94():
    total = 97 * 10  # ten epochs of 97 steps
    warm = int(0.23 * total)
    schedule = schedules.PiecewiseLinear(11.5, ((0, 0.2), (warm, 1.0), (total, 0.07)))

    def upstream(step):  # legacy/airbench94.py's get_lr, times the rate
        if step < warm:
            return 11.5 * (0.2 * (1 - step / warm) + 1.0 * step / warm)
        frac = (step - warm) / (total - warm)
        return 11.5 * (1.0 * (1 - frac) + 0.07 * frac)

    for step in (0, 1, 100, warm - 1, warm, warm + 1, 600, total - 1, total):
        assert float(schedule(step)) == pytest.approx(upstream(step), rel=1e-5), step
    assert float(schedule(total + 50)) == pytest.approx(11.5 * 0.07, rel=1e-6)  # the last knot's rate after it
    again = schedules.PiecewiseLinear.from_config(schedule.get_config())  # as a saved optimizer restores it
    assert float(again(500)) == pytest.approx(float(schedule(500)))
    with pytest.raises(ValueError, match="increasing"):
        schedules.PiecewiseLinear(0.1, ((3, 1.0), (2, 0.5)))
    # Two knots at one step (the warm-up of a run of 3 steps, int(0.2 * 3) = 0): a jump there.
    jump = schedules.PiecewiseLinear(1.0, ((0, 0.2), (0, 1.0), (3, 0.0)))
    assert [float(jump(step)) for step in range(4)] == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])


def test_piecewise_linear_drives_the_optimizer_step_by_step():
    import keras
    import numpy as np

    schedule = schedules.PiecewiseLinear(0.1, ((0, 0.0), (4, 1.0)))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    x, y = np.ones((6, 3), "float32"), np.ones((6, 1), "float32")
    model.fit(x[:1], y[:1], batch_size=1, verbose=0)  # step 0 at rate 0: the weights stay zero
    assert float(keras.ops.convert_to_numpy(model.layers[0].kernel).sum()) == 0.0
    model.fit(x[:2], y[:2], batch_size=1, verbose=0)  # steps 1 and 2, at rates 0.025 and 0.05
    assert int(model.optimizer.iterations) == 3
    assert float(model.optimizer.learning_rate) == pytest.approx(0.075)  # the rate of the next step, 3
    assert float(keras.ops.convert_to_numpy(model.layers[0].kernel).sum()) != 0.0
