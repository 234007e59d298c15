"""Makes every figure of doc/ from real CIFAR-10: the PNGs in doc/figures/.

    python doc/make_figures.py --data-dir ~/data/cifar-10-batches-py --overwrite

Four figures need no training (the pixel histograms, the augmented images, a sample of each class, the
regularisers on a batch), one builds the networks without training them (their size and cost), one draws the
PyTorch zoo's networks by their size against the zoo's published accuracy (results/rows.py), one draws the
speed-run's runs filed in results/ (each step's test accuracy, epoch by epoch, and its final figure), one the
runs filed of shake-shake and ResNet-110 at the same CPU budget (by epoch and by time), and the rest come from
eight short runs of lenet/LeNet_dp_da_wd_keras.py, started as a user starts them (their folders are kept
under --runs-dir): the reference run (the script as it is: TensorFlow, its step schedule from 0.01, weight
decay 1e-4), two other weight decays, two other schedules, the JAX and PyTorch backends, and JAX with mixed
precision. Every run uses the same seed, so the runs differ by the one thing the figure
is about. --only remakes some figures; the first eight need no training.
"""

import os
import shutil
import subprocess
import sys
import time

import numpy as np

from cifar_common import cli, data, run_folder, train

DOC = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(os.path.dirname(DOC), "results")
sys.path.insert(0, RESULTS)
from rows import BY_NAME, ROWS, SPEEDRUN, ResultsError, filed_runs  # noqa: E402  (results/rows.py: the rows of the results table)

LENET = "lenet/LeNet_dp_da_wd_keras.py"

# The short runs: name -> (backend, extra flags). "reference" is the script as it is.
RUNS = {
    "reference": ("tensorflow", []),
    "no-weight-decay": ("tensorflow", ["--weight-decay", "0"]),
    "weight-decay-1e-3": ("tensorflow", ["--weight-decay", "1e-3"]),
    "cosine": ("tensorflow", ["--lr-schedule", "cosine"]),
    "htd": ("tensorflow", ["--lr-schedule", "htd"]),
    "jax": ("jax", []),
    "torch": ("torch", []),
    "jax-mixed-precision": ("jax", ["--mixed-precision"]),
}

# The networks of the zoo at the sizes of the results table, with the reference collection's accuracy (%).
ZOO = [
    ("LeNet-5", "lenet/LeNet_dp_da_wd_keras.py", {}, 76.23),
    ("NiN-BN", "nin/Network_in_Network_bn_keras.py", {}, 91.63),
    ("VGG-19", "vgg/Vgg19_keras.py", {}, 93.53),
    ("ResNet-20", "resnet/ResNet_keras.py", {"depth": 20}, 91.82),
    ("ResNet-110", "resnet/ResNet_keras.py", {"depth": 110}, 93.93),
    ("WRN-16-8", "wrn/Wide_ResNet_keras.py", {"depth": 16, "width": 8}, 95.13),
    ("WRN-28-10", "wrn/Wide_ResNet_keras.py", {"depth": 28, "width": 10}, 95.78),
    ("DenseNet-BC-100-12", "densenet/DenseNet_keras.py", {"depth": 100, "growth_rate": 12}, 94.91),
    ("DenseNet-BC-160-24", "densenet/DenseNet_keras.py", {"depth": 160, "growth_rate": 24}, 95.90),
    ("ResNeXt-29 4x64d", "resnext/ResNeXt_keras.py", {"cardinality": 4, "base_width": 64}, 95.19),
    ("SE-ResNeXt-29 4x64d", "senet/SENet_keras.py", {"cardinality": 4, "base_width": 64}, 95.60),
    ("PyramidNet-110 a84", "pyramidnet/PyramidNet_keras.py", {"depth": 110, "alpha": 84.0}, 95.60),
    ("PyramidNet-272 a200 + ShakeDrop", "pyramidnet/PyramidNet_keras.py",
     {"depth": 272, "alpha": 200.0, "block": "bottleneck", "shakedrop": 0.5}, 96.74),
    ("Shake-shake-26 2x32d", "shake_shake/ShakeShake_keras.py", {"width": 32}, 96.45),
    ("Shake-shake-26 2x96d", "shake_shake/ShakeShake_keras.py", {"width": 96}, 97.14),
]

