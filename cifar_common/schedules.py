"""Learning-rate schedules, one value per epoch.

Each function takes the base rate and the length of the run and returns ``lr(epoch)`` for a 0-based epoch
index, the form ``keras.callbacks.LearningRateScheduler`` expects. Swapping a schedule is one line::

    keras.callbacks.LearningRateScheduler(schedules.cosine(lr=0.1, epochs=200))

or, in any script, ``--lr-schedule {step,cosine,htd}``. The scheduler callback also writes each epoch's rate
into the logs, so it ends up in ``history.csv``.
"""

import math

import keras

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


SCHEDULES = {"step": step, "cosine": cosine, "htd": htd}
# One colour per schedule, the same in every figure (htd/plot_schedules.py, htd/compare.py), in this order.
COLOURS = {"step": "tab:blue", "cosine": "tab:orange", "htd": "tab:green"}


def callback(name, lr, epochs, steps=REFERENCE_STEPS, reference_epochs=REFERENCE_EPOCHS, htd_lower=HTD_LOWER,
             htd_upper=HTD_UPPER):
    """The ``LearningRateScheduler`` for the schedule called ``name`` (step, cosine or htd)."""
    if name == "step":
        schedule = step(lr, epochs, steps, reference_epochs)
    elif name == "htd":
        schedule = htd(lr, epochs, htd_lower, htd_upper)
    else:
        schedule = SCHEDULES[name](lr, epochs)
    return keras.callbacks.LearningRateScheduler(schedule)
