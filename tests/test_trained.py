"""A trained run: --tensorboard, tools/evaluate.py and tools/predict.py end to end on tiny runs, and the
evaluation's arithmetic and the image reading on their own."""

import glob
import json
import os
import shutil

import numpy as np
import pytest

from cifar_common import data, trained
from conftest import check_ok, one_line_error, run_script, summary_of, write_idx


def _scalars(folder, tag):
    """{step: value} of a scalar in the TensorBoard event files of ``folder``."""
    import tensorflow as tf

    values = {}
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values


def _history_column(run_dir, column):
    import csv

    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        return [float(row[column]) for row in csv.DictReader(f)]


def _images(folder):
    """Good image files in several modes and sizes, and bad ones."""
    from PIL import Image, ImageDraw

    os.makedirs(folder)
    seven = Image.new("RGB", (200, 150), "white")
    ImageDraw.Draw(seven).line([(40, 30), (160, 30), (90, 140)], fill="black", width=14)
    seven.save(os.path.join(folder, "seven.jpg"))
    Image.new("RGBA", (50, 70), (255, 0, 0, 128)).save(os.path.join(folder, "half-transparent.png"))
    Image.new("L", (28, 28), 200).save(os.path.join(folder, "grey.png"))
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("not an image")
    with open(os.path.join(folder, "seven.jpg"), "rb") as f:
        raw = f.read()
    with open(os.path.join(folder, "cut.jpg"), "wb") as f:
        f.write(raw[: len(raw) // 2])
    with open(os.path.join(folder, "bomb.png"), "wb") as f:
        f.write(_png_header(40_000, 40_000))  # 1.6 billion pixels announced: Pillow refuses it as a bomb
    os.mkfifo(os.path.join(folder, "fifo.png"))  # opening it would wait for a writer forever
    good = [os.path.join(folder, n) for n in ("seven.jpg", "half-transparent.png", "grey.png")]
    bad = [os.path.join(folder, n) for n in ("notes.txt", "cut.jpg", "missing.png", "bomb.png", "fifo.png")]
    return good, bad


def _png_header(width, height):
    """The first chunks of a PNG file that announces an 8-bit grey image of width x height pixels."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_mnist_run_tensorboard_evaluate_predict(tmp_path):
    mnist = write_idx(str(tmp_path / "mnist"), train=512, test=128)
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_da_wd_keras.py", "--dataset", "mnist", "--data-dir", mnist, "--epochs", "2",
                      "--output-dir", run_dir, "--tensorboard")
    check_ok(proc)
    summary = summary_of(run_dir)
    assert summary["parameters"] == 61_706 and summary["data"]["class_names"] == [str(i) for i in range(10)]

    # --tensorboard: every epoch's scalars, the learning rate among them, as history.csv has them.
    board = os.path.join(run_dir, "tensorboard")
    assert _scalars(os.path.join(board, "train"), "epoch_learning_rate") == pytest.approx(
        dict(enumerate(_history_column(run_dir, "learning_rate"))))
    assert _scalars(os.path.join(board, "validation"), "epoch_accuracy") == pytest.approx(
        dict(enumerate(_history_column(run_dir, "test_accuracy"))))
    assert sorted(_scalars(os.path.join(board, "train"), "epoch_loss")) == [0, 1]
    # The layer graph (the "keras" summary), and no op graph: what --help and the docs say it writes.
    import tensorflow as tf

    events = [e for path in glob.glob(os.path.join(board, "train", "events.out.tfevents.*"))
              for e in tf.compat.v1.train.summary_iterator(path)]
    assert any(v.tag == "keras" for e in events for v in e.summary.value)
    assert not any(e.graph_def for e in events)

    proc = run_script("tools/evaluate.py", run_dir)
    check_ok(proc)
    evaluation = os.path.join(run_dir, "evaluation")
    with open(os.path.join(evaluation, "evaluation.json")) as f:
        report = json.load(f)
    assert report["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-9)
    assert f"test accuracy:             {100 * summary['test_accuracy']:.2f} %" in proc.stdout
    assert report["flip_accuracy"] is None and "not used on mnist" in proc.stdout
    confusion = np.array(report["confusion"])
    assert confusion.sum() == 128 and np.trace(confusion) == round(128 * summary["test_accuracy"])
    assert [r["images"] for r in report["per_class"]] == confusion.sum(axis=1).tolist()
    for name in ("confusion-matrix.png", "most-confidently-wrong.png", "per-class.md"):
        assert os.path.getsize(os.path.join(evaluation, name)) > 0
    # Never overwritten unless asked; PyTorch reads TensorFlow's model and gets the same figure.
    one_line_error(run_script("tools/evaluate.py", run_dir), "evaluation: exists", "--overwrite")
    check_ok(run_script("tools/evaluate.py", run_dir, "--overwrite", backend="torch"))
    with open(os.path.join(evaluation, "evaluation.json")) as f:
        again = json.load(f)
    assert again["backend"] == "torch" and again["accuracy"] == pytest.approx(report["accuracy"], abs=1 / 128)

    good, bad = _images(str(tmp_path / "images"))
    proc = run_script("tools/predict.py", run_dir, *bad[:2], *good, *bad[2:], timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if ": error:" in line]
    assert len(errors) == 5 and "Traceback" not in proc.stderr
    assert "notes.txt: not an image file" in errors[0] and "cut.jpg: cannot be read as an image" in errors[1]
    assert "missing.png: no such file" in errors[2]
    assert "bomb.png: refused as a possible decompression bomb" in errors[3]
    assert "fifo.png: not a regular file" in errors[4]
    lines = proc.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == good
    for line in lines:  # five digits, probabilities in falling order
        pairs = [item.rsplit(" ", 2) for item in line.split(": ", 1)[1].split(", ")]
        assert len(pairs) == 5 and {name for name, _, _ in pairs} <= set("0123456789")
        probs = [float(p) for _, p, _ in pairs]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 100.05


    # A model of another data set in a run folder: one line, and evaluate.py writes nothing.
    cifar_run = tmp_path / "cifar-run"
    shutil.copytree(run_dir, cifar_run, ignore=shutil.ignore_patterns("evaluation", "tensorboard"))
    summary["arguments"]["dataset"], summary["data"]["class_names"] = "cifar10", list(data.CIFAR10_NAMES)
    (cifar_run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(trained.RunError, match=r"model takes images of 32 x 32 x 1 and answers 10 classes, but the "
                                               r"run's data \(cifar10\) has images of 32 x 32 x 3"):
        trained.load_run(str(cifar_run))
    summary["arguments"]["dataset"], summary["data"]["class_names"] = "cifar100", list(data.CIFAR100_NAMES)
    (cifar_run / "summary.json").write_text(json.dumps(summary))
    proc = run_script("tools/evaluate.py", str(cifar_run), "--data-dir", mnist)
    one_line_error(proc, "not this run's model")
    assert not (cifar_run / "evaluation").exists()


def test_an_evaluation_that_fails_half_way_leaves_none(tmp_path, monkeypatch):
    images = np.zeros((4, 4, 4, 1), np.uint8)
    labels = np.array([1, 2, 2, 1], np.int32)
    test = data.Data(None, None, None, None, images, labels, 3, ["a", "b", "c"], "stub")
    run = _stub_run("mnist")
    run.folder = str(tmp_path)
    report = trained.evaluate(run, test)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")  # a stand-in for the figure's write on a full disk

    monkeypatch.setattr(trained, "plot_wrong", full_disk)
    with pytest.raises(trained.RunError, match=r"evaluation: cannot be written \(No space left on device\)"):
        trained.write_evaluation(run, report, test)
    assert os.listdir(tmp_path) == []  # neither evaluation/ nor a half-written one
    monkeypatch.undo()
    assert sorted(os.listdir(trained.write_evaluation(run, report, test))) == [
        "confusion-matrix.png", "evaluation.json", "most-confidently-wrong.png", "per-class.md"]


def test_cifar_run_on_jax_evaluated_on_tensorflow(small_cifar10, tmp_path):
    run_dir = str(tmp_path / "run")
    proc = run_script("lenet/LeNet_dp_da_keras.py", "--data-dir", small_cifar10, "--epochs", "1", "--subset", "512",
                      "--output-dir", run_dir, "--tensorboard", backend="jax")
    check_ok(proc)
    assert _scalars(os.path.join(run_dir, "tensorboard", "train"), "epoch_learning_rate") == pytest.approx({0: 0.01})
    proc = run_script("tools/evaluate.py", run_dir, backend="tensorflow")
    check_ok(proc)
    with open(os.path.join(run_dir, "evaluation", "evaluation.json")) as f:
        report = json.load(f)
    # The same weights on another backend: the same answers, up to an image whose two best classes tie within
    # float round-off.
    assert abs(report["accuracy"] - summary_of(run_dir)["test_accuracy"]) <= 1 / 256 + 1e-9
    assert report["backend"] == "tensorflow" and 0 <= report["flip_accuracy"] <= 1
    assert report["per_class"][0]["class"] == "airplane"
    proc = run_script("tools/predict.py", run_dir, str(tmp_path / "nothing.png"))
    one_line_error(proc, "nothing.png: no such file")


class _StubModel:
    """Answers from the top-left pixel of each image: class (pixel % 3) with probability 0.6, others 0.2."""

    input_shape = (None, 4, 4, 1)

    def predict(self, images, batch_size=None, verbose=0):
        if not isinstance(images, np.ndarray):  # on TensorFlow, data.batches's dataset of 1-tuples
            images = np.concatenate([np.asarray(x) for (x,) in images])
        probs = np.full((len(images), 3), 0.2)
        probs[np.arange(len(images)), images[:, 0, 0, 0].astype(int) % 3] = 0.6
        return probs


def _stub_run(dataset):
    return trained.TrainedRun("/nowhere", {"arguments": {"dataset": dataset}, "test_accuracy": 0.5,
                                           "data": {"class_names": ["a", "b", "c"]}}, _StubModel())


def test_evaluation_arithmetic():
    images = np.zeros((4, 4, 4, 1), np.uint8)
    images[:, 0, 0, 0] = [0, 1, 2, 0]  # the model says a, b, c, a
    images[:, 0, 3, 0] = [0, 2, 2, 1]  # the mirror's top-left pixel: a, c, c, b
    labels = np.array([0, 2, 2, 1], np.int32)
    test = data.Data(None, None, None, None, images, labels, 3, ["a", "b", "c"], "stub")
    report = trained.evaluate(_stub_run("cifar10"), test)
    assert report["accuracy"] == 0.5  # right on images 0 and 2
    # Averaged with the mirror: image 1 is b/c 0.4 each plus a 0.2 -> a tie that argmax breaks to b (wrong);
    # image 3: a 0.4, b 0.4 -> a (wrong). Images 0 and 2 agree with their mirrors.
    assert report["flip_accuracy"] == 0.5
    assert report["confusion"].tolist() == [[1, 0, 0], [1, 0, 0], [0, 1, 1]]
    assert [(r["class"], r["images"], r["correct"]) for r in report["per_class"]] == [
        ("a", 1, 1), ("b", 1, 0), ("c", 2, 1)]
    assert trained.most_confidently_wrong(report, labels).tolist() == [1, 3]
    assert trained.per_class_table(report).splitlines()[2].startswith("| b | 1 | 0 | 0.00 % |")
    assert trained.evaluate(_stub_run("mnist"), test)["flip_accuracy"] is None


def test_read_image_sizes_modes_and_padding(tmp_path):
    from PIL import Image

    Image.new("RGBA", (90, 40), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("L", (300, 300), 255).save(tmp_path / "white.jpg")
    cifar = trained.read_image(str(tmp_path / "clear.png"), "cifar10")
    assert cifar.shape == (32, 32, 3) and cifar.dtype == np.uint8 and (cifar == 255).all()  # clear: the page
    grey = trained.read_image(str(tmp_path / "white.jpg"), "fashion_mnist")
    assert grey.shape == (32, 32, 1) and (grey[2:30, 2:30] >= 250).all() and not grey[:2].any()
    colour = trained.read_image(str(tmp_path / "white.jpg"), "cifar100")
    assert colour.shape == (32, 32, 3)
    with pytest.raises(trained.RunError, match="a folder, not an image file"):
        trained.read_image(str(tmp_path), "cifar10")


def test_images_of_more_than_8_bits_are_scaled_from_their_own_range(tmp_path):
    from PIL import Image

    # A 16-bit grey PNG, half bright: 32896 of 65535 (Pillow's own conversion makes any value above 255 white).
    Image.fromarray(np.full((28, 28), 128 * 257, np.uint16)).save(tmp_path / "sixteen.png")
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    pixels = trained.read_image(str(tmp_path / "sixteen.png"), "mnist")[2:30, 2:30]
    assert (pixels == 128).all()
    # Float TIFFs: within 0..1 as fractions of white; otherwise from their darkest to their brightest pixel.
    ramp = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    Image.fromarray(ramp).save(tmp_path / "unit.tif")
    Image.fromarray(ramp * 4000 - 1000).save(tmp_path / "wide.tif")
    for name in ("unit.tif", "wide.tif"):
        assert Image.open(tmp_path / name).mode == "F"
        image = trained.read_image(str(tmp_path / name), "cifar10")
        assert image.shape == (32, 32, 3) and image.min() <= 2 and image.max() >= 253, name
        assert 120 <= image.mean() <= 135, name  # a ramp from black to white, not clipped to either


def test_a_folder_that_is_no_finished_run(tmp_path):
    with pytest.raises(trained.RunError, match="no such folder"):
        trained.load_run(str(tmp_path / "nothing"))
    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.raises(trained.RunError, match="summary.json"):
        trained.load_run(str(folder))
    (folder / "summary.json").write_text(json.dumps({"finished": False}))
    with pytest.raises(trained.RunError, match="has not finished.*--resume"):
        trained.load_run(str(folder))
    (folder / "summary.json").write_text(json.dumps({"finished": True}))
    with pytest.raises(trained.RunError, match="model.keras: missing"):
        trained.load_run(str(folder))
    (folder / "model.keras").write_bytes(b"PK\x03\x04 damaged")
    with pytest.raises(trained.RunError, match=r"model.keras: cannot be loaded \(") as e:
        trained.load_run(str(folder))
    assert "\n" not in str(e.value)