CHANNELS = [("red", "tab:red"), ("green", "tab:green"), ("blue", "tab:blue")]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    fig.tight_layout()
    with run_folder.replacing(path) as partial:  # whole or not at all
        fig.savefig(partial, dpi=72)
    _pyplot().close(fig)
    print(f"wrote {path}")


# --- figures from the data alone -------------------------------------------------------------------------


def standardisation(d, path):
    """Per-channel histograms of the training pixels, raw (0-255) and after (x - mean) / std."""
    plt = _pyplot()
    flat = d.x_train.reshape(-1, 3)
    fig, (raw, std) = plt.subplots(1, 2, figsize=(10, 3.4))
    for c, (name, colour) in enumerate(CHANNELS):
        counts = np.bincount(flat[:, c], minlength=256) / len(flat)
        values = np.arange(256)
        raw.step(values, counts, color=colour, label=f"{name}: mean {d.mean[c]:.1f}, std {d.std[c]:.1f}")
        # Standardisation maps value v to (v - mean) / std: the same counts on a shifted, rescaled axis
        # (each bin 1/std wide, so the density is counts * std).
        std.step((values - d.mean[c]) / d.std[c], counts * d.std[c], color=colour, label=name)
    raw.set(title="raw pixels", xlabel="value (0-255)", ylabel="fraction of pixels")
    std.set(title="after per-channel standardisation", xlabel="(value - mean) / std", ylabel="density")
    for ax in (raw, std):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path)


def augmentation(d, path, images=5, draws=6):
    """Each row: one training image, then ``draws`` crop-and-flip augmentations of it (4-pixel padding)."""
    from cifar_common.augment import RandomCropFlip

    plt = _pyplot()
    rng = np.random.default_rng(0)
    picks = rng.choice(len(d.x_train), images, replace=False)
    layer = RandomCropFlip(padding=4, seed=0)
    batch = np.repeat(d.x_train[picks].astype("float32"), draws, axis=0)
    augmented = np.asarray(layer(batch, training=True)).reshape(images, draws, 32, 32, 3)
    fig, axes = plt.subplots(images, draws + 1, figsize=(1.2 * (draws + 1), 1.25 * images))
    for row, i in enumerate(picks):
        axes[row, 0].imshow(d.x_train[i], interpolation="nearest")
        axes[row, 0].set_title(d.class_names[d.y_train[i]] if row == 0 else "", fontsize=8)
        axes[row, 0].set_ylabel(d.class_names[d.y_train[i]], fontsize=8)
        for k in range(draws):
            axes[row, k + 1].imshow(augmented[row, k].clip(0, 255).astype("uint8"), interpolation="nearest")
    axes[0, 0].set_title("original", fontsize=8)
    for k in range(draws):
        axes[0, k + 1].set_title(f"draw {k + 1}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    _save(fig, path)


def regularisation(d, path, images=6):
    """Each row: the same training images after crop-and-flip, then with each regulariser of
    cifar_common/regularisers.py at its paper's setting (Random Erasing at probability 1, to show it)."""
    import keras

    from cifar_common import regularisers
    from cifar_common.augment import random_crop_flip

    plt = _pyplot()
    rng = np.random.default_rng(1)
    picks = rng.choice(len(d.x_train), images, replace=False)
    mean, std = d.mean.astype("float32"), d.std.astype("float32")
    # As the scripts' models see them: crop-and-flip of the standardised images, then the regularisers.
    batch = random_crop_flip((d.x_train[picks].astype("float32") - mean) / std, 4, seed=0)
    low, high = (0 - mean) / std, (255 - mean) / std
    rows = [("crop and flip", batch),
            ("Cutout 16", regularisers.cutout(batch, 16, keras.random.SeedGenerator(1))),
            ("Random Erasing", regularisers.random_erasing(batch, 1.0, low, high, keras.random.SeedGenerator(2)))]
    for kind in ("mixup", "cutmix"):
        layer = regularisers.Mixing(kind, 1.0, seed=3)
        mixed = layer(batch, training=True)
        lam = float(keras.ops.convert_to_numpy(layer.lam))
        rows.append((f"{'Mixup' if kind == 'mixup' else 'CutMix'}, lambda {lam:.2f}", mixed))
    fig, axes = plt.subplots(len(rows), images, figsize=(1.2 * images, 1.35 * len(rows)))
    for r, (title, out) in enumerate(rows):
        pixels = (np.asarray(keras.ops.convert_to_numpy(out)) * std + mean).clip(0, 255).astype("uint8")
        for k in range(images):
            axes[r, k].imshow(pixels[k], interpolation="nearest")
            axes[r, k].set_xticks([])
            axes[r, k].set_yticks([])
        axes[r, 0].set_ylabel(title, fontsize=7)
    for k, i in enumerate(picks):
        axes[0, k].set_title(d.class_names[d.y_train[i]], fontsize=8)
    _save(fig, path)


def samples(d, path, per_class=5):
    """``per_class`` training images of each class, as read from --data-dir, with the file's class names."""
    plt = _pyplot()
    fig, axes = plt.subplots(d.num_classes, per_class, figsize=(0.75 * per_class + 0.8, 0.75 * d.num_classes))
    for c in range(d.num_classes):
        for k, i in enumerate(np.flatnonzero(d.y_train == c)[:per_class]):
            axes[c, k].imshow(d.x_train[i], interpolation="nearest")
        axes[c, 0].set_ylabel(d.class_names[c], fontsize=8, rotation=0, ha="right", va="center")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    _save(fig, path)


def architectures(path):
    """Parameters, multiply-accumulates per image and reference accuracy of each network at its table size
    (built, not trained)."""
    import keras

    from cifar_common import macs

    class Shape:  # what a model builder reads from data.Data, without the data
        image_shape, num_classes, mirrorable = (32, 32, 3), 10, True
        mean, std = np.full(3, 120.0), np.full(3, 64.0)

    rows = []
    for name, script, flags, reference in ZOO:
        model = train.import_script(script).build_model(Shape, 1e-4, **flags)
        rows.append((name, model.count_params(), macs.per_image(model), reference))
        keras.backend.clear_session()
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True)
    names = [r[0] for r in rows]
    for ax, k, title, log, fmt in [(axes[0], 1, "parameters", True, lambda v: f"{v / 1e6:.2f} M"),
                                   (axes[1], 2, "multiply-accumulates per image", True, lambda v: f"{v / 1e6:,.2f} M" if v < 1e8 else f"{v / 1e6:,.0f} M"),
                                   (axes[2], 3, "reference test accuracy (%)", False, lambda v: f"{v:.2f}")]:
        values = [r[k] for r in rows]
        ax.barh(names, values, color="tab:blue" if k < 3 else "tab:green")
        for y, v in enumerate(values):
            ax.annotate(fmt(v), (v, y), xytext=(3, -3), textcoords="offset points", fontsize=7)
        ax.set(title=title, xscale="log" if log else "linear")
        if not log:
            ax.set_xlim(70, 100)
        ax.grid(alpha=0.3, axis="x")
    axes[0].invert_yaxis()
    _save(fig, path)
    return rows


