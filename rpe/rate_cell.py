"""RateCell: graded predictive-coding neurons with a prior over their activity.

Dynamics, with ``f`` the activation and ``phi`` the prior's leak (``rpe.priors``)::

    jm          = j * f'(z_before_step) * resist_scale       (held over integrator stages)
    tau_m dz/dt = -gamma * phi(z) + jm + j_td
    z           <- threshold(integrate(z, dt), lam)
    zF          = output_scale * f(z)

With ``tau_m <= 0`` the cell is stateless: ``z = j + j_td``, ``zF = output_scale f(z)``.
Inputs are never written by the cell. Compartments ``j``, ``j_td``, ``z``, ``zF`` are
``(batch_size, n_units)``; ``tau_m`` and ``dt`` in ms. After ngc-learn's ``RateCell``
(Ororbia & Kifer 2022, neural generative coding), with the fixes listed in
``shared/reference/cells.md``.

Example:
  >>> cell = RateCell("z", n_units=2, tau_m=10.0, prior=("gaussian", 1.0))
  >>> cell.j.set(jnp.ones((1, 2))); cell.advance_state(dt=1.0)
  >>> round(float(cell.z.get()[0, 0]), 6)  # z + dt/tau_m * (-z + j) = 0.1
  0.1
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import jax.numpy as jnp

from rpe import functional
from rpe.activations import get_activation
from rpe.cell import Cell, Compartment
from rpe.integrators import get_integrator
from rpe.priors import get_prior
from rpe.thresholds import get_threshold
from rpe.validation import check_named_pair, check_real

__all__ = ["RateCell", "RateParams"]


class RateParams(NamedTuple):
    """Numeric hyperparameters of a RateCell (leaves may be arrays under vmap)."""

    tau_m: float
    gamma: float
    output_scale: float
    threshold_lambda: float
    resist_scale: float


class RateCell(Cell):
    """Rate-coded neurons settling under bottom-up ``j`` and top-down ``j_td`` pressure.

    Args:
      name: the cell's name.
      n_units: number of neurons.
      tau_m: membrane time constant in ms; ``<= 0`` makes the cell stateless.
      prior: ``(name, gamma)``, name in :data:`rpe.priors.PRIORS`, gamma the leak strength.
      act_fx: activation name, one of :data:`rpe.activations.ACTIVATIONS`.
      output_scale: factor on ``f(z)``.
      threshold: ``(name, lam)``, name in :data:`rpe.thresholds.THRESHOLDS`, ``lam >= 0``.
      integration_type: one of :data:`rpe.integrators.INTEGRATORS`.
      batch_size: rows of every compartment.
      resist_scale: factor on the modulated bottom-up input.
      omega_0: frequency of the ``sine`` activation (default 30).
    """

    j = Compartment("inputs", "bottom-up pressure, modulated by f'(z), (batch_size, n_units)")
    j_td = Compartment("inputs", "top-down pressure, (batch_size, n_units)")
    z = Compartment("states", "rate activity (pre-activation), (batch_size, n_units)")
    zF = Compartment("outputs", "output_scale * f(z), (batch_size, n_units)")

    Params = RateParams
    dynamics = (
        "tau_m dz/dt = -gamma phi(z) + j f'(z) resist_scale + j_td; z = threshold(z); "
        "zF = output_scale f(z); stateless (tau_m <= 0): z = j + j_td"
    )
    hyperparameter_docs = {
        "n_units": "number of neurons",
        "tau_m": "membrane time constant (ms); <= 0 makes the cell stateless",
        "prior": "(name, gamma): leak phi(z) of the prior and its strength",
        "act_fx": "activation f applied to z",
        "output_scale": "factor on f(z)",
        "threshold": "(name, lam): shrinkage applied after each step",
        "integration_type": "integrator of the state ODE",
        "batch_size": "rows of every compartment",
        "resist_scale": "factor on the modulated bottom-up input j",
    }

    def __init__(
        self,
        name: str,
        n_units: int,
        tau_m: float,
        prior=("gaussian", 0.0),
        act_fx: str = "identity",
        output_scale: float = 1.0,
        threshold=("none", 0.0),
        integration_type: str = "euler",
        batch_size: int = 1,
        resist_scale: float = 1.0,
        omega_0: float = 30.0,
    ):
        prior_name, gamma = check_named_pair("prior", prior)
        threshold_name, lam = check_named_pair("threshold", threshold)
        check_real("threshold[1]", lam, low=0.0)
        if isinstance(tau_m, bool) or not isinstance(tau_m, numbers.Real):
            raise TypeError(f"tau_m: expected a real number, got {tau_m!r}")
        self.prior_name = prior_name
        self.act_fx = act_fx
        self.threshold_name = threshold_name
        self.integration_type = integration_type
        self._phi = get_prior(prior_name)
        self._f, self._df = get_activation(act_fx, check_real("omega_0", omega_0))
        self._threshold = get_threshold(threshold_name)
        self._integrate = get_integrator(integration_type)
        self.stateless = float(tau_m) <= 0.0
        self.params = RateParams(
            tau_m=check_real("tau_m", tau_m),
            gamma=gamma,
            output_scale=check_real("output_scale", output_scale),
            threshold_lambda=lam,
            resist_scale=check_real("resist_scale", resist_scale),
        )
        super().__init__(name, n_units, batch_size)

    def init_state(self, batch_size: int | None = None, params=None) -> RateCell.State:
        b = self.batch_size if batch_size is None else batch_size
        zeros = jnp.zeros((b, self.n_units), jnp.float32)
        return self.State(j=zeros, j_td=zeros, z=zeros, zF=zeros)

    def step(self, state, dt=1.0, key=None, params=None):
        """One integration step of ``dt`` ms: :func:`rpe.functional.rate_cell_step` on the
        rows (elementwise), with the functions chosen when the cell was built."""
        p = self._params(params)
        out = functional.rate_cell_step(
            state.z,
            state.j,
            state.j_td,
            dt,
            p.tau_m,
            gamma=p.gamma,
            prior=self._phi,
            act_fx=(self._f, self._df),
            output_scale=p.output_scale,
            threshold=self._threshold,
            threshold_lambda=p.threshold_lambda,
            integration_type=self._integrate,
            resist_scale=p.resist_scale,
        )
        return state._replace(z=out.z, zF=out.zF)
