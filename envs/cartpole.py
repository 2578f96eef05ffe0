"""CartPole-v1 as a JAX ``FuncEnv``: the same dynamics, rewards and ends as Gymnasium's.

Barto, Sutton & Anderson (1983), transcribed from ``gymnasium.envs.classic_control.
CartPoleEnv`` (Euler integration, tau = 0.02 s): the state ``(x, x_dot, theta, theta_dot)``
in float32 (Gymnasium keeps float64 internally: trajectories agree to float32 rounding).
Reward 1 on every step, the terminating one included; terminated when ``|x| > 2.4`` or
``|theta| > 12 deg``; truncated after 500 steps. Initial state uniform in +-0.05.

The physics lives in :class:`CartPoleParams` (``CartPole().default_params`` are Gymnasium's
constants), which every method takes as ``params`` (``None``: the defaults), so a population
can ``jax.vmap`` over, say, the pole's length::

    env = CartPole()
    params = env.default_params._replace(length=jnp.asarray([0.5, 1.0]))
    axes = jax.tree.map(lambda _: None, env.default_params)._replace(length=0)
    states = jax.vmap(lambda p: env.transition(state, 1, None, p), in_axes=(axes,))(params)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

__all__ = ["CartPole", "CartPoleParams", "CartPoleState"]


class CartPoleState(NamedTuple):
    """``physics (4,)``: x, x_dot, theta, theta_dot; ``time ()``: steps taken."""

    physics: jax.Array
    time: jax.Array


class CartPoleParams(NamedTuple):
    """CartPole's physics, each a scalar (a float or an array, batched under ``vmap``).

    ``gravity`` (m/s^2), ``masscart``, ``masspole`` (kg), ``length`` (m, half the pole's
    length), ``force_mag`` (N, the push of either action), ``tau`` (s, the Euler step),
    ``theta_threshold_radians`` and ``x_threshold`` (m): the bounds past which the episode
    terminates. The observation space keeps the defaults' bounds.
    """

    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5
    force_mag: float = 10.0
    tau: float = 0.02
    theta_threshold_radians: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4


class CartPole(FuncEnv):
    max_episode_steps = 500
    reward_threshold = 475.0

    _bounds = CartPoleParams()
    _high = np.array(
        [_bounds.x_threshold * 2, np.inf, _bounds.theta_threshold_radians * 2, np.inf], np.float32
    )
    observation_space = spaces.Box(-_high, _high, dtype=np.float32)
    action_space = spaces.Discrete(2)

    def get_default_params(self, **kwargs) -> CartPoleParams:
        return CartPoleParams()

    def _params(self, params) -> CartPoleParams:
        return self.default_params if params is None else params

    def initial(self, rng, params=None) -> CartPoleState:
        return CartPoleState(
            jax.random.uniform(rng, (4,), minval=-0.05, maxval=0.05), jnp.zeros((), jnp.int32)
        )

    def transition(self, state, action, rng=None, params=None) -> CartPoleState:
        p = self._params(params)
        total_mass = p.masspole + p.masscart
        polemass_length = p.masspole * p.length
        x, x_dot, theta, theta_dot = state.physics
        force = jnp.where(action == 1, p.force_mag, -p.force_mag)
        costheta, sintheta = jnp.cos(theta), jnp.sin(theta)
        temp = (force + polemass_length * theta_dot**2 * sintheta) / total_mass
        thetaacc = (p.gravity * sintheta - costheta * temp) / (
            p.length * (4.0 / 3.0 - p.masspole * costheta**2 / total_mass)
        )
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        physics = jnp.stack(
            [
                x + p.tau * x_dot,
                x_dot + p.tau * xacc,
                theta + p.tau * theta_dot,
                theta_dot + p.tau * thetaacc,
            ]
        )
        return CartPoleState(physics, state.time + 1)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        return state.physics.astype(jnp.float32)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        return jnp.float32(1.0)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        p = self._params(params)
        x, _, theta, _ = state.physics
        return (jnp.abs(x) > p.x_threshold) | (jnp.abs(theta) > p.theta_threshold_radians)
