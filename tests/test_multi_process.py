"""Several processes train one model on JAX, simulated on this machine: two processes on 127.0.0.1 with two
XLA host devices each (four devices in all) against one process with four; a kill of both and a resume; the
one-line refusals. (A real cluster adds the network between the hosts and a file system they share.)"""

import argparse
import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from conftest import ROOT, check_ok, epochs_done, one_line_error, run_script, summary_of

from cifar_common import devices, train

# Augmentation and dropout: their random draws must be those of one process too.
SCRIPT = "lenet/LeNet_dp_da_wd_keras.py"
ARGS = ["--subset", "256", "--batch-size", "64"]  # four steps an epoch; 256 test images: four full batches


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices_per_process):
    return {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices_per_process}"}


def _start_two(data, output, *args, cwds=(ROOT, ROOT)):
    """Processes 0 and 1 of one run, each with two CPU devices; ``cwds``: where each starts. Their output
    goes to files (a pipe nobody reads while they train would fill and stop them)."""
    port = _free_port()
    procs = []
    for i in range(2):
        logs = [tempfile.TemporaryFile("w+") for _ in range(2)]
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, SCRIPT), "--data-dir", data, *args,
                                 "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id",
                                 str(i), *output], cwd=cwds[i], env=_env(2), stdout=logs[0], stderr=logs[1])
        proc.logs = logs
        procs.append(proc)
    return procs


def _finish(procs, timeout=400):
    done = []
    for proc in procs:
        proc.wait(timeout=timeout)
        out, err = [log.seek(0) or log.read() for log in proc.logs]
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _history(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_two_processes_train_as_one_process_with_their_four_devices(small_cifar10, tmp_path):
    # Each process starts in its own folder and names the run folder relatively: process 0's is the run,
    # process 1's must stay absent (it writes nothing).
    cwds = [tmp_path / "host0", tmp_path / "host1"]
    for cwd in cwds:
        cwd.mkdir()
    args = [*ARGS, "--epochs", "3"]
    procs = _start_two(small_cifar10, ["--output-dir", "run"], *args, "--cpu-replicas", "2", cwds=cwds)
    alone = subprocess.run([sys.executable, os.path.join(ROOT, SCRIPT), "--data-dir", small_cifar10, *args,
                            "--cpu-replicas", "4", "--output-dir", str(tmp_path / "alone")],
                           env=_env(4), capture_output=True, text=True, timeout=400)
    procs = _finish(procs)
    for proc in [*procs, alone]:
        check_ok(proc)
    together = str(cwds[0] / "run")
    assert os.listdir(cwds[1]) == []
    summary = summary_of(together)
    assert summary["processes"] == 2 and len(summary["hosts"]) == 2 and summary["replicas"] == 4
    # The same global batches, crops, flips and dropout masks: the same losses, to float32 round-off (the
    # gradients are summed across the processes in another order; measured: 1e-7 relative, allowed 1e-4;
    # the batches in another order moved the first epoch's by 5e-3), and the same accuracies to within 2 images.
    mine, reference = _history(together), _history(str(tmp_path / "alone"))
    assert len(mine) == len(reference) == 3
    for a, b in zip(mine, reference):
        for key in ("loss", "test_loss"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-4), (key, a, b)
        for key in ("accuracy", "test_accuracy"):
            assert abs(float(a[key]) - float(b[key])) <= 2 / 256, (key, a, b)
    # Both processes end on the test accuracy of the run.
    last = f"Test accuracy: {100 * summary['test_accuracy']:.2f} %"
    assert all(last in proc.stdout.strip().splitlines()[-1] for proc in procs)


def test_both_killed_they_resume_from_the_same_backup_to_every_epoch(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    epochs = 6
    # A validation split: at the end, both read the best epoch's weights that process 0 wrote, for the test.
    procs = _start_two(small_cifar10, ["--output-dir", run_dir], *ARGS, "--epochs", str(epochs),
                       "--cpu-replicas", "2", "--val-split", "64")
    deadline = time.time() + 300
    while epochs_done(run_dir) < 2 and all(p.poll() is None for p in procs) and time.time() < deadline:
        time.sleep(0.02)
    for proc in procs:
        proc.send_signal(signal.SIGKILL)
    _finish(procs)
    killed_after = epochs_done(run_dir)
    assert 2 <= killed_after < epochs, "the run was not killed mid-way"

    resumed = _finish(_start_two(small_cifar10, ["--resume", run_dir]))
    for proc in resumed:
        check_ok(proc)
    summary = summary_of(run_dir)
    assert summary["finished"] and summary["epochs"] == epochs
    assert 1 <= summary["resumed_from_epoch"] <= killed_after
    assert [int(row["epoch"]) for row in _history(run_dir)] == list(range(1, epochs + 1))
    assert summary["test_accuracy_of"].endswith("best on validation") and not os.listdir(run_dir).count("backup")
    last = f"Test accuracy: {100 * summary['test_accuracy']:.2f} %"
    assert all(last in proc.stdout.strip().splitlines()[-1] for proc in resumed)


def test_several_processes_need_jax_and_one_run_folder(small_cifar10, tmp_path):
    flags = ["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "0"]
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, *flags, "--output-dir",
                      str(tmp_path / "run"), backend="tensorflow")
    one_line_error(proc, "JAX backend only", "keras-team/keras#20585", "KERAS_BACKEND=jax")
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, *flags, backend="jax")
    one_line_error(proc, "same --output-dir")
    assert not (tmp_path / "run").exists()


def test_the_cluster_comes_from_flags_keras_variables_or_the_launcher():
    assert devices.cluster(environ={}) is None
    assert devices.cluster(num_processes=1, environ={}) is None
    assert devices.cluster("10.0.0.1:1234", 4, 3, environ={}) == devices.Cluster(4, 3, "10.0.0.1:1234", "flags")
    keras_variables = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234,10.0.0.2:1234",
                       "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "1"}
    assert devices.cluster(environ=keras_variables) == devices.Cluster(2, 1, "10.0.0.1:1234", "flags")
    # srun and mpirun with several tasks: JAX finds the coordinator and the indices itself.
    slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "5"}
    assert devices.cluster(environ=slurm) == devices.Cluster(8, 5, None, "SLURM")
    assert devices.cluster(environ={"SLURM_JOB_ID": "7", "SLURM_STEP_NUM_TASKS": "1"}) is None  # an array task
    assert devices.cluster(environ={"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"}).index == 1
    for given, needle in [((None, 2, 0), "--coordinator HOST:PORT"), (("h:1", 2, None), "--process-id"),
                          (("h:1", 2, 2), "0 to 1"), (("h:1", None, 0), "--num-processes"),
                          (("10.0.0.1", 2, 0), "HOST:PORT")]:
        with pytest.raises(devices.DeviceError, match=needle):
            devices.cluster(*given, environ={})


