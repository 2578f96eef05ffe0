"""Collecting episodes: the fully jitted rollout on a JAX-native env, and the Python loop
on any Gymnasium env. Both return a :class:`agents.policy_gradient.Trajectory` padded to
the env's time limit ``T`` with an ``alive`` mask, plus each episode's return and length.

Randomness: the jitted path splits one key into per-step keys; the Python loop draws the
agent's actions from per-step keys the same way and seeds every episode's env reset from
``episode_seeds``, so both are reproducible and resumable from a checkpoint.

Online learners. An agent with ``online = True`` learns *while it acts*: it provides
``begin(state, n) -> carry`` (its traces and running sums), ``observe(state, carry,
transition) -> (state, carry)`` (one local update per env step, from a :class:`Transition`)
and ``episode_metrics(carry) -> dict``. :func:`jax_rollout_online` and ``python_rollout(...,
observe=...)`` call ``observe`` after every step, so the next action already comes from the
updated weights.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.policy_gradient import Trajectory
from envs.checks import finite_rewards
from envs.functional import env_reset, env_step

__all__ = ["Transition", "jax_rollout", "jax_rollout_online", "python_rollout"]


class Transition(NamedTuple):
    """One env step of a batch of ``E`` episodes, as an online learner sees it.

    ``obs (E, D)``, ``action (E,)``, ``reward (E,)``, ``next_obs (E, D)`` (the real next
    observation, also at a time limit), ``terminated (E,)`` and ``truncated (E,)`` (0/1),
    ``alive (E,)`` (0 for the padding after an episode ended).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    alive: jax.Array


def _scan(agent, env, state, key: jax.Array, n_episodes: int, online: bool):
    steps = env.max_episode_steps
    key_reset, key_steps = jax.random.split(key)
    env_states, obs = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key_reset, n_episodes))

    def step(carry, key_t):
        env_states, obs, alive, state, learner = carry
        key_act, key_env = jax.random.split(key_t)
        action = agent.act(state, obs, key_act)
        env_states, ts = jax.vmap(lambda s, a, k: env_step(env, s, a, k))(
            env_states, action, jax.random.split(key_env, n_episodes)
        )
        if online:
            f32 = jnp.float32
            transition = Transition(
                obs,
                action,
                ts.reward,
                ts.final_obs,
                ts.terminated.astype(f32),
                ts.truncated.astype(f32),
                alive,
            )
            state, learner = agent.observe(state, learner, transition)
        record = (obs, action, ts.reward, alive)
        done = ts.terminated | ts.truncated
        return (env_states, ts.obs, alive * (1.0 - done), state, learner), record

    learner = agent.begin(state, n_episodes) if online else ()
    init = (env_states, obs, jnp.ones((n_episodes,), jnp.float32), state, learner)
    (_, _, _, state, learner), (o, a, r, alive) = jax.lax.scan(step, init, jax.random.split(key_steps, steps))
    traj = Trajectory(*(jnp.swapaxes(x, 0, 1) for x in (o, a, r, alive)))
    returns, lengths = jnp.sum(traj.reward * traj.alive, axis=1), jnp.sum(traj.alive, axis=1)
    return traj, returns, lengths, state, learner


def jax_rollout(agent, env, state, key: jax.Array, n_episodes: int):
    """``n_episodes`` episodes of the JAX-native ``env`` in parallel, pure and jit-safe.

    Returns ``(Trajectory (n_episodes, T, ...), returns (n_episodes,), lengths (n_episodes,))``.
    The agent does not learn (for an online learner too).
    """
    traj, returns, lengths, _, _ = _scan(agent, env, state, key, n_episodes, online=False)
    return traj, returns, lengths


def jax_rollout_online(agent, env, state, key: jax.Array, n_episodes: int):
    """As :func:`jax_rollout`, with an online learner updating after every step.

    Returns ``(state, traj, returns, lengths, metrics)``, ``metrics`` from
    ``agent.episode_metrics`` (arrays of shape ``(n_episodes,)``).
    """
    traj, returns, lengths, state, learner = _scan(agent, env, state, key, n_episodes, online=True)
    return state, traj, returns, lengths, agent.episode_metrics(learner)


@functools.partial(jax.jit, static_argnums=1)
def _split_action_keys(key_steps: jax.Array, steps: int) -> jax.Array:
    return jax.vmap(lambda k: jax.random.split(k)[0])(jax.random.split(key_steps, steps))


def _action_keys(key_steps: jax.Array, steps: int) -> list:
    """The per-step action keys of :func:`jax_rollout`, as a list (no dispatch per step)."""
    return list(_split_action_keys(key_steps, steps))


def python_rollout(agent, envs: list[gym.Env], state, key: jax.Array, episode_seeds, act=None, observe=None):
    """One episode in each Gymnasium env of ``envs``, stepped in lock-step in Python.

    ``act`` is a jitted ``agent.act`` (built once by the caller); each env is reset with
    its seed from ``episode_seeds``. The action keys are derived from ``key`` exactly as in
    :func:`jax_rollout`. Returns numpy arrays shaped like :func:`jax_rollout`'s.

    With ``observe`` (a jitted ``agent.observe`` of an online learner) the agent learns after
    every step and the result is :func:`jax_rollout_online`'s ``(state, traj, returns,
    lengths, metrics)``.
    """
    act = act or jax.jit(agent.act)
    n = len(envs)
    steps = envs[0].spec.max_episode_steps
    pairs = zip(envs, episode_seeds, strict=True)
    obs = np.stack([np.asarray(env.reset(seed=int(seed))[0], np.float32) for env, seed in pairs])
    alive = np.ones(n, np.float32)
    learner = agent.begin(state, n) if observe is not None else None
    record = {"obs": [], "action": [], "reward": [], "alive": []}
    # All action keys in one call (as jax_rollout derives them), then one act call per step.
    _, key_steps = jax.random.split(key)
    act_keys = _action_keys(key_steps, steps)
    for t in range(steps):
        action = np.asarray(act(state, obs, act_keys[t]))
        rewards = np.zeros(n, np.float32)
        ends = np.zeros((2, n), np.float32)  # terminated, truncated
        next_obs, next_alive = obs.copy(), alive.copy()
        for i in np.flatnonzero(alive):
            o, r, terminated, truncated, _ = envs[i].step(agent.head.to_env(action[i]))
            rewards[i] = finite_rewards(envs[i], r)
            next_obs[i] = o
            ends[:, i] = terminated, truncated
            if terminated or truncated:
                next_alive[i] = 0.0
        if observe is not None:
            transition = Transition(obs, action, rewards, next_obs, ends[0], ends[1], alive)
            state, learner = observe(state, learner, transition)
        for name, value in (("obs", obs), ("action", action), ("reward", rewards), ("alive", alive)):
            record[name].append(value)
        obs, alive = next_obs, next_alive
        if not alive.any():
            break
    arrays = {name: np.stack(values, axis=1) for name, values in record.items()}
    pad = steps - arrays["obs"].shape[1]
    if pad:
        arrays = {
            k: np.concatenate([v, np.zeros((n, pad, *v.shape[2:]), v.dtype)], axis=1)
            for k, v in arrays.items()
        }
    traj = Trajectory(arrays["obs"], arrays["action"], arrays["reward"], arrays["alive"])
    returns, lengths = np.sum(traj.reward * traj.alive, axis=1), np.sum(traj.alive, axis=1)
    if observe is not None:
        return state, traj, returns, lengths, agent.episode_metrics(learner)
    return traj, returns, lengths