def zoo(path, rows=None):
    """The PyTorch zoo's networks (the zoo- rows of results/rows.py): parameters against the zoo's accuracy
    (each run's best epoch), a colour a family. Returns the rows drawn."""
    rows = rows or [row for row in ROWS if row.name.startswith("zoo-")]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 6))
    families = sorted({row.script.split("/")[0] for row in rows})
    colors = plt.get_cmap("tab20")
    for row in rows:
        family = row.script.split("/")[0]
        ax.scatter(row.parameters / 1e6, row.reference, color=colors(families.index(family) % 20), s=30,
                   label=family)
        label = row.model.replace(" (zoo recipe)", "")
        if family == "shufflenet":  # five points on top of each other: one label
            label = "ShuffleNet g=1, 2, 3, 4, 8" if row.name.endswith("-g1") else None
        if label:
            ax.annotate(label, (row.parameters / 1e6, row.reference), xytext=(4, 2), textcoords="offset points",
                        fontsize=7)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, loc="lower right", ncol=2)
    ax.set(xscale="log", xlabel="parameters (millions, as the scripts print them)",
           ylabel="the zoo's test accuracy, best epoch (%)",
           title="The PyTorch zoo on CIFAR-10: one recipe, 200 epochs")
    ax.grid(alpha=0.3)
    _save(fig, path)
    return rows


# --- figures from short training runs --------------------------------------------------------------------


