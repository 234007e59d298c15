"""SGD as PyTorch's recipes use it, in Keras: a larger learning rate for some of the weights (parameter groups),
and weight decay added to the gradient (PyTorch's ``weight_decay``).

airbench94 trains BatchNorm's biases at 64 times the rate of the other weights (KellerJordan/cifar10-airbench,
legacy/airbench94.py: two parameter groups, ``lr_biases = lr * bias_scaler``), with the same weight decay.
Keras 3's optimizers take one rate for all their variables and have no parameter groups, so
``ScaledRateSGD`` multiplies the gradient of each variable whose path matches a pattern before Keras's SGD
applies it. With momentum that is exactly a multiplied rate for that variable (momentum is linear in the
gradient; gradient clipping, which would not be, is refused). Keras's weight decay is decoupled: it shrinks
the weights themselves, ``lr * weight_decay`` of them a step, outside the momentum, the same share for every
variable. Upstream's groups also decay all weights alike, but through PyTorch's coupled L2 term, which goes
through the momentum (about 1 / (1 - momentum) times as strong once the momentum has built up): its
``weight_decay`` is not Keras's, and a script converts it.

    optimizer = ScaledRateSGD(lr, momentum=0.85, nesterov=True, weight_decay=wd,
                              rate_multipliers={r"batch_norm.*/beta$": 64.0})

``CoupledDecaySGD`` is that coupled decay itself: ``decay * w`` is added to the gradient of every trained
variable before Keras's SGD applies it, exactly what ``torch.optim.SGD(params, weight_decay=decay)`` does, on
every weight, BatchNorm's and the biases included. It is the same as an L2 penalty of ``decay / 2`` on every
weight (doc/weight-decay.md), without a regulariser on each layer, which a network of many kinds of layers
(depthwise convolutions, attention, embeddings) would need in many places.

    optimizer = CoupledDecaySGD(lr, momentum=0.9, coupled_decay=5e-4)  # torch.optim.SGD(lr, 0.9, weight_decay=5e-4)
"""

import re

import keras
from keras import ops


def _variables_of(optimizer, trainable_variables):
    """The variables ``grads`` belong to in ``optimizer.apply(grads, trainable_variables)``, and the argument to
    pass on. Keras's trainers all call ``apply`` (TensorFlow through apply_gradients, JAX through
    stateless_apply, PyTorch directly); without variables, the ones the optimizer was built with are meant."""
    if trainable_variables is None:
        return getattr(optimizer, "_trainable_variables", []), None  # none yet: Keras's own error follows
    trainable_variables = list(trainable_variables)
    return trainable_variables, trainable_variables


@keras.saving.register_keras_serializable(package="cifar_common")
class ScaledRateSGD(keras.optimizers.SGD):
    """``keras.optimizers.SGD`` whose variables with a path matching a pattern of ``rate_multipliers``
    (``{regular expression: multiple}``, searched in ``variable.path``, the first match counts) train at that
    multiple of the learning rate; the others at the rate itself. (On PyTorch, a subclass of SGD takes Keras's
    general per-variable update rather than its fused one for SGD itself.)"""

    def __init__(self, learning_rate=0.01, rate_multipliers=None, **kwargs):
        clipping = [k for k in ("clipnorm", "clipvalue", "global_clipnorm") if kwargs.get(k) is not None]
        if clipping:
            raise ValueError(f"ScaledRateSGD: {', '.join(clipping)} would clip the multiplied gradients, and the "
                             "rates would no longer be multiples; train without clipping")
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rate_multipliers = {str(k): float(v) for k, v in (rate_multipliers or {}).items()}
        self._patterns = [(re.compile(k), v) for k, v in self.rate_multipliers.items()]

    def multiplier(self, variable):
        """The multiple of the learning rate this variable trains at."""
        return next((m for pattern, m in self._patterns if pattern.search(variable.path)), 1.0)

    def apply(self, grads, trainable_variables=None):
        variables, trainable_variables = _variables_of(self, trainable_variables)
        if len(variables) == len(grads):
            grads = [g if g is None or self.multiplier(v) == 1.0 else g * self.multiplier(v)
                     for g, v in zip(grads, variables)]
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "rate_multipliers": self.rate_multipliers}


@keras.saving.register_keras_serializable(package="cifar_common")
class CoupledDecaySGD(keras.optimizers.SGD):
    """``keras.optimizers.SGD`` with PyTorch's weight decay: ``coupled_decay * w`` added to the gradient of every
    trained variable, so that it goes through the momentum as PyTorch's does. Keras's own ``weight_decay`` (the
    decoupled kind) stays available beside it, and is off unless given."""

    def __init__(self, learning_rate=0.01, coupled_decay=0.0, **kwargs):
        if not coupled_decay >= 0:
            raise ValueError(f"CoupledDecaySGD(coupled_decay={coupled_decay}): 0 or more")
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.coupled_decay = float(coupled_decay)

    def apply(self, grads, trainable_variables=None):
        variables, trainable_variables = _variables_of(self, trainable_variables)
        if self.coupled_decay and len(variables) == len(grads):
            grads = [g if g is None else g + ops.cast(self.coupled_decay * v, g.dtype)
                     for g, v in zip(grads, variables)]
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "coupled_decay": self.coupled_decay}
