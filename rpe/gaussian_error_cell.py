"""GaussianErrorCell: the local error of a Gaussian prediction ``mu`` of ``target``.

With ``e = target - mu``, ``Sigma`` the variance (shape ``(1, 1)`` or ``(1, n_units)``) and
``g = modulator * mask``::

    L       = -0.5 * sum(mask * e^2 / Sigma)                      (a scalar)
    dmu     = g * e / Sigma              = g * dL/dmu
    dtarget = -g * e / Sigma             = g * dL/dtarget
    dSigma  = sum_to_Sigma(g * 0.5 * (e^2 / Sigma^2 - 1 / Sigma))

``dSigma`` is the derivative of the full Gaussian log-likelihood
``-0.5 sum(e^2 / Sigma + log Sigma)``. After ngc-learn's ``GaussianErrorCell``, with the
fixes listed in ``shared/reference/cells.md``.

Example:
  >>> cell = GaussianErrorCell("e", n_units=2, sigma=2.0)
  >>> cell.target.set(jnp.ones((1, 2))); cell.advance_state(dt=1.0)
  >>> float(cell.L.get()), float(cell.dmu.get()[0, 0])
  (-0.5, 0.5)
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from rpe import functional
from rpe.cell import Compartment
from rpe.error_cell import ErrorCell
from rpe.validation import check_real

__all__ = ["GaussianErrorCell", "GaussianErrorParams"]


class GaussianErrorParams(NamedTuple):
    """Numeric hyperparameters of a GaussianErrorCell (leaves may be arrays under vmap).

    ``sigma`` is the rest value of the ``Sigma`` compartment: ``init_state(b, params)``
    starts ``Sigma`` there.
    """

    sigma: float


class GaussianErrorCell(ErrorCell):
    """Gaussian log-likelihood error and its gradients.

    Args:
      name: the cell's name.
      n_units: number of units.
      batch_size: rows of every per-entry compartment.
      sigma: initial variance ``Sigma`` (> 0), shared across units.
    """

    mu = Compartment("inputs", "prediction (mean), (batch_size, n_units)")
    target = Compartment("inputs", "observed target, (batch_size, n_units)")
    Sigma = Compartment("inputs", "variance, (1, 1) shared or (1, n_units) per unit")
    L = Compartment("outputs", "log-likelihood -0.5 sum(mask e^2 / Sigma), a scalar ()")
    dmu = Compartment("outputs", "gated dL/dmu = e / Sigma, (batch_size, n_units)")
    dSigma = Compartment("outputs", "gated derivative of the full log-likelihood w.r.t. Sigma, Sigma's shape")
    dtarget = Compartment("outputs", "gated dL/dtarget = -e / Sigma, (batch_size, n_units)")

    Params = GaussianErrorParams
    scale_parameter = "Sigma"
    scale_derivative = "dSigma"
    dynamics = (
        "e = target - mu; L = -0.5 sum(mask e^2 / Sigma); dmu = g e / Sigma; dtarget = -dmu; "
        "dSigma = sum(g 0.5 (e^2 / Sigma^2 - 1 / Sigma)); g = modulator * mask"
    )
    hyperparameter_docs = {
        "n_units": "number of units",
        "batch_size": "rows of every per-entry compartment",
        "sigma": "initial variance Sigma (> 0)",
    }

    def __init__(self, name: str, n_units: int, batch_size: int = 1, sigma: float = 1.0):
        self.params = GaussianErrorParams(sigma=check_real("sigma", sigma, low=0.0, low_open=True))
        super().__init__(name, n_units, batch_size)

    def init_state(self, batch_size: int | None = None, params=None) -> GaussianErrorCell.State:
        """The rest state: zeros, ``modulator``/``mask`` ones, ``Sigma = params.sigma``."""
        zeros, ones = self._rest(batch_size)
        sigma = jnp.full((1, 1), self._params(params).sigma, jnp.float32)
        return self.State(
            mu=zeros,
            target=zeros,
            Sigma=sigma,
            modulator=ones,
            mask=ones,
            L=jnp.zeros((), jnp.float32),
            dmu=zeros,
            dSigma=jnp.zeros_like(sigma),
            dtarget=zeros,
        )

    def step(self, state, dt=1.0, key=None, params=None):
        """Compute ``L`` and the gated gradients; the mask is consumed (``dt`` unused).

        The variance is the state's ``Sigma``; ``params.sigma`` is where ``Sigma`` starts,
        read by :meth:`init_state` (``step`` has no other numeric hyperparameter).
        :func:`rpe.functional.gaussian_error` on the batch: ``L`` sums over it, ``dSigma``
        sums to ``Sigma``'s shape.
        """
        out = functional.gaussian_error(state.mu, state.target, state.Sigma, state.modulator, state.mask)
        return state._replace(
            L=out.L, dmu=out.dmu, dtarget=out.dtarget, dSigma=out.dsigma, mask=jnp.ones_like(state.mask)
        )
