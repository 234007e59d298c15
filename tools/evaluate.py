"""Evaluates a trained run on its test set, and shows where it goes wrong.

    python tools/evaluate.py runs/LeNet_dp_da_wd_keras-20261130-101500

Prints the test accuracy (the figure of the run's summary.json, recomputed from model.keras), the accuracy
with flip test-time augmentation (each image and its mirror, probabilities averaged; not for MNIST, whose
digits are not mirrored), and the accuracy of every class; and writes into the run folder:

    evaluation/evaluation.json           the figures, per class, and the confusion matrix as numbers
    evaluation/per-class.md              the per-class table, weakest class first
    evaluation/confusion-matrix.png      true class against predicted class
    evaluation/most-confidently-wrong.png  the 24 test images the model got wrong with the most confidence

An existing evaluation/ is kept unless --overwrite is given. The test set is read as the run read its
data (its --data-dir, or keras.datasets); --data-dir gives another copy. Any backend evaluates a run of any
backend (KERAS_BACKEND=jax python tools/evaluate.py RUN).
"""

import sys

from cifar_common import cli, data, trained  # cifar_common before keras (see its __init__)


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("run", metavar="RUN_FOLDER", help="the folder of a finished run")
    p.add_argument("--data-dir", metavar="PATH",
                   help="a local copy of the run's data set (default: the run's own --data-dir, or keras.datasets)")
    p.add_argument("--batch-size", type=cli.positive_int, default=256, metavar="N",
                   help="images per prediction batch (default: 256)")
    p.add_argument("--overwrite", action="store_true", help="replace the run folder's existing evaluation/")
    args = p.parse_args(cli.attach_negative_values(sys.argv[1:]))
    try:
        run = trained.load_run(args.run)
        trained.evaluation_folder(run, args.overwrite)  # refused now, before the data and the predictions
        data_dir = args.data_dir or run.summary.get("arguments", {}).get("data_dir")
        test = data.load(run.dataset, data_dir)
        report = trained.evaluate(run, test, args.batch_size)
        folder = trained.write_evaluation(run, report, test, overwrite=args.overwrite)
    except (trained.RunError, data.DataError) as e:
        sys.stderr.write(f"{p.prog}: error: {e}\n")
        sys.exit(2)

    print(f"{run.summary.get('script')} on {run.dataset}: {report['test_images']} test images from {test.source}")
    print()
    print(trained.per_class_table(report))
    recorded = report["summary_test_accuracy"]
    print(f"test accuracy:             {100 * report['accuracy']:.2f} %"
          + (f" (summary.json: {100 * recorded:.2f} %)" if recorded is not None else ""))
    if report["flip_accuracy"] is None:
        print(f"with flip averaging:       not used on {run.dataset} (a mirrored digit is often another digit)")
    else:
        print(f"with flip averaging:       {100 * report['flip_accuracy']:.2f} % (each image and its mirror)")
    print(f"written: {folder}/ (evaluation.json, per-class.md, confusion-matrix.png, most-confidently-wrong.png)")

if __name__ == "__main__":
    main()
