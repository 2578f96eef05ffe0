"""A linear TD(0) critic that learns by a local three-factor rule (no backprop).

Value ``V(s) = x(s) . w`` over features ``x (batch, n_features)``. Each transition
``(x_t, r_t+1, x_t+1, done)`` gives a TD error (``rpe.functional.td_error``, the maths of
:class:`rpe.TDErrorCell`)::

    delta = r + gamma (1 - done) V(x_t+1) - V(x_t)

and the weights move by the three-factor rule with pre = ``x_t``, post = 1 and modulator =
``delta`` (per sample): ``w += eta * sum_b delta_b x_t,b`` - TD(0) with linear function
approximation (Sutton 1988), the RPE model of dopamine (Schultz, Dayan & Montague 1997).

Example:
  >>> critic = LinearTDCritic(n_features=3, gamma=0.9, eta=0.1)
  >>> w = critic.init()
  >>> x = jnp.eye(3)[None, 0]
  >>> w, delta = critic.update(w, x, jnp.ones((1,)), x, jnp.ones((1,)))
  >>> round(float(delta[0]), 3)
  1.0
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rpe import apply_update, three_factor
from rpe import functional as kernels
from rpe.validation import check_positive_int, check_real

__all__ = ["LinearTDCritic"]


class LinearTDCritic:
    """TD(0) over linear features, learning by ``rpe.three_factor`` gated by the TD error."""

    def __init__(self, n_features: int, gamma: float = 0.98, eta: float = 0.1):
        self.n_features = check_positive_int("n_features", n_features)
        self.eta = check_real("eta", eta, low=0.0)
        self.gamma = check_real("gamma", gamma, low=0.0, high=1.0)
        self.rule = three_factor(eta=self.eta)

    def init(self) -> jax.Array:
        """Zero weights ``(n_features, 1)``."""
        return jnp.zeros((self.n_features, 1), jnp.float32)

    def value(self, weights: jax.Array, features: jax.Array) -> jax.Array:
        """``V = features @ weights`` -> ``(batch,)``."""
        return (features @ weights)[:, 0]

    def update(self, weights, features, reward, next_features, done):
        """One TD(0) step for a batch; returns ``(new_weights, delta (batch,))``. Pure."""
        batch = features.shape[0]
        discount = self.gamma * (1.0 - done.reshape(batch).astype(jnp.float32))
        delta = kernels.td_error(
            reward.reshape(batch), discount, self.value(weights, features), self.value(weights, next_features)
        ).delta
        dw, _ = self.rule.update(None, features, jnp.ones((batch, 1)), delta[:, None])
        return apply_update(weights, dw), delta
