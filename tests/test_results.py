"""results/: the README's and doc/speedrun.md's tables are the ones the filed runs give, the speed-run's figure
draws them, and reproduce.py resumes, stops and files runs."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, check_ok, one_line_error, refusal_in_process, run_script

sys.path.insert(0, os.path.join(ROOT, "results"))
import rows  # noqa: E402
import table  # noqa: E402

REPRODUCE = "results/reproduce.py"


@pytest.mark.parametrize("path,update", [(table.README, table.updated_readme),
                                         (table.RESULTS_README, table.updated_results_readme),
                                         (table.ABLATION_DOC, table.updated_ablation_doc)],
                         ids=["README.md", "results/README.md", "doc/weight-decay.md"])
def test_the_tables_are_the_ones_results_gives(path, update):
    with open(path) as f:
        text = f.read()
    assert update(text) == text, f"{path} and results/ disagree: run python results/table.py"


def test_the_table_shows_commands_without_local_paths():
    summary = {"command": "python /home/me/cifar-10-cnn/lenet/LeNet_keras.py --data-dir /data/c10 --seed 2 "
                          "--output-dir=/tmp/x"}
    assert table.shown_command(summary) == "python lenet/LeNet_keras.py --seed 2"


def test_the_readmes_short_table_gives_each_rows_final_figure_and_runs():
    line = table.short_line(rows.BY_NAME["lenet"], [{"test_accuracy": 0.5}, {"test_accuracy": 0.6},
                                                     {"test_accuracy": 0.58}])
    assert line == ("| LeNet-5 | `python lenet/LeNet_keras.py` | [58.48 %](https://github.com/BIGBALLON/cifar-10-cnn/"
                    "blob/4318859/README.md) | median 58.00 % (50.00 to 60.00) | 3 |")
    assert table.short_line(rows.BY_NAME["nin"], []) == "| NiN | `python nin/Network_in_Network_keras.py` |  |  |  |"


def test_the_readmes_short_table_shows_the_rows_with_runs_and_counts_the_others(tmp_path):
    shutil.copytree(os.path.join(ROOT, "results", "lenet", "seed-0"), tmp_path / "lenet" / "seed-0")
    lines = table.short_table(str(tmp_path)).splitlines()
    assert len(lines) == 5 and lines[2].startswith("| LeNet-5 | `python lenet/LeNet_keras.py` |")
    assert lines[-1] == (f"{len(rows.ROWS) - 1} more rows, each with its command and reference, wait for their "
                         "runs: [the full table](results/README.md).")


def test_speedrun_table_is_the_one_results_gives(tmp_path):
    with open(table.SPEEDRUN_DOC) as f:
        text = f.read()
    assert table.updated_speedrun_doc(text) == text, "doc/speedrun.md and results/ disagree: run results/table.py"
    # A row with several runs gives their mean, and each run's minutes.
    for seed, (accuracy, seconds) in enumerate([(0.9394, 2012.1), (0.9410, 1200.0)]):
        folder = tmp_path / "speedrun-7" / f"seed-{seed}"
        shutil.copytree(os.path.join(ROOT, "results", "speedrun-7", "seed-0"), folder)
        summary = json.loads((folder / "summary.json").read_text())
        summary.update(test_accuracy=accuracy, wall_seconds=seconds, started=f"2026-12-0{seed + 1}T00:00:00+0000")
        (folder / "summary.json").write_text(json.dumps(summary))
    line = table.speedrun_table(str(tmp_path)).splitlines()[-1]
    assert line.startswith("| 7 | + alternating flip = airbench94 | 9.9 | [94.01 %](")
    assert "| mean 94.02 % (93.94 to 94.10) | 2 | 33.5, 20.0 |" in line


def test_a_resumed_runs_minutes_count_every_process():
    """Speed-run 4 was cut after its third epoch and resumed by a process that did not yet add up the time
    before it: its minutes still count all of it, so they exceed its epochs' own training seconds."""
    folder, summary = table.filed_runs(rows.BY_NAME["speedrun-4"], os.path.join(ROOT, "results"))[0]
    assert summary["resumed_from_epoch"] == 3 and "resumed_after_seconds" not in summary
    assert summary["wall_seconds"] < summary["training_seconds"] < table.run_seconds(folder, summary)
    with open(os.path.join(folder, "history.csv")) as f:
        first_three = [float(line.split(",")[-1]) for line in f.read().splitlines()[1:4]]
    assert table.run_seconds(folder, summary) == pytest.approx(summary["wall_seconds"] + sum(first_three))
    # A summary that records the seconds before its resumed process already adds them up.
    assert table.run_seconds(folder, {**summary, "resumed_after_seconds": [1142.0]}) == summary["wall_seconds"]


