"""The backend-neutral unit tests (augmentation, schedules, lookahead, initializers, test-time
augmentation, optimizers, losses, freezing, regularisers, shake-shake and ShakeDrop, grouped convolutions,
the transformer's tables, one training step of every architecture) once more on JAX and on PyTorch: the
suite itself runs on the default backend, TensorFlow. A test runs a group of files on one backend, so that a
failure names both and no run comes near its time limit (the zoo's steps on JAX take about 7 minutes on a
2-core CPU)."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

GROUPS = {
    "layers": ["tests/test_augment.py", "tests/test_regularisers.py", "tests/test_shake.py",
               "tests/test_grouped_conv.py", "tests/test_transformer.py", "tests/test_initializers.py"],
    "training": ["tests/test_schedules.py", "tests/test_lookahead.py", "tests/test_tta.py",
                 "tests/test_optimizers.py", "tests/test_losses.py", "tests/test_freeze.py"],
    # The models' structure (sizes, MACs, groups) and the zoo's saving are the same on every backend and
    # tested once; here the models train, and LeNet saves and loads its grey-image model.
    "models": ["tests/test_models.py", "-k", "one_training_step or (grey and lenet)"],
    "zoo": ["tests/test_zoo.py", "-k", "one_training_step"],
}


# On JAX, XLA's backend (LLVM) optimisation off: each of these tests compiles a step and runs it once or twice, so
# compiling is most of its time, and at level 0 the zoo's steps compile in about half of it. What a step computes
# is the same up to float rounding; the scripts' own runs keep XLA's default.
QUICK_XLA = "--xla_backend_optimization_level=0"


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("group", GROUPS)
def test_unit_tests_pass_on(backend, group):
    env = {**os.environ, "KERAS_BACKEND": backend}
    if backend == "jax":
        env["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {QUICK_XLA}".strip()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *GROUPS[group]],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", proc.stdout) and not re.search(r"\b\d+ (failed|error)", proc.stdout)
