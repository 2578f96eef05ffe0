"""A predictive-coding world model: a RateCell layer between two GaussianErrorCells (NGC).

After neural generative coding (Ororbia & Kifer 2022) as used for the world model of active
neural generative coding (Ororbia & Mali 2022). The input ``x (E, n_in)`` (state and action)
is clamped at the top, the target ``y (E, n_out)`` (what happened) at the bottom, and a hidden
``RateCell`` layer ``z (E, H)`` settles between them by its own dynamics::

    mu1 = x @ W_in                     e1 = z - mu1          (GaussianErrorCell "e1": dtarget = -e1)
    mu0 = f(z) @ W_out                 e0 = y - mu0          (GaussianErrorCell "e0": dmu = e0)
    tau dz/dt = f'(z) (e0 @ W_out^T) - e1                    (RateCell: j = e0 @ W_out^T, j_td = -e1)

starting from the prediction ``z = mu1``. That is gradient descent on the energy
``F = 0.5 |e0|^2 + 0.5 |e1|^2`` (per row), and after ``settle_steps`` Euler steps of
``dt / tau = settle_rate`` each synapse moves by its own error times its presynaptic
activity (no backprop)::

    W_out += eta f(z)^T e0             W_in += eta x^T e1

``F`` after settling is the model's surprise ``L``, the epistemic reward of the agent.

Shapes: ``x (E, n_in)``, ``y (E, n_out)``, ``mask (E,)``; weights ``W_in (n_in, H)``,
``W_out (H, n_out)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rpe import functional as kernels
from rpe.activations import get_activation
from rpe.validation import check_positive_int, check_real

__all__ = ["Curiosity", "NGCWorldModel", "NGCWorldModelState", "Settled"]


class NGCWorldModelState(NamedTuple):
    """``W_in (n_in, H)`` predicts the hidden layer, ``W_out (H, n_out)`` the target."""

    W_in: jax.Array
    W_out: jax.Array


class Settled(NamedTuple):
    """The circuit after settling: ``z, e1 (E, H)``, ``e0 (E, n_out)``, ``energy (E,)``, and
    ``prediction (E, n_out)``, the unsettled prediction ``f(mu1) @ W_out``."""

    z: jax.Array
    e1: jax.Array
    e0: jax.Array
    energy: jax.Array
    prediction: jax.Array


class Curiosity(NamedTuple):
    """Output of :meth:`NGCWorldModel.curiosity`: the epistemic ``reward (E,)``, the updated
    ``weights`` and the largest surprise so far ``surprise_max ()``."""

    reward: jax.Array
    weights: NGCWorldModelState
    surprise_max: jax.Array


class NGCWorldModel:
    """See the module docstring.

    Args:
      n_in, n_out, n_hidden: layer sizes.
      settle_steps: Euler steps of the hidden layer per transition (``>= 1``).
      settle_rate: ``dt / tau`` of each step, in ``(0, 1]``.
      act_fx: the hidden layer's activation (``rpe.activations``).
      eta: learning rate of both synapses.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        n_hidden: int = 32,
        settle_steps: int = 10,
        settle_rate: float = 0.2,
        act_fx: str = "tanh",
        eta: float = 0.02,
    ):
        self.n_in = check_positive_int("n_in", n_in)
        self.n_out = check_positive_int("n_out", n_out)
        self.n_hidden = check_positive_int("n_hidden", n_hidden)
        self.settle_steps = check_positive_int("settle_steps", settle_steps)
        self.settle_rate = check_real("settle_rate", settle_rate, low=0.0, high=1.0, low_open=True)
        self.eta = check_real("eta", eta, low=0.0)
        self.act_fx = act_fx
        self._rate, _ = get_activation(act_fx)  # the hidden layer's output f(z)

    def init(self, key: jax.Array) -> NGCWorldModelState:
        """Random ``W_in`` (variance ``1 / n_in``) and small ``W_out`` (variance ``0.01 / H``)."""
        k_in, k_out = jax.random.split(key)
        return NGCWorldModelState(
            W_in=jax.random.normal(k_in, (self.n_in, self.n_hidden)) / jnp.sqrt(self.n_in),
            W_out=0.1 * jax.random.normal(k_out, (self.n_hidden, self.n_out)) / jnp.sqrt(self.n_hidden),
        )

    def _errors(self, weights: NGCWorldModelState, mu1, z, y):
        """The two error cells at hidden state ``z`` (``rpe.functional.gaussian_error``, unit
        variance): ``(e1, e0)``, with ``e1.dmu = z - mu1`` and ``e0.dmu = y - f(z) W_out``."""
        return kernels.gaussian_error(mu1, z), kernels.gaussian_error(self._rate(z) @ weights.W_out, y)

    def settle(self, weights: NGCWorldModelState, x: jax.Array, y: jax.Array, settle_rate=None) -> Settled:
        """Clamp ``x`` and ``y``, settle the hidden layer; returns :class:`Settled`.
        ``settle_rate`` (default: the constructor's) may be traced."""
        settle_rate = self.settle_rate if settle_rate is None else settle_rate
        mu1 = x @ weights.W_in

        def step(z, _):
            # A RateCell step (rpe.functional.rate_cell_step) with tau_m = 1 ms and dt =
            # settle_rate ms: z moves by settle_rate * dz/dt.
            e1, e0 = self._errors(weights, mu1, z, y)
            j, j_td = e0.dmu @ weights.W_out.T, e1.dtarget
            return kernels.rate_cell_step(z, j, j_td, settle_rate, 1.0, act_fx=self.act_fx).z, None

        z, _ = jax.lax.scan(step, mu1, None, length=self.settle_steps)
        e1, e0 = self._errors(weights, mu1, z, y)
        energy = 0.5 * (jnp.sum(e0.dmu**2, axis=-1) + jnp.sum(e1.dmu**2, axis=-1))
        return Settled(z, e1.dmu, e0.dmu, energy, self._rate(mu1) @ weights.W_out)

    def update(
        self, weights: NGCWorldModelState, x: jax.Array, settled: Settled, mask: jax.Array, eta=None
    ) -> NGCWorldModelState:
        """The local updates, summed over the rows where ``mask (E,)`` is 1; ``eta`` (default:
        the constructor's) may be traced."""
        eta = self.eta if eta is None else eta
        f_z = self._rate(settled.z)
        m = mask[:, None]
        return NGCWorldModelState(
            W_in=weights.W_in + eta * x.T @ (m * settled.e1),
            W_out=weights.W_out + eta * f_z.T @ (m * settled.e0),
        )

    def curiosity(
        self,
        weights: NGCWorldModelState,
        x: jax.Array,
        y: jax.Array,
        mask: jax.Array,
        surprise_max: jax.Array,
        scale,
        eta=None,
        settle_rate=None,
    ) -> Curiosity:
        """The surprise at each row as a reward, and the model's update (active neural
        generative coding, Ororbia & Mali 2022)::

            L = energy after settling (masked),   L_max <- max(L_max, max L)
            reward = scale L / L_max               (in [0, scale])

        Normalising by the largest surprise so far keeps the epistemic reward on the scale
        of ``scale`` whatever the size of the observations. ``eta`` and ``settle_rate`` as
        in :meth:`update` and :meth:`settle`."""
        settled = self.settle(weights, x, y, settle_rate=settle_rate)
        surprise = settled.energy * mask
        surprise_max = jnp.maximum(surprise_max, jnp.max(surprise))
        reward = scale * surprise / jnp.maximum(surprise_max, 1e-8)
        return Curiosity(reward, self.update(weights, x, settled, mask, eta=eta), surprise_max)
