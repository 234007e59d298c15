"""Learning-rate schedules: one value per epoch, and one per training step (``PiecewiseLinear``).

Each function takes the base rate and the length of the run and returns ``lr(epoch)`` for a 0-based epoch
index, the form ``keras.callbacks.LearningRateScheduler`` expects. A script passes the one that
``--lr-schedule`` names to its scheduler callback::

    schedule = schedules.from_args(args, steps=LR_STEPS, reference_epochs=EPOCHS)
    run.fit(model, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])

Any function of the epoch does as well (``lambda epoch: args.lr * 0.98 ** epoch``);
doc/learning-rate-schedules.md shows how to write one, and how to use a ``keras.optimizers.schedules``
object instead.

``PiecewiseLinear`` is such an object, for a rate that changes at every step (a warm-up, then a linear
decay): it goes into the optimizer, ``SGD(learning_rate=PiecewiseLinear(...))``, and no scheduler callback
is passed.
"""

import math

import keras
from keras import ops

# The reference step decay of the collection: the base rate until epoch 81 of 200, a tenth until epoch 122,
# a hundredth after: (epoch of a 200-epoch run, multiple of the base rate) pairs.
REFERENCE_STEPS = ((81, 0.1), (122, 0.01))
REFERENCE_EPOCHS = 200
# HTD's bounds: the tanh argument runs from HTD_LOWER at the first epoch to HTD_UPPER at the end.
HTD_LOWER = -6.0
HTD_UPPER = 3.0


def step(lr, epochs, steps=REFERENCE_STEPS, reference_epochs=REFERENCE_EPOCHS):
    """Step decay: the base rate times ``factor`` from each ``(boundary, factor)`` of ``steps`` on.

    Boundaries are epochs of a ``reference_epochs``-long run and scale with the run, so that a 20-epoch run
    of the reference schedule still decays (from epochs 8.1 and 12.2 on, i.e. from epoch index 9 and 13).
    """

    def schedule(epoch):
        rate = lr
        for boundary, factor in steps:
            if epoch * reference_epochs >= boundary * epochs:  # epoch >= boundary * epochs / reference, exactly
                rate = lr * factor
        return rate

    return schedule


def cosine(lr, epochs):
    """Cosine annealing from the base rate to zero: lr/2 * (1 + cos(pi * t / T))."""

    def schedule(epoch):
        return lr / 2 * (1 + math.cos(math.pi * epoch / epochs))

    return schedule


def htd(lr, epochs, lower=HTD_LOWER, upper=HTD_UPPER):
    """Hyperbolic-tangent decay (Hsueh et al., arXiv 1806.01593): lr/2 * (1 - tanh(L + (U - L) * t / T))."""

    def schedule(epoch):
        return lr / 2 * (1 - math.tanh(lower + (upper - lower) * epoch / epochs))

    return schedule


@keras.saving.register_keras_serializable(package="cifar_common")
class PiecewiseLinear(keras.optimizers.schedules.LearningRateSchedule):
    """A rate for every training step, linear between knots: ``lr * multiple`` at each ``(step, multiple)``
    of ``knots`` (steps counted from 0, increasing; two knots at one step make a jump there), the first knot's
    rate before it, the last's after it.

    The optimizer asks for the rate of its step count before each update, inside the compiled step, so it is
    written in ``keras.ops``. airbench94's warm-up over the first 23 % of ``total`` steps from 0.2 times the
    rate, then linear decay to 0.07 times it::

        PiecewiseLinear(lr, ((0, 0.2), (int(0.23 * total), 1.0), (total, 0.07)))
    """

    def __init__(self, lr, knots):
        knots = tuple((int(step), float(multiple)) for step, multiple in knots)
        if not knots or any(b[0] < a[0] for a, b in zip(knots, knots[1:])):
            raise ValueError(f"knots {knots}: give at least one (step, multiple), the steps increasing")
        self.lr = float(lr)
        self.knots = knots

    def __call__(self, step):
        step = ops.cast(step, "float32")
        rate = ops.convert_to_tensor(self.knots[0][1], "float32")
        for (start, low), (end, high) in zip(self.knots, self.knots[1:]):  # each segment adds its rise so far
            done = (ops.cast(step >= start, "float32") if end == start
                    else ops.clip((step - start) / (end - start), 0.0, 1.0))
            rate = rate + (high - low) * done
        return self.lr * rate

    def get_config(self):
        return {"lr": self.lr, "knots": [list(k) for k in self.knots]}


SCHEDULES = {"step": step, "cosine": cosine, "htd": htd}
# One colour per schedule, the same in every figure (htd/plot_schedules.py, htd/compare.py), in this order.
COLOURS = {"step": "tab:blue", "cosine": "tab:orange", "htd": "tab:green"}


def from_args(args, steps=REFERENCE_STEPS, reference_epochs=REFERENCE_EPOCHS):
    """The schedule that ``--lr-schedule`` names (step, cosine or htd), for ``--lr`` and ``--epochs``.

    ``steps`` and ``reference_epochs`` are the script's step decay: ``(boundary, factor)`` pairs in epochs of a
    ``reference_epochs``-long run (its default length), scaled to ``--epochs``; ``--lr-steps`` replaces them
    with pairs in epochs of this run, unscaled. HTD takes ``--htd-lower`` and ``--htd-upper``.
    """
    if args.lr_schedule == "step":
        if getattr(args, "lr_steps", None):  # --lr-steps: the decay written out in epochs of this run
            steps = [(int(epoch), float(factor)) for epoch, factor in
                     (pair.split(":") for pair in args.lr_steps.split(","))]
            return step(args.lr, args.epochs, steps, reference_epochs=args.epochs)
        return step(args.lr, args.epochs, steps, reference_epochs)
    if args.lr_schedule == "htd":
        return htd(args.lr, args.epochs, args.htd_lower, args.htd_upper)
    return cosine(args.lr, args.epochs)
