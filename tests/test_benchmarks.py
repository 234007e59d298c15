"""The benchmark scripts run and report what they promise (on tiny settings: these are not timings)."""

import json
import os
import subprocess
import sys
import types

import pytest

from conftest import ROOT, check_ok, one_line_error, refusal_in_process


def _run(*args, env=None):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "KERAS_BACKEND": "tensorflow", **(env or {})})


def _refused(capsys, args, *needles):
    """A benchmark's refusal of bad input, before any work: run in this process (see run_in_process)."""
    return refusal_in_process(*args, capsys=capsys, needles=needles)


def test_speed_compares_the_collection_with_plain_keras(tmp_path, capsys):
    out = tmp_path / "speed.json"
    proc = _run("benchmarks/speed.py", "lenet/LeNet_dp_da_wd_keras.py", "--synthetic",
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
    # Several rounds: the median of each round's ratio, not the ratio of the medians (1.1 here).
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import speed

    plain = [{"seconds_per_epoch": s} for s in (10, 20, 30)]
    assert speed.paired_ratio([{"seconds_per_epoch": s} for s in (12, 22, 60)], plain) == 1.2
    assert report["backend"] == "tensorflow" and report["keras"] and report["steps"] == 4
    assert report["data"] == "synthetic, 102 test images"  # a fifth of 4 batches of 128: a full epoch's share
    assert "x plain" in proc.stdout
    # A figure file is never overwritten.
    _refused(capsys, ("benchmarks/speed.py", "lenet/LeNet_keras.py", "--synthetic", "--json", str(out)), "exists")


@pytest.mark.parametrize("script,flags", [("resnet/ResNet_keras.py", ("--depth", "8", "--batch-size", "128")),
                                          ("speedrun/step7_alternating_flip_keras.py", ("--batch-size", "64"))])
def test_speed_adds_the_plain_pytorch_loop(small_cifar10, tmp_path, script, flags, capsys):
    out = tmp_path / "speed.json"
    proc = _run("benchmarks/speed.py", script, *flags, "--pytorch", "--data-dir", small_cifar10, "--steps", "2",
                "--epochs", "2", "--repeats", "1", "--json", str(out))
    check_ok(proc)
    report = json.loads(out.read_text())
    assert list(report["figures"]) == ["plain", "plain+augment", "collection", "pytorch"]
    batch = int(flags[-1])
    for name, figures in report["figures"].items():  # every contender trained the same 2 batches an epoch
        (one_round,) = figures["rounds"]
        assert len(one_round["epoch_seconds"]) == 2 and one_round["train_images"] == 2 * batch, name
    assert report["ratio_to_plain"]["pytorch"] > 0 and report["pytorch_version"].startswith("2.")
    _refused(capsys, ("benchmarks/speed.py", "lenet/LeNet_keras.py", "--pytorch", "--synthetic"),
             "--pytorch", "resnet/ResNet_keras.py", "speedrun/step7_alternating_flip_keras.py")


def test_pytorch_airbench94_is_the_speedrun_network():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import numpy as np
    import plain_torch
    import torch

    from cifar_common import initializers
    sys.path.insert(0, os.path.join(ROOT, "results"))
    from rows import BY_NAME

    import keras

    images = np.random.default_rng(0).normal(size=(20, 32, 32, 3)).astype("float32")
    kernel = initializers.whitening_kernel(images)  # HWIO, as Keras holds it
    whitening = torch.from_numpy(kernel).permute(3, 2, 0, 1)
    model = plain_torch.Airbench94(whitening)
    # The same whitening as a Keras convolution with that kernel (an asymmetric kernel: a transposition shows).
    conv = keras.layers.Conv2D(kernel.shape[-1], 2, use_bias=False)
    conv.build((None, 32, 32, 3))
    conv.kernel.assign(kernel)
    with torch.no_grad():
        ours = model.whiten(torch.from_numpy(images[:2]).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, np.asarray(conv(images[:2])), atol=1e-4)
    # Keras's weights and moving statistics (step 6's: step 7 adds the alternating flip's epoch counter), and
    # PyTorch's batch-norm scales, held at 1 (Keras has scale=False).
    scales = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert scales == 2 * (64 + 256 + 256)
    assert BY_NAME["speedrun-7"].parameters == BY_NAME["speedrun-6"].parameters + 1
    assert plain_torch.weights_count(model) == BY_NAME["speedrun-6"].parameters + scales
    frozen = [name for name, w in model.named_parameters() if not w.requires_grad]
    assert frozen == ["whiten.weight"] + [f"groups.{g}.norm{i}.weight" for g in range(3) for i in (1, 2)]
    # The first group's first convolution passes its 24 input channels through (identity initialisation).
    x = torch.randn(2, 24, 8, 8)
    assert torch.allclose(model.groups[0].conv1(x)[:, :24], x, atol=1e-6)
    assert model(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    # Upstream's optimizer: a rate per image of a summed loss, the biases' 64 times it, and an L2 term of
    # wd / rate in each group, so that every group decays by the same rate * L2 = 0.0153 * batch / 1024 / 7.67.
    dataset = types.SimpleNamespace(x_train=images, mean=0.0, std=1.0, num_classes=10)
    recipe = plain_torch.airbench94(types.SimpleNamespace(batch_size=1024), dataset, 3)
    biases, others = recipe.optimizer.param_groups
    kilostep = 1024 * (1 + 1 / (1 - 0.85))
    assert others["lr"] == pytest.approx(11.5 / kilostep) and biases["lr"] == pytest.approx(64 * 11.5 / kilostep)
    for group in (biases, others):
        assert group["lr"] * group["weight_decay"] == pytest.approx(0.0153 * 1024 / kilostep)
        assert group["momentum"] == 0.85 and group["nesterov"]
    assert len(biases["params"]) == 6 and all(p.ndim == 1 for p in biases["params"])  # the six BN biases
    assert recipe.summed and recipe.whole_batches


def test_pytorch_baseline_has_the_keras_network_and_its_crop():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import plain_torch
    import torch

    from cifar_common import train
    sys.path.insert(0, os.path.join(ROOT, "results"))
    from rows import ROWS
    from test_augment import _locate, _unique_images
    from test_models import TinyData

    rows = {r.name: r.parameters for r in ROWS}
    for depth in (20, 32, 110):  # the Keras network's weights, moving statistics included
        assert plain_torch.weights_count(plain_torch.PreactResNet(depth)) == rows[f"resnet-{depth}"]
    keras_model = train.import_script("resnet/ResNet_keras.py").build_model(TinyData(10), 1e-4, depth=20)
    assert keras_model.count_params() == rows["resnet-20"]
    images = _unique_images(64)
    out = plain_torch.random_crop_flip(torch.from_numpy(images).permute(0, 3, 1, 2), 4,
                                       torch.Generator().manual_seed(0)).permute(0, 2, 3, 1).numpy()
    found = [_locate(o, i) for o, i in zip(out, images)]
    assert None not in found  # every output a window of its own zero-padded (or mirrored) image
    assert {f[2] for f in found} == {False, True} and len({f[:2] for f in found}) > 20


def test_tf_data_stall_times_both_feeds(small_cifar10, tmp_path, capsys):
    out = tmp_path / "stall.json"
    proc = _run("benchmarks/tf_data_stall.py", "lenet/LeNet_keras.py", "--data-dir", small_cifar10, "--steps", "2",
                "--epochs", "2", "--runs", "1", "--json", str(out))
    check_ok(proc)
    feeds = json.loads(out.read_text())["feeds"]
    for feed in ("arrays", "batches"):
        (run,) = feeds[feed]["runs"]
        assert len(run["after_training"]) == len(run["after_validation"]) == len(run["epoch_seconds"]) == 2
        assert all(0 <= w < e for w, e in zip(run["after_training"], run["epoch_seconds"]))
    _refused(capsys, ("benchmarks/tf_data_stall.py", "lenet/LeNet_keras.py", "--data-dir", small_cifar10,
                      "--json", str(out)), "exists")


def test_step_times_the_bare_step_with_and_without_the_crop(tmp_path, capsys):
    for flags in ((), ("--no-augment",)):
        out = tmp_path / f"step{len(flags)}.json"
        check_ok(_run("benchmarks/step.py", "resnet/ResNet_keras.py", "--depth", "8", "--steps", "3", *flags,
                      "--json", str(out)))
        report = json.loads(out.read_text())
        assert report["augment"] is not flags and len(report["step_seconds"]) == 3
        assert report["ms_per_step"] == pytest.approx(1000 * sorted(report["step_seconds"])[1], abs=0.1)
    _refused(capsys, ("benchmarks/step.py", "resnet/ResNet_keras.py", "--width", "3"), "--width")


def test_grouped_conv_times_both_convolutions_of_each_case(tmp_path, capsys):
    out = tmp_path / "grouped.json"
    check_ok(_run("benchmarks/grouped_conv.py", "--steps", "1", "--batch-size", "4", "--network-steps", "0",
                  "--json", str(out)))
    report = json.loads(out.read_text())
    kept = json.loads(open(os.path.join(ROOT, "benchmarks/results/2026-12-06-grouped-conv-tensorflow.json")).read())
    assert [c["case"] for c in report["cases"]] == [c["case"] for c in kept["cases"]] and report["networks"] == []
    assert all(c["ms_keras"] > 0 and c["speed_up"] == pytest.approx(c["ms_keras"] / c["ms_grouped_conv2d"])
               for c in report["cases"])
    _refused(capsys, ("benchmarks/grouped_conv.py", "--json", str(out)), "exists")


def test_zoo_times_the_rows_it_is_given(tmp_path, capsys):
    out = tmp_path / "zoo.json"
    check_ok(_run("benchmarks/zoo.py", "zoo-mobilenet-v3-small", "--steps", "1", "--json", str(out)))
    (row,) = json.loads(out.read_text())["rows"]
    assert row["row"] == "zoo-mobilenet-v3-small" and row["parameters"] == 1_855_416
    assert row["seconds_an_epoch"] == pytest.approx(row["ms_a_step"] * 391 / 1000)
    _refused(capsys, ("benchmarks/zoo.py", "zoo-mobilenet-v9"), "zoo-mobilenet-v9", "no such row")


def test_speed_refuses_an_unknown_model_flag(small_cifar10):
    proc = _run("benchmarks/speed.py", "resnet/ResNet_keras.py", "--depth", "8", "--width", "2",
                "--data-dir", small_cifar10, "--steps", "1", "--epochs", "1", "--repeats", "1")
    one_line_error(proc, "plain failed", "--width: not a model flag", "--depth")


def test_augment_variants_are_exact_and_timed(tmp_path, capsys):
    out = tmp_path / "variants.json"
    proc = _run("benchmarks/augment_variants.py", "--steps", "2", "--epochs", "2", "--rounds", "1",
                "--variants", "select,gather_padded", "--json", str(out))
    check_ok(proc)
    report = json.loads(out.read_text())
    assert report["exact"] == {v: {"float32": True, "bfloat16": True} for v in ("select", "gather_padded")}
    assert set(report["augmentation_ms_per_batch"]) == {"select", "gather_padded"}
    _refused(capsys, ("benchmarks/augment_variants.py", "--variants", "fft"), "fft")


_SPREADS = """
import runpy, sys
import numpy as np
sys.path.insert(0, "tests")
from test_models import TinyData
from cifar_common import train
if sys.argv[1] == "keras21":
    runpy.run_path("benchmarks/initialiser.py")["use_keras21_he_normal"]()
model = train.import_script("lenet/LeNet_dp_da_wd_keras.py").build_model(TinyData(10), 1e-4)
kernels = [w for w in model.weights if w.path.endswith("kernel")]
# Each kernel's spread, in units of sqrt(2 / fan_in), and its largest weight in the same units.
for w in kernels:
    v = np.asarray(w.numpy()).reshape(-1, w.shape[-1])
    scale = np.sqrt(2 / v.shape[0])
    print(v.std() / scale, np.abs(v).max() / scale)
"""


@pytest.mark.parametrize("choice,spread", [("keras3", 1.0), ("keras21", 0.8796)])
def test_initialiser_gives_the_spread_of_its_keras_version(choice, spread):
    proc = _run("-c", _SPREADS, choice)
    check_ok(proc)
    rows = [tuple(map(float, line.split())) for line in proc.stdout.strip().splitlines()[-5:]]
    # The two large dense layers (48,000 and 10,080 weights) pin the spread; every layer is cut at 2 sigma
    # of the requested spread: sqrt(2 / fan_in) for Keras 2.1, sqrt(2 / fan_in) / 0.8796 for Keras 3.
    for std, largest in rows[2:4]:
        assert std == pytest.approx(spread, abs=0.02)
    for std, largest in rows:
        assert largest <= 2 * spread / 0.8796 + 1e-6


def test_initialiser_runs_the_script_and_records_itself(small_cifar10, tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    proc = _run("benchmarks/initialiser.py", "keras21", "lenet/LeNet_keras.py", "--data-dir", small_cifar10,
                "--subset", "128", "--epochs", "1", "--output-dir", run_dir)
    check_ok(proc)
    assert proc.stdout.strip().splitlines()[-1].startswith("Test accuracy: ")
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["command"].startswith("python benchmarks/initialiser.py keras21 lenet/LeNet_keras.py")
    _refused(capsys, ("benchmarks/initialiser.py", "keras2", "lenet/LeNet_keras.py"), "keras21")


def test_tensorboard_cost_times_the_callback_against_the_epoch(small_cifar10, tmp_path, capsys):
    out = tmp_path / "tb.json"
    proc = _run("benchmarks/tensorboard_cost.py", "lenet/LeNet_dp_da_wd_keras.py", "--data-dir", small_cifar10,
                "--subset", "512", "--epochs", "3", "--json", str(out))
    check_ok(proc)
    report = json.loads(out.read_text())
    assert len(report["epoch_seconds"]) == 3 and len(report["tensorboard_seconds"]) == 3
    # The callback's hooks were timed (each epoch writes its scalars), and take a part of the epoch.
    assert all(0 < t < e for t, e in zip(report["tensorboard_seconds"], report["epoch_seconds"]))
    assert report["share"] == pytest.approx(report["tensorboard_seconds_per_epoch"] / report["epoch_seconds_median"])
    assert "ms in the first epoch (the graph)" in proc.stdout
    _refused(capsys, ("benchmarks/tensorboard_cost.py", "lenet/LeNet_keras.py", "--json", str(out)), "exists")


def test_the_bfloat16_figures_are_those_of_the_kept_runs_and_step_timings():
    """The command line's page, benchmarks/README.md and doc/mixed-precision.md quote the bfloat16 comparison from benchmarks/results/: a changed
    run or a retyped figure fails here."""
    import csv

    kept = os.path.join(ROOT, "benchmarks", "results")
    histories = {}
    for precision, policy in (("float32", "float32"), ("bfloat16", "mixed_bfloat16")):
        folder = os.path.join(kept, "2026-12-02-bfloat16-resnet20-xeon", precision)
        with open(os.path.join(folder, "summary.json")) as f:
            summary = json.load(f)
        assert summary["dtype_policy"] == policy and summary["finished"] and summary["epochs"] == 10
        assert summary["data"]["train_images"] == 10_000 and summary["arguments"]["seed"] == 0
        with open(os.path.join(folder, "history.csv")) as f:
            histories[precision] = list(csv.DictReader(f))
        assert float(histories[precision][-1]["test_accuracy"]) == summary["test_accuracy"]
    final = {p: f"{100 * float(h[-1]['test_accuracy']):.2f} %" for p, h in histories.items()}
    gap = max(abs(float(a["loss"]) - float(b["loss"])) for a, b in zip(histories["float32"], histories["bfloat16"]))
    steps = {}
    for key, name in (("", "xeon"), ("-bfloat16", "bfloat16-xeon"), ("-2", "xeon-2"),
                      ("-bfloat16-2", "bfloat16-xeon-2")):  # two pairs of step timings
        with open(os.path.join(kept, f"2026-12-02-step-resnet20-tensorflow-{name}.json")) as f:
            steps[key] = json.load(f)["ms_per_step"]
    ratio = f"{steps['-bfloat16'] / steps['']:.2f}"
    second = f"{steps['-bfloat16-2']} against {steps['-2']} ms, {steps['-bfloat16-2'] / steps['-2']:.2f}"
    for readme in (os.path.join("doc", "command-line.md"), os.path.join("benchmarks", "README.md"),
                   os.path.join("doc", "mixed-precision.md")):
        with open(os.path.join(ROOT, readme)) as f:
            text = " ".join(f.read().split())
        for figure in (*final.values(), f"within {gap:.3f}", f"{ratio} times as long"):
            assert figure in text, (readme, figure)
    with open(os.path.join(ROOT, "benchmarks", "README.md")) as f:
        text = f.read()
    assert second in " ".join(text.split())
    assert f"| {steps['']} |" in text and f"| {steps['-bfloat16']} |" in text


def test_the_xeon_speed_table_is_that_of_its_json():
    kept = os.path.join(ROOT, "benchmarks", "results", "2026-12-02-speed-resnet20-tensorflow-pytorch-xeon.json")
    with open(kept) as f:
        report = json.load(f)
    with open(os.path.join(ROOT, "benchmarks", "README.md")) as f:
        text = f.read()
    table = text[text.index("**The same on an AVX-512 Xeon**"):text.index("**The bare step**")]
    labels = {"plain": "plain Keras, no augmentation", "plain+augment": "plain Keras with the crop-and-flip layer",
              "collection": "**the collection**", "pytorch": "plain PyTorch loop"}
    rounds = {}
    for name, label in labels.items():
        figures = report["figures"][name]
        rounds[name] = [r["seconds_per_epoch"] for r in figures["rounds"]]
        ratio = "1" if name == "plain" else f"{report['ratio_to_plain'][name]:.2f}"
        ratio = f"**{ratio}**" if name == "collection" else ratio
        row = (f"| {label} | {rounds[name][0]:.1f}, {rounds[name][1]:.1f} | {figures['seconds_per_epoch']:.1f} "
               f"| {ratio} |")
        assert row in table, row
    shares = [p / c for p, c in zip(rounds["pytorch"], rounds["collection"])]
    assert f"{shares[0]:.2f} and {shares[1]:.2f} of the collection's" in " ".join(table.split())
    assert report["machine"].startswith("Intel(R) Xeon(R)") and report["pytorch_version"] == "2.13.0+cpu"


def test_wall_times_a_row_from_start_to_exit(small_cifar10, tmp_path, capsys):
    out = tmp_path / "wall.json"
    runs = tmp_path / "runs"
    proc = _run("benchmarks/wall.py", "speedrun-7", "--seed", "3", "--data-dir", small_cifar10, "--runs-dir",
                str(runs), "--json", str(out), "--subset", "128", "--batch-size", "64", "--epochs", "1")
    check_ok(proc)
    report = json.loads(out.read_text())
    assert report["command"] == ("python speedrun/step7_alternating_flip_keras.py --seed 3 --subset 128 "
                                 "--batch-size 64 --epochs 1")
    summary = json.loads((runs / "speedrun-7-seed-3" / "summary.json").read_text())
    assert report["test_accuracy"] == summary["test_accuracy"] and report["training_steps"] == 2
    # The process outlasts its training: start-up, data, whitening and the six-view evaluation come on top.
    assert report["process_seconds"] > summary["wall_seconds"] > summary["training_seconds"] > 0
    assert report["outside_training_seconds"] == pytest.approx(
        report["process_seconds"] - summary["training_seconds"], abs=0.1)
    assert 0 < report["cores_busy"] <= os.cpu_count() + 0.5
    # Neither the figures nor the run folder is overwritten.
    _refused(capsys, ("benchmarks/wall.py", "speedrun-7", "--seed", "3", "--runs-dir", str(runs)), "exists")
    _refused(capsys, ("benchmarks/wall.py", "speedrun-9", "--runs-dir", str(runs)), "speedrun-9")
    _refused(capsys, ("benchmarks/wall.py", "speedrun-7", "--runs-dir", str(runs), "--json",
                      str(tmp_path / "no" / "w.json")), "--json", "does not exist")


def test_the_speedrun_benchmark_figures_are_those_of_their_json():
    def kept(name):
        with open(os.path.join(ROOT, "benchmarks", "results", f"2026-12-02-{name}.json")) as f:
            return json.load(f)

    with open(os.path.join(ROOT, "benchmarks", "README.md")) as f:
        text = f.read()
    section = text[text.index("## The speed-run (airbench94) on a CPU"):text.index("## augment_variants.py")]
    flat = " ".join(section.split())
    wall = kept("wall-speedrun7-tensorflow")
    assert (f"| `{wall['command']}` | {wall['process_seconds'] / 60:.1f} min | {wall['training_seconds']:.1f} s "
            f"| {wall['outside_training_seconds']:.1f} s | {100 * wall['test_accuracy']:.2f} % |") in section
    assert wall["cores_busy"] > 1.8 and wall["load_average_before"][0] < 1  # nothing else ran
    speed = kept("speed-speedrun7-tensorflow-pytorch")
    labels = {"plain": "plain Keras, no augmentation",
              "plain+augment": "plain Keras with the shifts and the alternating flip",
              "collection": "**the collection** (`speedrun/step7_alternating_flip_keras.py`)",
              "pytorch": "plain PyTorch loop (`plain_torch.py --network airbench94`)"}
    for name, label in labels.items():
        figures = speed["figures"][name]
        rounds = ", ".join(f"{r['seconds_per_epoch']:.1f}" for r in figures["rounds"])
        ratio = "1" if name == "plain" else f"{speed['ratio_to_plain'][name]:.2f}"
        ratio = f"**{ratio}**" if name == "collection" else ratio
        assert f"| {label} | {rounds} | {figures['seconds_per_epoch']:.1f} | {ratio} |" in section, name
    epochs = {name: f["seconds_per_epoch"] for name, f in speed["figures"].items()}
    assert f"{epochs['pytorch'] / epochs['collection']:.2f} times the collection's epoch" in flat
    assert speed["batch_size"] == 1024 and speed["steps"] == 8 and "family 25 model 17" in speed["machine"]
    steps = {p: kept(f"step-speedrun7-tensorflow{p}")["ms_per_step"] for p in ("", "-bfloat16")}
    assert f"| float32 | {steps['']:,.1f} |" in section
    assert f"| `--mixed-precision` (bfloat16) | {steps['-bfloat16']:,.1f} |" in section
    assert f"{steps[''] / steps['-bfloat16']:.2f} times" in flat and f"takes {steps[''] / 1000:.2f} s" in flat
    with open(os.path.join(ROOT, "doc", "speedrun.md")) as f:  # the doc page quotes the same figures
        page = " ".join(f.read().split())
    for figure in (f"took {wall['process_seconds'] / 60:.1f} minutes", f"{speed['ratio_to_plain']['collection']:.2f} "
                   "times that of the same network", f"{epochs['pytorch'] / epochs['collection']:.2f} times the"):
        assert figure in page, figure


def test_the_initialiser_figures_are_those_of_the_kept_runs():
    """doc/initialisation.md's table quotes the runs kept in benchmarks/results/ and results/."""
    kept = os.path.join(ROOT, "benchmarks", "results")

    def summary(folder):
        with open(os.path.join(folder, "summary.json")) as f:
            return json.load(f)

    with open(os.path.join(ROOT, "doc", "initialisation.md")) as f:
        text = " ".join(f.read().split())
    for version in ("keras3", "keras21"):
        finals = [100 * summary(os.path.join(kept, "2026-11-23-initialiser-3-epochs", f"{version}-seed{seed}"))
                  ["test_accuracy"] for seed in range(3)]
        assert (", ".join(f"{x:.2f}" for x in finals) + f" %: mean {sum(finals) / 3:.2f} %") in text, version
    for folder in (os.path.join(ROOT, "results", "lenet-dp-da-wd", "seed-0"),
                   os.path.join(kept, "2026-11-23-initialiser-keras21-LeNet_dp_da_wd")):
        s = summary(folder)
        assert s["finished"] and s["epochs"] == 200
        assert (f"{100 * s['test_accuracy']:.2f} % (best {100 * s['best_epoch']['test_accuracy']:.2f} %, epoch "
                f"{s['best_epoch']['epoch']})") in text, folder


def test_the_grouped_convolution_figures_are_those_of_their_json():
    def kept(backend):
        with open(os.path.join(ROOT, "benchmarks", "results", f"2026-12-06-grouped-conv-{backend}.json")) as f:
            return json.load(f)

    with open(os.path.join(ROOT, "benchmarks", "README.md")) as f:
        text = f.read()
    section = text[text.index("## grouped_conv.py"):text.index("## augment_variants.py")]
    tf, jax = kept("tensorflow"), kept("jax")
    assert (tf["backend"], jax["backend"]) == ("tensorflow", "jax") and "family 6 model 167" in tf["machine"]

    def cells(figures):
        return (f"{figures['ms_keras']:,.0f} ms | {figures['ms_grouped_conv2d']:,.0f} ms | "
                f"{figures['speed_up']:.1f}x")
    for a, b in zip(tf["cases"], jax["cases"]):
        assert f"| {a['case']} | {a['groups']} | {cells(a)} | {cells(b)} |" in section, a["case"]
    for a, b in zip(tf["networks"], jax["networks"]):
        assert f"`{a['script']}" in section and f" | {cells(a)} | {cells(b)} |" in section, a["script"]
        assert a["speed_up"] > 1.5 and b["speed_up"] > 1.5  # what the scripts' use of GroupedConv2D rests on
    flat = " ".join(section.split())
    for backend, kept_ in (("TensorFlow's", tf), ("JAX's", jax)):
        ups = [n["speed_up"] for n in kept_["networks"]]
        assert f"{min(ups):.0f} to {max(ups):.0f} times" in flat and backend in flat


def test_the_zoo_table_is_that_of_the_rows_the_counts_and_the_kept_timings():
    """doc/architectures.md's zoo table: each row's command and the zoo's figure (results/rows.py), the count
    tests/test_zoo.py pins, and the MACs and minutes an epoch of benchmarks/zoo.py's kept run."""
    sys.path.insert(0, os.path.join(ROOT, "results"))
    from rows import ROWS
    from test_zoo import COUNTS, _zoo_rows

    with open(os.path.join(ROOT, "benchmarks", "results", "2026-12-06-zoo-tensorflow.json")) as f:
        kept = json.load(f)
    assert kept["backend"] == "tensorflow" and "family 6 model 167" in kept["machine"] and kept["batch_size"] == 128
    timed = {r["row"]: r for r in kept["rows"]}
    counts = {row.name: count for script, flags, count in COUNTS for row in _zoo_rows(script, flags)}
    with open(os.path.join(ROOT, "doc", "architectures.md")) as f:
        page = f.read()
    zoo = [row for row in ROWS if row.name.startswith("zoo-")]
    assert sorted(timed) == sorted(row.name for row in zoo)
    for row in zoo:
        t = timed[row.name]
        assert t["command"] == row.command and t["parameters"] == row.parameters
        assert (f"| {row.model.replace(' (zoo recipe)', '')} | `{row.command}` | {counts[row.name]:,}" in page
                and f"| {t['macs_per_image'] / 1e6:,.1f} M | {row.reference:.2f} % |" in page
                and f"| {t['seconds_an_epoch'] / 60:,.1f} min |" in page), row.name
        name = row.model.replace(" (zoo recipe)", "")
        line = next(line for line in page.splitlines() if line.startswith(f"| {name} | `{row.command}`"))
        assert line.endswith(f"| {t['seconds_an_epoch'] / 60:,.1f} min |"), line
    minutes = {r: timed[r]["seconds_an_epoch"] / 60 for r in timed}
    flat = " ".join(page.split())
    assert f"MobileNet (91.51 % in the zoo, {minutes['zoo-mobilenet']:.1f} minutes an epoch here)" in flat
    assert minutes["zoo-pnasnet-a"] > 1.5 * minutes["zoo-alexnet"]  # "nearly twice as long"
    assert 3.5 < minutes["zoo-shufflenet-g8"] / minutes["zoo-shufflenet-g1"] < 4.5  # "four times"
    assert all(minutes[r] > 40 for r in ("zoo-densenet-121-32", "zoo-googlenet", "zoo-resnext-29-2x64d"))


def _sgd_steps(optimizer_class, grads, momentum, lr, knots, decay):
    """The weights after ``grads`` steps of a Keras optimizer (``optimizer_class``) or, with it None, of
    torch.optim.SGD with upstream's two groups: "kernel" at the rate, "beta" at 64 times it with a 64th of
    the L2 term, under LambdaLR with the same piecewise-linear multiple."""
    import numpy as np

    start = [np.linspace(-1, 1, 3, dtype="float32"), np.linspace(0.5, -0.5, 2, dtype="float32")]
    if optimizer_class is not None:
        import keras

        from cifar_common import schedules

        variables = [keras.Variable(start[0], name="kernel"), keras.Variable(start[1], name="beta")]
        optimizer = optimizer_class(schedules.PiecewiseLinear(lr, knots), momentum=momentum, nesterov=True,
                                    weight_decay=decay / (1 - momentum), rate_multipliers={r"beta$": 64.0})
        for step in grads:
            optimizer.apply([keras.ops.convert_to_tensor(g, "float32") for g in step], variables)
        return [v.numpy() for v in variables]
    import torch

    params = [torch.nn.Parameter(torch.tensor(s)) for s in start]
    optimizer = torch.optim.SGD([dict(params=[params[0]], lr=lr, weight_decay=decay),
                                 dict(params=[params[1]], lr=64 * lr, weight_decay=decay / 64)],
                                momentum=momentum, nesterov=True)
    steps, multiples = zip(*knots)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: float(np.interp(step, steps, multiples)))
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g, dtype=torch.float32)
        optimizer.step()
        schedule.step()
    return [p.detach().numpy() for p in params]


def test_sgd_convention_pytorch_steps_as_torch_optim_sgd_with_upstreams_groups():
    """airbench94's optimizer (two groups, Nesterov, L2 through the velocity, a rate changing every step) and
    the tool's PyTorchSGD take the same steps; Keras's own SGD, the scripts', does not."""
    import numpy as np

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import sgd_convention

    from cifar_common import optimizers

    rng = np.random.default_rng(0)
    grads = [(rng.normal(size=3).astype("float32"), rng.normal(size=2).astype("float32")) for _ in range(12)]
    setting = dict(momentum=0.85, lr=0.05, knots=((0, 0.2), (3, 1.0), (12, 0.07)), decay=0.0133)
    upstream = _sgd_steps(None, grads, **setting)
    ours = _sgd_steps(sgd_convention.pytorch_sgd(), grads, **setting)
    keras_sgd = _sgd_steps(optimizers.ScaledRateSGD, grads, **setting)
    for a, b, k in zip(ours, upstream, keras_sgd):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert np.abs(k - b).max() > 1e-3  # the difference the tool measures


def test_sgd_convention_trains_a_step_with_pytorchs_sgd_and_refuses_other_scripts(small_cifar10, tmp_path, capsys):
    import zipfile

    run_dir = tmp_path / "run"
    proc = _run("benchmarks/sgd_convention.py", "pytorch", "speedrun/step7_alternating_flip_keras.py", "--data-dir",
                small_cifar10, "--subset", "128", "--batch-size", "64", "--epochs", "1", "--output-dir", str(run_dir))
    check_ok(proc)
    assert proc.stdout.strip().splitlines()[-1].startswith("Test accuracy: ")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["command"].startswith("python benchmarks/sgd_convention.py pytorch speedrun/step7_alternating")
    with zipfile.ZipFile(run_dir / "model.keras") as z:
        optimizer = json.loads(z.read("config.json"))["compile_config"]["optimizer"]
    assert optimizer["registered_name"] == "benchmarks>PyTorchSGD"
    # The script's decoupled decay converted back to upstream's L2 term, wd / lr in a mean loss's units.
    assert optimizer["config"]["coupled_decay"] == pytest.approx(0.0153 / 11.5)
    # A run resumes with the optimizer whose velocity its checkpoint holds, and no other.
    step7 = "speedrun/step7_alternating_flip_keras.py"
    _refused(capsys, ("benchmarks/sgd_convention.py", "keras", step7, "--resume", str(run_dir)),
             "started with pytorch's SGD")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "summary.json").write_text(json.dumps({"command": f"python {step7} --seed 0", "finished": False}))
    _refused(capsys, ("benchmarks/sgd_convention.py", "pytorch", step7, "--resume", str(plain)),
             "started with keras's SGD")
    _refused(capsys, ("benchmarks/sgd_convention.py", "pytorch", "lenet/LeNet_keras.py"),
             "not optimizers.ScaledRateSGD")
    _refused(capsys, ("benchmarks/sgd_convention.py", "torch", "speedrun/step7_alternating_flip_keras.py"), "torch")
