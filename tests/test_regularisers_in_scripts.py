"""The regularisers from a script's command line: they train, are recorded in summary.json, keep a resumed run's
values, stay in the saved model, and bad values get one line and no folder."""

import csv
import json
import os
import zipfile

import pytest

from conftest import ROOT, check_ok, refusal_in_process, run_in_process, run_script, summary_of

SCRIPT = "lenet/LeNet_dp_da_wd_keras.py"
ALL = ["--cutout", "8", "--random-erasing", "0.5", "--mixup", "1", "--label-smoothing", "0.1", "--ema", "0.9"]


def test_a_script_trains_with_them_records_them_and_saves_them_in_its_model(small_cifar10, tmp_path):
    out = str(tmp_path / "run")
    proc = run_script(SCRIPT, "--data-dir", small_cifar10, "--epochs", "2", "--subset", "512", "--output-dir", out,
                      *ALL)
    check_ok(proc)
    arguments = summary_of(out)["arguments"]
    assert (arguments["cutout"], arguments["random_erasing"], arguments["mixup"], arguments["cutmix"],
            arguments["label_smoothing"], arguments["ema"]) == (8, 0.5, 1.0, None, 0.1, 0.9)
    # The saved model holds the regularisers (they pass images through outside training) and evaluates.
    # --ema: the final evaluation scored the average of the weights, and the saved model is that average.
    proc = run_script("tools/evaluate.py", out, "--data-dir", small_cifar10)
    check_ok(proc)
    line = next(line for line in proc.stdout.splitlines() if line.startswith("test accuracy:"))
    assert f"{100 * summary_of(out)['test_accuracy']:.2f} %" in line
    import keras

    import cifar_common  # noqa: F401  registers the layers
    model = keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)
    names = [layer.name for layer in model.layers]
    assert names.index("cutout") == names.index("random_crop_flip") + 1
    assert names[names.index("cutout"):names.index("cutout") + 3] == ["cutout", "random_erasing", "mixup"]


def test_a_resumed_run_keeps_its_regularisers(small_cifar10, tmp_path, capsys):
    out = str(tmp_path / "run")
    check_ok(run_script(SCRIPT, "--data-dir", small_cifar10, "--epochs", "1", "--subset", "256", "--output-dir", out,
                        "--cutout", "8"))
    # A changed regulariser is refused (before the question whether the run has finished).
    code, _, err = run_in_process(SCRIPT, "--resume", out, "--cutout", "4", capsys=capsys)
    assert code == 2 and "--cutout 4 (the run's: 8)" in err


@pytest.mark.parametrize("flags, needles", [
    (["--mixup", "0"], ["--mixup", "above 0"]),
    (["--cutmix", "-1"], ["--cutmix", "above 0"]),
    (["--random-erasing", "1.5"], ["--random-erasing", "from 0 to 1"]),
    (["--label-smoothing", "1"], ["--label-smoothing", "less than 1"]),
    (["--ema", "1"], ["--ema", "less than 1"]),
    (["--cutout", "33"], ["--cutout 33", "32 x 32"]),
    (["--mixup", "1", "--cutmix", "1"], ["--mixup and --cutmix", "choose one"]),
    (["--ema", "0.9", "--val-split", "100"], ["--ema with --val-split"]),
])
def test_bad_values_are_one_line_and_write_nothing(flags, needles, tiny_cifar10, tmp_path, capsys):
    out = tmp_path / "run"
    refusal_in_process(SCRIPT, "--data-dir", tiny_cifar10, "--epochs", "1", "--output-dir", str(out), *flags,
                       capsys=capsys, needles=needles)
    assert not out.exists()


# doc/regularisation.md's edit: the optimizer line of the script becomes AdamW's.
SGD_LINE = "optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,"
ADAMW_LINE = "optimizer=keras.optimizers.AdamW(args.lr, weight_decay=0.1,"


def test_the_adamw_edit_of_the_doc_page_trains_with_adamw(small_cifar10, tmp_path):
    with open(os.path.join(ROOT, "doc", "regularisation.md")) as f:
        assert f"sed -i 's/{SGD_LINE}/{ADAMW_LINE}/' my_lenet_adamw.py" in f.read()
    with open(os.path.join(ROOT, SCRIPT)) as f:
        text = f.read()
    assert text.count(SGD_LINE) == 1
    script = tmp_path / "mine" / "my_lenet_adamw.py"
    script.parent.mkdir()
    script.write_text(text.replace(SGD_LINE, ADAMW_LINE))
    out = str(tmp_path / "run")
    check_ok(run_script(str(script), "--data-dir", small_cifar10, "--subset", "512", "--epochs", "3", "--lr", "3e-3",
                        "--weight-decay", "0", "--output-dir", out))
    with zipfile.ZipFile(os.path.join(out, "model.keras")) as archive:
        optimizer = json.loads(archive.read("config.json"))["compile_config"]["optimizer"]
    assert optimizer["class_name"] == "AdamW" and optimizer["config"]["weight_decay"] == pytest.approx(0.1)
    with open(os.path.join(out, "history.csv"), newline="") as f:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(f)]
    assert rates[0] == pytest.approx(3e-3)  # the script's schedule, from --lr
