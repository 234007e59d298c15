"""What each regulariser buys at a CPU budget: a network trained with and without it, the same seeds.

Two networks, each at a budget a 2-core CPU trains in about an hour a run: the speed-run's network
(speedrun/step7_alternating_flip_keras.py, airbench94's recipe) at 15 epochs instead of its 9.9, and
ResNet-20 (resnet/ResNet_keras.py --depth 20) at 20 epochs instead of 200, its step decay scaled to them.
Each variant is the network's recipe at that budget with one regulariser's flag added ("none" is the recipe
itself); the speed-run's recipe has label smoothing 0.2, so its variant turns it off and ResNet-20's turns
0.1 on. The average of the weights (--ema M) spans about the last 1 / (1 - M) steps, a seventh of a run:
0.99 over the speed-run's 720 steps, 0.999 over ResNet-20's 7,820.

    python benchmarks/regularisers.py --list
    python benchmarks/regularisers.py speedrun/none speedrun/cutout --seeds 0 1 \\
        --data-dir ~/data/cifar-10-batches-py --runs-dir ~/runs/regularisers
    python benchmarks/regularisers.py --table      # the table of doc/regularisation.md, from the filed runs

Runs go to RUNS_DIR/<network>-<variant>/seed-<seed>/ (the same command again resumes what is unfinished,
as results/reproduce.py does) and, finished, are filed as benchmarks/results/regularisers/<network>-
<variant>/seed-<seed>/ (summary.json, history.csv, curves.png). The table compares each variant's final test
accuracy with that of "none" over the seeds both have.
"""

import dataclasses
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "results")]
from cifar_common import cli, run_folder  # noqa: E402
from reproduce import Job, file_run, run_jobs  # noqa: E402
from rows import BY_NAME, ResultsError, check_run, filed_runs  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results", "regularisers")
DOC = os.path.join(ROOT, "doc", "regularisation.md")
BEGIN = "<!-- regularisers table: written by python benchmarks/regularisers.py --table; do not edit by hand -->"
END = "<!-- end of the regularisers table -->"

# Each network: (the results row whose recipe it trains, its budget in epochs, {variant: the flags it adds}).
NETWORKS = {
    "speedrun": ("speedrun-7", 15, {
        "none": (), "cutout": ("--cutout", "16"), "random-erasing": ("--random-erasing", "0.5"),
        "mixup": ("--mixup", "1"), "cutmix": ("--cutmix", "1"), "no-label-smoothing": ("--label-smoothing", "0"),
        "ema": ("--ema", "0.99")}),
    "resnet-20": ("resnet-20", 20, {
        "none": (), "cutout": ("--cutout", "16"), "random-erasing": ("--random-erasing", "0.5"),
        "mixup": ("--mixup", "1"), "cutmix": ("--cutmix", "1"), "label-smoothing": ("--label-smoothing", "0.1"),
        "ema": ("--ema", "0.999")}),
}


def variant_rows():
    """{"network/variant": a results row whose recipe is that network at its budget with the variant's flags}."""
    found = {}
    for network, (row_name, epochs, variants) in NETWORKS.items():
        base = BY_NAME[row_name]
        for variant, flags in variants.items():
            found[f"{network}/{variant}"] = dataclasses.replace(
                base, name=f"{network}-{variant}", model=f"{base.model}, {epochs} epochs" + (
                    f", {' '.join(flags)}" if flags else ""), args=(*base.args, "--epochs", str(epochs), *flags),
                epochs=epochs)
    return found


VARIANTS = variant_rows()


def accuracies(row, results_dir=RESULTS):
    """{seed: final test accuracy, %} of the variant's filed runs (each checked to be the variant's recipe)."""
    found = {}
    for folder, summary in filed_runs(row, results_dir):
        check_run(folder, summary, row)
        found[summary["arguments"]["seed"]] = 100 * summary["test_accuracy"]
    return found


