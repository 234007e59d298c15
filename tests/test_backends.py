"""The backend-neutral unit tests (augmentation, schedules, lookahead, initializers, test-time
augmentation, optimizers, losses, freezing, regularisers, shake-shake and ShakeDrop, grouped convolutions,
the transformer's tables, one training step of every architecture) once more on JAX and on PyTorch: the
suite itself runs on the default backend, TensorFlow."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_unit_tests_pass_on(backend):
    env = {**os.environ, "KERAS_BACKEND": backend}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_augment.py", "tests/test_schedules.py", "tests/test_lookahead.py",
                           "tests/test_initializers.py", "tests/test_tta.py", "tests/test_optimizers.py",
                           "tests/test_losses.py", "tests/test_freeze.py", "tests/test_regularisers.py",
                           "tests/test_shake.py", "tests/test_grouped_conv.py", "tests/test_transformer.py",
                           # The models' structure (sizes, MACs, groups) is the same on every backend and
                           # tested once; here they train, and LeNet saves and loads its grey-image model.
                           "tests/test_models.py", "tests/test_zoo.py",
                           "-k", "(not test_models and not test_zoo) or one_training_step or (grey and lenet)"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", proc.stdout) and not re.search(r"\b\d+ (failed|error)", proc.stdout)
