"""CartPole-v1 as a JAX ``FuncEnv``: the same dynamics, rewards and ends as Gymnasium's.

Barto, Sutton & Anderson (1983), transcribed from ``gymnasium.envs.classic_control.
CartPoleEnv`` (Euler integration, tau = 0.02 s): the state ``(x, x_dot, theta, theta_dot)``
in float32 (Gymnasium keeps float64 internally: trajectories agree to float32 rounding).
Reward 1 on every step, the terminating one included; terminated when ``|x| > 2.4`` or
``|theta| > 12 deg``; truncated after 500 steps. Initial state uniform in +-0.05.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

__all__ = ["CartPole", "CartPoleState"]


class CartPoleState(NamedTuple):
    """``physics (4,)``: x, x_dot, theta, theta_dot; ``time ()``: steps taken."""

    physics: jax.Array
    time: jax.Array


class CartPole(FuncEnv):
    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    max_episode_steps = 500
    reward_threshold = 475.0

    _high = np.array([x_threshold * 2, np.inf, theta_threshold_radians * 2, np.inf], dtype=np.float32)
    observation_space = spaces.Box(-_high, _high, dtype=np.float32)
    action_space = spaces.Discrete(2)

    def initial(self, rng, params=None) -> CartPoleState:
        return CartPoleState(
            jax.random.uniform(rng, (4,), minval=-0.05, maxval=0.05), jnp.zeros((), jnp.int32)
        )

    def transition(self, state, action, rng=None, params=None) -> CartPoleState:
        x, x_dot, theta, theta_dot = state.physics
        force = jnp.where(action == 1, self.force_mag, -self.force_mag)
        costheta, sintheta = jnp.cos(theta), jnp.sin(theta)
        temp = (force + self.polemass_length * theta_dot**2 * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta**2 / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        physics = jnp.stack(
            [
                x + self.tau * x_dot,
                x_dot + self.tau * xacc,
                theta + self.tau * theta_dot,
                theta_dot + self.tau * thetaacc,
            ]
        )
        return CartPoleState(physics, state.time + 1)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        return state.physics.astype(jnp.float32)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        return jnp.float32(1.0)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        x, _, theta, _ = state.physics
        return (jnp.abs(x) > self.x_threshold) | (jnp.abs(theta) > self.theta_threshold_radians)
