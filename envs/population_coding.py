"""Gaussian population coding of continuous observations into input currents.

Each observation dimension ``d`` with range ``[low_d, high_d]`` is read by ``n`` neurons
whose preferred values ``c_dk`` are evenly spaced over the range; neuron ``k`` fires::

    rate_dk = exp(-(x_d - c_dk)^2 / (2 sigma_d^2)),   sigma_d = width * (high_d - low_d) / (n - 1)

(Pouget, Dayan & Zemel 2000). ``obs (batch, n_dims)`` -> ``currents (batch, n_dims * n)``,
dimension-major. Values outside the range are clipped to it first.

Example:
  >>> coder = population_code(low=[-1.0], high=[1.0], n_neurons=3)
  >>> [round(float(v), 3) for v in encode(coder, jnp.asarray([[0.0]]))[0]]
  [0.135, 1.0, 0.135]
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from envs.checks import env_name
from rpe.validation import check_positive_int, check_real

__all__ = ["PopulationCode", "PopulationEncode", "encode", "population_code"]


class PopulationCode(NamedTuple):
    """Preferred values ``centers (n_dims, n)``, tuning widths ``sigma (n_dims, 1)``, range."""

    centers: jax.Array
    sigma: jax.Array
    low: jax.Array
    high: jax.Array


def population_code(low, high, n_neurons: int = 8, width: float = 1.0) -> PopulationCode:
    """A code for observations in ``[low, high]`` (finite, ``low < high``) with ``n_neurons``
    per dimension and tuning width ``width`` times the spacing of the preferred values."""
    low = np.asarray(low, np.float64).reshape(-1)
    high = np.asarray(high, np.float64).reshape(-1)
    n = check_positive_int("n_neurons", n_neurons)
    width = check_real("width", width, low=0.0, low_open=True)
    if n < 2:
        raise ValueError(f"n_neurons: expected at least 2 neurons per dimension, got {n}")
    if low.shape != high.shape or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"low, high: expected finite bounds of one shape, got {low} and {high}")
    if not np.all(low < high):
        raise ValueError(f"low, high: expected low < high in every dimension, got {low} and {high}")
    centers = np.linspace(low, high, n, axis=1)
    sigma = width * (high - low)[:, None] / (n - 1)
    return PopulationCode(*(jnp.asarray(a, jnp.float32) for a in (centers, sigma, low, high)))


def encode(code: PopulationCode, obs: jax.Array) -> jax.Array:
    """``obs (batch, n_dims)`` -> ``(batch, n_dims * n)`` Gaussian tuning-curve rates."""
    x = jnp.clip(obs, code.low, code.high)[..., None]
    rates = jnp.exp(-((x - code.centers) ** 2) / (2.0 * code.sigma**2))
    return rates.reshape(*obs.shape[:-1], -1)


class PopulationEncode(gym.ObservationWrapper):
    """Encode a 1-D Box observation with a Gaussian population code.

    ``low``/``high`` default to the space's bounds, which must then be finite (CartPole's
    velocities are unbounded: give explicit ranges for them).
    """

    def __init__(self, env: gym.Env, n_neurons: int = 8, low=None, high=None, width: float = 1.0):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(
                f"{env_name(env)}: PopulationEncode needs a 1-D Box observation space, got {space}"
            )
        low = space.low if low is None else low
        high = space.high if high is None else high
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(
                f"{env_name(env)}: observation bounds {space.low}..{space.high} are not finite; "
                "pass low= and high= for the population code"
            )
        self.code = population_code(low, high, n_neurons, width)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (space.shape[0] * n_neurons,), np.float32)
        self._encode = jax.jit(encode)

    def observation(self, observation):
        return np.asarray(self._encode(self.code, jnp.asarray(observation, jnp.float32)))