def table(results_dir=RESULTS):
    """The markdown table of every variant: its flags, the final test accuracy of each seed filed, their mean,
    and the mean difference from "none" over the seeds both have."""
    lines = ["| Network, budget | Variant | Flags | Final test accuracy, each seed | Mean | Against none, "
             "same seeds |", "|---|---|---|---|---|---|"]
    for network, (row_name, epochs, variants) in NETWORKS.items():
        none = accuracies(VARIANTS[f"{network}/none"], results_dir)
        for variant, flags in variants.items():
            found = none if variant == "none" else accuracies(VARIANTS[f"{network}/{variant}"], results_dir)
            each = ", ".join(f"{found[seed]:.2f} (seed {seed})" for seed in sorted(found)) or "not run yet"
            mean = f"{statistics.mean(found.values()):.2f} %" if found else ""
            paired = sorted(set(found) & set(none))
            against = ""
            if variant != "none" and paired:
                difference = statistics.mean(found[s] - none[s] for s in paired)
                against = f"{difference:+.2f} points ({len(paired)} seed{'s' if len(paired) > 1 else ''})"
            flag_text = f"`{' '.join(flags)}`" if flags else "(the recipe)"
            lines.append(f"| `{row_name}` at {epochs} epochs | {variant} | {flag_text} | {each} | {mean} | "
                         f"{against} |")
    return "\n".join(lines)


def updated_doc(text, results_dir=RESULTS):
    """``text`` (doc/regularisation.md) with the table between its markers written anew."""
    if BEGIN not in text or END not in text:
        raise ResultsError(f"{DOC}: the markers of the table are missing ({BEGIN} ... {END})")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table(results_dir)}\n{END}{tail}"


def main():
    argv, extra = cli.split_at_double_dash(sys.argv[1:])
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("variants", nargs="*", metavar="NETWORK/VARIANT",
                   help="the variants to train, such as speedrun/cutout; see --list")
    p.add_argument("--list", action="store_true", help="list the variants with their commands and exit")
    p.add_argument("--table", action="store_true",
                   help="write the table of doc/regularisation.md from the filed runs and exit")
    p.add_argument("--seeds", type=cli.seed, nargs="+", default=[0], metavar="N",
                   help="the seeds to train each variant with (default: 0)")
    p.add_argument("--data-dir", metavar="PATH", help="a local CIFAR-10 copy, passed to every script")
    p.add_argument("--runs-dir", metavar="DIR", default=os.path.join("runs", "regularisers"),
                   help="where the run folders and logs go (default: runs/regularisers)")
    p.add_argument("--parallel", type=cli.positive_int, default=1, metavar="N",
                   help="runs at once, as separate processes (default: 1; on a CPU, one at a time is faster: "
                        "several on its cores slow each other down more than they gain)")
    p.add_argument("--stop-after", type=cli.positive_int, metavar="SECONDS",
                   help="interrupt every run after SECONDS, keeping its backup (the same command resumes it)")
    args = p.parse_args(argv)
    if extra:
        p.error("flags after -- would change the variants' recipes; a variant is its network and one flag")
    try:
        unknown = [name for name in args.variants if name not in VARIANTS]
        if unknown:
            raise ResultsError(f"unknown variant {', '.join(unknown)}; the variants are {', '.join(VARIANTS)}")
        if args.list:
            for name, row in VARIANTS.items():
                print(f"{name:28} {row.command}")
            return
        if args.table:
            with open(DOC) as f:
                text = f.read()
            run_folder.write_text(DOC, updated_doc(text))
            print(f"{DOC}: the regularisers table written from {RESULTS}")
            return
        if not args.variants:
            p.error("name the variants to train (see --list)")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        runs_dir = os.path.abspath(args.runs_dir)
        jobs = [Job(VARIANTS[name], runs_dir, seed, args.data_dir and os.path.abspath(args.data_dir), [], env)
                for seed in args.seeds for name in args.variants]
        to_run = [job for job in jobs if not job.finished]
        done, failed = run_jobs(to_run, args.parallel, args.stop_after)
        for job in jobs:
            if job.finished or job in done:
                check_run(job.folder, run_folder.read_summary(job.folder), job.row)
                target = file_run(job.folder, job.row, RESULTS)
                print(f"{job.row.name}: " + (f"filed as {target}" if target else "filed already"))
        if failed or len(done) < len(to_run):
            sys.exit(1)
    except ResultsError as e:
        p.error(str(e))


if __name__ == "__main__":
    main()
