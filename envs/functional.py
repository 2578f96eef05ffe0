"""The fully jitted path: stepping a JAX-native ``FuncEnv`` with time limits and autoreset.

Our environments implement Gymnasium's functional API
(``gymnasium.experimental.functional.FuncEnv``: ``initial``, ``transition``,
``observation``, ``reward``, ``terminal``) over NamedTuple states that carry a step counter
``time``. :func:`env_step` is one pure, jit/vmap/scan-safe step with Gymnasium's semantics::

    next = transition(state, action);  reward = reward(state, action, next)
    terminated = terminal(next);       truncated = next.time >= max_episode_steps   (TimeLimit)

then, where ``terminated | truncated``, the state is replaced by a fresh ``initial`` one
(same-step autoreset) and ``obs`` is the new episode's first observation; the last
observation of the ended episode is returned as ``final_obs``.

Keys: every draw gets its own. ``env_step`` splits its key into ``key_step, key_reward,
key_reset``, and ``key_step`` again into the keys of ``transition``, ``terminal`` and the
observation of the next state; ``env_reset`` splits its key between ``initial`` and the first
observation. The nested split leaves ``key_reward`` and ``key_reset`` as they were when
``key_step`` served all three uses, so a seed still gives the same rewards and reset states.

``params`` is the env's params pytree (e.g. :class:`envs.cartpole.CartPoleParams`), passed
to every function of the env; ``None`` means ``env.default_params``. It may hold arrays, so
``jax.vmap`` over ``params`` runs a population of envs with different physics. The time limit
``env.max_episode_steps`` is static, not a param. ``None`` compiles the defaults in as
constants; the same values passed as arrays give the same trajectories up to float32
rounding (XLA simplifies arithmetic on constants), which chaotic dynamics such as Acrobot's
amplify over many steps.

:func:`make` gives the Python-loop twin: ``FunctionalJaxEnv`` in a ``TimeLimit``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
from gymnasium.envs.functional_jax_env import FunctionalJaxEnv
from gymnasium.wrappers import TimeLimit

from envs.registry import JAX_ENVS

__all__ = ["Timestep", "env_reset", "env_step", "make"]


class Timestep(NamedTuple):
    """What one jitted env step returns (besides the next state). Shapes per env."""

    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array


def env_reset(env, key: jax.Array, params: Any = None) -> tuple[Any, jax.Array]:
    """A fresh state and its observation (``params``: the env's, ``None`` for its defaults)."""
    key_init, key_obs = jax.random.split(key)
    state = env.initial(key_init, params)
    return state, env.observation(state, key_obs, params)


def env_step(
    env, state, action, key: jax.Array, params: Any = None, autoreset: bool = True
) -> tuple[Any, Timestep]:
    """One step with time limit and same-step autoreset (see the module docstring).

    ``params`` (``None`` for ``env.default_params``) reaches every function of the env,
    the autoreset's ``initial`` included. ``autoreset=False`` (static) leaves an ended
    episode's state as it is (``obs`` is then ``final_obs``): for a caller that masks the
    steps after an episode's end, at about half the cost.
    """
    key_step, key_reward, key_reset = jax.random.split(key, 3)
    key_transition, key_terminal, key_obs = jax.random.split(key_step, 3)
    next_state = env.transition(state, action, key_transition, params)
    reward = env.reward(state, action, next_state, key_reward, params)
    terminated = jnp.asarray(env.terminal(next_state, key_terminal, params), bool)
    truncated = next_state.time >= env.max_episode_steps
    final_obs = env.observation(next_state, key_obs, params)
    reward = jnp.asarray(reward, jnp.float32)
    if not autoreset:
        return next_state, Timestep(final_obs, reward, terminated, truncated, final_obs)
    fresh, fresh_obs = env_reset(env, key_reset, params)
    done = terminated | truncated
    next_state = jax.tree.map(lambda new, old: jnp.where(done, new, old), fresh, next_state)
    obs = jnp.where(done, fresh_obs, final_obs)
    return next_state, Timestep(obs, reward, terminated, truncated, final_obs)


def make(name: str, **options) -> gym.Env:
    """The Python-loop env of a JAX-native env: ``TimeLimit(FunctionalJaxEnv(...))``.

    Args:
      name: one of ``envs.JAX_ENVS`` (e.g. ``"CartPole-v1"``).
      options: passed to the FuncEnv's constructor.
    """
    if name not in JAX_ENVS:
        raise ValueError(f"name: unknown JAX-native env {name!r}; expected one of {sorted(JAX_ENVS)}")
    func_env = JAX_ENVS[name](**options)
    spec = gym.envs.registration.EnvSpec(id=f"rpe/{name}", max_episode_steps=func_env.max_episode_steps)
    env = _PlainInfo(FunctionalJaxEnv(func_env, spec=spec))
    if hasattr(func_env, "trial_steps"):  # a trial task: one trial per episode (envs.trials)
        env.metadata = {**env.metadata, "trials": "episodic"}
    return TimeLimit(env, max_episode_steps=func_env.max_episode_steps)


class _PlainInfo(gym.Wrapper):
    """``info`` values that are 0-d arrays (a trial task's ``new_trial``, ``performance``,
    ``gt``) as Python scalars, as Gymnasium's vector envs and neurogym's users expect."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {k: _plain(v) for k, v in info.items()}


def _plain(value):
    return value.item() if getattr(value, "ndim", None) == 0 else value
