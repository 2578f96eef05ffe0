"""An n-armed Bernoulli bandit whose reward rates reverse partway through, as a ``FuncEnv``.

One episode is a session of ``episode_length`` pulls. Arm ``a`` pays 1 with probability
``rates[a]`` until pull ``reversal_at``, and ``rates[::-1][a]`` from then on (for two arms:
the good and bad arms swap). The observation is a constant ``[1.0]`` (a bandit has no
state to see); the episode is truncated, never terminated, after ``episode_length`` pulls.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

from rpe.validation import check_positive_int, check_real

__all__ = ["Bandit", "BanditState"]


class BanditState(NamedTuple):
    """``time ()``: pulls taken in the session."""

    time: jax.Array


class Bandit(FuncEnv):
    observation_space = spaces.Box(1.0, 1.0, (1,), np.float32)

    def __init__(self, rates=(0.8, 0.2), episode_length: int = 200, reversal_at: int | None = None):
        rates = tuple(check_real(f"rates[{i}]", r, low=0.0, high=1.0) for i, r in enumerate(rates))
        if len(rates) < 2:
            raise ValueError(f"rates: expected at least 2 arms, got {rates}")
        episode_length = check_positive_int("episode_length", episode_length)
        reversal_at = episode_length // 2 if reversal_at is None else int(reversal_at)
        super().__init__({"rates": jnp.asarray(rates, jnp.float32), "reversal_at": reversal_at})
        self.max_episode_steps = episode_length
        self.action_space = spaces.Discrete(len(rates))

    def current_rates(self, time: jax.Array) -> jax.Array:
        """The arms' reward probabilities at pull ``time``."""
        return jnp.where(time >= self.reversal_at, self.rates[::-1], self.rates)

    def initial(self, rng, params=None) -> BanditState:
        return BanditState(jnp.zeros((), jnp.int32))

    def transition(self, state, action, rng=None, params=None) -> BanditState:
        return BanditState(state.time + 1)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        return jnp.ones((1,), jnp.float32)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        p = self.current_rates(state.time)[action]
        return jax.random.bernoulli(rng, p).astype(jnp.float32)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        return jnp.zeros((), bool)
