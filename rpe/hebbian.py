"""Two-factor Hebbian learning: ``dW = eta * reduce_b(pre_b^T post_b)``.

``pre (B, n_in)``, ``post (B, n_out)`` -> ``dW (n_in, n_out)``, summed over the batch
(``reduce="sum"``) or averaged (``"mean"``): the batch form of
:func:`rpe.functional.hebbian_update` (the per-sample updates' sum, as one matrix product).
Hebb (1949); stateless.

Example:
  >>> import jax.numpy as jnp
  >>> rule = hebbian(eta=0.1)
  >>> dw, _ = rule.update(rule.init(), jnp.ones((2, 3)), jnp.ones((2, 4)))
  >>> dw.shape, round(float(dw[0, 0]), 6)
  ((3, 4), 0.2)
"""

from __future__ import annotations

from rpe import functional
from rpe.learning_rule import LearningRule, check_reduce
from rpe.validation import check_real

__all__ = ["hebbian"]


def hebbian(eta: float = 1.0, reduce: str = "sum") -> LearningRule:
    """A Hebbian rule with learning rate ``eta``; ``update(state, pre, post)``."""
    eta = check_real("eta", eta)
    reduce = check_reduce(reduce)

    def init():
        return ()

    def update(state, pre, post):
        dw = functional.hebbian_update(pre, post, eta)  # the batch's sum, one matrix product
        return (dw / pre.shape[0] if reduce == "mean" else dw), state

    return LearningRule(init, update)
