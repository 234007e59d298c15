"""Weights that train for the first few epochs only, then stay as they are.

airbench94 (KellerJordan/cifar10-airbench, legacy/airbench94.py) trains the bias of its frozen whitening
convolution for the first 3 epochs and then takes it out of training (``requires_grad = False``): the optimizer
no longer touches it, neither the gradient nor the momentum nor the weight decay, while the lookahead, which
works on the model's state rather than through the optimizer, still resets it to its slow copy.

Keras fixes a model's trainable variables when it builds the training step, and ``layer.trainable`` set
during ``fit`` is not seen until the next ``fit``. ``FreezeAfterEpochs`` therefore undoes the optimizer's
step: from that epoch on it notes the layer's variables before each step and puts them back after it. What
other callbacks set between two steps (the lookahead, listed after it) stands, exactly as upstream.
"""

import keras
from keras import ops


class FreezeAfterEpochs(keras.callbacks.Callback):
    """From epoch ``epochs`` on (after that many epochs of training), the trainable variables of the layer
    named ``layer_name`` keep the values they have before each step: the optimizer's update is undone."""

    def __init__(self, layer_name, epochs):
        super().__init__()
        self.layer_name, self.epochs = layer_name, epochs
        self.frozen = False
        self.saved = None

    def _variables(self):
        # self.model (not self._model): on JAX it hands the trainer's current state to the variables first, and
        # the trainer reads what is assigned here back before its next step.
        try:
            return self.model.get_layer(self.layer_name).trainable_variables
        except ValueError:
            raise ValueError(f"FreezeAfterEpochs: the model has no layer named {self.layer_name!r}") from None

    def on_epoch_begin(self, epoch, logs=None):
        self.frozen = epoch >= self.epochs
        self._variables()  # a wrong name fails at the first epoch, not at the frozen ones

    def on_train_batch_begin(self, batch, logs=None):
        if self.frozen:
            self.saved = [ops.copy(ops.stop_gradient(v.value)) for v in self._variables()]

    def on_train_batch_end(self, batch, logs=None):
        if self.frozen:
            for variable, value in zip(self._variables(), self.saved):
                variable.assign(value)
