"""Random residual scaling with one coefficient in the forward pass and another in the backward pass:
shake-shake (Gastaldi 2017, arXiv 1705.07485) and ShakeDrop (Yamada et al. 2018, arXiv 1802.02375).

Both multiply a residual branch by a random number while training, and let the gradient flow back as if it
had been multiplied by another, independent one. ``scaled`` writes that once, with ``keras.ops``:

    y = x * backward + stop_gradient(x * forward - x * backward)

Its value is ``x * forward`` (the two ``x * backward`` cancel); its gradient with respect to ``x`` is
``backward``, since nothing inside ``stop_gradient`` is differentiated. It is the stop-gradient identity that
google/flax's CIFAR-10 example uses (``examples/cifar10/models/utils.py``), and it works on every backend and
inside the compiled step, where a custom gradient would need each backend's own mechanism.

* ``ShakeShake`` mixes two branches, ``a * alpha + b * (1 - alpha)``, with alpha ~ U[0, 1] forward and
  beta ~ U[0, 1] backward, drawn per image (the paper's "Shake-Shake-Image"); at test time, 0.5 each.
* ``ShakeDrop`` scales one branch by ``b + alpha - b * alpha``, b ~ Bernoulli(1 - p) per image: a kept branch
  (b = 1) passes unchanged, a dropped one (b = 0) is scaled by alpha ~ U[-1, 1] forward and beta ~ U[0, 1]
  backward; at test time by its expectation, 1 - p (alpha's mean is 0).

Both draw their coefficients from a ``keras.random.SeedGenerator``, seeded by the run's ``--seed``, and act
only when ``training=True``.
"""

import keras
from keras import ops


def scaled(x, forward, backward):
    """``x * forward`` whose gradient with respect to ``x`` is ``backward`` (both broadcast against ``x``)."""
    return x * backward + ops.stop_gradient(x * forward - x * backward)


def _per_image(x, low, high, seed):
    """One number per image of the batch ``x``, uniform from ``low`` to ``high``, shaped to broadcast over an
    NHWC image."""
    return keras.random.uniform((ops.shape(x)[0], 1, 1, 1), low, high, dtype=x.dtype, seed=seed)


@keras.saving.register_keras_serializable(package="cifar_common")
class ShakeShake(keras.layers.Layer):
    """The two branches ``[a, b]`` mixed as ``a * alpha + b * (1 - alpha)``: alpha ~ U[0, 1] forward and an
    independent beta ~ U[0, 1] backward, per image, in training; ``(a + b) / 2`` otherwise."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def coefficients(self, x):
        """The forward and backward shares of branch ``a`` for the batch ``x``."""
        return _per_image(x, 0.0, 1.0, self.seed_generator), _per_image(x, 0.0, 1.0, self.seed_generator)

    def call(self, branches, training=None):
        a, b = branches
        if not training:
            return (a + b) * 0.5
        alpha, beta = self.coefficients(a)
        # a * alpha + b * (1 - alpha) = b + (a - b) * alpha, whose gradient is beta for a and 1 - beta for b
        return b + scaled(a - b, alpha, beta)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="cifar_common")
class ShakeDrop(keras.layers.Layer):
    """A residual branch scaled by ``b + alpha - b * alpha`` forward and ``b + beta - b * beta`` backward, with
    b ~ Bernoulli(1 - ``probability``), alpha ~ U``alpha_range`` and beta ~ U``beta_range``, per image, in
    training; by the expectation ``1 - p + p * mean(alpha)`` otherwise."""

    def __init__(self, probability, alpha_range=(-1.0, 1.0), beta_range=(0.0, 1.0), seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= probability <= 1:
            raise ValueError(f"ShakeDrop(probability={probability}): a probability, from 0 to 1")
        self.probability = float(probability)
        self.alpha_range = tuple(float(v) for v in alpha_range)
        self.beta_range = tuple(float(v) for v in beta_range)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def coefficients(self, x):
        """The forward and backward factors of the branch ``x``, one each per image."""
        kept = ops.cast(_per_image(x, 0.0, 1.0, self.seed_generator) >= self.probability, x.dtype)
        alpha = _per_image(x, *self.alpha_range, self.seed_generator)
        beta = _per_image(x, *self.beta_range, self.seed_generator)
        return kept + alpha - kept * alpha, kept + beta - kept * beta

    def call(self, x, training=None):
        if not training:
            mean_alpha = sum(self.alpha_range) / 2
            return x * (1 - self.probability + self.probability * mean_alpha)
        forward, backward = self.coefficients(x)
        return scaled(x, forward, backward)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "probability": self.probability, "alpha_range": self.alpha_range,
                "beta_range": self.beta_range, "seed": self.seed}
