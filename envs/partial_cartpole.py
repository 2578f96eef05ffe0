"""CartPole-v1 with the velocities hidden, as a ``FuncEnv``: a control task that needs memory.

Everything is :class:`envs.CartPole`'s (the physics and its :class:`envs.CartPoleParams`,
``Discrete(2)`` actions, reward 1 per step, termination at ``|x| > 2.4`` m or
``|theta| > 12`` deg, the 500-step time limit, the 475 solved threshold) except the
observation, ``(2,)``: the cart's position ``x`` (m) and the pole's angle ``theta`` (rad),
without ``x_dot`` and ``theta_dot``. A policy must infer the velocities from successive
observations, so no memoryless policy balances the pole for long. Not a trial task: an
episode is an episode, and ``info`` carries no trial keys.

Barto, Sutton & Anderson (1983), with the velocities withheld as in the "non-Markovian"
pole balancing benchmarks of neuroevolution (Gomez & Miikkulainen 1999, IJCAI).

Example::

    env = CartPoleNoVelocity()
    state, obs = env_reset(env, jax.random.key(0))    # obs (2,): [x, theta]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from gymnasium import spaces

from envs.cartpole import CartPole

__all__ = ["CartPoleNoVelocity"]

OBSERVED = (0, 2)  # x and theta in CartPole's state (x, x_dot, theta, theta_dot)


class CartPoleNoVelocity(CartPole):
    observation_space = spaces.Box(
        CartPole.observation_space.low[list(OBSERVED)],
        CartPole.observation_space.high[list(OBSERVED)],
        dtype=CartPole.observation_space.dtype,
    )

    def observation(self, state, rng=None, params=None) -> jax.Array:
        return state.physics[jnp.asarray(OBSERVED)].astype(jnp.float32)
