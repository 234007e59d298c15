"""Writes the README's results table from the runs filed in results/.

    python results/table.py           # rewrites the table in README.md
    python results/table.py --check   # exits with status 1 if README.md and results/ disagree

Each row of ``results/rows.py`` becomes a line; its runs are the folders ``results/<row>/*/`` (each with the
summary.json, history.csv and curves.png of one finished run). The headline is the final epoch's test
accuracy, as the training scripts print it (the median where there are several runs, with min and max); the
best epoch's accuracy stands beside it for comparison with tables that report best epochs.
"""

import glob
import os
import shlex
import statistics
import sys

from rows import ROWS, UPSTREAM, ResultsError, check_run, read_summary

from cifar_common import cli, run_folder

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")
BEGIN = "<!-- results table: written by python results/table.py from results/; do not edit by hand -->"
END = "<!-- end of the results table -->"
# Flags that say where a run read and wrote, not what it trained: left out of the table's commands.
LOCAL_FLAGS = ("--data-dir", "--output-dir")


def runs(row, results_dir=HERE):
    """The summaries of the row's filed runs, oldest first."""
    found = []
    for path in sorted(glob.glob(os.path.join(results_dir, row.name, "*", "summary.json"))):
        folder = os.path.dirname(path)
        summary = read_summary(folder)
        check_run(folder, summary, row)
        found.append(summary)
    return sorted(found, key=lambda s: s.get("started", ""))


def shown_command(summary):
    """The run's command without the flags that only say where its data and outputs were."""
    words = shlex.split(summary["command"])
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in LOCAL_FLAGS:
            skip = True
        elif not word.startswith(tuple(f + "=" for f in LOCAL_FLAGS)):
            kept.append(word)
    return shlex.join(kept)


def percent(x):
    return f"{100 * x:.2f} %"


def spread(values):
    """"71.20 %" for one value; "median 71.20 % (70.10 to 72.00)" for several."""
    if len(values) == 1:
        return percent(values[0])
    return f"median {percent(statistics.median(values))} ({100 * min(values):.2f} to {100 * max(values):.2f})"


def line(row, summaries):
    source = row.published if row.published and row.published.startswith("http") else UPSTREAM.format(
        commit=row.published)
    reference = f"[{row.reference:.2f} %]({source})" if row.reference else ""
    cells = [row.model, f"`{row.command}`", f"{row.parameters:,}", reference]
    if not summaries:
        return "| " + " | ".join(cells + [""] * 6) + " |"
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
        "; ".join(machines),
    ]
    return "| " + " | ".join(cells) + " |"


def table(results_dir=HERE):
    header = ("| model | reproduce with | parameters | reference | ours: final epoch | ours: best epoch | runs "
              "| s/epoch | command, date | machine |\n" + "| --- " * 10 + "|")
    return "\n".join([header] + [line(row, runs(row, results_dir)) for row in ROWS])


def updated_readme(text, results_dir=HERE):
    if BEGIN not in text or END not in text:
        raise ResultsError(f"{README}: the markers of the results table are missing ({BEGIN} ... {END})")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table(results_dir)}\n{END}{tail}"


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit with status 1 if README.md's table is not the one results/ gives")
    args = p.parse_args()
    try:
        with open(README) as f:
            text = f.read()
        new = updated_readme(text)
    except (ResultsError, OSError, KeyError, ValueError) as e:
        p.error(str(e))
    if args.check:
        if new != text:
            print("README.md's results table differs from results/: run python results/table.py", file=sys.stderr)
            sys.exit(1)
        print("README.md's results table agrees with results/")
        return
    if new != text:
        run_folder.write_text(README, new)  # whole or not at all
    print(f"{README}: results table written ({sum(bool(runs(r)) for r in ROWS)} of {len(ROWS)} rows measured)")


if __name__ == "__main__":
    main()
