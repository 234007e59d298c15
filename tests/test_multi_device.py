"""Two replicas on two logical CPU devices train, and the loss falls (TensorFlow: MirroredStrategy;
JAX: keras.distribution.DataParallel); the machine line of a summary names the CPU's vector instructions."""

import csv
import os

import pytest

from conftest import check_ok, one_line_error, run_script, summary_of

from cifar_common import devices

TWO_CPU_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_replicas_train(backend, small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_da_wd_keras.py", "--data-dir", small_cifar10, "--subset", "1024",
                      "--epochs", "4", "--lr", "0.005", "--lr-schedule", "cosine", "--cpu-replicas", "2",
                      "--output-dir", run_dir,
                      backend=backend, env=TWO_CPU_DEVICES)
    check_ok(proc)
    summary = summary_of(run_dir)
    assert summary["replicas"] == 2 and len(summary["devices"]) == 2
    assert summary["jit_compiled"] is (backend == "jax")
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.75 * losses[0], losses
    assert summary["test_accuracy"] > 0.25  # 10 classes: chance is 0.10


def test_jax_without_enough_devices_says_how(small_cifar10, tmp_path):
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--cpu-replicas", "2",
                      "--output-dir", str(tmp_path / "run"), backend="jax", env={"XLA_FLAGS": ""})
    assert proc.returncode == 2
    assert "--xla_force_host_platform_device_count=2" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_xla_on_several_tensorflow_devices_is_refused(small_cifar10, tmp_path):
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--cpu-replicas", "2", "--jit", "on",
                      "--output-dir", str(tmp_path / "run"))
    one_line_error(proc, "--jit on", "several devices", "JAX")
    assert not (tmp_path / "run").exists()


def test_batch_must_split_evenly(small_cifar10, tmp_path):
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--cpu-replicas", "2", "--batch-size",
                      "127", "--output-dir", str(tmp_path / "run"), backend="jax", env=TWO_CPU_DEVICES)
    assert proc.returncode == 2 and "divide evenly" in proc.stderr


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_gpus_without_a_gpu_is_one_line(backend, small_cifar10, tmp_path):
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--gpus", "2",
                      "--output-dir", str(tmp_path / "run"), backend=backend, env=TWO_CPU_DEVICES)
    one_line_error(proc, "--gpus 2", "no GPU is visible", "--cpu-replicas 2")
    assert not (tmp_path / "run").exists()


def test_the_cpu_line_names_vector_and_bfloat16_instructions():
    def cpuinfo(flags):
        return f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu {flags} sse2\n\nprocessor\t: 1\n"

    assert devices.cpu_name(cpuinfo("avx avx2 fma")) == "Some CPU (AVX2)"
    assert devices.cpu_name(cpuinfo("avx2 avx512f avx512_bf16")) == "Some CPU (AVX-512, BF16)"
    assert devices.cpu_name(cpuinfo("avx2 avx512f avx512_bf16 amx_bf16 amx_tile")) == "Some CPU (AVX-512, BF16, AMX)"
    assert devices.cpu_name(cpuinfo("sse4_2")) == "Some CPU"
    assert devices.cpu_name("processor\t: 0\n") is None
    numbered = cpuinfo("avx2 avx512f avx512_bf16").replace("model name", "cpu family\t: 25\nmodel\t\t: 17\nmodel name")
    assert devices.cpu_name(numbered) == "Some CPU, family 25 model 17 (AVX-512, BF16)"