def test_the_speedrun_figure_draws_the_filed_runs(tmp_path):
    filed = [row.name for row in rows.ROWS if row.name.startswith("speedrun-")
             and os.path.isdir(os.path.join(ROOT, "results", row.name))]
    assert "speedrun-7" in filed
    proc = subprocess.run([sys.executable, "doc/make_figures.py", "--only", "speedrun", "--output-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    check_ok(proc)
    assert f"from results/: {', '.join(filed)}" in proc.stdout
    assert (tmp_path / "speedrun.png").stat().st_size > 10_000
    one_line_error(subprocess.run([sys.executable, "doc/make_figures.py", "--only", "speedrun", "--output-dir",
                                   str(tmp_path)], cwd=ROOT, capture_output=True, text=True), "exists", "--overwrite")


def test_the_same_budget_paragraph_and_figure_are_those_of_the_filed_runs(tmp_path):
    import math
    import statistics

    from cifar_common import run_folder
    resnet, shake = (run_folder.read_history(os.path.join(ROOT, "results", r, "seed-0"))
                     for r in ("resnet-110-cpu-15-epochs", "shake-shake-26-2x32d-cpu-15-epochs"))
    cuts = [r["epoch"] for previous, r in zip(resnet, resnet[1:]) if r["learning_rate"] < previous["learning_rate"]]
    assert all(r["learning_rate"] < p["learning_rate"] for p, r in zip(shake, shake[1:]))  # cosine to the end

    def ends(history):  # (minutes at the end of each epoch, test accuracy then)
        return list(zip(np.cumsum([r["seconds"] for r in history]) / 60, [r["test_accuracy"] for r in history]))

    def latest(points, t):
        return max([a for m, a in points if m <= t], default=0.0)

    times = sorted(m for m, _ in ends(resnet) + ends(shake))
    behind = [t for t in times if latest(ends(resnet), t) <= latest(ends(shake), t)]
    ahead_from = min(t for t in times if t > max(behind))
    text = _flat("doc/architectures.md")
    assert (f"They end level: ResNet-110 at {100 * resnet[-1]['test_accuracy']:.2f} %, shake-shake at "
            f"{100 * shake[-1]['test_accuracy']:.2f} %") in text
    assert abs(resnet[-1]["test_accuracy"] - shake[-1]["test_accuracy"]) < 0.005
    assert f"cut its rate tenfold at epochs {cuts[0]:.0f} and {cuts[1]:.0f}" in text and len(cuts) == 2
    assert (f"with the lower test loss there ({shake[-1]['test_loss']:.2f} against {resnet[-1]['test_loss']:.2f})"
            in text and shake[-1]["test_loss"] < resnet[-1]["test_loss"])
    medians = [statistics.median(r["seconds"] for r in h) for h in (shake, resnet)]
    assert f"(the median epochs: {medians[0]:.0f} s against {medians[1]:.0f} s)" in text
    assert f"about {medians[0] / medians[1]:.1f} times a ResNet-110 epoch" in text
    assert f"ahead from the {math.ceil(ahead_from)}th minute to the end" in text

    proc = subprocess.run([sys.executable, "doc/make_figures.py", "--only", "same_budget", "--output-dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    check_ok(proc)
    assert "from results/: resnet-110-cpu-15-epochs, shake-shake-26-2x32d-cpu-15-epochs" in proc.stdout
    assert (tmp_path / "same_budget.png").stat().st_size > 10_000


def test_the_cpu_shufflenet_paragraph_is_that_of_the_filed_run():
    import statistics

    from cifar_common import run_folder
    row = rows.BY_NAME["shufflenet-g1-cpu-12-epochs"]
    history = run_folder.read_history(os.path.join(ROOT, "results", row.name, "seed-0"))
    assert len(history) == row.epochs == 12
    assert all(r["learning_rate"] < p["learning_rate"] for p, r in zip(history, history[1:]))  # cosine to the end
    median = statistics.median(r["seconds"] for r in history)
    text = _flat("doc/architectures.md")
    assert f"`{row.command}`" in text
    assert (f"reaches {100 * history[-1]['test_accuracy']:.2f} % at its final epoch in "
            f"{sum(r['seconds'] for r in history) / 60:.1f} minutes") in text
    assert f"({median:.0f} s an epoch, evaluation included), from {100 * history[0]['test_accuracy']:.2f} %" in text
    assert f"reached {rows.BY_NAME['zoo-shufflenet-g1'].reference:.2f} % at their best epoch" in text
    assert f"about {200 * median / 3600:.0f} hours" in text


def test_every_row_has_its_script_and_a_reference_source():
    assert len({row.name for row in rows.ROWS}) == len(rows.ROWS)
    for row in rows.ROWS:
        assert os.path.exists(os.path.join(ROOT, row.script)), row.script
        assert (row.reference is None) == (row.published is None), row.name
    # Smallest first by the multiply-accumulates of a whole run: the MACs of an image times the epochs.
    row = rows.ROWS[0]
    few_epochs_of_a_big_net = dataclasses.replace(row, name="big", macs=100.0, epochs=2)  # 200
    many_epochs_of_a_small_net = dataclasses.replace(row, name="small", macs=0.5, epochs=300)  # 150
    middle = dataclasses.replace(row, name="middle", macs=1.0, epochs=180)  # 180
    assert [r.name for r in rows.smallest_first([few_epochs_of_a_big_net, many_epochs_of_a_small_net, middle])] == [
        "small", "middle", "big"]
    order = [r.name for r in rows.smallest_first(rows.ROWS)]
    assert order.index("resnet-20") < order.index("resnet-32") < order.index("resnet-110")
    assert order.index("speedrun-7") < order.index("speedrun-0")
    assert order[-1] == "shake-shake-26-2x96d"  # 3.8 G multiply-accumulates an image for 1800 epochs
    assert order.index("wrn-28-10") > order.index("pyramidnet-110-84")  # 5.2 G for 200, 0.8 G for 300


def test_a_filed_run_must_be_a_finished_run_of_its_row_with_its_files(tmp_path):
    lenet = rows.BY_NAME["lenet"]
    folder = tmp_path / "results" / "lenet" / "seed-0"
    folder.mkdir(parents=True)
    for name in rows.FILED:
        (folder / name).write_text("{}")
    summary = {"finished": True, "parameters": lenet.parameters, "arguments": {"epochs": 200, "subset": None}}
    rows.check_run(str(folder), summary, lenet)  # accepted
    for bad, message in [({**summary, "finished": False}, "not a finished run"),
                         ({**summary, "parameters": 273_658}, "273658 parameters, but row lenet has 62006"),
                         ({**summary, "arguments": {"epochs": 200, "test_subset": 500}}, "part of the test set"),
                         ({**summary, "arguments": {"epochs": 20}},
                          "not row lenet's recipe: --epochs 20, the row's 200"),
                         ({**summary, "arguments": {"epochs": 200, "subset": 5000}},
                          "--subset 5000, the row's whole training set")]:
        with pytest.raises(rows.ResultsError, match=message):
            rows.check_run(str(folder), bad, lenet)
    (folder / "curves.png").unlink()
    with pytest.raises(rows.ResultsError, match="curves.png is missing"):
        rows.check_run(str(folder), summary, lenet)
    # The table refuses such a folder in one line, naming it.
    (folder / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(rows.ResultsError, match="curves.png is missing"):
        table.runs(lenet, str(tmp_path / "results"))
    (folder / "summary.json").write_text("{not json")
    with pytest.raises(rows.ResultsError, match="not valid JSON"):
        table.runs(lenet, str(tmp_path / "results"))


def test_only_the_tables_results_insist_on_the_recipe(tmp_path):
    """A trial (flags of its own) may be filed in a folder of its own, never in the table's results/."""
    lenet = rows.BY_NAME["lenet"]
    summary = {"finished": True, "parameters": lenet.parameters, "arguments": {"epochs": 6, "subset": 256}}
    assert rows.is_the_tables(os.path.join(ROOT, "results")) and not rows.is_the_tables(str(tmp_path))
    folder = tmp_path / "lenet" / "seed-0"
    folder.mkdir(parents=True)
    for name in rows.FILED:
        (folder / name).write_text(json.dumps(summary) if name == "summary.json" else "")
    assert [s["arguments"] for _, s in rows.filed_runs(lenet, str(tmp_path))] == [summary["arguments"]]
    with pytest.raises(rows.ResultsError, match="not row lenet's recipe: --epochs 6, the row's 200; --subset 256"):
        rows.check_run(str(folder), summary, lenet, recipe=rows.is_the_tables(os.path.join(ROOT, "results")))


def test_a_run_is_filed_under_the_row_of_its_whole_recipe(tmp_path):
    """A short run of a script is not its 200-epoch row: its length and training set decide too."""
    import reproduce

    def row_of(parameters=62_006, **arguments):
        folder = tmp_path / f"run-{len(os.listdir(tmp_path))}"
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps(
            {"script": "LeNet_dp_da_wd_keras", "parameters": parameters, "finished": True,
             "arguments": {"epochs": 200, "subset": None, "dataset": "cifar10", **arguments}}))
        return reproduce.row_of(str(folder)).name

    assert row_of() == "lenet-dp-da-wd"
    assert row_of(epochs=15, subset=10000) == "lenet-dp-da-wd-quick-start"
    assert row_of(61_706, dataset="mnist", epochs=60) == "lenet-dp-da-wd-mnist"
    for arguments in ({"epochs": 20}, {"subset": 10000}, {"epochs": 15, "subset": 5000}):
        with pytest.raises(rows.ResultsError, match="no row of results/rows.py has this run's script, flags"):
            row_of(**arguments)


def test_a_run_with_a_regulariser_is_not_its_rows_recipe():
    """--cutout and the rest are off in every reference recipe, and label smoothing is the script's own."""
    lenet, speedrun = rows.BY_NAME["lenet-dp-da-wd"], rows.BY_NAME["speedrun-7"]
    plain = {"arguments": {"epochs": 200, "subset": None}}
    assert rows.recipe_differences(plain, lenet) == {}  # a run from before the flags: none of them
    for name, value in (("cutout", 16), ("random_erasing", 0.5), ("mixup", 1.0), ("cutmix", 1.0), ("ema", 0.99),
                        ("label_smoothing", 0.1)):
        run = {"arguments": {**plain["arguments"], name: value}}
        assert list(rows.recipe_differences(run, lenet)) == ["--" + name.replace("_", "-")]
    defaults = {"cutout": 0, "random_erasing": 0.0, "mixup": None, "cutmix": None, "ema": 0.0}
    assert rows.recipe_differences({"arguments": {**plain["arguments"], **defaults, "label_smoothing": 0.0}},
                                   lenet) == {}
    fast = {"arguments": {"epochs": 9.9, "subset": None, "label_smoothing": 0.2}}
    assert rows.recipe_differences(fast, speedrun) == {}  # the speed-run's recipe smooths by 0.2
    assert list(rows.recipe_differences({"arguments": {**fast["arguments"], "label_smoothing": 0.0}},
                                        speedrun)) == ["--label-smoothing"]


def test_keys_added_when_filing_are_kept_apart_from_what_the_run_recorded(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "results"))
    import reproduce

    lenet = rows.BY_NAME["lenet"]
    run = tmp_path / "run"
    run.mkdir()
    for name in rows.FILED[1:]:
        (run / name).write_text("")
    recorded = {"finished": True, "parameters": lenet.parameters, "machine": "as recorded",
                "arguments": {"seed": 3, "epochs": 200}, "started": "2026-01-01T00:00:00"}
    (run / "summary.json").write_text(json.dumps(recorded))
    with pytest.raises(rows.ResultsError, match="does not say its command; give --add command="):
        reproduce.file_run(str(run), lenet, str(tmp_path / "results"))
    target = reproduce.file_run(str(run), lenet, str(tmp_path / "results"),
                                {"command": "python lenet/LeNet_keras.py", "machine": "as added"})
    with open(os.path.join(target, "summary.json")) as f:
        filed = json.load(f)
    # On disk: the run's own keys untouched, the added one apart; a key the run had is not added.
    assert {k: v for k, v in filed.items() if k != "added_when_filed"} == recorded
    assert filed["added_when_filed"] == {"command": "python lenet/LeNet_keras.py"}
    # Read back for the tables, the added key reads like a recorded one.
    [(_, summary)] = rows.filed_runs(lenet, str(tmp_path / "results"))
    assert summary["command"] == "python lenet/LeNet_keras.py" and summary["machine"] == "as recorded"


def test_the_table_shows_the_code_of_each_run():
    runs = [{"code": {"commit": "a" * 40, "uncommitted_changes": False}},
            {"code": {"commit": "b" * 40, "uncommitted_changes": True}}, {"code": None}, {},
            {"code": {"commit": "a" * 40, "uncommitted_changes": False}}]
    assert table.code(runs) == f"`{'a' * 12}`, `{'b' * 12}` + changes, not recorded"


def _kill_after_two_epochs(run_dir, data_dir, epochs):
    args = [sys.executable, os.path.join(ROOT, "lenet/LeNet_keras.py"), "--data-dir", data_dir, "--subset", "256",
            "--epochs", str(epochs), "--seed", "0", "--output-dir", run_dir]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    history = os.path.join(run_dir, "history.csv")
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        if os.path.exists(history) and len(open(history).read().splitlines()) > 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_reproduce_resumes_an_interrupted_run_and_files_it(small_cifar10, tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    run_dir = str(runs / "lenet" / "seed-0")
    _kill_after_two_epochs(run_dir, small_cifar10, epochs=6)
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["finished"] is False

    proc = run_script(REPRODUCE, "lenet", "--data-dir", small_cifar10, "--runs-dir", str(runs),
                      "--results-dir", str(results), backend="jax")
    check_ok(proc)
    assert f"lenet: resuming in {run_dir}" in proc.stdout and "1 run filed" in proc.stdout
    filed = results / "lenet" / "seed-0"
    assert sorted(os.listdir(filed)) == ["curves.png", "history.csv", "summary.json"]  # never the model
    with open(filed / "summary.json") as f:
        summary = json.load(f)
    assert summary["finished"] and summary["epochs"] == 6 and summary["resumed_from_epoch"] >= 1
    assert "python" in summary["command"] and "--epochs 6" in summary["command"] and summary["machine"]
    with open(filed / "history.csv") as f:
        assert len(f.read().strip().splitlines()) == 1 + 6

    # The table line of the row gives that run's figures and the command without its local paths.
    line = table.line(rows.BY_NAME["lenet"], table.runs(rows.BY_NAME["lenet"], str(results)))
    assert f"| {100 * summary['test_accuracy']:.2f} % |" in line and "| 1 |" in line
    assert "--epochs 6" in line and "--data-dir" not in line and "--output-dir" not in line

    # Again: nothing left to train, nothing filed twice.
    again = run_script(REPRODUCE, "lenet", "--data-dir", small_cifar10, "--runs-dir", str(runs),
                       "--results-dir", str(results), backend="jax")
    check_ok(again)
    assert "0 runs filed" in again.stdout and os.listdir(results / "lenet") == ["seed-0"]
    by_hand = run_script(REPRODUCE, "--file", run_dir, "--results-dir", str(results))
    check_ok(by_hand)
    assert "filed already" in by_hand.stdout

    # Several runs: the median (not the mean), with the smallest and largest.
    first = summary["test_accuracy"]
    for seed, (shift, started) in enumerate([(0.01, "2098"), (0.05, "2099")], start=1):
        other = results / "lenet" / f"seed-{seed}"
        shutil.copytree(filed, other)
        with open(other / "summary.json", "w") as f:
            json.dump({**summary, "test_accuracy": first + shift, "started": started}, f)
    line = table.line(rows.BY_NAME["lenet"], table.runs(rows.BY_NAME["lenet"], str(results)))
    assert (f"| median {100 * (first + 0.01):.2f} % ({100 * first:.2f} to {100 * (first + 0.05):.2f}) |" in line
            and "| 3 |" in line)


def test_reproduce_stops_at_its_time_limit_keeping_the_run(small_cifar10, tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    started = time.monotonic()
    proc = run_script(REPRODUCE, "lenet", "--data-dir", small_cifar10, "--runs-dir", str(runs), "--results-dir",
                      str(results), "--stop-after", "45", "--", "--epochs", "100000", "--subset", "256",
                      backend="jax")
    assert proc.returncode == 1 and "lenet: stopped at the time limit" in proc.stdout, proc.stdout + proc.stderr
    # 45 s (time to start and train a few epochs of 256 images), then at most reproduce.py's grace for the run
    # to exit, plus start-ups on a busy machine.
    assert "unfinished: lenet" in proc.stdout and time.monotonic() - started < 45 + 120 + 180
    # Interrupted after training some epochs, not killed after the grace: it said how to resume, and its folder
    # keeps the epochs it trained, unfinished and unfiled.
    with open(runs / "lenet" / "seed-0.log") as f:
        log = f.read()
    assert "interrupted after epoch" in log and "continue with" in log, log[-2000:]
    assert not os.path.exists(results / "lenet")
    with open(runs / "lenet" / "seed-0" / "summary.json") as f:
        assert json.load(f)["finished"] is False
    with open(runs / "lenet" / "seed-0" / "history.csv") as f:
        assert len(f.read().strip().splitlines()) >= 2  # the header and at least one epoch


def test_reproduce_refuses_bad_input(tmp_path, capsys):
    refusal_in_process(REPRODUCE, "lenet-5", capsys=capsys, needles=["unknown row lenet-5"])
    # A trial with other flags is not the row's recipe: it never goes into the table's results/.
    refusal_in_process(REPRODUCE, "lenet", "--", "--epochs", "2", capsys=capsys, needles=["--results-dir"])
    refusal_in_process(REPRODUCE, "--file", str(tmp_path), "--row", "lenet", capsys=capsys,
                       needles=["not a finished run"])


def test_reproduce_reports_bad_folders_and_flags_in_one_line(tmp_path, monkeypatch, capsys):
    import reproduce

    def main(*argv):
        monkeypatch.setattr("sys.argv", ["reproduce.py", *argv])
        with pytest.raises(SystemExit) as exit_:
            reproduce.main()
        return exit_.value.code, capsys.readouterr()

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, out = main("lenet", "--runs-dir", str(blocker))
    assert code == 2 and out.err.strip().endswith(f"--runs-dir {blocker}: exists and is not a folder (see --help)")
    code, out = main("lenet", "--seed", "-5", "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and "--seed: must be from 0 to 4294967295, not -5" in out.err
    # A flag that the run refuses: its own line, and no "run the same command again".
    code, out = main("lenet", "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "results"), "--",
                     "--epochs", "0")
    assert code == 1
    assert ("lenet: failed (exit status 2): LeNet_keras.py: error: argument --epochs: must be from 1 to "
            "2147483647, not 0") in out.out
    assert "failed: lenet" in out.out.splitlines()[-1] and "run the same command again" not in out.out


def test_the_results_readme_spread_of_the_lenet_rows_is_that_of_the_filed_runs():
    finals = {}
    for row in rows.ROWS[:4]:  # the four LeNet-5 rows on CIFAR-10
        folder = os.path.join(ROOT, "results", row.name)
        finals[row.name] = [100 * rows.read_summary(os.path.join(folder, seed))["test_accuracy"]
                            for seed in sorted(os.listdir(folder))]
    widest = max(finals, key=lambda name: max(finals[name]) - min(finals[name]))
    spread = max(finals[widest]) - min(finals[widest])
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    fewest, most = min(map(len, finals.values())), max(map(len, finals.values()))
    runs = words[fewest] if fewest == most else f"{words[fewest]} or {words[most]}"
    with open(table.RESULTS_README) as f:
        text = " ".join(f.read().split())
    assert f"with {runs} runs a row" in text
    assert f"lie up to {spread:.1f} points apart ({rows.BY_NAME[widest].model}'s)" in text
    import statistics

    names = [row.name for row in rows.ROWS[:4]]
    gaps = [rows.BY_NAME[n].reference - statistics.median(finals[n]) for n in names]
    assert f"have medians {min(gaps):.2f} to {max(gaps):.2f} points short of their references" in text
    reach = [n for n in names if max(finals[n]) >= rows.BY_NAME[n].reference]
    assert reach == names[:3] and "runs of the first three rows reach or pass their references" in text
    last = rows.BY_NAME[names[3]]
    assert (f"The last row's runs all end below its reference, by {last.reference - max(finals[names[3]]):.2f} to "
            f"{last.reference - min(finals[names[3]]):.2f} points") in text


def test_the_results_readme_speedrun_sentence_is_that_of_the_filed_runs():
    words = dict(enumerate("two three four five six seven eight nine ten".split(), start=2))
    folder = os.path.join(ROOT, "results", "speedrun-7")
    finals = [100 * rows.read_summary(os.path.join(folder, seed))["test_accuracy"]
              for seed in sorted(os.listdir(folder)) if seed.startswith("seed-")]
    assert len(finals) >= 2  # the sentence's "runs"
    unfiled = [row.name for row in rows.ROWS if row.name.startswith("speedrun-")
               and not os.path.isdir(os.path.join(ROOT, "results", row.name))]
    with open(table.RESULTS_README) as f:
        text = " ".join(f.read().split())
    mean = sum(finals) / len(finals)
    assert f"has {words[len(finals)]} runs so far, with a mean of {mean:.2f} %" in text
    assert ("Steps 0 to 6 have no runs yet" in text) == (unfiled == [f"speedrun-{k}" for k in range(7)])
    for k, row in enumerate(rows.SPEEDRUN[:-1]):  # a step with one run is quoted with its figure
        runs = table.runs(row)
        if len(runs) == 1:
            figure = f"{100 * runs[0]['test_accuracy']:.2f} %"
            assert f"Step {k} has one run, at {figure} in its {row.epochs:g} epochs" in text


def _finals(row_name):
    return [s["test_accuracy"] for s in table.runs(rows.BY_NAME[row_name])]


def _flat(path):
    with open(os.path.join(ROOT, path)) as f:
        return " ".join(f.read().split())


def test_the_readmes_quick_start_and_main_job_figures_are_those_of_the_filed_runs():
    import statistics

    text = _flat("README.md")
    quick = table.runs(rows.BY_NAME["lenet-dp-da-wd-quick-start"])
    assert len(quick) == 1
    assert (f"Its run filed in `results/` trained for {quick[0]['wall_seconds']:.0f} s on a 2-core CPU" in text
            and f"ended at {100 * quick[0]['test_accuracy']:.2f} % test accuracy" in text)
    assert rows.BY_NAME["lenet-dp-da-wd-quick-start"].command + " --output-dir runs/quick-start" in text
    main = table.runs(rows.BY_NAME["lenet-dp-da-wd"])
    minutes = [s["wall_seconds"] / 60 for s in main]
    assert all("2 cores" in s["machine"] for s in main)
    assert (f"it took {min(minutes):.0f} to {max(minutes):.0f} minutes and ended at "
            f"{100 * statistics.median(s['test_accuracy'] for s in main):.2f} % (the median of {len(main)} runs; "
            f"the reference collection's figure is {rows.BY_NAME['lenet-dp-da-wd'].reference:.2f} %)") in text


@pytest.mark.parametrize("script,row", [("lenet/LeNet_keras.py", "lenet"), ("lenet/LeNet_dp_keras.py", "lenet-dp"),
                                        ("lenet/LeNet_dp_da_keras.py", "lenet-dp-da"),
                                        ("lenet/LeNet_dp_da_wd_keras.py", "lenet-dp-da-wd")])
def test_a_scripts_ours_line_is_that_of_its_filed_runs(script, row):
    finals = _finals(row)
    runs = f"{len(finals)} run{'s' if len(finals) > 1 else ''}"
    assert f"Ours, the final epoch: {table.spread(finals)} over {runs} (results/{row}/)." in _flat(script)


def test_the_doc_pages_figures_of_single_runs_are_those_of_the_filed_runs():
    [mnist], [fashion], [htd] = (_finals(r) for r in ("lenet-dp-da-wd-mnist", "lenet-dp-da-wd-fashion-mnist",
                                                      "resnet-50-cifar100-htd-10-epochs"))
    offline = _flat("doc/offline-data.md")
    assert (f"ends at {100 * fashion:.2f} % on Fashion-MNIST after 20 epochs, and at {100 * mnist:.2f} % on MNIST "
            f"after 60, beside LeNet-5's {rows.BY_NAME['lenet-dp-da-wd-mnist'].reference:.2f} %") in offline
    assert f"the Fashion-MNIST row of [the results table](../README.md#results), {100 * fashion:.2f} %" in _flat(
        "doc/using-a-trained-model.md")
    assert f"It ends at **{100 * htd:.2f} %** (the final epoch, also its best" in _flat("htd/README.md")


def test_the_weight_decay_page_describes_the_seed_0_histories():
    import csv

    def history(row):
        with open(os.path.join(ROOT, "results", row, "seed-0", "history.csv")) as f:
            return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]

    text = _flat("doc/weight-decay.md")
    base, dp, da, wd = (history(r) for r in ("lenet", "lenet-dp", "lenet-dp-da", "lenet-dp-da-wd"))
    lowest = min(base, key=lambda r: r["test_loss"])
    best = max(base, key=lambda r: r["test_accuracy"])
    last50 = [r["test_accuracy"] for r in base[-50:]]
    assert (f"its test loss is lowest at epoch {lowest['epoch']:.0f} ({lowest['test_loss']:.2f}) and climbs to "
            f"{base[-1]['test_loss']:.2f} by the end, with {100 * base[-1]['accuracy']:.2f} % training accuracy, so "
            f"its test accuracy peaks early ({100 * best['test_accuracy']:.2f} % at epoch {best['epoch']:.0f}) "
            f"and lies between {100 * min(last50):.2f} and {100 * max(last50):.2f} % over the last 50 epochs") in text
    lowest, best = min(dp, key=lambda r: r["test_loss"]), max(dp, key=lambda r: r["test_accuracy"])
    assert (f"(test loss lowest at epoch {lowest['epoch']:.0f}, best accuracy {100 * best['test_accuracy']:.2f} % "
            f"at epoch {best['epoch']:.0f})") in text
    assert (f"{100 * da[-1]['accuracy']:.2f} and {100 * da[-1]['test_accuracy']:.2f} % for LeNet_dp_da, "
            f"{100 * wd[-1]['accuracy']:.2f} and {100 * wd[-1]['test_accuracy']:.2f} % with weight decay") in text
    for h in (da, wd):
        assert abs(h[-1]["accuracy"] - h[-1]["test_accuracy"]) < 0.01  # "within a point of each other"
    keras21 = rows.read_summary(os.path.join(ROOT, "benchmarks", "results",
                                             "2026-11-23-initialiser-keras21-LeNet_dp_da_wd"))["test_accuracy"]
    assert (f"gave {100 * keras21:.2f} % for the last script at full length, "
            f"{100 * (keras21 - wd[-1]['test_accuracy']):.2f} points more than Keras 3's") in text
