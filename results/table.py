"""Writes the results tables from the runs filed in results/: the README's short one, results/README.md's
full one, doc/speedrun.md's and doc/weight-decay.md's LeNet ablation.

    python results/table.py           # rewrites the tables in README.md, results/README.md and the two doc pages
    python results/table.py --check   # exits with status 1 if any of them and results/ disagree

Each row of ``results/rows.py`` becomes a line; its runs are the folders ``results/<row>/*/`` (each with the
summary.json, history.csv and curves.png of one finished run). The headline is the final epoch's test
accuracy, as the training scripts print it (the median where there are several runs, with min and max). The
full table adds the best epoch's accuracy, for comparison with tables that report best epochs, and each row's
seconds per epoch, commands, dates, commits and machines. The speed-run's table gives the mean, as its
reference (airbench94's mean of 1000 runs) does, and each run's minutes.
"""

import glob
import os
import shlex
import statistics
import sys

from rows import BY_NAME, ROWS, SPEEDRUN, UPSTREAM, ResultsError, filed_runs

from cifar_common import cli, run_folder

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")
RESULTS_README = os.path.join(HERE, "README.md")
BEGIN = "<!-- results table: written by python results/table.py from results/; do not edit by hand -->"
END = "<!-- end of the results table -->"
SPEEDRUN_DOC = os.path.join(os.path.dirname(HERE), "doc", "speedrun.md")
SPEEDRUN_BEGIN = "<!-- speed-run table: written by python results/table.py from results/; do not edit by hand -->"
SPEEDRUN_END = "<!-- end of the speed-run table -->"
ABLATION_DOC = os.path.join(os.path.dirname(HERE), "doc", "weight-decay.md")
ABLATION_BEGIN = "<!-- LeNet ablation table: written by python results/table.py from results/; do not edit by hand -->"
ABLATION_END = "<!-- end of the LeNet ablation table -->"
# The LeNet series, one trick a step: what each row adds over the one before.
ABLATION = [("lenet", "the baseline"), ("lenet-dp", "per-channel standardisation"),
            ("lenet-dp-da", "crop-and-flip augmentation"), ("lenet-dp-da-wd", "weight decay 1e-4")]
# Flags that say where a run read and wrote, not what it trained: left out of the table's commands.
LOCAL_FLAGS = ("--data-dir", "--output-dir")


def runs(row, results_dir=HERE):
    """The summaries of the row's filed runs, oldest first."""
    return [summary for _, summary in filed_runs(row, results_dir)]


def shown_command(summary):
    """The run's command without the flags that only say where its data and outputs were, and with its script
    as from the repository's root."""
    words = shlex.split(summary["command"])
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in LOCAL_FLAGS:
            skip = True
        elif not word.startswith(tuple(f + "=" for f in LOCAL_FLAGS)):
            kept.append(_from_the_root(word))
    return shlex.join(kept)


def _from_the_root(word):
    """A script started by its absolute path, shown as from the repository's root: lenet/LeNet_keras.py."""
    if word.endswith(".py") and os.path.isabs(word):
        relative = os.path.join(*word.split(os.sep)[-2:])
        if os.path.exists(os.path.join(os.path.dirname(HERE), relative)):
            return relative
    return word


def percent(x):
    return f"{100 * x:.2f} %"


def spread(values):
    """"71.20 %" for one value; "median 71.20 % (70.10 to 72.00)" for several."""
    if len(values) == 1:
        return percent(values[0])
    return f"median {percent(statistics.median(values))} ({100 * min(values):.2f} to {100 * max(values):.2f})"


def code(summaries):
    """The commits the runs ran (12 digits; "+ changes" where the checkout had uncommitted ones), or "not
    recorded" for runs from before summary.json recorded it."""
    seen = []
    for s in summaries:
        c = s.get("code")
        text = (f"`{c['commit'][:12]}`" + (" + changes" if c["uncommitted_changes"] else "")) if c else "not recorded"
        if text not in seen:
            seen.append(text)
    return ", ".join(seen)


