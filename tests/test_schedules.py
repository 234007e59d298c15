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
