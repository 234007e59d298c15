"""Compares the runs of the schedule study: one figure and one Markdown table.

    python htd/compare.py runs/htd-study --output-dir htd/results

Every finished run under the given folders (any depth: each folder with a summary.json) is grouped by
dataset, set-up (script, depth, epochs) and learning-rate schedule. The figure has one row per dataset and
set-up: learning rate, test accuracy and training loss by epoch, one colour per schedule, the line the
median of the runs and the band their range. The table gives each schedule's median, min and max final
test accuracy over its runs, beside the reference where the set-up is the reference one (ResNet-50, 200
epochs). Writes comparison.png and comparison.md into --output-dir and prints the table.
"""

import os
import statistics
import sys

from cifar_common import cli, run_folder
from cifar_common.schedules import COLOURS

# The reference comparison (arXiv 1806.01593; ResNet with 50 layers, 200 epochs, median of 5 runs), in %.
REFERENCE = {("cifar10", "step"): 93.09, ("cifar10", "cosine"): 93.42, ("cifar10", "htd"): 93.58,
             ("cifar100", "step"): 70.25, ("cifar100", "cosine"): 70.07, ("cifar100", "htd"): 70.81}
REFERENCE_SETUP = {"depth": 50, "epochs": 200}
FIGURE = "comparison.png"
TABLE = "comparison.md"


class CompareError(Exception):
    """Nothing to compare, or a run folder that cannot be read; the message is one line."""


def find_runs(folders):
    """The finished runs under ``folders``: a list of dicts with the summary, the history and the folder;
    and the unfinished folders met on the way."""
    runs, unfinished = [], []
    for folder in folders:
        if not os.path.isdir(folder):
            raise CompareError(f"{folder}: no such folder")
        for path, dirs, files in os.walk(folder):
            dirs.sort()
            if run_folder.SUMMARY not in files:
                continue
            dirs.clear()  # a run folder's own subfolders (its backup) hold no runs
            try:
                summary = run_folder.read_summary(path)
                history = run_folder.read_history(path)
            except (run_folder.OutputError, ValueError, KeyError) as e:
                raise CompareError(f"{path}: unreadable run ({e})") from None
            if not summary.get("finished"):
                unfinished.append(path)
                continue
            if not history:
                raise CompareError(f"{path}: finished run without history.csv rows")
            runs.append({"dir": path, "summary": summary, "history": history})
    if not runs:
        raise CompareError(f"no finished run (a folder with summary.json) under {', '.join(folders)}")
    return runs, unfinished


def setup_of(summary):
    """(dataset, a short description of network and length) of a run."""
    args = summary["arguments"]
    network = summary["script"] + (f" depth {args['depth']}" if "depth" in args else "")
    if summary["data"]["train_images"] not in (50000, 45000):
        network += f", {summary['data']['train_images']} training images"
    epochs = summary["epochs"]
    return args["dataset"], f"{network}, {epochs} epoch{'s' if epochs != 1 else ''}"


def group(runs):
    """{(dataset, setup): {schedule: [run, ...]}}, in a stable order."""
    groups = {}
    for run in runs:
        key = setup_of(run["summary"])
        groups.setdefault(key, {}).setdefault(run["summary"]["arguments"]["lr_schedule"], []).append(run)
    for schedules in groups.values():
        for runs_of in schedules.values():
            runs_of.sort(key=lambda r: r["summary"]["arguments"]["seed"])
    return {k: dict(sorted(v.items(), key=lambda kv: list(COLOURS).index(kv[0]))) for k, v in sorted(groups.items())}


def _is_reference(runs_of):
    s = runs_of[0]["summary"]
    return (s["arguments"].get("depth") == REFERENCE_SETUP["depth"] and s["epochs"] == REFERENCE_SETUP["epochs"]
            and s["data"]["train_images"] == 50000)


def table(groups):
    """The Markdown table: final test accuracy per dataset, set-up and schedule."""
    lines = ["| dataset | network, length | schedule | runs | median | min | max | reference (median of 5) |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for (dataset, setup), schedules in groups.items():
        for schedule, runs_of in schedules.items():
            acc = sorted(100 * r["summary"]["test_accuracy"] for r in runs_of)
            ref = REFERENCE.get((dataset, schedule)) if _is_reference(runs_of) else None
            lines.append(f"| {dataset} | {setup} | {schedule} | {len(acc)} | {statistics.median(acc):.2f} % | "
                         f"{acc[0]:.2f} % | {acc[-1]:.2f} % | {f'{ref:.2f} %' if ref else '—'} |")
    return "\n".join(lines) + "\n"


def figure(groups, path):
    """Learning rate, test accuracy and training loss by epoch; median line and min-max band per schedule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(groups), 3, figsize=(13, 3.4 * len(groups)), squeeze=False)
    for row, ((dataset, setup), schedules) in zip(axes, groups.items()):
        for schedule, runs_of in schedules.items():
            epochs = [r["epoch"] for r in runs_of[0]["history"]]
            for ax, column in zip(row, ("learning_rate", "test_accuracy", "loss")):
                if column not in runs_of[0]["history"][0]:
                    continue  # runs with a validation split have val_ columns instead
                per_epoch = list(zip(*[[h[column] for h in r["history"]] for r in runs_of]))
                scale = 100 if column == "test_accuracy" else 1
                ax.plot(epochs, [scale * statistics.median(v) for v in per_epoch], color=COLOURS[schedule],
                        label=f"{schedule} ({len(runs_of)} run{'s' if len(runs_of) > 1 else ''})")
                if len(runs_of) > 1:
                    ax.fill_between(epochs, [scale * min(v) for v in per_epoch], [scale * max(v) for v in per_epoch],
                                    color=COLOURS[schedule], alpha=0.2, lw=0)
        for ax, name in zip(row, ("learning rate", "test accuracy (%)", "training loss")):
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        row[1].legend()
        row[0].set_title(f"{dataset}: {setup}", loc="left", fontsize=10)
    fig.tight_layout()
    with run_folder.replacing(path) as partial:  # whole or not at all
        fig.savefig(partial, dpi=80)
    plt.close(fig)


def main(argv=None):
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="folders holding run folders (searched at any depth)")
    p.add_argument("--output-dir", metavar="DIR",
                   help=f"where to write {FIGURE} and {TABLE} (default: the first FOLDER)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing figure and table (refused otherwise)")
    args = p.parse_args(argv)
    out = args.output_dir or args.folders[0]
    paths = [os.path.join(out, FIGURE), os.path.join(out, TABLE)]
    existing = [path for path in paths if os.path.exists(path)]
    if existing and not args.overwrite:
        p.error(f"{existing[0]}: exists; pass --overwrite to replace it")
    try:
        runs, unfinished = find_runs(args.folders)
        groups = group(runs)
        os.makedirs(out, exist_ok=True)
        figure(groups, paths[0])
        text = table(groups)
        run_folder.write_text(paths[1], text)
    except (CompareError, OSError, run_folder.WriteError) as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    for path in unfinished:
        print(f"skipped (unfinished): {path}")
    print(text, end="")
    print(f"wrote {os.path.abspath(paths[0])} and {TABLE}")


if __name__ == "__main__":
    main()
