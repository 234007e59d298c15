"""Draws the three learning-rate schedules of the collection for one run length and base rate (no training).

    python htd/plot_schedules.py --epochs 200 --lr 0.1 --output schedules.png

The step schedule is the ResNet one (a tenth from epoch 81 of 200, a hundredth from 122, scaled to
--epochs); HTD uses --htd-lower and --htd-upper. The values are those of cifar_common.schedules, the same
functions the training scripts call.
"""

import os
import sys

from cifar_common import cli, schedules
from cifar_common.schedules import COLOURS


def plot(path, epochs, lr, htd_lower=schedules.HTD_LOWER, htd_upper=schedules.HTD_UPPER):
    """Writes the figure to ``path``: one line per schedule, learning rate by epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {
        "step": schedules.step(lr, epochs),
        "cosine": schedules.cosine(lr, epochs),
        f"htd (L={htd_lower:g}, U={htd_upper:g})": schedules.htd(lr, epochs, htd_lower, htd_upper),
    }
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for (name, schedule), colour in zip(curves.items(), COLOURS.values()):
        ax.plot(range(epochs), [schedule(e) for e in range(epochs)], label=name, color=colour, lw=2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(f"learning-rate schedules, {epochs} epochs from {lr:g}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("--epochs", type=cli.positive_int, default=200, metavar="N", help="run length (default: 200)")
    p.add_argument("--lr", type=cli.positive_float, default=0.1, metavar="RATE", help="base rate (default: 0.1)")
    p.add_argument("--htd-lower", type=float, default=schedules.HTD_LOWER, metavar="L",
                   help=f"HTD's tanh argument at the first epoch (default: {schedules.HTD_LOWER:g})")
    p.add_argument("--htd-upper", type=float, default=schedules.HTD_UPPER, metavar="U",
                   help=f"HTD's tanh argument at the end (default: {schedules.HTD_UPPER:g})")
    p.add_argument("--output", default="schedules.png", metavar="PNG",
                   help="the figure to write (default: schedules.png)")
    p.add_argument("--overwrite", action="store_true", help="replace --output if it exists (refused otherwise)")
    args = p.parse_args(argv)
    if not args.htd_lower < args.htd_upper:
        p.error(f"--htd-lower {args.htd_lower:g} must be below --htd-upper {args.htd_upper:g}")
    if os.path.exists(args.output) and not args.overwrite:
        p.error(f"{args.output}: exists; pass --overwrite to replace it")
    try:
        plot(args.output, args.epochs, args.lr, args.htd_lower, args.htd_upper)
    except OSError as e:
        print(f"{p.prog}: error: {args.output}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {os.path.abspath(args.output)}")


if __name__ == "__main__":
    main()
