"""Building an :class:`agents.contract.EnvSpec` once per run, from the JAX-native twin, the
Gymnasium env, or both (checked against each other), and the Gymnasium env the Python loop
steps (:func:`make_env`).

Trial envs of neurogym's convention (``envs.trials.trial_kind`` ``"continuing"``: trials end
by ``info["new_trial"]``, the env never does) run one trial per episode through
``envs.trials.TrialsAsEpisodes``: their horizon is its ``max_trial_steps``, they have no
reward threshold (they are solved by a fraction of correct trials) and no JAX twin."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np

from agents.contract import EnvSpec
from envs.decoders import decoder_for
from envs.gym_ids import check_env_id, make_gym_env
from envs.registry import JAX_ENVS
from envs.trials import TrialsAsEpisodes, trial_kind

__all__ = ["env_trial_kind", "make_env", "make_env_spec"]


def _same_space(a: gym.Space, b: gym.Space) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, gym.spaces.Box):
        return a.shape == b.shape and np.allclose(a.low, b.low) and np.allclose(a.high, b.high)
    return a == b


@functools.cache
def env_trial_kind(env_id: str) -> str | None:
    """``envs.trials.trial_kind`` of ``env_id``'s Gymnasium env: ``"continuing"``
    (neurogym's convention), ``"episodic"`` (one trial per episode) or None; probed once per
    id, on an instance of its own."""
    probe = make_gym_env(env_id)
    try:
        return trial_kind(probe)
    finally:
        probe.close()


def make_env(env_id: str, max_trial_steps: int | None = None) -> gym.Env:
    """The Gymnasium env of ``env_id`` as the Python loop steps it: ``make_gym_env``, and a
    trial env of neurogym's convention (:func:`env_trial_kind` ``"continuing"``) wrapped in
    ``TrialsAsEpisodes(env, max_trial_steps)``, one trial per episode.

    Raises:
      ValueError: as :func:`envs.gym_ids.make_gym_env`; ``max_trial_steps`` given for an env
        that is not a trial env of neurogym's convention, or not an int >= 1.
    """
    env = make_gym_env(env_id)
    if env_trial_kind(env_id) == "continuing":
        return TrialsAsEpisodes(env, max_trial_steps)
    if max_trial_steps is not None:
        env.close()
        raise _not_a_trial_env(env_id)
    return env


def _not_a_trial_env(env_id: str) -> ValueError:
    return ValueError(
        f"max_trial_steps: {env_id} is not a trial env of neurogym's convention (trials that end "
        "by info['new_trial'] while the env goes on); its time limit bounds its episodes"
    )


def make_env_spec(env_id: str, max_trial_steps: int | None = None) -> EnvSpec:
    """The spec of ``env_id``: spaces, horizon, solved threshold, JAX twin, action mapping.
    ``max_trial_steps``: the trial cap of a trial env (see :func:`make_env`).

    Raises:
      ValueError: an unknown id, a missing dependency, an env without a time limit, an
        action space no decoder supports, a JAX twin that disagrees with its Gymnasium env,
        or ``max_trial_steps`` for an env that is not a trial env.
    """
    gym_spec = check_env_id(env_id)
    twin = JAX_ENVS[env_id]() if env_id in JAX_ENVS else None
    if gym_spec is None and max_trial_steps is not None:
        raise _not_a_trial_env(env_id)
    if gym_spec is not None:
        probe = make_env(env_id, max_trial_steps)
        observation_space, action_space = probe.observation_space, probe.action_space
        horizon = probe.spec.max_episode_steps if probe.spec else None
        threshold = probe.spec.reward_threshold if probe.spec else None
        if isinstance(probe, TrialsAsEpisodes):
            threshold = None  # solved by the fraction of correct trials
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
        raise ValueError(
            f"env: {env_id} has no time limit; agents here need episodes of bounded length (a trial "
            "env of neurogym's convention is found by probing, or by env.metadata['trials'] = 'continuing')"
        )
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
