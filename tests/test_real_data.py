"""Short training runs on the real CIFAR-10 and MNIST beat chance by a clear margin."""

import os

import pytest

from conftest import REAL_CIFAR10, REAL_MNIST, check_ok, run_script, summary_of


@pytest.mark.skipif(not os.path.isdir(REAL_CIFAR10),
                    reason="real CIFAR-10 not found at ../shared/data/cifar10/cifar-10-batches-py")
def test_lenet_dp_da_wd_learns_cifar10(tmp_path):
    # The script's own recipe (0.01, halved from epoch 100 of 200: here from the third epoch), shortened to 3
    # epochs on 10000 images: 41.85 / 39.96 / 41.22 % for seeds 0 / 1 / 2 (2026-11-23). Before the recipe was
    # corrected (issue 9), the old default 0.05 lost every ReLU for some seeds and this test needed its own rate.
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_da_wd_keras.py", "--data-dir", REAL_CIFAR10, "--subset", "10000",
                      "--epochs", "3", "--output-dir", run_dir)
    check_ok(proc)
    summary = summary_of(run_dir)
    assert summary["data"]["train_images"] == 10000 and summary["data"]["test_images"] == 10000
    assert summary["test_accuracy"] > 0.35, summary["test_accuracy"]  # chance: 0.10


@pytest.mark.skipif(not os.path.isdir(REAL_MNIST), reason="real MNIST not found at ../shared/data/mnist")
def test_lenet_dp_da_wd_learns_mnist(tmp_path):
    # The script's own recipe on all 60000 digits for 2 epochs (crops, no flips): 96.71 % after the second
    # epoch in the 20-epoch row's run (results/lenet-dp-da-wd-mnist/); the step schedule's rate is halved
    # in the second epoch here, which is what 2 epochs of its 200-epoch shape give.
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_da_wd_keras.py", "--dataset", "mnist", "--data-dir", REAL_MNIST,
                      "--epochs", "2", "--output-dir", run_dir)
    check_ok(proc)
    summary = summary_of(run_dir)
    assert summary["data"]["train_images"] == 60000 and summary["parameters"] == 61_706
    assert summary["test_accuracy"] > 0.95, summary["test_accuracy"]  # chance: 0.10
