"""CategoricalErrorCell: the local error of a softmax policy over discrete actions.

With ``pi = softmax(logits)`` over the ``n_units`` actions of each row, ``target`` one-hot
(the action taken) and ``g = modulator * mask``::

    L       = sum(mask * target * log pi)          (the log-probability of the targets)
    dlogits = g * (target - pi)                    = g * dL/dlogits  (for one-hot rows)

With ``modulator`` the RPE, ``dlogits`` is the REINFORCE direction for a softmax policy.
Masks are usually per sample, ``(batch_size, 1)``. Compartments are
``(batch_size, n_units)``.

Example:
  >>> cell = CategoricalErrorCell("pi", n_units=4)
  >>> cell.target.set(jnp.asarray([[0.0, 1.0, 0.0, 0.0]])); cell.advance_state(dt=1.0)
  >>> float(cell.dlogits.get()[0, 1])  # 1 - 1/4
  0.75
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from rpe import functional
from rpe.cell import Compartment
from rpe.error_cell import ErrorCell

__all__ = ["CategoricalErrorCell", "CategoricalErrorParams"]


class CategoricalErrorParams(NamedTuple):
    """CategoricalErrorCell has no numeric hyperparameters."""


class CategoricalErrorCell(ErrorCell):
    """Categorical (softmax) log-likelihood error and its gradient.

    Args:
      name: the cell's name.
      n_units: number of actions (categories).
      batch_size: rows of every compartment.
    """

    logits = Compartment("inputs", "action logits, (batch_size, n_units)")
    target = Compartment("inputs", "one-hot action taken, (batch_size, n_units)")
    L = Compartment("outputs", "log-probability of the targets sum(mask target log softmax), a scalar ()")
    dlogits = Compartment("outputs", "gated dL/dlogits = target - softmax(logits), (batch_size, n_units)")

    Params = CategoricalErrorParams
    dynamics = "pi = softmax(logits); L = sum(mask target log pi); dlogits = modulator mask (target - pi)"
    hyperparameter_docs = {
        "n_units": "number of actions",
        "batch_size": "rows of every compartment",
    }

    def __init__(self, name: str, n_units: int, batch_size: int = 1):
        self.params = CategoricalErrorParams()
        super().__init__(name, n_units, batch_size)

    def init_state(self, batch_size: int | None = None, params=None) -> CategoricalErrorCell.State:
        zeros, ones = self._rest(batch_size)
        return self.State(
            logits=zeros,
            target=zeros,
            modulator=ones,
            mask=ones,
            L=jnp.zeros((), jnp.float32),
            dlogits=zeros,
        )

    def step(self, state, dt=1.0, key=None, params=None):
        """Compute ``L`` and the gated gradient; the mask is consumed (``dt`` unused).

        :func:`rpe.functional.categorical_error` on the batch (a softmax per row; ``L``
        sums over the batch).
        """
        out = functional.categorical_error(state.logits, state.target, state.modulator, state.mask)
        return state._replace(L=out.L, dlogits=out.dlogits, mask=jnp.ones_like(state.mask))
