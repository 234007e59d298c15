"""Label smoothing for integer labels (cifar_common/losses.py) gives upstream's (PyTorch's) loss."""

import math

import keras
import numpy as np
import pytest

from cifar_common.losses import SparseSmoothedCrossentropy


def test_label_smoothing_on_a_hand_computed_example():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]], "float32")
    labels = np.array([0, 2])
    # By hand: target 1 - 0.2 + 0.2/3 for the true class, 0.2/3 for the others; loss -sum(target * log p).
    expected = []
    for z, label in zip(logits.tolist(), labels):
        log_p = [v - math.log(sum(math.exp(u) for u in z)) for v in z]
        target = [0.8 + 0.2 / 3 if k == label else 0.2 / 3 for k in range(3)]
        expected.append(-sum(t * lp for t, lp in zip(target, log_p)))
    summed = SparseSmoothedCrossentropy(0.2, from_logits=True, reduction="sum")
    assert float(summed(labels, logits)) == pytest.approx(sum(expected), rel=1e-5)
    mean = SparseSmoothedCrossentropy(0.2, from_logits=True)
    assert float(mean(labels, logits)) == pytest.approx(sum(expected) / 2, rel=1e-5)
    # From probabilities, as the collection's softmax classifiers give them, the same figure.
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    assert float(SparseSmoothedCrossentropy(0.2)(labels, probabilities)) == pytest.approx(sum(expected) / 2, rel=1e-4)
    # No smoothing: Keras's own sparse cross-entropy.
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    assert float(SparseSmoothedCrossentropy(0.0, from_logits=True)(labels, logits)) == pytest.approx(float(plain))


def test_it_is_pytorchs_cross_entropy_with_label_smoothing():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(16, 10)).astype("float32") * 3, rng.integers(0, 10, 16)
    upstream = torch.nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum")(torch.from_numpy(logits),
                                                                                torch.from_numpy(labels))
    ours = SparseSmoothedCrossentropy(0.2, from_logits=True, reduction="sum")(labels, logits)
    assert float(ours) == pytest.approx(float(upstream), rel=1e-5)


def test_a_share_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="less than 1"):
        SparseSmoothedCrossentropy(1.0)


def test_it_trains_a_model_on_integer_labels():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=SparseSmoothedCrossentropy(0.2, from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
    first = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history.history["loss"][-1] < first  # it learns
    # Smoothing 0.2 over 3 classes: the loss cannot fall below the target's own entropy.
    target = [0.8 + 0.2 / 3, 0.2 / 3, 0.2 / 3]
    assert model.evaluate(x, y, verbose=0) > -sum(t * math.log(t) for t in target) - 1e-6
