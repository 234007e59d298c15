"""benchmarks/regularisers.py: each variant is its network's recipe with one flag, its runs are filed only
as that variant, and doc/regularisation.md's table pairs the seeds of the filed runs."""

import dataclasses
import importlib.util
import json
import os
import sys

import pytest

from conftest import ROOT, refusal_in_process

sys.path.insert(0, os.path.join(ROOT, "results"))
import rows  # noqa: E402

_spec = importlib.util.spec_from_file_location("regulariser_measurements",
                                               os.path.join(ROOT, "benchmarks", "regularisers.py"))
measure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(measure)


def _recipe_arguments(network):
    """The arguments a run of the network's recipe at its budget records (the regularisers off)."""
    row_name, epochs, _ = measure.NETWORKS[network]
    script = rows.BY_NAME[row_name].script
    return {"epochs": float(epochs), "subset": None, "cutout": 0, "random_erasing": 0.0, "mixup": None,
            "cutmix": None, "ema": 0.0, "label_smoothing": rows.script_label_smoothing(script),
            **{flag[2:]: value for flag, value in zip(rows.BY_NAME[row_name].args[::2],
                                                      rows.BY_NAME[row_name].args[1::2])}}


@pytest.mark.parametrize("network", list(measure.NETWORKS))
def test_each_variant_is_its_networks_recipe_with_one_flag(network):
    row_name, epochs, variants = measure.NETWORKS[network]
    recipe = {"arguments": _recipe_arguments(network)}
    none = measure.VARIANTS[f"{network}/none"]
    assert rows.recipe_differences(recipe, none) == {}
    # "none" is the row's own recipe but for its length.
    assert list(rows.recipe_differences(recipe, rows.BY_NAME[row_name])) == ["--epochs"]
    assert none.epochs == epochs != rows.BY_NAME[row_name].epochs
    for variant, flags in variants.items():
        if variant != "none":
            assert list(rows.recipe_differences(recipe, measure.VARIANTS[f"{network}/{variant}"])) == [flags[0]]
    assert {f[0] for v, f in variants.items() if v != "none"} == {"--cutout", "--random-erasing", "--mixup",
                                                                 "--cutmix", "--label-smoothing", "--ema"}


def _file(results, name, seed, accuracy, **arguments):
    folder = results / name / f"seed-{seed}"
    folder.mkdir(parents=True)
    row = {v.name: v for v in measure.VARIANTS.values()}[name]
    summary = {"finished": True, "parameters": row.parameters, "test_accuracy": accuracy / 100,
               "started": f"2026-12-03T1{seed}:00:00",
               "arguments": {**_recipe_arguments(name.split("-")[0]), "seed": seed, **arguments}}
    (folder / "summary.json").write_text(json.dumps(summary))
    for other in rows.FILED[1:]:
        (folder / other).write_text("")


def test_the_table_compares_each_variant_with_none_over_the_seeds_both_have(tmp_path):
    _file(tmp_path, "speedrun-none", 0, 93.0)
    _file(tmp_path, "speedrun-none", 1, 94.0)
    _file(tmp_path, "speedrun-cutout", 0, 93.5, cutout=16)
    _file(tmp_path, "speedrun-cutout", 2, 90.0, cutout=16)  # seed 2 has no run without: not compared
    lines = {line.split(" | ")[1]: line for line in measure.table(str(tmp_path)).splitlines()[2:]
             if line.startswith("| `speedrun-7`")}
    assert "| 93.00 (seed 0), 94.00 (seed 1) | 93.50 % |  |" in lines["none"]
    assert "| 93.50 (seed 0), 90.00 (seed 2) | 91.75 % | +0.50 points (1 seed) |" in lines["cutout"]
    assert "| not run yet |  |  |" in lines["mixup"]
    # A run without Cutout filed as the Cutout variant is refused, naming its folder.
    _file(tmp_path, "speedrun-cutout", 3, 95.0)
    with pytest.raises(rows.ResultsError, match=r"speedrun-cutout/seed-3: not row speedrun-cutout's recipe: "
                                                r"--cutout 0, the row's 16"):
        measure.table(str(tmp_path))


def test_the_pages_table_is_the_one_the_filed_runs_give():
    with open(measure.DOC) as f:
        text = f.read()
    assert measure.updated_doc(text) == text, "run python benchmarks/regularisers.py --table"


def test_a_variant_trains_resumes_and_is_filed_once(small_cifar10, tmp_path, monkeypatch, capsys):
    base = rows.BY_NAME["lenet-dp-da-wd"]
    tiny = dataclasses.replace(base, name="lenet-cutout", args=("--epochs", "2", "--subset", "256", "--cutout", "8"),
                               epochs=2)
    monkeypatch.setattr(measure, "VARIANTS", {"lenet/cutout": tiny})
    monkeypatch.setattr(measure, "RESULTS", str(tmp_path / "filed"))
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    argv = ["regularisers.py", "lenet/cutout", "--seeds", "3", "--data-dir", small_cifar10,
            "--runs-dir", str(tmp_path / "runs")]
    monkeypatch.setattr(sys, "argv", argv)
    measure.main()
    filed = tmp_path / "filed" / "lenet-cutout" / "seed-3"
    assert sorted(os.listdir(filed)) == sorted(rows.FILED)
    summary = json.loads((filed / "summary.json").read_text())
    assert summary["arguments"]["cutout"] == 8 and summary["arguments"]["seed"] == 3 and summary["finished"]
    assert "filed as" in capsys.readouterr().out
    measure.main()  # the same command again: nothing to train, nothing filed twice
    assert "filed already" in capsys.readouterr().out
    assert os.listdir(tmp_path / "filed" / "lenet-cutout") == ["seed-3"]


@pytest.mark.parametrize("args, needle", [(["speedrun/bogus"], "unknown variant speedrun/bogus"),
                                          (["speedrun/none", "--", "--epochs", "2"], "flags after --"),
                                          (["--seeds", "-1", "speedrun/none"], "--seeds")])
def test_bad_input_is_one_line(args, needle, tmp_path, capsys):
    refusal_in_process("benchmarks/regularisers.py", *args, "--runs-dir", str(tmp_path / "r"), capsys=capsys,
                       needles=[needle])
    assert not (tmp_path / "r").exists()
