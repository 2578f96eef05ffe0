"""BernoulliErrorCell: the local error of a Bernoulli prediction ``p`` of a 0/1 ``target``.

With ``q = sigmoid(p)`` (``input_logits=True``) or ``q = p`` (probabilities), clipped to
``[1e-4, 1 - 1e-4]``, and ``g = modulator * mask``::

    L       = sum(mask * (target log q + (1 - target) log(1 - q)))     (a scalar)
    dtarget = g * (log q - log(1 - q))                          = g * dL/dtarget
    dp      = g * (target - q)                                  (logits: g * dL/dlogit)
    dp      = g * (target / q - (1 - target) / (1 - q))         (probabilities: g * dL/dq)

With ``target`` the sampled action and ``modulator`` the RPE, ``dp`` with logits is the
REINFORCE direction ``(a - q) * RPE``. After ngc-learn's ``BernoulliErrorCell``, with the
fixes listed in ``shared/reference/cells.md``.

Example:
  >>> cell = BernoulliErrorCell("a", n_units=1, input_logits=True)
  >>> cell.target.set(jnp.ones((1, 1))); cell.advance_state(dt=1.0)
  >>> float(cell.dp.get()[0, 0])  # 1 - sigmoid(0)
  0.5
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from rpe import functional
from rpe.cell import Compartment
from rpe.error_cell import ErrorCell

__all__ = ["BernoulliErrorCell", "BernoulliErrorParams"]


class BernoulliErrorParams(NamedTuple):
    """BernoulliErrorCell has no numeric hyperparameters."""


class BernoulliErrorCell(ErrorCell):
    """Bernoulli log-likelihood error and its gradients.

    Args:
      name: the cell's name.
      n_units: number of units.
      batch_size: rows of every compartment.
      input_logits: ``p`` holds logits (True) or probabilities (False).
    """

    p = Compartment("inputs", "prediction: probabilities, or logits if input_logits, (batch_size, n_units)")
    target = Compartment("inputs", "observed 0/1 target, (batch_size, n_units)")
    L = Compartment("outputs", "log-likelihood sum(mask (t log q + (1 - t) log(1 - q))), a scalar ()")
    dp = Compartment("outputs", "gated dL/dp (w.r.t. the logit if input_logits), (batch_size, n_units)")
    dtarget = Compartment("outputs", "gated dL/dtarget = log q - log(1 - q), (batch_size, n_units)")

    Params = BernoulliErrorParams
    dynamics = (
        "q = clip(sigmoid(p) or p, 1e-4, 1 - 1e-4); L = sum(mask (t log q + (1 - t) log(1 - q))); "
        "dtarget = g (log q - log(1 - q)); dp = g (t - q) [logits] or g (t / q - (1 - t) / (1 - q))"
    )
    hyperparameter_docs = {
        "n_units": "number of units",
        "batch_size": "rows of every compartment",
        "input_logits": "p holds logits (True) or probabilities (False)",
    }

    def __init__(self, name: str, n_units: int, batch_size: int = 1, input_logits: bool = False):
        if not isinstance(input_logits, bool):
            raise TypeError(f"input_logits: expected a bool, got {input_logits!r}")
        self.input_logits = input_logits
        self.params = BernoulliErrorParams()
        super().__init__(name, n_units, batch_size)

    def init_state(self, batch_size: int | None = None, params=None) -> BernoulliErrorCell.State:
        zeros, ones = self._rest(batch_size)
        return self.State(
            p=zeros,
            target=zeros,
            modulator=ones,
            mask=ones,
            L=jnp.zeros((), jnp.float32),
            dp=zeros,
            dtarget=zeros,
        )

    def step(self, state, dt=1.0, key=None, params=None):
        """Compute ``L`` and the gated gradients; the mask is consumed (``dt`` unused).

        :func:`rpe.functional.bernoulli_error` on the batch (``L`` sums over it).
        """
        out = functional.bernoulli_error(
            state.p, state.target, state.modulator, state.mask, input_logits=self.input_logits
        )
        return state._replace(L=out.L, dp=out.dp, dtarget=out.dtarget, mask=jnp.ones_like(state.mask))
