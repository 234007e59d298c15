"""Trains a speed-run step with Keras's SGD, as the scripts do, or with PyTorch's, as upstream does.

    python benchmarks/sgd_convention.py pytorch speedrun/step7_alternating_flip_keras.py --seed 0 --data-dir DIR
    python benchmarks/sgd_convention.py keras   speedrun/step7_alternating_flip_keras.py --seed 0 --data-dir DIR

airbench94 steps with torch.optim.SGD(momentum, nesterov=True, weight_decay): PyTorch keeps a velocity of
gradients, b = momentum * b + g, and applies each step's rate to all of it, w -= rate_t * (g + momentum * b),
and its L2 term is part of g, so it goes through the velocity. Keras's SGD folds each step's rate into its
velocity, v = momentum * v - rate_t * g, and its weight decay is decoupled, outside the velocity. The scripts
convert upstream's constants so that the two agree at a constant rate (doc/speedrun.md); the speed-run's rate
changes at every step, and there they differ.

"pytorch" makes the script's optimizers.ScaledRateSGD (steps 3 to 7) step as PyTorch's SGD does, from the
script's own constants: the velocity of gradients, and an L2 term of every weight added to its gradient after
the gradient's rate multiple, weight_decay * (1 - momentum) of it (upstream's wd / lr: the script's decoupled
decay converted back; BatchNorm's biases, at 64 times the rate, then decay by wd / (64 lr), as in upstream's
group of them). "keras" changes nothing: the same command line, for a like-for-like pair. Only the optimizer's
steps differ; the seed, the batches and the augmentation stay. Every other argument goes to the script, whose
run folder, summary.json (its "command" says which SGD) and last line are as usual. An interrupted "pytorch"
run goes on through this tool, as its message says: `python benchmarks/sgd_convention.py pytorch SCRIPT
--resume RUN_DIR` (its checkpoint holds PyTorch's velocity, which the script alone would take for Keras's).
"""

import argparse
import os
import runpy
import shlex
import sys

CHOICES = ("pytorch", "keras")


def pytorch_sgd():
    """optimizers.ScaledRateSGD's subclass that steps as torch.optim.SGD does (see the docstring above)."""
    import keras
    from keras import ops

    from cifar_common import optimizers

    @keras.saving.register_keras_serializable(package="benchmarks")
    class PyTorchSGD(optimizers.ScaledRateSGD):
        def __init__(self, learning_rate=0.01, weight_decay=None, momentum=0.0, coupled_decay=None, **kwargs):
            super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)  # no decoupled decay
            # The script's decoupled decay, converted back to upstream's L2 term: they agree at a constant rate.
            self.coupled_decay = (float(coupled_decay) if coupled_decay is not None
                                  else (weight_decay or 0.0) * (1 - momentum))

        def update_step(self, gradient, variable, learning_rate):
            learning_rate = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)  # already times the variable's rate multiple
            if self.coupled_decay:
                gradient = ops.add(gradient, ops.multiply(variable, ops.cast(self.coupled_decay, variable.dtype)))
            if self.momentum == 0:
                self.assign_sub(variable, ops.multiply(gradient, learning_rate))
                return
            velocity = self.momentums[self._get_variable_index(variable)]
            momentum = ops.cast(self.momentum, variable.dtype)
            self.assign(velocity, ops.add(ops.multiply(velocity, momentum), gradient))
            step = ops.add(gradient, ops.multiply(velocity, momentum)) if self.nesterov else velocity
            self.assign_sub(variable, ops.multiply(step, learning_rate))

        def get_config(self):
            return {**super().get_config(), "coupled_decay": self.coupled_decay}

    return PyTorchSGD


def main():
    from cifar_common import cli  # sets the environment before Keras is imported

    p = cli.tool_parser(sys.argv[0], __doc__)
    p.add_argument("convention", choices=CHOICES, help="pytorch: PyTorch's SGD, as upstream; keras: unchanged")
    p.add_argument("script", help="a speed-run step of optimizers.ScaledRateSGD, such as "
                                  "speedrun/step7_alternating_flip_keras.py")
    p.add_argument("arguments", nargs=argparse.REMAINDER, help="the script's own arguments")
    args = p.parse_args()
    if not os.path.isfile(args.script):
        p.error(f"{args.script}: no such script")
    with open(args.script) as f:
        if "optimizers.ScaledRateSGD(" not in f.read():
            p.error(f"{args.script}: its optimizer is not optimizers.ScaledRateSGD (speed-run steps 3 to 7 are)")
    if args.convention == "pytorch":
        from cifar_common import optimizers, train

        optimizers.ScaledRateSGD = pytorch_sgd()
        # An interrupted run says how it goes on: through this tool, whose optimizer its checkpoint holds (the
        # script alone would load PyTorch's velocity into Keras's SGD without a word).
        tool = os.path.relpath(os.path.abspath(__file__))
        train.resume_command = lambda folder: shlex.join(["python", tool, args.convention, args.script, "--resume",
                                                          folder])
    sys.argv = [args.script, *args.arguments]
    runpy.run_path(args.script, run_name="__main__")


if __name__ == "__main__":
    main()
