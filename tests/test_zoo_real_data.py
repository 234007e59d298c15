"""Each script of the PyTorch zoo trains an epoch on a slice of the real CIFAR-10 as a user starts it, with the
zoo's shared recipe as its defaults (a file of its own, so that the suite's workers share the zoo's tests)."""

import os

import pytest

from conftest import REAL_CIFAR10, run_script
from test_scripts import _check_run
from test_zoo import SMALLEST, flag_words


@pytest.mark.skipif(not os.path.isdir(REAL_CIFAR10),
                    reason="real CIFAR-10 not found at ../shared/data/cifar10/cifar-10-batches-py")
@pytest.mark.parametrize("script,flags", SMALLEST, ids=lambda v: str(v))
def test_an_epoch_on_real_data_with_the_zoos_recipe(script, flags, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script(script, *flag_words(flags), "--data-dir", REAL_CIFAR10, "--subset", "128", "--test-subset", "128",
                      "--epochs", "1", "--output-dir", run_dir)
    summary, rows = _check_run(proc, run_dir, epochs=1, params=None, macs=None)
    arguments = summary["arguments"]
    assert (arguments["lr"], arguments["lr_schedule"], arguments["batch_size"], arguments["weight_decay"]) == \
        (0.01, "cosine", 128, 5e-4)
    assert float(rows[0]["learning_rate"]) == pytest.approx(0.01) and float(rows[0]["loss"]) > 0