def reference(row):
    source = row.published if row.published and row.published.startswith("http") else UPSTREAM.format(
        commit=row.published)
    if not row.reference:
        return ""
    return f"[{row.reference:.2f} %]({source})" + (" (best epoch)" if row.best_epoch_reference else "")


def short_line(row, summaries):
    """The README's line of a row: what a newcomer compares."""
    final = spread([s["test_accuracy"] for s in summaries]) if summaries else ""
    runs_ = str(len(summaries)) if summaries else ""
    return "| " + " | ".join([row.model, f"`{row.command}`", reference(row), final, runs_]) + " |"


def short_table(results_dir=HERE):
    """The rows that have filed runs, then how many rows wait for theirs (results/README.md lists them all)."""
    header = "| model | reproduce with | reference | ours: final epoch | runs |\n" + "| --- " * 5 + "|"
    filed = [(row, runs(row, results_dir)) for row in ROWS]
    waiting = sum(not summaries for _, summaries in filed)
    return "\n".join([header] + [short_line(row, summaries) for row, summaries in filed if summaries] +
                     ["", f"{waiting} more rows, each with its command and reference, wait for their runs: "
                          "[the full table](results/README.md)."])


def line(row, summaries):
    """results/README.md's line of a row: everything the table knows about its runs."""
    cells = [row.model, f"`{row.command}`", f"{row.parameters:,}", reference(row)]
    if not summaries:
        return "| " + " | ".join(cells + [""] * 7) + " |"
    final = [s["test_accuracy"] for s in summaries]
    best = [s["best_epoch"]["test_accuracy"] for s in summaries]
    best_epochs = sorted({s["best_epoch"]["epoch"] for s in summaries})
    commands = sorted({shown_command(s) for s in summaries})
    machines = sorted({f"{s['machine']}; {' '.join(filter(None, (s['backend'], s.get('backend_version'))))} "
                       f"+ Keras {s['keras_version']}" for s in summaries})
    dates = sorted({s["ended"][:10] for s in summaries})
    cells += [
        spread(final),
        f"{spread(best)} (epoch {', '.join(map(str, best_epochs))})",
        str(len(summaries)),
        f"{statistics.median(s['seconds_per_epoch'] for s in summaries):.1f}",
        "; ".join(f"`{c}`" for c in commands) + f", {', '.join(dates)}",
        code(summaries),
        "; ".join(machines),
    ]
    return "| " + " | ".join(cells) + " |"


def table(results_dir=HERE):
    header = ("| model | reproduce with | parameters | reference | ours: final epoch | ours: best epoch | runs "
              "| s/epoch | command, date | code | machine |\n" + "| --- " * 11 + "|")
    return "\n".join([header] + [line(row, runs(row, results_dir)) for row in ROWS])


def run_seconds(folder, summary):
    """A run's wall seconds over all its processes. A resumed run's summary adds them up; one that predates
    that record (no ``resumed_after_seconds``) holds its last process's only, so its restored epochs' own
    seconds are added, as the training code does for a backup without the record."""
    if "resumed_with" not in summary or "resumed_after_seconds" in summary:
        return summary["wall_seconds"]
    restored = run_folder.read_history(folder)[:summary["resumed_from_epoch"]]
    return summary["wall_seconds"] + sum(r["seconds"] for r in restored)


