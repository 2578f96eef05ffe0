"""Trial-based envs (neurogym's convention) as episodic ones: one trial, one episode.

neurogym's envs never return ``terminated`` or ``truncated``. A trial ends with
``info["new_trial"]`` (True on its last step, whose observation is already the next trial's
first), ``info["performance"]`` on that step says whether it was correct (1 or 0; some
tasks give a graded value in [0, 1]), ``info["gt"]`` holds the correct action, and the next
trial starts by itself. :class:`TrialsAsEpisodes` makes each trial an episode, so an agent
and a loop written for episodes (``evolve``, traces reset, one metrics row) run on both kinds
of task:

- a natural trial end (``new_trial``) is ``terminated``: the trial's return is complete, the
  next trial's rewards do not depend on this one's actions, and it is how the one-trial
  episodes of the JAX-native tasks end, so an agent sees the same signals on both kinds;
- a trial longer than ``max_trial_steps`` is cut: ``truncated`` (a time limit, as
  Gymnasium's ``TimeLimit``), ``info["trial_cut"] = True``, counted in ``trials_cut``;
- the ``reset`` after a trial end does not reset the env: it returns the observation the
  env's last step produced (the next trial's first), so the trials flow as in neurogym.
  Every other ``reset`` (the first, one with a ``seed`` or ``options``, one after a cut
  trial, or after the env itself ended an episode) resets the env.

:func:`trial_kind` tells the two conventions apart: ``"continuing"`` (neurogym's: trials
end inside a never-ending episode; wrap it), ``"episodic"`` (one trial per episode, ended by
the env: nothing to wrap) or None (no trials).

Example (``task``: any env of neurogym's convention, e.g. ``gym.make("neurogym:...")``)::

    env = TrialsAsEpisodes(task, max_trial_steps=200)
    obs, info = env.reset(seed=0)
    ...                         # step until terminated (a trial ended) or truncated (cut)
    obs, info = env.reset()     # the next trial's first observation; the task goes on
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import gymnasium as gym
import numpy as np

__all__ = [
    "DEFAULT_MAX_TRIAL_STEPS",
    "TRIAL_KINDS",
    "TrialsAsEpisodes",
    "is_trial_env",
    "trial_correct",
    "trial_kind",
]

TRIAL_KINDS = ("continuing", "episodic")
DEFAULT_MAX_TRIAL_STEPS = 1000  # when neither the caller nor env.metadata["max_trial_steps"] says
PROBE_STEPS = 10_000  # the longest trial trial_kind waits for


def trial_correct(info: dict) -> float:
    """``info["performance"]`` as a float (1.0 correct, 0.0 not; NaN when absent or None).
    Read it on a trial's last step, where neurogym sets it."""
    performance = info.get("performance")
    return math.nan if performance is None else float(performance)


def _probe_action(space: gym.Space):
    """A fixed action: the first one of a Discrete space (neurogym's fixation), zeros
    clipped into a Box, else a sample."""
    if isinstance(space, gym.spaces.Discrete):
        return space.start
    if isinstance(space, gym.spaces.Box):
        return np.clip(np.zeros(space.shape), space.low, space.high).astype(space.dtype)
    return space.sample()


