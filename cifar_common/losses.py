"""Cross-entropy with label smoothing for integer labels.

Label smoothing trains towards a target that keeps a little probability for every class: ``1 - e + e / K``
for the true class and ``e / K`` for each of the others (K classes), so the network is not pushed to
ever larger logits for a certainty it cannot have. airbench94 uses e = 0.2 (PyTorch's
``CrossEntropyLoss(label_smoothing=0.2)``). Keras's ``SparseCategoricalCrossentropy`` (3.15) takes no
label smoothing and ``CategoricalCrossentropy`` wants one-hot labels; this loss makes the one-hot labels
itself, inside the step, so the data stay integer labels like every other script's.

Given a Mixup or CutMix layer (``mixing``, regularisers.Mixing), the target is mixed as that batch's images
were: lam * label + (1 - lam) * partner's label, with the layer's lam of the step; that equals the papers'
lam * loss(label) + (1 - lam) * loss(partner's label), cross-entropy being linear in its target. With neither
smoothing nor mixing it is Keras's sparse categorical cross-entropy, up to round-off.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cifar_common")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against predictions, with the labels smoothed by ``label_smoothing``;
    ``from_logits`` as in Keras's losses, ``reduction`` too (``"sum"``: airbench94's sum over the batch);
    ``mixing`` a Mixup or CutMix layer of the model whose batches it scores (not saved with the loss: a loaded
    model's loss scores unmixed labels)."""

    def __init__(self, label_smoothing=0.0, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_smoothed_crossentropy", dtype=None, mixing=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing {label_smoothing}: give a share from 0 to less than 1")
        self.label_smoothing = float(label_smoothing)
        self.from_logits = from_logits
        self.mixing = mixing

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        labels = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), classes, dtype=y_pred.dtype)
        if self.mixing is not None:
            lam = ops.cast(self.mixing.lam, y_pred.dtype)
            labels = lam * labels + (1 - lam) * self.mixing.partners(labels)  # the labels of the partner images
        return keras.losses.categorical_crossentropy(labels, y_pred, from_logits=self.from_logits,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "from_logits": self.from_logits}
