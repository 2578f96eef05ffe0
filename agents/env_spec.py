"""Building an :class:`agents.contract.EnvSpec` once per run, from the JAX-native twin, the
Gymnasium env, or both (checked against each other)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from agents.contract import EnvSpec
from envs.decoders import decoder_for
from envs.gym_ids import check_env_id, make_gym_env
from envs.registry import JAX_ENVS

__all__ = ["make_env_spec"]


def _same_space(a: gym.Space, b: gym.Space) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, gym.spaces.Box):
        return a.shape == b.shape and np.allclose(a.low, b.low) and np.allclose(a.high, b.high)
    return a == b


def make_env_spec(env_id: str) -> EnvSpec:
    """The spec of ``env_id``: spaces, horizon, solved threshold, JAX twin, action mapping.

    Raises:
      ValueError: an unknown id, a missing dependency, an env without a time limit, an
        action space no decoder supports, or a JAX twin that disagrees with its Gymnasium env.
    """
    gym_spec = check_env_id(env_id)
    twin = JAX_ENVS[env_id]() if env_id in JAX_ENVS else None
    if gym_spec is not None:
        probe = make_gym_env(env_id)
        observation_space, action_space = probe.observation_space, probe.action_space
        horizon = probe.spec.max_episode_steps if probe.spec else None
        threshold = probe.spec.reward_threshold if probe.spec else None
        probe.close()
        if twin is not None:
            for what, ours, theirs in (
                ("observation space", twin.observation_space, observation_space),
                ("action space", twin.action_space, action_space),
            ):
                if not _same_space(ours, theirs):
                    raise ValueError(
                        f"env: the JAX twin of {env_id} has the {what} {ours}, Gymnasium's {theirs}"
                    )
            if horizon != twin.max_episode_steps:
                raise ValueError(
                    f"env: the JAX twin of {env_id} has a time limit of {twin.max_episode_steps} steps, "
                    f"Gymnasium's {horizon}"
                )
    else:
        observation_space, action_space = twin.observation_space, twin.action_space
        horizon = twin.max_episode_steps
        threshold = getattr(twin, "reward_threshold", None)
    if not horizon:
        raise ValueError(f"env: {env_id} has no time limit; agents here need episodes of bounded length")
    decoder = decoder_for(action_space, env=env_id)
    return EnvSpec(
        env_id=env_id,
        observation_space=observation_space,
        action_space=action_space,
        horizon=int(horizon),
        reward_threshold=None if threshold is None else float(threshold),
        jax_env=twin,
        bound=decoder.bound,
        to_env=decoder.to_env,
    )