def speedrun_line(row, runs_of_row):
    summaries = [summary for _, summary in runs_of_row]
    adds = row.model.split(": ", 1)[1].rsplit(", ", 1)[0]  # "+ whitening" of "Speed-run 1: + whitening, 21 epochs"
    cells = [row.name.rsplit("-", 1)[1], adds, f"{row.epochs:g}", f"[{row.reference:.2f} %]({row.published})"]
    if not summaries:
        return "| " + " | ".join(cells + [""] * 4) + " |"
    final = [100 * s["test_accuracy"] for s in summaries]
    if len(final) == 1:
        ours = f"{final[0]:.2f} %"
    else:
        ours = f"mean {statistics.mean(final):.2f} % ({min(final):.2f} to {max(final):.2f})"
    minutes = ", ".join(f"{run_seconds(folder, s) / 60:.1f}" for folder, s in runs_of_row)
    machines = sorted({f"{s['machine']}; {s['backend']} {s.get('backend_version', '')} + Keras {s['keras_version']}"
                       for s in summaries})
    return "| " + " | ".join(cells + [ours, str(len(summaries)), minutes, "; ".join(machines)]) + " |"


def speedrun_table(results_dir=HERE):
    header = ("| step | adds | epochs | reference (upstream, A100) | ours: final test accuracy | runs "
              "| minutes a run | machine |\n" + "| --- " * 8 + "|")
    return "\n".join([header] + [speedrun_line(row, filed_runs(row, results_dir)) for row in SPEEDRUN])


def ablation_table(results_dir=HERE):
    """doc/weight-decay.md's table: each LeNet step's reference and the spread of its filed runs."""
    lines = ["| script | adds | reference | ours: final epoch | runs | ours: best epoch |",
             "|---|---|---:|---:|---:|---:|"]
    for name, adds in ABLATION:
        row = BY_NAME[name]
        summaries = runs(row, results_dir)
        final = spread([s["test_accuracy"] for s in summaries]) if summaries else ""
        best = spread([s["best_epoch"]["test_accuracy"] for s in summaries]) if summaries else ""
        lines.append(f"| `{row.script}` | {adds} | {row.reference:.2f} % | {final} | {len(summaries)} | {best} |")
    return "\n".join(lines)


def _between(text, begin, end, body, where):
    if begin not in text or end not in text:
        raise ResultsError(f"{where}: the markers of the table are missing ({begin} ... {end})")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def updated_readme(text, results_dir=HERE):
    return _between(text, BEGIN, END, short_table(results_dir), README)


def updated_results_readme(text, results_dir=HERE):
    return _between(text, BEGIN, END, table(results_dir), RESULTS_README)


def updated_speedrun_doc(text, results_dir=HERE):
    return _between(text, SPEEDRUN_BEGIN, SPEEDRUN_END, speedrun_table(results_dir), SPEEDRUN_DOC)


def updated_ablation_doc(text, results_dir=HERE):
    return _between(text, ABLATION_BEGIN, ABLATION_END, ablation_table(results_dir), ABLATION_DOC)


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit with status 1 if a table is not the one results/ gives")
    args = p.parse_args()
    files = [(README, updated_readme), (RESULTS_README, updated_results_readme), (SPEEDRUN_DOC, updated_speedrun_doc),
             (ABLATION_DOC, updated_ablation_doc)]
    try:
        texts = []
        for path, update in files:
            with open(path) as f:
                text = f.read()
            texts.append((path, text, update(text)))
    except (ResultsError, OSError, KeyError, ValueError) as e:
        p.error(str(e))
    stale = [path for path, text, new in texts if new != text]
    if args.check:
        for path in stale:
            print(f"{path}: its results table differs from results/: run python results/table.py", file=sys.stderr)
        if stale:
            sys.exit(1)
        print("the results tables of README.md, results/README.md, doc/speedrun.md and doc/weight-decay.md agree "
              "with results/")
        return
    for path, text, new in texts:
        if new != text:
            run_folder.write_text(path, new)  # whole or not at all
    print(f"{README} and {RESULTS_README}: results tables written ({sum(bool(runs(r)) for r in ROWS)} of "
          f"{len(ROWS)} rows measured); {SPEEDRUN_DOC}: the speed-run's; {ABLATION_DOC}: the LeNet ablation's")


if __name__ == "__main__":
    main()
