"""Acrobot-v1 as a JAX ``FuncEnv``: the same dynamics, rewards and ends as Gymnasium's.

Sutton (1996) / Sutton & Barto's book dynamics, transcribed from
``gymnasium.envs.classic_control.AcrobotEnv``: one RK4 step of dt = 0.2 s with the torque
``[-1, 0, 1][action]``, angles wrapped to [-pi, pi], velocities bounded by 4 pi and 9 pi.
Observation ``(cos t1, sin t1, cos t2, sin t2, dt1, dt2)``; reward -1 per step, 0 on the
terminating step; terminated when ``-cos(t1) - cos(t1 + t2) > 1``; truncated after 500
steps. Initial state uniform in +-0.1. float32 (Gymnasium integrates in float64).

The physics lives in :class:`AcrobotParams` (``Acrobot().default_params`` are Gymnasium's
constants), which every method takes as ``params`` (``None``: the defaults), so a population
can ``jax.vmap`` over, say, the second link's mass (see ``envs/cartpole.py`` for the idiom).
"""

from __future__ import annotations

from math import pi
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

__all__ = ["Acrobot", "AcrobotParams", "AcrobotState"]


class AcrobotState(NamedTuple):
    """``physics (4,)``: theta1, theta2, dtheta1, dtheta2; ``time ()``: steps taken."""

    physics: jax.Array
    time: jax.Array


class AcrobotParams(NamedTuple):
    """Acrobot's physics, each a scalar (a float or an array, batched under ``vmap``).

    ``dt`` (s, the RK4 step), ``link_length_1`` (m; the second link's length enters neither
    the dynamics nor the goal), ``link_mass_1``, ``link_mass_2`` (kg), ``link_com_pos_1``,
    ``link_com_pos_2`` (m, each link's centre of mass from its joint), ``link_moi`` (kg m^2,
    both links' moment of inertia), ``max_vel_1``, ``max_vel_2`` (rad/s, the velocity
    bounds), ``gravity`` (m/s^2) and ``torque_noise_max``: the torque gets uniform noise in
    ``+-torque_noise_max`` at each step, drawn from the transition's ``rng`` (none without
    one; as in Gymnasium, a bound of 0 draws nothing). The observation space keeps the
    defaults' velocity bounds.
    """

    dt: float = 0.2
    link_length_1: float = 1.0
    link_mass_1: float = 1.0
    link_mass_2: float = 1.0
    link_com_pos_1: float = 0.5
    link_com_pos_2: float = 0.5
    link_moi: float = 1.0
    max_vel_1: float = 4 * pi
    max_vel_2: float = 9 * pi
    gravity: float = 9.8
    torque_noise_max: float = 0.0


def _wrap(x, low, high):
    """As Gymnasium's ``wrap`` (while-loops shifting by the period), in closed form."""
    period = high - low
    x = jnp.where(x > high, x - period * jnp.ceil((x - high) / period), x)
    return jnp.where(x < low, x + period * jnp.ceil((low - x) / period), x)


class Acrobot(FuncEnv):
    max_episode_steps = 500
    reward_threshold = -100.0

    _bounds = AcrobotParams()
    _high = np.array([1.0, 1.0, 1.0, 1.0, _bounds.max_vel_1, _bounds.max_vel_2], dtype=np.float32)
    observation_space = spaces.Box(-_high, _high, dtype=np.float32)
    action_space = spaces.Discrete(3)

    def get_default_params(self, **kwargs) -> AcrobotParams:
        return AcrobotParams()

    def _params(self, params) -> AcrobotParams:
        return self.default_params if params is None else params

    def initial(self, rng, params=None) -> AcrobotState:
        return AcrobotState(jax.random.uniform(rng, (4,), minval=-0.1, maxval=0.1), jnp.zeros((), jnp.int32))

    @staticmethod
    def _dsdt(s, torque, p: AcrobotParams):
        m1, m2 = p.link_mass_1, p.link_mass_2
        l1, lc1, lc2 = p.link_length_1, p.link_com_pos_1, p.link_com_pos_2
        i1 = i2 = p.link_moi
        g = p.gravity
        theta1, theta2, dtheta1, dtheta2 = s
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * jnp.cos(theta2)) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * jnp.cos(theta2)) + i2
        phi2 = m2 * lc2 * g * jnp.cos(theta1 + theta2 - pi / 2.0)
        phi1 = (
            -m2 * l1 * lc2 * dtheta2**2 * jnp.sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * jnp.sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * jnp.cos(theta1 - pi / 2)
            + phi2
        )
        ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * jnp.sin(theta2) - phi2) / (
            m2 * lc2**2 + i2 - d2**2 / d1
        )
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return jnp.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])

    def transition(self, state, action, rng=None, params=None) -> AcrobotState:
        p = self._params(params)
        torque = jnp.asarray([-1.0, 0.0, 1.0])[action]
        noise = p.torque_noise_max
        if rng is not None and not (isinstance(noise, (int, float)) and noise == 0):  # a traced bound draws
            torque = torque + jax.random.uniform(rng, (), minval=-noise, maxval=noise)
        s, h = state.physics, p.dt
        k1 = self._dsdt(s, torque, p)
        k2 = self._dsdt(s + h / 2 * k1, torque, p)
        k3 = self._dsdt(s + h / 2 * k2, torque, p)
        k4 = self._dsdt(s + h * k3, torque, p)
        ns = s + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        physics = jnp.stack(
            [
                _wrap(ns[0], -pi, pi),
                _wrap(ns[1], -pi, pi),
                jnp.clip(ns[2], -p.max_vel_1, p.max_vel_1),
                jnp.clip(ns[3], -p.max_vel_2, p.max_vel_2),
            ]
        )
        return AcrobotState(physics, state.time + 1)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        t1, t2, d1, d2 = state.physics
        return jnp.stack([jnp.cos(t1), jnp.sin(t1), jnp.cos(t2), jnp.sin(t2), d1, d2]).astype(jnp.float32)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        return jnp.where(self.terminal(next_state, None, params), 0.0, -1.0).astype(jnp.float32)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        t1, t2 = state.physics[0], state.physics[1]
        return -jnp.cos(t1) - jnp.cos(t2 + t1) > 1.0
