"""MountainCar-v0 as a JAX ``FuncEnv``: the same dynamics, rewards and ends as Gymnasium's.

Moore (1990), transcribed from ``gymnasium.envs.classic_control.MountainCarEnv``:
``v += (action - 1) 0.001 - 0.0025 cos(3 p)``, clipped to +-0.07; ``p += v`` clipped to
[-1.2, 0.6], with ``v = 0`` at the left wall when moving left. Reward -1 per step;
terminated when ``p >= 0.5`` (and ``v >= 0``); truncated after 200 steps. Initial position
uniform in [-0.6, -0.4], velocity 0. float32 (Gymnasium keeps float64).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

__all__ = ["MountainCar", "MountainCarState"]


class MountainCarState(NamedTuple):
    """``physics (2,)``: position, velocity; ``time ()``: steps taken."""

    physics: jax.Array
    time: jax.Array


class MountainCar(FuncEnv):
    min_position = -1.2
    max_position = 0.6
    max_speed = 0.07
    goal_position = 0.5
    goal_velocity = 0.0
    force = 0.001
    gravity = 0.0025
    max_episode_steps = 200
    reward_threshold = -110.0

    observation_space = spaces.Box(
        np.array([min_position, -max_speed], dtype=np.float32),
        np.array([max_position, max_speed], dtype=np.float32),
        dtype=np.float32,
    )
    action_space = spaces.Discrete(3)

    def initial(self, rng, params=None) -> MountainCarState:
        position = jax.random.uniform(rng, (), minval=-0.6, maxval=-0.4)
        return MountainCarState(jnp.stack([position, 0.0]), jnp.zeros((), jnp.int32))

    def transition(self, state, action, rng=None, params=None) -> MountainCarState:
        position, velocity = state.physics
        velocity = velocity + (action - 1) * self.force + jnp.cos(3 * position) * (-self.gravity)
        velocity = jnp.clip(velocity, -self.max_speed, self.max_speed)
        position = jnp.clip(position + velocity, self.min_position, self.max_position)
        velocity = jnp.where((position == self.min_position) & (velocity < 0), 0.0, velocity)
        return MountainCarState(jnp.stack([position, velocity]), state.time + 1)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        return state.physics.astype(jnp.float32)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        return jnp.float32(-1.0)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        position, velocity = state.physics
        return (position >= self.goal_position) & (velocity >= self.goal_velocity)
