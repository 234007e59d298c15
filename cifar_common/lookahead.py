"""Scheduled lookahead: a slow copy of the weights that the fast ones are pulled back to every few steps.

Lookahead (Zhang et al., "Lookahead Optimizer: k steps forward, 1 step back", 2019) keeps a second, slow copy
of every weight. Every ``every`` training steps the slow copy moves part of the way towards the weights the
optimizer reached, and the weights are reset to it::

    slow = slow + (1 - decay) * (weights - slow)
    weights = slow

``decay`` 0 keeps the optimizer's weights as they are; the closer to 1, the more the slow copy averages the
path and the further back the weights are pulled. airbench94 (KellerJordan/cifar10-airbench,
legacy/airbench94.py) schedules it: ``decay = 0.95**5 * (step / total_steps)**3``, nothing at first and a
decay of 0.77 per update at the end (the slow copy then remembers the last four or five updates, some twenty
steps), and after the last step the weights become the slow copy (decay 1). Every floating-point variable of
the model takes part, BatchNorm's moving statistics included, as in upstream's state_dict; integer ones (the
augmentation's seed state) do not.

It is a callback, after each step, because Keras 3 optimizers have no hook for it (keras.optimizers has no
Lookahead; TensorFlow Addons' one is for Keras 2). The step count starts from the optimizer's, so a resumed
run keeps the schedule, and goes up by one a batch (so ``steps_per_execution`` must be 1); the slow copy
itself is not in a run's backup: a resumed run restarts it from the restored weights, as if an update at
decay 0 had happened at the backup, at most ``every - 1`` steps after the last real one.
"""

import keras
from keras import ops


def airbench_decay(total_steps):
    """airbench94's schedule of the decay: ``0.95**5 * (step / total_steps)**3``."""
    return lambda step: 0.95**5 * (step / total_steps) ** 3


class Lookahead(keras.callbacks.Callback):
    """Every ``every`` steps, ``slow += (1 - decay(step)) * (weights - slow)`` and the weights become
    ``slow``; at step ``total_steps`` (the run's last) the weights become ``slow`` once more (decay 1).

    ``decay`` is a function of the optimizer's step count (1 after the first step); by default airbench94's.
    """

    def __init__(self, total_steps, every=5, decay=None):
        super().__init__()
        if total_steps < 1 or every < 1:
            raise ValueError(f"Lookahead(total_steps={total_steps}, every={every}): both must be at least 1")
        self.total_steps = total_steps
        self.every = every
        self.decay = decay or airbench_decay(total_steps)
        self.slow = None

    def _variables(self):
        # On JAX, self.model (not self._model) hands the trainer's current state to the variables first,
        # and the trainer reads what is assigned here back before its next step.
        return [v for v in self.model.variables if "float" in str(v.dtype)]

    def on_train_begin(self, logs=None):
        if getattr(self.model, "steps_per_execution", 1) != 1:
            raise ValueError("Lookahead counts one step a batch: compile the model with steps_per_execution=1")
        self.step = int(self.model.optimizer.iterations)
        # stop_gradient: on PyTorch the copies must not carry autograd's record of the weights.
        self.slow = [ops.copy(ops.stop_gradient(v.value)) for v in self._variables()]

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1  # the optimizer's step count, counted here rather than read from it at every step
        if self.step % self.every == 0:
            self._update(self.decay(self.step))
        if self.step == self.total_steps:
            self._update(1.0)

    def _update(self, decay):
        variables = self._variables()
        self.slow = [slow + (1.0 - decay) * (ops.cast(ops.stop_gradient(v.value), slow.dtype) - slow)
                     for v, slow in zip(variables, self.slow)]
        for variable, slow in zip(variables, self.slow):
            # A copy: JAX's training step donates (frees) the buffers of the variables it is handed.
            variable.assign(ops.copy(ops.cast(slow, variable.dtype)))
