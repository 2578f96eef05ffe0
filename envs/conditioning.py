"""Classical (Pavlovian) conditioning: a cue, then a delayed reward, as a ``FuncEnv``.

A trial lasts ``trial_length`` steps. The observation is ``[cue]``: 1 at step
``cue_step``, 0 otherwise. Entering step ``reward_step`` pays ``reward_size`` with
probability ``reward_prob`` (drawn once per trial, at its start; ``reward_prob=0`` gives
omission probes). There is nothing to do: the action space is ``Discrete(1)``. The trial
terminates at ``trial_length``. ``params`` (a :class:`ConditioningParams`) can change
``reward_prob`` and ``reward_size`` per call, e.g. to run omission trials after training.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

from rpe.validation import check_positive_int, check_real

__all__ = ["Conditioning", "ConditioningParams", "ConditioningState"]


class ConditioningParams(NamedTuple):
    reward_prob: float
    reward_size: float


class ConditioningState(NamedTuple):
    """``time ()``: step within the trial; ``rewarded ()``: whether this trial pays."""

    time: jax.Array
    rewarded: jax.Array


class Conditioning(FuncEnv):
    observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(1)

    def __init__(
        self,
        trial_length: int = 20,
        cue_step: int = 5,
        reward_step: int = 15,
        reward_prob: float = 1.0,
        reward_size: float = 1.0,
    ):
        trial_length = check_positive_int("trial_length", trial_length)
        if not 0 <= cue_step < reward_step <= trial_length:
            raise ValueError(
                f"cue_step, reward_step: expected 0 <= cue_step < reward_step <= trial_length "
                f"({trial_length}), got {cue_step} and {reward_step}"
            )
        self._reward_prob = check_real("reward_prob", reward_prob, low=0.0, high=1.0)
        self._reward_size = check_real("reward_size", reward_size)
        super().__init__(
            {"trial_length": trial_length, "cue_step": int(cue_step), "reward_step": int(reward_step)}
        )
        self.max_episode_steps = trial_length + 1  # the trial terminates first

    def get_default_params(self, **kwargs) -> ConditioningParams:
        return ConditioningParams(self._reward_prob, self._reward_size)

    def _params(self, params) -> ConditioningParams:
        return self.default_params if params is None else params

    def initial(self, rng, params=None) -> ConditioningState:
        rewarded = jax.random.bernoulli(rng, self._params(params).reward_prob)
        return ConditioningState(jnp.zeros((), jnp.int32), rewarded)

    def transition(self, state, action, rng=None, params=None) -> ConditioningState:
        return state._replace(time=state.time + 1)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        return (state.time == self.cue_step).astype(jnp.float32).reshape(1)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        paid = (next_state.time == self.reward_step) & state.rewarded
        return jnp.where(paid, self._params(params).reward_size, 0.0).astype(jnp.float32)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        return state.time >= self.trial_length