def test_process_batches_cut_every_global_batch_in_process_order():
    x, y = np.arange(10), np.arange(10)
    parts = [devices.ProcessBatches(x, y, batch_size=4, cluster_size=2, index=i, shuffle=False) for i in range(2)]
    assert len(parts[0]) == 3
    assert [list(parts[i][0][0]) for i in range(2)] == [[0, 1], [2, 3]]
    assert [list(parts[i][2][0]) for i in range(2)] == [[8], [9]]  # the last batch of 2, one image each
    # Shuffled: both draw the same order from NumPy's generator seeded alike, each keeps its half.
    np.random.seed(0)
    order = np.random.permutation(10)
    for part in parts:
        part.shuffle = True
        np.random.seed(0)
        part.on_epoch_begin()
    assert list(parts[0][0][0]) + list(parts[1][0][0]) == list(order[:4])
    with pytest.raises(devices.DeviceError, match="last batch of 2 images does not split over 4 devices"):
        devices.check_split(x, 4, 4, "training set")


def test_a_study_leaves_its_folders_to_process_0(tmp_path):
    """--runs N on several processes: process 0 refuses an existing seed folder, the others do not look
    (process 0 may have made it already) and leave the median line to process 0."""
    (tmp_path / "seed-0").mkdir()
    flags = dict(resume=None, output_dir=str(tmp_path), seed=0, runs=2, lr_schedule="htd",
                 coordinator="127.0.0.1:1", num_processes=2)
    runs = list(train.seeded_runs(argparse.Namespace(**flags, process_id=1)))
    assert [r.output_dir for r in runs] == [str(tmp_path / "seed-0"), str(tmp_path / "seed-1")]
    with pytest.raises(SystemExit):
        list(train.seeded_runs(argparse.Namespace(**flags, process_id=0)))
