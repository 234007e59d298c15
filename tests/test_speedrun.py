"""The speed-run series (speedrun/): every step end to end on tiny data, one trick per neighbour, a short
real run of the last step on every backend, and bad input."""

import difflib
import json
import os

import pytest

from conftest import (REAL_CIFAR10, ROOT, check_ok, official_pickle, refusal_in_process,
                      run_in_process, run_script, summary_of)
from cifar_common import train

STEPS = ["step0_baseline_keras.py", "step1_whitening_keras.py", "step2_dirac_keras.py", "step3_bias_rate_keras.py",
         "step4_frozen_bias_keras.py", "step5_lookahead_keras.py", "step6_tta_keras.py",
         "step7_alternating_flip_keras.py"]
# The epochs each step takes to 94 % in upstream's ablation (airbench/ablations/README.md of KellerJordan/cifar10-zoo).
EPOCHS = [34.0, 21.0, 18.0, 13.5, 13.5, 12.0, 10.8, 9.9]
# Keras counts the BatchNorm statistics too: upstream's 1,971,640 parameters of airbench94 (ablations README)
# plus 2,304 moving means and variances, plus AlternatingFlip's epoch counter in step 7. Step 0's first
# convolution has no bias (24 fewer) but a BatchNorm after it (24 biases, 48 statistics).
PARAMETERS = [1_973_992] + [1_973_944] * 6 + [1_973_945]


def _model_of(run_dir):
    import keras

    return keras.saving.load_model(os.path.join(run_dir, "model.keras"))


