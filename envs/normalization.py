"""Running normalisation of observations, as pure functions (jit / vmap safe).

Statistics are updated with the batched form of Welford's algorithm (Chan et al. 1979)::

    delta = mean_b - mean;  n' = n + b        (b: rows counted, all or those weighted 1)
    mean' = mean + delta * b / n'
    M2'   = M2 + var_b * b + delta^2 * n * b / n'         (var = M2 / n)

and ``normalize(state, x) = clip((x - mean) / sqrt(var + eps), -clip, clip)``. The same
functions serve the Python loop (:class:`NormalizeObservation`) and the jitted path, so
both normalise identically. Shapes: ``obs (batch, *obs_shape)``; statistics ``obs_shape``.
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from envs.checks import env_name

__all__ = ["NormalizeObservation", "RunningStats", "normalize", "running_stats", "update_stats"]


class RunningStats(NamedTuple):
    """Count, mean and sum of squared deviations (``M2``) of what has been seen."""

    count: jax.Array
    mean: jax.Array
    m2: jax.Array


def running_stats(shape: tuple[int, ...]) -> RunningStats:
    """Empty statistics for observations of ``shape``."""
    return RunningStats(
        jnp.zeros((), jnp.float32), jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32)
    )


def update_stats(stats: RunningStats, obs: jax.Array, weights: jax.Array | None = None) -> RunningStats:
    """Fold a batch ``obs (b, *shape)`` into ``stats``; optional 0/1 ``weights (b,)`` select
    the rows that count (e.g. the live steps of padded episodes)."""
    w = jnp.ones(obs.shape[:1], obs.dtype) if weights is None else weights.astype(obs.dtype)
    w = w.reshape(w.shape + (1,) * (obs.ndim - 1))
    b = jnp.sum(w, axis=0)
    safe_b = jnp.maximum(b, 1.0)
    batch_mean = jnp.sum(w * obs, axis=0) / safe_b
    batch_m2 = jnp.sum(w * (obs - batch_mean) ** 2, axis=0)
    count = stats.count + b.reshape(-1)[0]
    delta = batch_mean - stats.mean
    frac = b / jnp.maximum(count, 1.0)
    return RunningStats(
        count=count,
        mean=stats.mean + delta * frac,
        m2=stats.m2 + batch_m2 + delta**2 * stats.count * frac,
    )


def normalize(stats: RunningStats, obs: jax.Array, clip: float = 5.0, eps: float = 1e-8) -> jax.Array:
    """``clip((obs - mean) / sqrt(var + eps))``; the identity shift before any data."""
    var = stats.m2 / jnp.maximum(stats.count, 1.0)
    return jnp.clip((obs - stats.mean) / jnp.sqrt(var + eps), -clip, clip)


class NormalizeObservation(gym.ObservationWrapper):
    """Normalise a Box observation with running statistics updated on every observation."""

    def __init__(self, env: gym.Env, clip: float = 5.0):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(
                f"{env_name(env)}: NormalizeObservation needs a Box observation space, got {space}"
            )
        self.clip = float(clip)
        self.stats = running_stats(space.shape)
        self.observation_space = gym.spaces.Box(-self.clip, self.clip, space.shape, np.float32)
        self._observe = jax.jit(_observe, static_argnums=2)

    def observation(self, observation):
        self.stats, out = self._observe(self.stats, jnp.asarray(observation, jnp.float32), self.clip)
        return np.asarray(out)


def _observe(stats: RunningStats, obs: jax.Array, clip: float) -> tuple[RunningStats, jax.Array]:
    stats = update_stats(stats, obs[None])
    return stats, normalize(stats, obs, clip)
