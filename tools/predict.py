"""Classifies image files with a trained run: the five likeliest classes of each, by name.

    python tools/predict.py runs/LeNet_dp_da_wd_keras-20261130-101500 cat.jpg ship.png

Any size and mode (PNG, JPEG and whatever else Pillow reads): each picture is squeezed to the data set's
square (32 x 32 for CIFAR; 28 x 28 for MNIST and Fashion-MNIST, then zero-padded to 32 x 32 as their
training images were) and converted to the run's channels (RGB, or grey). A file that cannot be read gets
one line on stderr and the others are still classified; the exit status is then 2.

MNIST's digits are white on black, centred by their centre of mass: a dark digit on white paper needs
inverting first, or the network sees a white page.
"""

import sys

from cifar_common import cli, trained  # cifar_common before keras (see its __init__)


def main():
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("run", metavar="RUN_FOLDER", help="the folder of a finished run")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files to classify")
    p.add_argument("--top", type=cli.positive_int, default=5, metavar="K",
                   help="how many classes to show per image (default: 5)")
    args = p.parse_args(sys.argv[1:])
    try:
        run = trained.load_run(args.run)
    except trained.RunError as e:
        sys.stderr.write(f"{p.prog}: error: {e}\n")
        sys.exit(2)
    paths, images, failed = [], [], 0
    for path in args.images:
        try:
            images.append(trained.read_image(path, run.dataset))
            paths.append(path)
        except trained.RunError as e:
            sys.stderr.write(f"{p.prog}: error: {e}\n")
            failed += 1
    if images:
        for path, top in zip(paths, trained.top_classes(run, images, min(args.top, len(run.class_names)))):
            print(f"{path}: " + ", ".join(f"{name} {100 * prob:.1f} %" for name, prob in top))
    if failed:
        sys.exit(2)

if __name__ == "__main__":
    main()
