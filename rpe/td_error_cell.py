"""TDErrorCell: the temporal-difference error, the RPE of TD learning (Sutton 1988).

With ``g = modulator * mask``::

    delta  = reward + gamma * (1 - done) * next_value - value
    L      = -0.5 * sum(mask * delta^2)                          (a scalar)
    dvalue = g * delta                                           = g * dL/dvalue

``dvalue`` holds ``next_value`` fixed (the semi-gradient of TD(0)): a critic's weights
move along ``pre * dvalue``. ``done`` marks terminal transitions (1: no bootstrap); pass
only *terminated*, not truncated, episodes as done. Compartments are
``(batch_size, n_units)``; ``done``, ``modulator`` and ``mask`` also accept
``(batch_size, 1)``.

Example:
  >>> cell = TDErrorCell("td", n_units=1, gamma=0.9)
  >>> cell.reward.set(jnp.ones((1, 1))); cell.next_value.set(jnp.full((1, 1), 2.0))
  >>> cell.advance_state(dt=1.0)
  >>> round(float(cell.delta.get()[0, 0]), 4)  # 1 + 0.9 * 2 - 0
  2.8
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from rpe import functional
from rpe.cell import Compartment
from rpe.error_cell import ErrorCell
from rpe.validation import check_real

__all__ = ["TDErrorCell", "TDErrorParams"]


class TDErrorParams(NamedTuple):
    """Numeric hyperparameters of a TDErrorCell (leaves may be arrays under vmap)."""

    gamma: float


class TDErrorCell(ErrorCell):
    """Temporal-difference error of a value prediction.

    Args:
      name: the cell's name.
      n_units: number of value channels (usually 1).
      gamma: discount factor in [0, 1].
      batch_size: rows of every compartment.
    """

    reward = Compartment("inputs", "reward r_t, (batch_size, n_units)", finite=True)
    value = Compartment("inputs", "value prediction V(s_t), (batch_size, n_units)")
    next_value = Compartment("inputs", "value prediction V(s_t+1), (batch_size, n_units)")
    done = Compartment(
        "inputs", "1 where s_t+1 is terminal, (batch_size, n_units); set accepts (batch_size, 1)"
    )
    delta = Compartment("outputs", "TD error r + gamma (1 - done) V' - V, (batch_size, n_units)")
    L = Compartment("outputs", "log-likelihood -0.5 sum(mask delta^2), a scalar ()")
    dvalue = Compartment("outputs", "gated dL/dvalue = delta, (batch_size, n_units)")

    Params = TDErrorParams
    per_sample_inputs = ("modulator", "mask", "done")
    dynamics = (
        "delta = reward + gamma (1 - done) next_value - value; L = -0.5 sum(mask delta^2); "
        "dvalue = modulator mask delta"
    )
    hyperparameter_docs = {
        "n_units": "number of value channels",
        "gamma": "discount factor in [0, 1]",
        "batch_size": "rows of every compartment",
    }

    def __init__(self, name: str, n_units: int, gamma: float = 0.99, batch_size: int = 1):
        self.params = TDErrorParams(gamma=check_real("gamma", gamma, low=0.0, high=1.0))
        super().__init__(name, n_units, batch_size)

    def init_state(self, batch_size: int | None = None, params=None) -> TDErrorCell.State:
        zeros, ones = self._rest(batch_size)
        return self.State(
            reward=zeros,
            value=zeros,
            next_value=zeros,
            done=zeros,
            modulator=ones,
            mask=ones,
            delta=zeros,
            L=jnp.zeros((), jnp.float32),
            dvalue=zeros,
        )

    def step(self, state, dt=1.0, key=None, params=None):
        """Compute the TD error; the mask is consumed (``dt`` unused).

        :func:`rpe.functional.td_error` on the batch, with ``discount = gamma (1 - done)``.
        """
        discount = self._params(params).gamma * (1.0 - state.done)
        out = functional.td_error(
            state.reward, discount, state.value, state.next_value, state.modulator, state.mask
        )
        return state._replace(delta=out.delta, L=out.L, dvalue=out.dvalue, mask=jnp.ones_like(state.mask))
