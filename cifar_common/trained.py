"""A trained run: its model and classes, its test-set evaluation, and predictions for image files.

What ``tools/evaluate.py`` and ``tools/predict.py`` are made of::

    run = trained.load_run("runs/LeNet_dp_da_wd_keras-20261130-101500")  # summary.json and model.keras
    report = trained.evaluate(run, data.load(run.dataset, data_dir))      # accuracy, flip averaging, per class
    top = trained.top_classes(run, [trained.read_image("cat.png", run.dataset)], k=5)

Every problem (a folder that is not a finished run, a model file that does not load, an image file that is
not an image) is a ``RunError`` (or the loader's ``DataError``) with a one-line message naming the file.
"""

import dataclasses
import json
import os
import shutil
import stat

import numpy as np

from . import data, run_folder

EVALUATION = "evaluation"  # the folder evaluate.py writes inside the run folder


class RunError(Exception):
    """A run folder, model file or image that cannot be used; the message is one line for the user."""


@dataclasses.dataclass
class TrainedRun:
    folder: str
    summary: dict
    model: object  # the keras.Model of model.keras

    @property
    def dataset(self):
        return self.summary.get("arguments", {}).get("dataset", "cifar10")

    @property
    def class_names(self):
        """The names the run trained with (summary.json records them; older runs: the data set's)."""
        names = self.summary.get("data", {}).get("class_names")
        return list(names) if names else data.class_names(self.dataset)

    @property
    def image_shape(self):
        return tuple(self.model.input_shape[1:])


def load_run(folder):
    """The finished run in ``folder``: its summary and its model (any backend loads any backend's model)."""
    import keras

    if not os.path.isdir(folder):
        raise RunError(f"{folder}: no such folder (expected a run folder, such as runs/<script>-<date>-<time>)")
    try:
        summary = run_folder.read_summary(folder)
    except run_folder.OutputError as e:
        raise RunError(str(e)) from None
    if not summary.get("finished"):
        raise RunError(f"{folder}: the run has not finished (no model yet); finish it with --resume {folder}")
    path = os.path.join(folder, run_folder.MODEL)
    if not os.path.isfile(path):
        raise RunError(f"{path}: missing; the run folder holds no trained model")
    try:
        model = keras.saving.load_model(path)
    except Exception as e:  # a damaged zip, a missing layer class, an unreadable file: all arrive as various types
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise RunError(f"{path}: cannot be loaded ({type(e).__name__}: {reason})") from None
    run = TrainedRun(os.path.abspath(folder), summary, model)
    # A model.keras from another run (an MNIST model in a CIFAR run, a 100-class one): it cannot score this
    # run's images, nor name its classes.
    shape, classes = tuple(data.image_shape(run.dataset)), len(run.class_names)
    answers = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    if run.image_shape != shape or answers != classes:
        raise RunError(f"{path}: the model takes images of {' x '.join(map(str, run.image_shape))} and answers "
                       f"{answers} classes, but the run's data ({run.dataset}) has images of "
                       f"{' x '.join(map(str, shape))} and {classes} classes: it is not this run's model")
    return run


# --- evaluation on the test set ----------------------------------------------------------------------------------

def probabilities(run, images, batch_size=256):
    """The model's class probabilities for uint8 NHWC images, as float64 (N, classes)."""
    return data.predict(run.model, images.astype("float32"), batch_size).astype(np.float64)


def evaluate(run, test, batch_size=256):
    """The test set's evaluation: a dict with accuracy, flip-averaged accuracy (where the data set is
    mirrorable), per-class accuracy, the confusion matrix and the probabilities.

    ``test`` is a ``data.Data`` (its x_test and y_test are used)."""
    x, y = test.x_test, test.y_test
    if x.shape[1:] != run.image_shape:
        raise RunError(f"{run.folder}: the model takes images of {run.image_shape}, the {run.dataset} test set "
                       f"has {x.shape[1:]}")
    probs = probabilities(run, x, batch_size)
    predicted = probs.argmax(axis=1)
    classes = probs.shape[1]
    report = {
        "test_images": int(len(y)),
        "accuracy": float((predicted == y).mean()),
        "summary_test_accuracy": run.summary.get("test_accuracy"),
        "probabilities": probs,
        "predicted": predicted,
    }
    if data.mirrorable(run.dataset):
        # Flip test-time augmentation: the average of the probabilities of each image and of its mirror.
        mirrored = probabilities(run, x[:, :, ::-1], batch_size)
        averaged = ((probs + mirrored) / 2).argmax(axis=1)
        report["flip_accuracy"] = float((averaged == y).mean())
    else:
        report["flip_accuracy"] = None
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    report["confusion"] = confusion
    counts = confusion.sum(axis=1)
    report["per_class"] = [{"class": name, "images": int(counts[c]), "correct": int(confusion[c, c]),
                            "accuracy": float(confusion[c, c] / counts[c]) if counts[c] else None}
                           for c, name in enumerate(run.class_names)]
    return report


