"""LeakyNoiseCell: noisy leaky recurrent rate units (Song, Yang & Wang 2016).

The state follows the stochastic differential equation::

    tau_x dx = (-leak_scale x + j_recurrent + j_input) dt + sqrt(2 tau_x) sigma_pre dW

A step of ``dt`` ms integrates the deterministic part with the chosen integrator and adds
the noise as Euler-Maruyama, then reads out::

    x       <- integrate(x, dt) + sqrt(2 dt / tau_x) sigma_pre eps_pre
    r       =  output_scale f(x) + sigma_post eps_post
    r_prime =  output_scale f'(x)

``eps_pre`` and ``eps_post`` are independent N(0, 1) draws (from separate keys, with
:func:`rpe.noise.normal`); ``eps_post`` is not drawn when ``sigma_post`` is a concrete 0.
Compartments are ``(batch_size, n_units)``. After ngc-learn's ``LeakyNoiseCell``, with the
fixes listed in ``shared/reference/cells.md``.

Example:
  >>> cell = LeakyNoiseCell("x", n_units=3, tau_x=10.0, sigma_pre=0.0)
  >>> cell.j_input.set(jnp.ones((1, 3))); cell.advance_state(dt=1.0)
  >>> round(float(cell.x.get()[0, 0]), 6)  # dt/tau_x * j_input
  0.1
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rpe import functional, noise
from rpe.activations import get_activation
from rpe.cell import Cell, Compartment
from rpe.integrators import get_integrator
from rpe.validation import check_real

__all__ = ["LeakyNoiseCell", "LeakyNoiseParams"]


class LeakyNoiseParams(NamedTuple):
    """Numeric hyperparameters of a LeakyNoiseCell (leaves may be arrays under vmap)."""

    tau_x: float
    output_scale: float
    sigma_pre: float
    sigma_post: float
    leak_scale: float


class LeakyNoiseCell(Cell):
    """Leaky rate units driven by input and recurrent currents, with pre/post noise.

    Args:
      name: the cell's name.
      n_units: number of units.
      tau_x: time constant in ms, > 0.
      act_fx: activation name, one of :data:`rpe.activations.ACTIVATIONS`.
      output_scale: factor on ``f(x)`` and ``f'(x)``.
      integration_type: one of :data:`rpe.integrators.INTEGRATORS`.
      batch_size: rows of every compartment.
      sigma_pre: std of the noise on the state, >= 0.
      sigma_post: std of the noise on the rate output, >= 0.
      leak_scale: strength of the leak.
      key: PRNG key or int seed of the shell's noise (default: seed 0).
      omega_0: frequency of the ``sine`` activation (default 30).
    """

    j_input = Compartment("inputs", "input current, (batch_size, n_units)")
    j_recurrent = Compartment("inputs", "recurrent current, (batch_size, n_units)")
    x = Compartment("states", "state (pre-activation), (batch_size, n_units)")
    r = Compartment("outputs", "rate output_scale f(x) + sigma_post eps, (batch_size, n_units)")
    r_prime = Compartment("outputs", "output_scale f'(x), (batch_size, n_units)")

    Params = LeakyNoiseParams
    stochastic = True
    dynamics = (
        "tau_x dx = (-leak_scale x + j_recurrent + j_input) dt + sqrt(2 tau_x) sigma_pre dW; "
        "r = output_scale f(x) + sigma_post eps_post; r_prime = output_scale f'(x)"
    )
    hyperparameter_docs = {
        "n_units": "number of units",
        "tau_x": "time constant (ms)",
        "act_fx": "activation f applied to x",
        "output_scale": "factor on f(x) and f'(x)",
        "integration_type": "integrator of the deterministic part",
        "batch_size": "rows of every compartment",
        "sigma_pre": "std of the state noise",
        "sigma_post": "std of the output noise",
        "leak_scale": "strength of the leak",
    }

    def __init__(
        self,
        name: str,
        n_units: int,
        tau_x: float,
        act_fx: str = "relu",
        output_scale: float = 1.0,
        integration_type: str = "euler",
        batch_size: int = 1,
        sigma_pre: float = 0.1,
        sigma_post: float = 0.0,
        leak_scale: float = 1.0,
        key=None,
        omega_0: float = 30.0,
    ):
        self.act_fx = act_fx
        self.integration_type = integration_type
        self._f, self._df = get_activation(act_fx, check_real("omega_0", omega_0))
        self._integrate = get_integrator(integration_type)
        self.params = LeakyNoiseParams(
            tau_x=check_real("tau_x", tau_x, low=0.0, low_open=True),
            output_scale=check_real("output_scale", output_scale),
            sigma_pre=check_real("sigma_pre", sigma_pre, low=0.0),
            sigma_post=check_real("sigma_post", sigma_post, low=0.0),
            leak_scale=check_real("leak_scale", leak_scale),
        )
        super().__init__(name, n_units, batch_size, key=key)

    def init_state(self, batch_size: int | None = None, params=None) -> LeakyNoiseCell.State:
        b = self.batch_size if batch_size is None else batch_size
        zeros = jnp.zeros((b, self.n_units), jnp.float32)
        return self.State(j_input=zeros, j_recurrent=zeros, x=zeros, r=zeros, r_prime=zeros)

    def step(self, state, dt=1.0, key=None, params=None):
        """One Euler-Maruyama step of ``dt`` ms; ``key`` is required (a JAX PRNG key).

        :func:`rpe.functional.leaky_noise_step` on the rows (elementwise), with the noise
        drawn here: no draw for a concrete zero ``sigma``.
        """
        if key is None:
            raise TypeError("key: LeakyNoiseCell.step needs a PRNG key for its noise")
        p = self._params(params)
        key_pre, key_post = jax.random.split(key)
        shape = state.x.shape
        out = functional.leaky_noise_step(
            state.x,
            state.j_input,
            state.j_recurrent,
            dt,
            p.tau_x,
            None if _is_zero(p.sigma_pre) else noise.normal(key_pre, shape),
            None if _is_zero(p.sigma_post) else noise.normal(key_post, shape),
            sigma_pre=p.sigma_pre,
            sigma_post=p.sigma_post,
            leak_scale=p.leak_scale,
            output_scale=p.output_scale,
            act_fx=(self._f, self._df),
            integration_type=self._integrate,
        )
        return state._replace(x=out.x, r=out.r, r_prime=out.r_prime)


def _is_zero(value) -> bool:
    """True only for a concrete Python zero: traced values always get their noise."""
    return isinstance(value, numbers.Real) and float(value) == 0.0