def speedrun(path, results_dir=RESULTS):
    """The speed-run's runs filed in results/speedrun-N/: each epoch's test accuracy (one view of each image),
    and each run's final test accuracy (over two views, six from step 6 on) at its epochs. Returns the rows drawn."""
    plt = _pyplot()
    colors = plt.get_cmap("tab10")
    fig, (curves, finals) = plt.subplots(1, 2, figsize=(13, 4.2))
    drawn = []
    for k, row in enumerate(SPEEDRUN):
        filed = filed_runs(row, results_dir)
        color, label = colors((0, 1, 2, 3, 4, 5, 6, 9)[k]), row.model.split(": ", 1)[1]  # tab10 without gray
        for i, (folder, summary) in enumerate(filed):
            epochs = summary["arguments"]["epochs"]
            history = run_folder.read_history(folder)
            # The last epoch of a fractional run (9.9) is cut short: drawn at the run's end.
            curves.plot([min(r["epoch"], epochs) for r in history], [100 * r["test_accuracy"] for r in history],
                        color=color, lw=1.2, alpha=0.8, label=None if i else label)
            finals.scatter(epochs, 100 * summary["test_accuracy"], color=color, s=18, label=None if i else label)
        if filed:
            drawn.append(row.name)
    longest = max(row.epochs for row in SPEEDRUN)
    for ax, bottom in ((curves, 60), (finals, 90)):
        ax.axhline(94, color="black", ls=":", lw=1)
        ax.grid(alpha=0.3)
        ax.set(xlabel="epoch", xlim=(0, longest + 1), ylim=(bottom, 95.5))
    curves.set(ylabel="test accuracy (%), one view", title="each epoch of each run")
    finals.set(ylabel="final test accuracy (%)", title="each run's final figure (two views; six from step 6 on)")
    curves.legend(fontsize=7, loc="lower right")
    _save(fig, path)
    return drawn


# Shake-shake against ResNet-110 at the same CPU budget (results/rows.py): drawn from their filed runs.
SAME_BUDGET = ["resnet-110-cpu-15-epochs", "shake-shake-26-2x32d-cpu-15-epochs"]


def same_budget(path, results_dir=RESULTS):
    """Each epoch's test accuracy of the runs filed for the SAME_BUDGET rows, against the epoch and against the
    training time so far (each epoch's seconds, evaluation included). Returns the rows drawn."""
    plt = _pyplot()
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    drawn = []
    for color, name in zip(("tab:blue", "tab:orange"), SAME_BUDGET):
        row = BY_NAME[name]
        for i, (folder, summary) in enumerate(filed_runs(row, results_dir)):
            history = run_folder.read_history(folder)
            accuracy = [100 * r["test_accuracy"] for r in history]
            minutes = np.cumsum([r["seconds"] for r in history]) / 60
            label = None if i else f"{row.model.split(',')[0]}: {accuracy[-1]:.2f} % in {minutes[-1]:.0f} min"
            by_epoch.plot([r["epoch"] for r in history], accuracy, color=color, marker=".", label=label)
            by_time.plot(minutes, accuracy, color=color, marker=".", label=label)
            drawn.append(name)
    by_epoch.set(xlabel="epoch", ylabel="test accuracy (%)", title="by epoch: the same data, the same passes")
    by_time.set(xlabel="minutes of training and evaluation", title="by time on the same 2-core CPU")
    for ax in (by_epoch, by_time):
        ax.grid(alpha=0.3)
    by_epoch.legend(fontsize=8, loc="lower right")
    _save(fig, path)
    return drawn


