"""Trains a speed-run step with Keras's SGD, as the scripts do, or with PyTorch's, as upstream does.

    python benchmarks/sgd_convention.py pytorch speedrun/step7_alternating_flip_keras.py --seed 0 --data-dir DIR
    python benchmarks/sgd_convention.py keras   speedrun/step7_alternating_flip_keras.py --seed 0 --data-dir DIR

airbench94 steps with torch.optim.SGD(momentum, nesterov=True, weight_decay): PyTorch keeps a velocity of
gradients, b = momentum * b + g, and applies each step's rate to all of it, w -= rate_t * (g + momentum * b),
and its L2 term is part of g, so it goes through the velocity. Keras's SGD folds each step's rate into its
velocity, v = momentum * v - rate_t * g, and its weight decay is decoupled, outside the velocity. The scripts
convert upstream's constants so that the velocities agree at a constant rate, and the decays once the L2 term
has built up in the velocity (doc/speedrun.md); the speed-run's rate changes at every step, and there they
differ.

"pytorch" makes the script's optimizers.ScaledRateSGD (steps 3 to 7) step as PyTorch's SGD does, from the
script's own constants: the velocity of gradients, and an L2 term of every weight added to its gradient after
the gradient's rate multiple, weight_decay * (1 - momentum) of it (upstream's wd / lr: the script's decoupled
decay converted back; BatchNorm's biases, at 64 times the rate, then decay by wd / (64 lr), as in upstream's
group of them). "keras" changes nothing: the same command line, for a like-for-like pair. Only the optimizer's
steps differ; the seed, the batches and the augmentation stay. Every other argument goes to the script, whose
run folder, summary.json (its "command" says which SGD) and last line are as usual. An interrupted "pytorch"
run goes on through this tool, as its message says: `python benchmarks/sgd_convention.py pytorch SCRIPT
--resume RUN_DIR` (its checkpoint holds PyTorch's velocity). The tool refuses to resume a run with the other
convention's optimizer; the script alone cannot tell, and would take PyTorch's velocity for Keras's.
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
            # The script's decoupled decay, converted back to upstream's L2 term (see the docstring above).
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
    started = started_with(args.arguments)
    if started and started != args.convention:
        p.error(f"--resume: that run was started with {started}'s SGD, whose velocity its checkpoint holds; "
                f"resume it with {started}")
    from cifar_common import optimizers, train

    saved = optimizers.ScaledRateSGD, train.resume_command, sys.argv
    if args.convention == "pytorch":
        optimizers.ScaledRateSGD = pytorch_sgd()
        # An interrupted run says how it goes on: through this tool, whose optimizer its checkpoint holds.
        tool = os.path.relpath(os.path.abspath(__file__))
        train.resume_command = lambda folder: shlex.join(["python", tool, args.convention, args.script, "--resume",
                                                          folder])
    sys.argv = [args.script, *args.arguments]
    try:
        runpy.run_path(args.script, run_name="__main__")
    finally:  # a caller in the same process (a test) gets the collection back as it was
        optimizers.ScaledRateSGD, train.resume_command, sys.argv = saved


def started_with(arguments):
    """The convention a run given to --resume was started with ("keras" for the script alone), or None
    without --resume or a readable summary (the script then says what is wrong with the folder)."""
    if "--resume" not in arguments[:-1]:
        return None
    from cifar_common import run_folder

    try:
        command = shlex.split(run_folder.read_summary(arguments[arguments.index("--resume") + 1])["command"])
    except (run_folder.OutputError, KeyError, TypeError, ValueError):
        return None
    through_tool = len(command) > 2 and os.path.basename(command[1]) == os.path.basename(__file__)
    return command[2] if through_tool else "keras"


if __name__ == "__main__":
    main()
