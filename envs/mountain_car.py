"""MountainCar-v0 as a JAX ``FuncEnv``: the same dynamics, rewards and ends as Gymnasium's.

Moore (1990), transcribed from ``gymnasium.envs.classic_control.MountainCarEnv``:
``v += (action - 1) 0.001 - 0.0025 cos(3 p)``, clipped to +-0.07; ``p += v`` clipped to
[-1.2, 0.6], with ``v = 0`` at the left wall when moving left. Reward -1 per step;
terminated when ``p >= 0.5`` (and ``v >= 0``); truncated after 200 steps. Initial position
uniform in [-0.6, -0.4], velocity 0. float32 (Gymnasium keeps float64).

The physics lives in :class:`MountainCarParams` (``MountainCar().default_params`` are
Gymnasium's constants), which every method takes as ``params`` (``None``: the defaults), so a
population can ``jax.vmap`` over, say, the engine's force (see ``envs/cartpole.py`` for the
idiom).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

__all__ = ["MountainCar", "MountainCarParams", "MountainCarState"]


class MountainCarState(NamedTuple):
    """``physics (2,)``: position, velocity; ``time ()``: steps taken."""

    physics: jax.Array
    time: jax.Array


class MountainCarParams(NamedTuple):
    """MountainCar's physics, each a scalar (a float or an array, batched under ``vmap``).

    ``min_position``, ``max_position``: the walls; ``max_speed``: the bound on ``|v|``;
    ``goal_position``, ``goal_velocity``: the episode terminates at ``p >= goal_position``
    with ``v >= goal_velocity``; ``force``: the engine's push per step; ``gravity``: the
    slope's pull, ``gravity * cos(3 p)`` per step. The observation space keeps the
    defaults' bounds.
    """

    min_position: float = -1.2
    max_position: float = 0.6
    max_speed: float = 0.07
    goal_position: float = 0.5
    goal_velocity: float = 0.0
    force: float = 0.001
    gravity: float = 0.0025


class MountainCar(FuncEnv):
    max_episode_steps = 200
    reward_threshold = -110.0

    _bounds = MountainCarParams()
    observation_space = spaces.Box(
        np.array([_bounds.min_position, -_bounds.max_speed], dtype=np.float32),
        np.array([_bounds.max_position, _bounds.max_speed], dtype=np.float32),
        dtype=np.float32,
    )
    action_space = spaces.Discrete(3)

    def get_default_params(self, **kwargs) -> MountainCarParams:
        return MountainCarParams()

    def _params(self, params) -> MountainCarParams:
        return self.default_params if params is None else params

    def initial(self, rng, params=None) -> MountainCarState:
        position = jax.random.uniform(rng, (), minval=-0.6, maxval=-0.4)
        return MountainCarState(jnp.stack([position, 0.0]), jnp.zeros((), jnp.int32))

    def transition(self, state, action, rng=None, params=None) -> MountainCarState:
        p = self._params(params)
        position, velocity = state.physics
        velocity = velocity + (action - 1) * p.force + jnp.cos(3 * position) * (-p.gravity)
        velocity = jnp.clip(velocity, -p.max_speed, p.max_speed)
        position = jnp.clip(position + velocity, p.min_position, p.max_position)
        velocity = jnp.where((position == p.min_position) & (velocity < 0), 0.0, velocity)
        return MountainCarState(jnp.stack([position, velocity]), state.time + 1)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        return state.physics.astype(jnp.float32)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        return jnp.float32(-1.0)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        p = self._params(params)
        position, velocity = state.physics
        return (position >= p.goal_position) & (velocity >= p.goal_velocity)
