"""Trains a script of the collection with the he_normal of Keras 2.1 or with that of Keras 3.

    python benchmarks/initialiser.py keras21 lenet/LeNet_dp_da_wd_keras.py --data-dir ~/cifar-10-batches-py
    python benchmarks/initialiser.py keras3  lenet/LeNet_dp_da_wd_keras.py --data-dir ~/cifar-10-batches-py

The reference collection's figures were trained with Keras 2.1, whose he_normal drew from a normal
distribution of standard deviation sqrt(2 / fan_in) cut at two standard deviations, without correcting for
the cut: the weights' actual spread was 0.88 times sqrt(2 / fan_in). Keras 2.2 (keras-team/keras commit
895dba6, "Fix initializers (#9963)") and Keras 3 widen the cut normal so that its spread is sqrt(2 / fan_in)
exactly. "keras21" gives every he_normal layer of the script the old spread; "keras3" changes nothing (the
same command line, for a like-for-like pair). Every other argument goes to the script, whose run folder,
summary.json (its "command" says which initialiser) and last line are as usual. Only the initial weights
differ, so an interrupted run may be resumed with the script itself. doc/initialisation.md has the figures.
"""

import argparse
import os
import runpy
import sys

# Keras 3's truncated normal divides the requested spread by this factor (the standard deviation of a
# standard normal cut at +-2) so that the result has the requested spread; Keras 2.1 did not.
TRUNCATION = 0.87962566103423978
CHOICES = ("keras21", "keras3")


def use_keras21_he_normal():
    """Makes keras.initializers.HeNormal draw as Keras 2.1's he_normal did."""
    from keras.src.initializers import random_initializers

    def init(self, seed=None):
        random_initializers.VarianceScaling.__init__(self, scale=2.0 * TRUNCATION**2, mode="fan_in",
                                                     distribution="truncated_normal", seed=seed)

    random_initializers.HeNormal.__init__ = init


def main():
    from cifar_common import cli  # sets the environment before Keras is imported

    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("initialiser", choices=CHOICES, help="keras21: Keras 2.1's spread; keras3: unchanged")
    p.add_argument("script", help="the collection's training script, such as lenet/LeNet_dp_da_wd_keras.py")
    p.add_argument("arguments", nargs=argparse.REMAINDER, help="the script's own arguments")
    args = p.parse_args()
    if not os.path.isfile(args.script):
        p.error(f"{args.script}: no such script")
    if args.initialiser == "keras21":
        use_keras21_he_normal()
    sys.argv = [args.script, *args.arguments]
    runpy.run_path(args.script, run_name="__main__")


if __name__ == "__main__":
    main()
