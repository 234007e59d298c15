"""The backend-neutral unit tests (augmentation, schedules, lookahead, initializers, test-time
augmentation, optimizers, losses, freezing, regularisers, shake-shake and ShakeDrop, grouped convolutions,
the transformer's tables, one training step of every architecture) once more on JAX and on PyTorch: the
suite itself runs on the default backend, TensorFlow. A test runs a group of files on one backend, so that a
failure names both and no run comes near its time limit (the zoo's steps on JAX take about 9 minutes on a
2-core CPU)."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

GROUPS = {
    "layers": ["test_augment.py", "test_regularisers.py", "test_shake.py", "test_grouped_conv.py",
               "test_transformer.py", "test_initializers.py"],
    "training": ["test_schedules.py", "test_lookahead.py", "test_tta.py", "test_optimizers.py", "test_losses.py",
                 "test_freeze.py"],
    # The models' structure (sizes, MACs, groups) and the zoo's saving are the same on every backend and
    # tested once; here the models train, and LeNet saves and loads its grey-image model.
    "models": ["test_models.py", "-k", "one_training_step or (grey and lenet)"],
    "zoo": ["test_zoo.py", "-k", "one_training_step"],
}


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("group", GROUPS)
def test_unit_tests_pass_on(backend, group):
    env = {**os.environ, "KERAS_BACKEND": backend}
    files = [os.path.join("tests", word) if word.endswith(".py") else word for word in GROUPS[group]]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", proc.stdout) and not re.search(r"\b\d+ (failed|error)", proc.stdout)