def trial_kind(env: gym.Env, probe_steps: int = PROBE_STEPS) -> str | None:
    """How ``env``'s trials relate to its episodes: ``"continuing"`` (neurogym's convention:
    trials end by ``info["new_trial"]`` while the episode goes on), ``"episodic"`` (one trial
    per episode: ``new_trial`` on the step that ends it) or None (no ``new_trial`` in info).

    An env may declare it: ``env.metadata["trials"]`` in ``(*TRIAL_KINDS, None)``. Otherwise
    ``env`` is probed: ``reset()`` without a seed (its random generator is not fixed), then
    stepped with a fixed action until a trial or the episode ends (at most ``probe_steps``
    steps; trials still going then count as continuing). Probe a fresh instance, or reset
    it (with your seed) afterwards.

    Raises:
      ValueError: a declared kind that is not one of these.
    """
    metadata = getattr(env, "metadata", None) or {}
    if "trials" in metadata:
        declared = metadata["trials"]
        if declared is not None and declared not in TRIAL_KINDS:
            raise ValueError(f"metadata['trials']: expected one of {[*TRIAL_KINDS, None]}, got {declared!r}")
        return declared
    action = _probe_action(env.action_space)
    env.reset()
    for _ in range(probe_steps):
        _, _, terminated, truncated, info = env.step(action)
        if "new_trial" not in info:
            return None
        ended = bool(terminated) or bool(truncated)
        if bool(info["new_trial"]):
            return "episodic" if ended else "continuing"
        if ended:
            return "episodic"
    return "continuing"


def is_trial_env(env: gym.Env) -> bool:
    """Whether ``env`` follows neurogym's convention (``trial_kind(env) == "continuing"``)
    and needs :class:`TrialsAsEpisodes`; probes ``env`` unless it declares its kind."""
    return trial_kind(env) == "continuing"


def _check_max_trial_steps(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: expected an int >= 1, got {value!r}")
    return int(value)


class TrialsAsEpisodes(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Each trial of a neurogym-style env as one episode (see the module docstring).

    Args:
      env: an env whose trials end by ``info["new_trial"]`` and that never ends by itself
        (if it does end, that end is passed on and the next ``reset`` resets it).
      max_trial_steps: the longest trial, in env steps; default
        ``env.metadata["max_trial_steps"]``, else :data:`DEFAULT_MAX_TRIAL_STEPS`. Also the
        ``spec.max_episode_steps`` (the horizon loops pad episodes to).

    Attributes:
      trials_cut: how many trials were cut at ``max_trial_steps`` (since construction).
    """

    def __init__(self, env: gym.Env, max_trial_steps: int | None = None):
        gym.utils.RecordConstructorArgs.__init__(self, max_trial_steps=max_trial_steps)
        gym.Wrapper.__init__(self, env)
        if max_trial_steps is None:
            limit = env.metadata.get("max_trial_steps", DEFAULT_MAX_TRIAL_STEPS)
            self.max_trial_steps = _check_max_trial_steps(limit, "metadata['max_trial_steps']")
        else:
            self.max_trial_steps = _check_max_trial_steps(max_trial_steps, "max_trial_steps")
        self.metadata = {**env.metadata, "trials": "episodic"}
        self.trials_cut = 0
        self._steps = 0  # steps of the current trial
        self._next_obs = None  # the next trial's first observation, after a natural trial end

    @property
    def spec(self) -> gym.envs.registration.EnvSpec:
        """The env's spec with this wrapper and ``max_episode_steps = max_trial_steps`` (a
        spec named after the env's class if it has none)."""
        if self._cached_spec is None:
            spec = super().spec
            if spec is None:
                spec = gym.envs.registration.EnvSpec(id=type(self.env.unwrapped).__name__)
            self._cached_spec = dataclasses.replace(spec, max_episode_steps=self.max_trial_steps)
        return self._cached_spec

    def reset(self, *, seed=None, options=None):
        next_obs, self._next_obs, self._steps = self._next_obs, None, 0
        if next_obs is not None and seed is None and options is None:
            return next_obs, {}
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        self._next_obs = None
        env_ended = bool(terminated) or bool(truncated)
        if bool(info.get("new_trial", False)):
            if not env_ended:
                self._next_obs = obs
            self._steps = 0
            return obs, reward, True, bool(truncated), info
        if not env_ended and self._steps >= self.max_trial_steps:
            self.trials_cut += 1
            self._steps = 0
            return obs, reward, bool(terminated), True, {**info, "trial_cut": True}
        if env_ended:
            self._steps = 0
        return obs, reward, bool(terminated), bool(truncated), info