def most_confidently_wrong(report, labels, count=24):
    """Indices of the wrong test images, the most confident mistake first."""
    predicted, probs = report["predicted"], report["probabilities"]
    wrong = np.flatnonzero(predicted != labels)
    confidence = probs[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def per_class_table(report):
    """The per-class accuracy as a Markdown table, lowest accuracy first."""
    rows = sorted(report["per_class"], key=lambda r: (r["accuracy"] if r["accuracy"] is not None else 2, r["class"]))
    lines = ["| class | test images | correct | accuracy |", "|---|---:|---:|---:|"]
    for r in rows:
        accuracy = f"{100 * r['accuracy']:.2f} %" if r["accuracy"] is not None else "—"
        lines.append(f"| {r['class']} | {r['images']} | {r['correct']} | {accuracy} |")
    return "\n".join(lines) + "\n"


def plot_confusion(report, class_names, path, title):
    """The confusion matrix: rows the true class, columns the predicted one, coloured by the share of the row;
    with up to 20 classes each cell shows its count."""
    plt = run_folder.pyplot()
    confusion = report["confusion"]
    n = len(class_names)
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = 6.5 if n <= 20 else 14
    fig, ax = plt.subplots(figsize=(size, size * 0.92))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = np.arange(n)
    font = 8 if n <= 20 else 4
    ax.set_xticks(ticks, class_names, rotation=90, fontsize=font)
    ax.set_yticks(ticks, class_names, fontsize=font)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n <= 20:
        for t in range(n):
            for p in range(n):
                if confusion[t, p]:
                    ax.text(p, t, str(confusion[t, p]), ha="center", va="center", fontsize=7,
                            color="white" if shares[t, p] > 0.5 else "black")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_wrong(images, labels, report, indices, class_names, path, title):
    """A grid of the given test images with their true and predicted class and the predicted probability."""
    plt = run_folder.pyplot()
    columns = 6
    rows = max(1, -(-len(indices) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.75 * columns, 2.0 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, indices):
        image = images[i]
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None,
                  vmin=0, vmax=255, interpolation="nearest")
        p = report["predicted"][i]
        ax.set_title(f"true: {class_names[labels[i]]}\nsaid: {class_names[p]} "
                     f"{100 * report['probabilities'][i, p]:.1f} %", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluation_folder(run, overwrite=False):
    """RUN/evaluation/, where ``write_evaluation`` writes; an existing one is refused unless ``overwrite``
    (asked first by evaluate.py, before the model predicts anything)."""
    folder = os.path.join(run.folder, EVALUATION)
    if os.path.exists(folder) and not overwrite:
        raise RunError(f"{folder}: exists; an evaluation is never overwritten unless asked (--overwrite)")
    return folder


def write_evaluation(run, report, test, overwrite=False):
    """Writes RUN/evaluation/: evaluation.json, per-class.md, confusion-matrix.png and most-confidently-wrong.png.
    An existing evaluation is replaced only with ``overwrite``; returns the folder."""
    final = evaluation_folder(run, overwrite)
    # Written into evaluation.partial/ and renamed when whole: a failure half-way leaves no half evaluation.
    folder = final + ".partial"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.makedirs(folder)
        _write_evaluation(run, report, test, folder)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(folder, final)
    except BaseException as e:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, OSError):
            raise RunError(f"{final}: cannot be written ({e.strerror or e})") from None
        raise
    return final


def _write_evaluation(run, report, test, folder):
    import keras

    names = run.class_names
    title = f"{run.summary.get('script', '?')} on {run.dataset}: {100 * report['accuracy']:.2f} % of " \
            f"{report['test_images']} test images"
    plot_confusion(report, names, os.path.join(folder, "confusion-matrix.png"), title)
    wrong = most_confidently_wrong(report, test.y_test)
    if len(wrong):
        plot_wrong(test.x_test, test.y_test, report, wrong, names, os.path.join(folder, "most-confidently-wrong.png"),
                   f"the {len(wrong)} most confidently wrong test images")
    with open(os.path.join(folder, "per-class.md"), "w") as f:
        f.write(per_class_table(report))
    saved = {k: report[k] for k in ("test_images", "accuracy", "flip_accuracy", "summary_test_accuracy",
                                    "per_class")}
    saved.update({"confusion": report["confusion"].tolist(), "most_confidently_wrong": wrong.tolist(),
                  "test_data": test.source, "backend": keras.backend.backend()})
    with open(os.path.join(folder, "evaluation.json"), "w") as f:
        json.dump(saved, f, indent=1)


# --- predictions for image files ---------------------------------------------------------------------------------

def _to_8_bits(image):
    """A grey image of more than 8 bits (16-bit PNG: modes I;16 and I; float TIFF: mode F) as 8-bit grey,
    scaled from its own range: 0 to 65535 for 16-bit integers, 0 to 1 for floats within it, else from its
    darkest to its brightest pixel. (Pillow's own conversion clips every value above 255 to white.)"""
    from PIL import Image

    pixels = np.asarray(image, dtype=np.float64)
    finite = pixels[np.isfinite(pixels)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if image.mode != "F" and low >= 0 and high <= 65535:
        low, high = 0.0, 65535.0
    elif image.mode == "F" and low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    scaled = (np.nan_to_num(pixels, nan=low, posinf=high, neginf=low) - low) / max(high - low, 1e-12)
    return Image.fromarray(np.clip(np.rint(255 * scaled), 0, 255).astype(np.uint8))


def read_image(path, dataset):
    """An image file (PNG, JPEG or anything Pillow reads; any size and mode) as the run's input: 32 x 32 RGB
    for CIFAR; for MNIST and Fashion-MNIST 28 x 28 grey, zero-padded to 32 x 32 as the training images were.
    The picture is squeezed to a square, as the data sets' images are square. Refused in one line: what is
    not a file (a folder; a FIFO or a device, which reading could block on), what Pillow cannot read, and
    an image Pillow takes for a decompression bomb (over twice its pixel limit)."""
    from PIL import Image, UnidentifiedImageError

    grey = data.image_shape(dataset)[-1] == 1
    side = data.GREY_SIDE if grey else 32
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise RunError(f"{path}: no such file") from None
    except OSError as e:
        raise RunError(f"{path}: cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(mode):
        raise RunError(f"{path}: a folder, not an image file")
    if not stat.S_ISREG(mode):
        raise RunError(f"{path}: not a regular file (a FIFO, a device or a socket), so not an image file")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I", "F") or image.mode.startswith("I;16"):
                image = _to_8_bits(image)
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                image = image.convert("RGBA")  # transparent pixels count as white, as on a page
                backdrop = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(backdrop, image)
            image = image.convert("L" if grey else "RGB").resize((side, side), Image.Resampling.LANCZOS)
    except FileNotFoundError:
        raise RunError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RunError(f"{path}: a folder, not an image file") from None
    except UnidentifiedImageError:
        raise RunError(f"{path}: not an image file that Pillow can read (PNG, JPEG, ...)") from None
    except Image.DecompressionBombError as e:
        raise RunError(f"{path}: refused as a possible decompression bomb ({' '.join(str(e).split())})") from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated or damaged image data
        raise RunError(f"{path}: cannot be read as an image ({' '.join(str(e).split())})") from None
    pixels = np.asarray(image, dtype=np.uint8)
    return data.pad_grey(pixels[None])[0] if grey else pixels


def top_classes(run, images, k=5, batch_size=256):
    """For each image (as ``read_image`` gives them), the ``k`` likeliest classes: [(name, probability)]."""
    probs = probabilities(run, np.stack(images), batch_size)
    names = run.class_names
    return [[(names[c], float(p[c])) for c in np.argsort(-p, kind="stable")[:k]] for p in probs]
