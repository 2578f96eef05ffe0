"""LaplacianErrorCell: the local error of a Laplace prediction ``shift`` of ``target``.

With ``e = target - shift``, ``Scale`` the scale (shape ``(1, 1)`` or ``(1, n_units)``) and
``g = modulator * mask``::

    L       = -sum(mask * |e|) / Scale                             (a scalar)
    dshift  = g * sign(e) / Scale        = g * dL/dshift
    dtarget = -g * sign(e) / Scale       = g * dL/dtarget
    dScale  = sum_to_Scale(g * (|e| / Scale^2 - 1 / Scale))

``dScale`` is the derivative of the full Laplace log-likelihood
``-sum(|e| / Scale + log Scale)``. After ngc-learn's ``LaplacianErrorCell``, with the fixes
listed in ``shared/reference/cells.md`` (``L`` from ``|e|``, not from ``|sign(e)|``).

Example:
  >>> cell = LaplacianErrorCell("e", n_units=2)
  >>> cell.target.set(jnp.full((1, 2), -3.0)); cell.advance_state(dt=1.0)
  >>> float(cell.L.get()), float(cell.dshift.get()[0, 0])
  (-6.0, -1.0)
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from rpe import functional
from rpe.cell import Compartment
from rpe.error_cell import ErrorCell
from rpe.validation import check_real

__all__ = ["LaplacianErrorCell", "LaplacianErrorParams"]


class LaplacianErrorParams(NamedTuple):
    """Numeric hyperparameters of a LaplacianErrorCell (leaves may be arrays under vmap).

    ``scale`` is the rest value of the ``Scale`` compartment: ``init_state(b, params)``
    starts ``Scale`` there.
    """

    scale: float


class LaplacianErrorCell(ErrorCell):
    """Laplace log-likelihood error and its gradients.

    Args:
      name: the cell's name.
      n_units: number of units.
      batch_size: rows of every per-entry compartment.
      scale: initial scale ``Scale`` (> 0), shared across units.
    """

    shift = Compartment("inputs", "prediction (location), (batch_size, n_units)")
    target = Compartment("inputs", "observed target, (batch_size, n_units)")
    Scale = Compartment("inputs", "scale, (1, 1) shared or (1, n_units) per unit")
    L = Compartment("outputs", "log-likelihood -sum(mask |e|) / Scale, a scalar ()")
    dshift = Compartment("outputs", "gated dL/dshift = sign(e) / Scale, (batch_size, n_units)")
    dScale = Compartment("outputs", "gated derivative of the full log-likelihood w.r.t. Scale, Scale's shape")
    dtarget = Compartment("outputs", "gated dL/dtarget = -sign(e) / Scale, (batch_size, n_units)")

    Params = LaplacianErrorParams
    scale_parameter = "Scale"
    scale_derivative = "dScale"
    dynamics = (
        "e = target - shift; L = -sum(mask |e|) / Scale; dshift = g sign(e) / Scale; "
        "dtarget = -dshift; dScale = sum(g (|e| / Scale^2 - 1 / Scale)); g = modulator * mask"
    )
    hyperparameter_docs = {
        "n_units": "number of units",
        "batch_size": "rows of every per-entry compartment",
        "scale": "initial scale Scale (> 0)",
    }

    def __init__(self, name: str, n_units: int, batch_size: int = 1, scale: float = 1.0):
        self.params = LaplacianErrorParams(scale=check_real("scale", scale, low=0.0, low_open=True))
        super().__init__(name, n_units, batch_size)

    def init_state(self, batch_size: int | None = None, params=None) -> LaplacianErrorCell.State:
        """The rest state: zeros, ``modulator``/``mask`` ones, ``Scale = params.scale``."""
        zeros, ones = self._rest(batch_size)
        scale = jnp.full((1, 1), self._params(params).scale, jnp.float32)
        return self.State(
            shift=zeros,
            target=zeros,
            Scale=scale,
            modulator=ones,
            mask=ones,
            L=jnp.zeros((), jnp.float32),
            dshift=zeros,
            dScale=jnp.zeros_like(scale),
            dtarget=zeros,
        )

    def step(self, state, dt=1.0, key=None, params=None):
        """Compute ``L`` and the gated gradients; the mask is consumed (``dt`` unused).

        The scale is the state's ``Scale``; ``params.scale`` is where ``Scale`` starts,
        read by :meth:`init_state` (``step`` has no other numeric hyperparameter).
        :func:`rpe.functional.laplacian_error` on the batch: ``L`` sums over it, ``dScale``
        sums to ``Scale``'s shape.
        """
        out = functional.laplacian_error(state.shift, state.target, state.Scale, state.modulator, state.mask)
        return state._replace(
            L=out.L, dshift=out.dshift, dtarget=out.dtarget, dScale=out.dscale, mask=jnp.ones_like(state.mask)
        )