def train_runs(runs_dir, data_dir, subset, epochs):
    """Runs the LeNet script once per entry of RUNS; returns {name: (summary, history rows, folder)}."""
    results = {}
    for name, (backend, flags) in RUNS.items():
        folder = os.path.join(runs_dir, name)
        command = [sys.executable, os.path.join(train.REPO_ROOT, LENET), "--subset", str(subset), "--epochs",
                   str(epochs), "--output-dir", folder, *flags] + (["--data-dir", data_dir] if data_dir else [])
        print(f"training {name} ({backend}): {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{name}: the training run failed (exit {proc.returncode}): "
                               f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        print(f"  {proc.stdout.strip().splitlines()[-1]} in {time.perf_counter() - started:.0f} s", flush=True)
        results[name] = (run_folder.read_summary(folder), run_folder.read_history(folder), folder)
    return results


def _curves(ax, results, names, column, labels=None, scale=1.0):
    for name in names:
        history = results[name][1]
        ax.plot([r["epoch"] for r in history], [scale * r[column] for r in history],
                label=(labels or {}).get(name, name))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def weight_decay(results, path):
    """The trained weights of three weight decays: their distribution and each layer's L2 norm."""
    import keras

    import cifar_common  # noqa: F401  (registers the augmentation layer for loading)

    plt = _pyplot()
    names = {"no-weight-decay": "0", "reference": "1e-4 (the script)", "weight-decay-1e-3": "1e-3"}
    fig, (hist, norms, acc) = plt.subplots(1, 3, figsize=(14, 3.6))
    width = 0.8 / len(names)
    for k, (name, label) in enumerate(names.items()):
        model = keras.saving.load_model(os.path.join(results[name][2], run_folder.MODEL))
        kernels = [(layer.name, np.asarray(layer.kernel)) for layer in model.layers if hasattr(layer, "kernel")]
        values = np.concatenate([w.ravel() for _, w in kernels])
        hist.hist(values, bins=120, range=(-0.5, 0.5), histtype="step", lw=1.5, label=f"L2 {label}")
        norms.bar(np.arange(len(kernels)) + k * width, [np.linalg.norm(w) for _, w in kernels], width,
                  label=f"L2 {label}")
        keras.backend.clear_session()
    norms.set_xticks(np.arange(len(kernels)) + width, [n for n, _ in kernels], rotation=30, fontsize=8)
    hist.set(yscale="log", xlabel="weight value", ylabel="weights", title="all kernel weights after training")
    norms.set(ylabel="L2 norm", title="each layer's kernel norm")
    _curves(acc, results, names, "test_accuracy", {n: f"L2 {label}" for n, label in names.items()}, 100)
    acc.set(ylabel="test accuracy (%)", title="test accuracy")
    for ax in (hist, norms, acc):
        ax.legend(fontsize=8)
    _save(fig, path)


def schedules_figure(results, path):
    plt = _pyplot()
    names = {"reference": "step", "cosine": "cosine", "htd": "htd"}
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for ax, column, title, scale in [(axes[0], "learning_rate", "learning rate", 1),
                                     (axes[1], "test_accuracy", "test accuracy (%)", 100),
                                     (axes[2], "loss", "training loss", 1)]:
        _curves(ax, results, names, column, names, scale)
        ax.set(ylabel=title)
        ax.legend(fontsize=8)
    _save(fig, path)


def backends(results, path):
    """The same script and seed on three backends (and mixed precision on JAX): accuracy and time."""
    plt = _pyplot()
    names = {"reference": "TensorFlow", "jax": "JAX", "torch": "PyTorch", "jax-mixed-precision": "JAX, bfloat16"}
    fig, (acc, speed) = plt.subplots(1, 2, figsize=(11, 3.6))
    _curves(acc, results, names, "test_accuracy", names, 100)
    acc.set(ylabel="test accuracy (%)", title="same script, same seed")
    acc.legend(fontsize=8)
    seconds = [results[n][0]["seconds_per_epoch"] for n in names]
    speed.barh(list(names.values()), seconds, color="tab:gray")
    for y, s in enumerate(seconds):
        speed.annotate(f"{s:.1f} s", (s, y), xytext=(3, -3), textcoords="offset points", fontsize=8)
    speed.set(xlabel="seconds per epoch (median)", title="time per epoch on this machine")
    speed.invert_yaxis()
    _save(fig, path)


def mixed_precision(results, path):
    plt = _pyplot()
    names = {"jax": "float32", "jax-mixed-precision": "mixed bfloat16"}
    fig, (loss, acc) = plt.subplots(1, 2, figsize=(10, 3.4))
    _curves(loss, results, names, "loss", names)
    loss.set(ylabel="training loss")
    _curves(acc, results, names, "test_accuracy", names, 100)
    acc.set(ylabel="test accuracy (%)")
    for ax in (loss, acc):
        ax.legend(fontsize=8)
    _save(fig, path)


# The figures: four from the data, one from the models alone, one from results/rows.py, two from the runs
# filed in results/, five from the short training runs.
FROM_DATA = ["standardisation.png", "augmentation.png", "samples.png", "regularisation.png"]
TRAINED = ["weight_decay.png", "schedules.png", "backends.png", "mixed_precision.png", "curves.png"]
FIGURES = [*FROM_DATA, "architectures.png", "zoo.png", "speedrun.png", "same_budget.png", *TRAINED]


def main(argv=None):
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("--data-dir", metavar="PATH",
                   help="local copy of CIFAR-10 (the official folder or archive); default: keras.datasets")
    p.add_argument("--output-dir", default=os.path.join(DOC, "figures"), metavar="DIR",
                   help="where the PNGs go (default: doc/figures)")
    p.add_argument("--runs-dir", metavar="DIR",
                   help="a new folder for the training runs (default: runs/make_figures-<date>-<time>)")
    p.add_argument("--subset", type=cli.positive_int, default=10000, metavar="N",
                   help="training images of each run (default: 10000)")
    p.add_argument("--epochs", type=cli.positive_int, default=15, metavar="N", help="epochs of each run (default: 15)")
    p.add_argument("--overwrite", action="store_true", help="replace the PNGs in --output-dir (refused otherwise)")
    p.add_argument("--only", nargs="+", choices=[f[:-4] for f in FIGURES], metavar="FIGURE",
                   help="make only these figures (default: all); the first eight need no training: "
                        + ", ".join(f[:-4] for f in FIGURES))
    args = p.parse_args(argv)
    wanted = {f"{name}.png" for name in args.only} if args.only else set(FIGURES)
    existing = [f for f in FIGURES if f in wanted and os.path.exists(os.path.join(args.output_dir, f))]
    if existing and not args.overwrite:
        p.error(f"{os.path.join(args.output_dir, existing[0])}: exists; pass --overwrite to replace the figures")
    try:
        run_folder.check_output_dir(args.runs_dir)
        d = data.load(data_dir=args.data_dir) if wanted & set(FROM_DATA + TRAINED) else None
        runs_dir = os.path.abspath(args.runs_dir) if args.runs_dir else run_folder.fresh_run_path("make_figures")
    except (data.DataError, run_folder.OutputError) as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    out = args.output_dir
    os.makedirs(out, exist_ok=True)
    for name, make in [("standardisation.png", standardisation), ("augmentation.png", augmentation),
                       ("samples.png", samples), ("regularisation.png", regularisation)]:
        if name in wanted:
            make(d, os.path.join(out, name))
    for name, draw, what in [("speedrun.png", speedrun, "a filed speed-run run"),
                             ("same_budget.png", same_budget, "a filed run of the same-budget rows")]:
        if name in wanted:
            try:
                drawn = draw(os.path.join(out, name))
            except (run_folder.OutputError, ResultsError, KeyError) as e:
                p.error(f"results/: {what} cannot be drawn ({e})")
            print(f"  from results/: {', '.join(drawn) or 'no runs filed'}")
    if "zoo.png" in wanted:
        print(f"  the zoo's rows: {len(zoo(os.path.join(out, 'zoo.png')))}")
    if "architectures.png" in wanted:
        for name, params, cost, reference in architectures(os.path.join(out, "architectures.png")):
            print(f"  {name}: {params:,} parameters, {cost / 1e6:,.2f} M MACs per image, reference {reference:.2f} %")
    if not wanted & set(TRAINED):
        return
    try:
        results = train_runs(runs_dir, args.data_dir, args.subset, args.epochs)
    except RuntimeError as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        sys.exit(1)
    for name, make in [("weight_decay.png", weight_decay), ("schedules.png", schedules_figure),
                       ("backends.png", backends), ("mixed_precision.png", mixed_precision)]:
        if name in wanted:
            make(results, os.path.join(out, name))
    if "curves.png" in wanted:
        shutil.copyfile(os.path.join(results["reference"][2], run_folder.CURVES), os.path.join(out, "curves.png"))
        print(f"wrote {os.path.join(out, 'curves.png')} (the reference run's own curves.png)")
    print("test accuracy of each run (the doc pages quote these):")
    for name, (summary, history, folder) in results.items():
        print(f"  {name}: {100 * summary['test_accuracy']:.2f} % after {summary['epochs']} epochs, "
              f"{summary['seconds_per_epoch']:.1f} s/epoch ({summary['backend']}, {summary['dtype_policy']})")
    print(f"runs: {runs_dir}")


if __name__ == "__main__":
    main()