@pytest.mark.parametrize("step", range(len(STEPS)), ids=STEPS)
def test_every_step_trains_end_to_end(step, small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script(f"speedrun/{STEPS[step]}", "--data-dir", small_cifar10, "--subset", "200", "--batch-size", "64",
                      "--epochs", "1.5", "--output-dir", run_dir)
    check_ok(proc)
    summary = summary_of(run_dir)
    # 200 images fill 3 batches of 64 (8 are left out every epoch): 1.5 epochs are 5 steps, the second epoch
    # stopped after 2 of its 3.
    assert summary["training_steps"] == 5 and summary["epochs"] == 2
    assert int(_model_of(run_dir).optimizer.iterations) == 5
    assert summary["parameters"] == PARAMETERS[step]
    views = 6 if step >= 6 else 2
    assert f"averaged over {views} views" in summary["test_accuracy_of"]
    last = proc.stdout.strip().splitlines()[-1]
    assert last == (f"Test accuracy: {100 * summary['test_accuracy']:.2f} % ({STEPS[step][:-3]}, after 1.5 epochs, "
                    f"{views} views of each test image)")
    assert summary["arguments"]["epochs"] == 1.5 and summary["arguments"]["batch_size"] == 64


def test_every_step_defaults_to_its_ablation_epochs_and_batch(capsys):
    for script, epochs in zip(STEPS, EPOCHS):
        code, out, err = run_in_process(f"speedrun/{script}", "--help", capsys=capsys)
        assert code == 0, err
        text = " ".join(out.split())
        assert f"(default: {epochs:g})" in text and "(default: 1024)" in text, script
        assert "--lr-schedule" not in text  # the optimizer holds its per-step schedule


def _code_lines(path):
    """The script's lines after its docstring, without blank and comment-only lines."""
    with open(path) as f:
        text = f.read()
    body = text[text.index('"""', 3) + 3:]
    return [line.rstrip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


# What each step changes besides its EPOCHS and its model's name: (lines only the previous step has, lines
# only the next has).
TRICKS = [
    (['    x = layers.Conv2D(24, 2, use_bias=False, kernel_initializer=initializers.pytorch_default(), '
      'name="first_conv")(x)', '    x = batch_norm("first_norm")(x)'],
     ['    x = layers.Conv2D(2 * 2 * 2 * data.image_shape[-1], 2, use_bias=False, trainable=False, '
      'name="whitening")(x)', '    x = initializers.Bias(name="whitening_bias")(x)',
      '        images = (run.data.x_train[:5000] - run.data.mean) / run.data.std',
      '        model.get_layer("whitening").kernel.assign(initializers.whitening_kernel(images))']),
    (['    return layers.Conv2D(width, 3, padding="same", use_bias=False, '
      'kernel_initializer=initializers.pytorch_default(),', '                         name=name)'],
     ['    return layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=initializers.Dirac(), '
      'name=name)']),
    (['from cifar_common import initializers, regularisers, schedules, train, tta',
      '        optimizer = keras.optimizers.SGD(schedules.PiecewiseLinear(args.lr, knots), momentum=MOMENTUM, '
      'nesterov=True,',
      '                                         weight_decay=args.weight_decay, '
      '**regularisers.ema_arguments(args))'],
     ['from cifar_common import initializers, optimizers, regularisers, schedules, train, tta',
      "BIAS_SCALER = 64.0  # BatchNorm's biases train at 64 times the rate (their weight decay stays)",
      '        optimizer = optimizers.ScaledRateSGD(schedules.PiecewiseLinear(args.lr, knots), momentum=MOMENTUM,',
      '                                             nesterov=True, weight_decay=args.weight_decay,',
      '                                             rate_multipliers={r"_norm\\d/beta$": BIAS_SCALER},',
      '                                             **regularisers.ema_arguments(args))']),
    (['        run.fit(model, callbacks=[], tta=tta.mirror_views)'],
     ['from cifar_common.freeze import FreezeAfterEpochs',
      'WHITENING_BIAS_EPOCHS = 3  # then the whitening bias stays as it is',
      '        run.fit(model, callbacks=[FreezeAfterEpochs("whitening_bias", WHITENING_BIAS_EPOCHS)], '
      'tta=tta.mirror_views)']),
    # The lookahead, and the three hyperparameters upstream retuned with it (the rate, BatchNorm's momentum and
    # the schedule's shape; the rate's Keras values follow from it).
    (['UPSTREAM_LR = 10.0', 'LEARNING_RATE = UPSTREAM_LR / (1 + 1 / (1 - MOMENTUM))  # 1.304',
      'WEIGHT_DECAY = UPSTREAM_WEIGHT_DECAY / (UPSTREAM_LR * (1 - MOMENTUM))  # 0.0102',
      'LR_KNOTS = ((0.0, 0.2), (0.2, 1.0), (1.0, 0.0))',
      "BATCHNORM_MOMENTUM = 0.9  # Keras's convention: moving = 0.9 * moving + 0.1 * batch (PyTorch's momentum 0.1)",
      '        run.fit(model, callbacks=[FreezeAfterEpochs("whitening_bias", WHITENING_BIAS_EPOCHS)], '
      'tta=tta.mirror_views)'],
     ['from cifar_common.lookahead import Lookahead', 'UPSTREAM_LR = 11.5',
      'LEARNING_RATE = UPSTREAM_LR / (1 + 1 / (1 - MOMENTUM))  # 1.5',
      'WEIGHT_DECAY = UPSTREAM_WEIGHT_DECAY / (UPSTREAM_LR * (1 - MOMENTUM))  # 0.00887',
      'LR_KNOTS = ((0.0, 0.2), (0.23, 1.0), (1.0, 0.07))',
      "BATCHNORM_MOMENTUM = 0.6  # Keras's convention: moving = 0.6 * moving + 0.4 * batch (PyTorch's momentum 0.4)",
      '        callbacks = [FreezeAfterEpochs("whitening_bias", WHITENING_BIAS_EPOCHS), Lookahead(run.total_steps, '
      'every=5)]', '        run.fit(model, callbacks=callbacks, tta=tta.mirror_views)']),
    (['        run.fit(model, callbacks=callbacks, tta=tta.mirror_views)'],
     ['        run.fit(model, callbacks=callbacks, tta=tta.views)']),
    (['from cifar_common.augment import RandomCropFlip',
      '    x = RandomCropFlip(padding=2, flip=data.mirrorable, mode="reflect")(x)',
      '        callbacks = [FreezeAfterEpochs("whitening_bias", WHITENING_BIAS_EPOCHS), Lookahead(run.total_steps, '
      'every=5)]'],
     ['from cifar_common.augment import AlternatingFlip, RandomCropFlip, SetEpoch, mirror_half',
      '    x = RandomCropFlip(padding=2, flip=False, mode="reflect")(x)', '    x = AlternatingFlip()(x)',
      '        if not run.data.mirrorable:',
      '            raise train.OptionError(f"--dataset {args.dataset}: the alternating flip mirrors every image, '
      'and a "',
      '                                    "mirrored digit is often another; train step6_tta_keras.py on digits")',
      '        callbacks = [FreezeAfterEpochs("whitening_bias", WHITENING_BIAS_EPOCHS), Lookahead(run.total_steps, '
      'every=5),',
      '                     SetEpoch()]  # tells AlternatingFlip the epoch',
      '        run.data.x_train = mirror_half(run.data.x_train, seed=args.seed)']),
]


def _own_lines(step):
    """The lines every step has in its own form: its epochs and its model's name."""
    return [f"EPOCHS = {EPOCHS[step]}  # a float: --epochs takes a fraction",
            f'    return keras.Model(inputs, outputs, name="speedrun_step{step}")']


@pytest.mark.parametrize("step", range(1, len(STEPS)), ids=STEPS[1:])
def test_neighbours_differ_by_one_trick(step):
    a = _code_lines(os.path.join(ROOT, "speedrun", STEPS[step - 1]))
    b = _code_lines(os.path.join(ROOT, "speedrun", STEPS[step]))
    assert set(_own_lines(step - 1)) <= set(a) and set(_own_lines(step)) <= set(b)
    diff = list(difflib.ndiff(a, b))
    removed = [line[2:] for line in diff if line.startswith("- ") and line[2:] not in _own_lines(step - 1)]
    added = [line[2:] for line in diff if line.startswith("+ ") and line[2:] not in _own_lines(step)]
    assert (removed, added) == TRICKS[step - 1]


def test_the_keras_rate_and_decay_are_upstreams_converted():
    """The scripts' arithmetic gives what upstream's PyTorch SGD does per step (legacy/airbench94.py): its rate
    lr / (1024 (1 + 1/(1 - momentum))) on a summed loss is LEARNING_RATE on the mean; its L2 term wd / lr
    (wd = weight_decay * 1024 / kilostep_scale) shrinks the weights by rate * (wd / lr) / (1 - momentum) per
    step once through the momentum, which Keras's decoupled decay does with rate * WEIGHT_DECAY."""
    last = train.import_script(f"speedrun/{STEPS[-1]}")
    kilostep_scale = 1024 * (1 + 1 / (1 - 0.85))
    lr, wd = 11.5 / kilostep_scale, 0.0153 * 1024 / kilostep_scale
    assert last.LEARNING_RATE == pytest.approx(lr * 1024) == pytest.approx(1.5)
    assert last.LEARNING_RATE * last.WEIGHT_DECAY == pytest.approx(lr * (wd / lr) / (1 - 0.85))
    assert last.WEIGHT_DECAY == pytest.approx(0.00887, abs=5e-6)


# --- a short run of the last step on real images, on every backend -------------------------------------------


@pytest.fixture(scope="module")
def real_cifar10_part(tmp_path_factory):
    """5000 real CIFAR-10 training images and 500 real test images in the official layout (the full test set
    would make the six-view evaluation the longest part of a short test run)."""
    if not os.path.isdir(REAL_CIFAR10):
        pytest.skip("real CIFAR-10 not found at ../shared/data/cifar10/cifar-10-batches-py")
    from cifar_common import data

    (x_train, y_train), (x_test, y_test), names = data.read_official(REAL_CIFAR10)
    folder = str(tmp_path_factory.mktemp("real") / "cifar-10-batches-py")
    os.makedirs(folder)

    def write(name, images, labels):
        rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # the official CHW rows
        with open(os.path.join(folder, name), "wb") as f:
            f.write(official_pickle({b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
                                     b"data": rows, b"filenames": [b"x.png"] * len(images)}))

    for i in range(5):
        write(f"data_batch_{i + 1}", x_train[i * 1000:(i + 1) * 1000], y_train[i * 1000:(i + 1) * 1000])
    write("test_batch", x_test[:500], y_test[:500])
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        f.write(official_pickle({b"label_names": [n.encode() for n in names], b"num_cases_per_batch": 1000,
                                 b"num_vis": 3072}))
    return folder


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_the_last_step_learns_real_cifar10_on_every_backend(backend, real_cifar10_part, tmp_path):
    # airbench94's recipe on 5000 images for 1.2 epochs of batches of 256: 19 whole batches an epoch (136 images
    # left out), 23 steps, the second epoch mirrored. First runs (2026-12-02, seed 0): 46.8 % on TensorFlow
    # (47.2 with seed 1), 50.2 on JAX, 49.4 on PyTorch; the margin, 35 %, is set below all of them.
    run_dir = str(tmp_path / "run")
    proc = run_script(f"speedrun/{STEPS[-1]}", "--data-dir", real_cifar10_part, "--batch-size", "256",
                      "--epochs", "1.2", "--output-dir", run_dir, backend=backend)
    check_ok(proc)
    summary = summary_of(run_dir)
    assert summary["backend"] == backend and summary["data"]["train_images"] == 5000
    assert summary["training_steps"] == 23 and int(_model_of(run_dir).optimizer.iterations) == 23
    assert summary["test_accuracy"] > 0.35, summary["test_accuracy"]  # chance: 0.10


# --- bad input ------------------------------------------------------------------------------------------------


def _refused(capsys, *args):
    """The one line of a refusal that ends the last step before it trains (run in this process)."""
    return refusal_in_process(os.path.join(ROOT, "speedrun", STEPS[-1]), *args, capsys=capsys)


def test_a_batch_the_data_cannot_fill_is_one_line_and_writes_nothing(small_cifar10, tmp_path, capsys):
    run_dir = tmp_path / "run"
    message = _refused(capsys, "--data-dir", small_cifar10, "--subset", "100", "--output-dir", str(run_dir))
    assert "--batch-size 1024: the 100 training images do not fill one batch" in message
    assert not run_dir.exists()


def test_the_alternating_flip_refuses_digits(tiny_mnist, tmp_path, capsys):
    run_dir = tmp_path / "run"
    message = _refused(capsys, "--dataset", "mnist", "--data-dir", tiny_mnist, "--batch-size", "32", "--output-dir",
                       str(run_dir))
    assert "a mirrored digit is often another" in message
    assert not run_dir.exists()


def test_a_run_resumed_with_another_step_is_refused(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    summary = {"script": "step6_tta_keras", "arguments": {"epochs": 10.8}, "finished": False,
               "command": "python speedrun/step6_tta_keras.py"}
    (folder / "summary.json").write_text(json.dumps(summary))
    before = sorted(p.name for p in folder.iterdir())
    refusal_in_process(f"speedrun/{STEPS[-1]}", "--resume", str(folder), capsys=capsys,
                       needles=["a run of step6_tta_keras.py, not of step7_alternating_flip_keras.py"])
    assert sorted(p.name for p in folder.iterdir()) == before
    assert json.loads((folder / "summary.json").read_text()) == summary
