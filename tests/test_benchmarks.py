"""The benchmark scripts run and report what they promise (on tiny settings: these are not timings)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, check_ok, one_line_error


def _run(*args, env=None):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "KERAS_BACKEND": "tensorflow", **(env or {})})


def test_speed_compares_the_collection_with_plain_keras(small_cifar10, tmp_path):
    out = tmp_path / "speed.json"
    proc = _run("benchmarks/speed.py", "lenet/LeNet_dp_da_wd_keras.py", "--data-dir", small_cifar10,
                "--steps", "4", "--epochs", "2", "--repeats", "1", "--json", str(out))
    check_ok(proc)
    report = json.loads(out.read_text())
    figures = report["figures"]
    assert set(figures) == {"plain", "plain+augment", "collection"}
    for name, f in figures.items():
        (one_round,) = f["rounds"]
        assert len(one_round["epoch_seconds"]) == 2 and one_round["train_images"] == 512, name
        assert f["seconds_per_epoch"] == pytest.approx(one_round["epoch_seconds"][1], abs=1e-3)
        assert f["train_images_per_second"] > 0
        assert f["jit_compiled"] is False  # TensorFlow on a CPU-only machine, as Keras decides
    for name in ("plain+augment", "collection"):  # one round: its own ratio
        assert report["ratio_to_plain"][name] == pytest.approx(
            figures[name]["rounds"][0]["seconds_per_epoch"] / figures["plain"]["rounds"][0]["seconds_per_epoch"],
            rel=1e-2)
    assert report["backend"] == "tensorflow" and report["keras"] and report["steps"] == 4
    assert "x plain" in proc.stdout
    # A figure file is never overwritten.
    one_line_error(_run("benchmarks/speed.py", "lenet/LeNet_keras.py", "--synthetic", "--json", str(out)), "exists")


def test_speed_refuses_an_unknown_model_flag(small_cifar10):
    proc = _run("benchmarks/speed.py", "resnet/ResNet_keras.py", "--depth", "8", "--width", "2",
                "--data-dir", small_cifar10, "--steps", "1", "--epochs", "1", "--repeats", "1")
    one_line_error(proc, "plain failed", "--width: not a model flag", "--depth")


def test_augment_variants_are_exact_and_timed(tmp_path):
    out = tmp_path / "variants.json"
    proc = _run("benchmarks/augment_variants.py", "--steps", "2", "--epochs", "2", "--rounds", "1",
                "--variants", "select,gather_padded", "--json", str(out))
    check_ok(proc)
    report = json.loads(out.read_text())
    assert report["exact"] == {v: {"float32": True, "bfloat16": True} for v in ("select", "gather_padded")}
    assert set(report["augmentation_ms_per_batch"]) == {"select", "gather_padded"}
    one_line_error(_run("benchmarks/augment_variants.py", "--variants", "fft"), "fft")
