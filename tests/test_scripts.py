"""Every LeNet script end to end in a subprocess, as a user runs it, and the shared command line."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import (LENET_SCRIPTS, ROOT, check_ok, one_line_error, refusal_in_process, run_in_process,
                      run_script, summary_of)

HISTORY_COLUMNS = ["epoch", "learning_rate", "loss", "accuracy", "test_loss", "test_accuracy", "seconds"]


def _history(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _check_run(proc, run_dir, epochs, params=62006, macs=651_720):
    check_ok(proc)
    for name in ("summary.json", "history.csv", "curves.png", "model.keras"):
        assert os.path.getsize(os.path.join(run_dir, name)) > 0, name
    assert not os.path.exists(os.path.join(run_dir, "backup")), "a finished run keeps no backup"
    with open(os.path.join(run_dir, "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    summary = summary_of(run_dir)
    assert summary["finished"] is True and summary["epochs"] == epochs
    if params is not None:
        assert summary["parameters"] == params
    if macs is not None:
        assert summary["macs_per_image"] == macs
    # --jit auto on this CPU-only machine: XLA on JAX only (TensorFlow's own kernels, PyTorch eager).
    jit = summary["arguments"]["jit"]
    assert summary["jit_compiled"] is ({"on": True, "off": False}.get(jit) if jit != "auto"
                                       else summary["backend"] == "jax")
    assert summary["parameters"] > 0 and summary["macs_per_image"] > 0
    assert 0 <= summary["test_accuracy"] <= 1 and summary["train_images_per_second"] > 0
    rows = _history(run_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("Test accuracy: ") and f"{100 * summary['test_accuracy']:.2f} %" in last
    return summary, rows


@pytest.mark.parametrize("script", LENET_SCRIPTS)
def test_lenet_script_end_to_end(script, small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script(f"lenet/{script}", "--data-dir", small_cifar10, "--epochs", "1", "--subset", "512",
                      "--output-dir", run_dir)
    summary, rows = _check_run(proc, run_dir, epochs=1)
    assert list(rows[0]) == HISTORY_COLUMNS and all(rows[0][c] != "" for c in HISTORY_COLUMNS)
    assert float(rows[0]["learning_rate"]) == pytest.approx(0.01)
    assert summary["arguments"]["weight_decay"] == (1e-4 if "wd" in script else 0.0)
    assert summary["data"]["train_images"] == 512 and summary["data"]["test_images"] == 256
    assert "4/4" in proc.stdout and "━" in proc.stdout  # Keras's progress bar: 4 steps of 128 images
    assert "the progress bar's val_ figures are the test set's (history.csv: test_)" in proc.stdout
    _check_saved_model(run_dir, small_cifar10, summary)


def _check_saved_model(run_dir, data_dir, summary):
    """The saved model loads (augmentation layer included) and scores the test accuracy the run reported."""
    import cifar_common  # noqa: F401  registers the augmentation layer
    import keras
    from cifar_common import data

    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    test = data.load(data_dir=data_dir)
    _, accuracy = model.evaluate(test.x_test, test.y_test, verbose=0)
    assert accuracy == pytest.approx(summary["test_accuracy"], abs=1e-6)


def test_architecture_help_shows_its_own_flags(small_cifar10, capsys):
    code, out, _ = run_in_process("densenet/DenseNet_keras.py", "--help", capsys=capsys)
    text = " ".join(out.split())
    assert code == 0
    assert "--depth N" in text and "--growth-rate N" in text and "(default: 100)" in text and "(default: 250)" in text
    refusal_in_process("resnet/ResNet_keras.py", "--depth", "21", "--data-dir", small_cifar10, capsys=capsys,
                       needles=["--depth 21", "6n+2"])


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_end_to_end(backend, small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_da_wd_keras.py", "--data-dir", small_cifar10, "--epochs", "2",
                      "--subset", "512", "--output-dir", run_dir, backend=backend)
    summary, rows = _check_run(proc, run_dir, epochs=2)
    assert summary["backend"] == backend


@pytest.mark.parametrize("backend,jit,compiled,step", [("tensorflow", "on", True, "training step: XLA"),
                                                        ("jax", "off", False, "training step: eager")])
def test_jit_flag_overrides_keras_choice(backend, jit, compiled, step, small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_da_wd_keras.py", "--data-dir", small_cifar10, "--epochs", "1",
                      "--subset", "256", "--jit", jit, "--output-dir", run_dir, backend=backend)
    summary, _ = _check_run(proc, run_dir, epochs=1)
    assert summary["arguments"]["jit"] == jit and summary["jit_compiled"] is compiled
    assert step in proc.stdout


def test_help_explains_every_flag_with_the_script_defaults(capsys):
    code, out, err = run_in_process("lenet/LeNet_dp_da_wd_keras.py", "--help", capsys=capsys)
    assert code == 0, err
    text = " ".join(out.split())
    for flag in ("--epochs", "--batch-size", "--lr", "--weight-decay", "--lr-schedule", "--dataset", "--data-dir",
                 "--subset", "--val-split", "--output-dir", "--seed", "--gpus", "--cpu-replicas", "--jit",
                 "--mixed-precision", "--test-subset", "--summary",
                 "--resume"):
        assert flag in text, flag
    for default in ("(default: 200)", "(default: 128)", "(default: 0.01)", "(default: 0.0001)", "(default: step)"):
        assert default in text, default
    assert "weight decay" in text.lower()  # the docstring: what the script adds
    code, out, _ = run_in_process("lenet/LeNet_keras.py", "--help", capsys=capsys)
    assert code == 0 and "(default: 0.0)" in " ".join(out.split())


def test_tensorflow_start_up_lines_are_quiet_unless_asked_for():
    proc = run_script("lenet/LeNet_keras.py", "--help")
    check_ok(proc)
    assert proc.stderr == ""
    proc = run_script("lenet/LeNet_keras.py", "--help", env={"CIFAR_TF_LOGS": "1"})
    check_ok(proc)
    assert "oneDNN custom operations are on" in proc.stderr  # what is hidden by default


def test_a_backend_that_is_not_installed_is_one_line():
    # As if JAX were missing: find_spec answers None for a module set to None in sys.modules.
    code = ("import runpy, sys; sys.modules['jax'] = None; sys.argv = ['lenet/LeNet_keras.py', '--epochs', '1']; "
            "runpy.run_path('lenet/LeNet_keras.py', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "KERAS_BACKEND": "jax"})
    one_line_error(proc, "KERAS_BACKEND=jax: jax is not installed", "pip install jax")
    assert proc.stdout == ""


def test_bad_flag_value_is_one_line(tmp_path, capsys):
    proc = run_script("lenet/LeNet_keras.py", "--lr-schedule", "linear")  # as a user sees it: a process of its own
    one_line_error(proc, "--lr-schedule", "linear", "cosine")
    refusal_in_process("lenet/LeNet_keras.py", "--epochs", "0", capsys=capsys, needles=["--epochs"])
    refusal_in_process("lenet/LeNet_keras.py", "--jit", "yes", capsys=capsys, needles=["--jit", "yes", "auto"])


@pytest.mark.parametrize("flags,message", [
    (["--lr", "inf"], "--lr: must be a finite number, not inf"),
    (["--lr", "nan"], "--lr: must be a finite number, not nan"),
    (["--htd-lower", "-inf"], "--htd-lower: must be a finite number, not -inf"),
    (["--seed", "-1"], "--seed: must be from 0 to 4294967295, not -1"),
    (["--seed", str(2**32)], "--seed: must be from 0 to 4294967295, not 4294967296"),
    (["--weight-decay", "-1e-4"], "--weight-decay: must be 0 or more, not -1e-4"),
    (["--weight-decay=-1e-4"], "--weight-decay: must be 0 or more, not -1e-4"),
    (["--batch-size", str(10**20)], f"--batch-size: must be from 1 to 2147483647, not {10**20}"),
    (["--epochs", str(2**31)], f"--epochs: must be from 1 to 2147483647, not {2**31}"),
    (["--output-dir", ""], "--output-dir: must not be empty"),
    (["--resume", ""], "--resume: must not be empty"),
])
def test_numbers_out_of_range_are_refused_when_parsed(flags, message, capsys):
    from cifar_common import cli

    parser = cli.parser("LeNet_keras.py", "", epochs=200, batch_size=128, lr=0.01, weight_decay=0.0,
                        lr_schedule="step")
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(cli.attach_negative_values(flags))
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"LeNet_keras.py: error: argument {message} (see --help)"


def test_a_seed_at_the_top_of_the_range_and_a_negative_htd_bound_are_fine():
    from cifar_common import cli

    parser = cli.parser("x.py", "", epochs=2, batch_size=8, lr=0.1, weight_decay=0.0, lr_schedule="htd")
    args = parser.parse_args(cli.attach_negative_values(["--seed", str(2**32 - 1), "--htd-lower", "-4.5"]))
    assert args.seed == 2**32 - 1 and args.htd_lower == -4.5


def test_a_negative_weight_decay_is_the_range_error_in_a_script(capsys):
    refusal_in_process("lenet/LeNet_keras.py", "--weight-decay", "-1e-4", capsys=capsys,
                       needles=["--weight-decay", "must be 0 or more, not -1e-4"])


def test_divergence_stops_at_its_first_epoch_with_one_line(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--subset", "256", "--epochs", "5",
                      "--lr", "1e10", "--output-dir", run_dir, backend="jax")
    one_line_error(proc, "diverged in epoch 1", "lower --lr than 1e+10", run_dir, code=3)
    assert "Test accuracy" not in proc.stdout
    summary = summary_of(run_dir)
    assert summary["finished"] is False  # an interrupted run, not a result
    assert not os.path.exists(os.path.join(run_dir, "model.keras"))
    assert not os.path.exists(os.path.join(run_dir, "history.csv")) or _history(run_dir) == []
    # Resumable like any interrupted run: with the same rate it diverges again, and says so the same way.
    again = run_script("lenet/LeNet_keras.py", "--resume", run_dir, backend="jax")
    assert again.returncode == 3 and "diverged in epoch 1" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize("logs,diverged", [
    ({"loss": 2.3, "val_loss": 2.2}, None),
    ({"loss": 2.3, "val_loss": 1e30}, None),  # a held-out loss that is huge but a number: the weights may recover
    ({"loss": float("nan"), "val_loss": 2.2}, "training loss nan, test loss 2.2"),
    ({"loss": 3.2e20, "val_loss": float("nan")}, "training loss 3.2e+20, test loss nan"),  # LeNet_dp at --lr 80
    ({"loss": 2.3, "val_loss": float("nan")}, "training loss 2.3, test loss nan"),
    ({"loss": 2e6, "val_loss": 2.2}, "training loss 2e+06, test loss 2.2"),  # beyond any meaningful loss
    ({"loss": float("inf")}, "training loss inf"),
])
def test_divergence_is_a_loss_that_is_no_number_or_beyond_any_meaning(logs, diverged):
    from cifar_common import train

    stop = train._StopOnDivergence("test")
    if diverged is None:
        stop.on_epoch_end(4, logs)
        return
    with pytest.raises(train.Diverged) as e:
        stop.on_epoch_end(4, logs)
    assert e.value.epoch == 5 and e.value.losses == diverged


def test_a_dead_network_is_warned_about():
    """The warning callback itself, on a network that answers class 3 whatever the image, and on one that
    does not."""
    import keras
    import numpy as np
    from cifar_common import train

    images = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    dead = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros",
                                                                   bias_initializer=keras.initializers.Constant(
                                                                       np.eye(10)[3]))])
    alive = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10, activation="softmax")])
    for model, warned in ((dead, True), (alive, False)):
        callback = train._WarnOnDeadNetwork(images, num_classes=10)
        callback.set_model(model)
        callback.on_epoch_end(0, {"accuracy": 0.1})
        assert bool(callback.warnings) is warned
        if warned:
            assert "epoch 1: the network answers class 3 for every image" in callback.warnings[0]
    callback = train._WarnOnDeadNetwork(images, num_classes=10)
    callback.set_model(dead)
    callback.on_epoch_end(0, {"accuracy": 0.6})  # well above chance: not even looked at
    assert callback.warnings == []


def test_bad_data_is_one_line_and_leaves_no_output(tmp_path, capsys):
    run_dir = tmp_path / "run"
    refusal_in_process("lenet/LeNet_keras.py", "--data-dir", str(tmp_path / "missing"), "--output-dir", str(run_dir),
                       capsys=capsys, needles=["missing", "no such file or folder"])
    assert not run_dir.exists()


def test_output_folder_is_never_overwritten(small_cifar10, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "precious.txt").write_text("an earlier run")
    refusal_in_process("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--subset", "128", "--epochs", "1",
                       "--output-dir", str(run_dir), capsys=capsys, needles=["not empty"])
    assert os.listdir(run_dir) == ["precious.txt"]


def test_default_run_folders_are_fresh(small_cifar10, tmp_path):
    from cifar_common import run_folder

    os.chdir(tmp_path)
    a = run_folder.own_new(None, "LeNet_keras").folder
    b = run_folder.own_new(None, "LeNet_keras").folder
    assert a != b and os.path.dirname(a) == str(tmp_path / "runs") and os.path.basename(a).startswith("LeNet_keras-")
    os.chdir(ROOT)


def test_script_runs_from_any_folder_with_default_outputs(small_cifar10, tmp_path):
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--subset", "128", "--epochs", "1",
                      cwd=str(tmp_path))
    check_ok(proc)
    (run_dir,) = os.listdir(tmp_path / "runs")
    assert summary_of(str(tmp_path / "runs" / run_dir))["finished"]


def test_test_subset_evaluates_a_fixed_sample_of_the_test_set(small_cifar10, tmp_path, capsys):
    from cifar_common import data

    whole = data.load(data_dir=small_cifar10)
    part = data.load(data_dir=small_cifar10, test_subset=100, seed=5)
    assert len(part.x_test) == 100 and len(part.x_train) == len(whole.x_train)
    # A sample of the test set's own images, the same whatever the run's seed.
    assert np.array_equal(part.x_test, data.load(data_dir=small_cifar10, test_subset=100, seed=0).x_test)
    index = {img.tobytes(): i for i, img in enumerate(whole.x_test)}
    picked = [index[img.tobytes()] for img in part.x_test]
    assert len(set(picked)) == 100 and [whole.y_test[i] for i in picked] == list(part.y_test)
    assert picked != list(range(100))  # a sample, not the first 100
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--subset", "256", "--test-subset", "64",
                      "--epochs", "1", "--output-dir", run_dir)
    summary, rows = _check_run(proc, run_dir, epochs=1)
    assert summary["data"]["test_images"] == 64 and summary["arguments"]["test_subset"] == 64
    assert proc.stdout.strip().endswith("after 1 epoch; on 64 test images only (--test-subset))")
    accuracy = float(rows[0]["test_accuracy"])
    assert round(accuracy * 64) == pytest.approx(accuracy * 64, abs=1e-4)  # a share of 64 images
    refusal_in_process("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--test-subset", "257", "--epochs", "1",
                       "--output-dir", str(tmp_path / "bad"), capsys=capsys, needles=["--test-subset 257", "1..256"])
    assert not os.path.exists(tmp_path / "bad")


def test_summary_prints_the_model_without_reading_data_or_writing(tmp_path):
    # No --data-dir: reading the data would mean a download, which fails offline.
    work, home = tmp_path / "work", tmp_path / "keras-home"
    work.mkdir()
    for flags, params in ([], 62_006), (["--dataset", "mnist"], 61_706):
        proc = run_script("lenet/LeNet_dp_da_wd_keras.py", "--summary", *flags, cwd=str(work),
                          env={"KERAS_HOME": str(home)})
        check_ok(proc)
        assert f"Total params: {params:,}" in proc.stdout  # Keras's model.summary()
        assert proc.stdout.strip().splitlines()[-1].startswith(f"lenet_dp_da_wd: {params:,} parameters, ")
        assert "Epoch 1/" not in proc.stdout
    assert os.listdir(work) == [] and not os.path.exists(home / "datasets")  # no run folder, no download


def test_validation_split_keeps_the_test_set_out_of_training(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_keras.py", "--data-dir", small_cifar10, "--subset", "512", "--val-split", "256",
                      "--epochs", "3", "--output-dir", run_dir)
    summary, rows = _check_run(proc, run_dir, epochs=3)
    assert "val_accuracy" in rows[0] and "test_accuracy" not in rows[0]
    assert summary["data"]["validation_images"] == 256 and summary["data"]["train_images"] == 512
    assert summary["data"]["held_out_during_training"] == "validation split"
    assert "the progress bar's val_ figures are the validation split's (history.csv: val_)" in proc.stdout
    # The model is the best epoch on validation; its test accuracy is what the run reports.
    best = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert summary["best_epoch"] == {"epoch": int(best["epoch"]), "val_accuracy": float(best["val_accuracy"])}
    assert summary["test_accuracy_of"] == f"the model of epoch {best['epoch']}, best on validation"
    assert not os.path.exists(os.path.join(run_dir, "best_on_validation.keras"))  # kept only until finished
    _check_saved_model(run_dir, small_cifar10, summary)


def test_seeded_runs_repeat(small_cifar10, tmp_path):
    """Same seed, same losses (JAX on the CPU is deterministic); another seed, other losses."""
    losses = {}
    for name, seed in [("a", "1"), ("b", "1"), ("c", "2")]:
        run_dir = str(tmp_path / name)
        check_ok(run_script("lenet/LeNet_dp_da_keras.py", "--data-dir", small_cifar10, "--subset", "256",
                            "--epochs", "2", "--seed", seed, "--output-dir", run_dir, backend="jax"))
        losses[name] = [(r["loss"], r["test_loss"]) for r in _history(run_dir)]
    assert losses["a"] == losses["b"]
    assert losses["a"] != losses["c"]


def test_mixed_precision(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_da_wd_keras.py", "--data-dir", small_cifar10, "--subset", "256",
                      "--epochs", "1", "--mixed-precision", "--output-dir", run_dir, backend="jax")
    summary, rows = _check_run(proc, run_dir, epochs=1)
    assert summary["dtype_policy"] == "mixed_bfloat16"
    assert np.isfinite(float(rows[0]["loss"]))


def test_lr_schedule_flag_changes_the_recorded_rates(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--subset", "128", "--epochs", "4",
                      "--lr-schedule", "cosine", "--lr", "0.1", "--output-dir", run_dir, backend="jax")
    _, rows = _check_run(proc, run_dir, epochs=4)
    rates = [float(r["learning_rate"]) for r in rows]
    assert rates == pytest.approx([0.1, 0.05 * (1 + np.cos(np.pi / 4)), 0.05, 0.05 * (1 + np.cos(3 * np.pi / 4))])


def _code_lines(path):
    """The script's lines after its docstring, without blank and comment-only lines."""
    with open(path) as f:
        text = f.read()
    body = text[text.index('"""', 3) + 3:]
    return [line.rstrip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


# Each neighbour of the LeNet series differs from the previous script by its trick alone (and the model's name):
# (previous, next, lines only the previous has, lines only the next has).
LENET_TRICKS = [
    ("LeNet_keras.py", "LeNet_dp_keras.py",
     ['    x = layers.Rescaling(1 / 255)(inputs)', '    return keras.Model(inputs, outputs, name="lenet")'],
     ['    x = layers.Normalization(mean=data.mean, variance=data.std**2)(inputs)',
      '    return keras.Model(inputs, outputs, name="lenet_dp")']),
    ("LeNet_dp_keras.py", "LeNet_dp_da_keras.py",
     ['    return keras.Model(inputs, outputs, name="lenet_dp")'],
     ['from cifar_common.augment import RandomCropFlip', '    x = RandomCropFlip(padding=4, flip=data.mirrorable)(x)',
      '    return keras.Model(inputs, outputs, name="lenet_dp_da")']),
    ("LeNet_dp_da_keras.py", "LeNet_dp_da_wd_keras.py",
     ['WEIGHT_DECAY = 0.0', '    return keras.Model(inputs, outputs, name="lenet_dp_da")'],
     ['WEIGHT_DECAY = 1e-4', '    return keras.Model(inputs, outputs, name="lenet_dp_da_wd")']),
]


@pytest.mark.parametrize("previous,following,removed,added", LENET_TRICKS, ids=[t[1] for t in LENET_TRICKS])
def test_lenet_neighbours_differ_by_one_trick(previous, following, removed, added):
    import difflib

    a = _code_lines(os.path.join(ROOT, "lenet", previous))
    b = _code_lines(os.path.join(ROOT, "lenet", following))
    diff = list(difflib.ndiff(a, b))
    assert [line[2:] for line in diff if line.startswith("- ")] == removed
    assert [line[2:] for line in diff if line.startswith("+ ")] == added
    # The training part is the same in every script of the series.
    assert a[a.index('if __name__ == "__main__":'):] == b[b.index('if __name__ == "__main__":'):]
