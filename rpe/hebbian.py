"""Two-factor Hebbian learning: ``dW = eta * reduce_b(pre_b^T post_b)``.

``pre (B, n_in)``, ``post (B, n_out)`` -> ``dW (n_in, n_out)``, summed over the batch
(``reduce="sum"``) or averaged (``"mean"``). Hebb (1949); stateless.

Example:
  >>> rule = hebbian(eta=0.1)
  >>> dw, _ = rule.update(rule.init(), jnp.ones((2, 3)), jnp.ones((2, 4)))
  >>> dw.shape, float(dw[0, 0])
  ((3, 4), 0.2)
"""

from __future__ import annotations

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
        dw = pre.T @ post
        if reduce == "mean":
            dw = dw / pre.shape[0]
        return eta * dw, state

    return LearningRule(init, update)
