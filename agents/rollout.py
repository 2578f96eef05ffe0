"""Collecting episodes: the fully jitted rollout on a JAX-native env, and the Python loop
on any Gymnasium env. Both return a :class:`agents.policy_gradient.Trajectory` padded to
the env's time limit ``T`` with an ``alive`` mask, plus each episode's return and length.

Randomness: the jitted path splits one key into per-step keys; the Python loop draws the
agent's actions from per-step keys the same way and seeds every episode's env reset from
``episode_seeds``, so both are reproducible and resumable from a checkpoint.
"""

from __future__ import annotations

import functools

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.policy_gradient import Trajectory
from envs.checks import finite_rewards
from envs.functional import env_reset, env_step

__all__ = ["jax_rollout", "python_rollout"]


def jax_rollout(agent, env, state, key: jax.Array, n_episodes: int):
    """``n_episodes`` episodes of the JAX-native ``env`` in parallel, pure and jit-safe.

    Returns ``(Trajectory (n_episodes, T, ...), returns (n_episodes,), lengths (n_episodes,))``.
    """
    steps = env.max_episode_steps
    key_reset, key_steps = jax.random.split(key)
    env_states, obs = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key_reset, n_episodes))

    def step(carry, key_t):
        env_states, obs, alive = carry
        key_act, key_env = jax.random.split(key_t)
        action = agent.act(state, obs, key_act)
        env_states, ts = jax.vmap(lambda s, a, k: env_step(env, s, a, k))(
            env_states, action, jax.random.split(key_env, n_episodes)
        )
        record = (obs, action, ts.reward, alive)
        done = ts.terminated | ts.truncated
        return (env_states, ts.obs, alive * (1.0 - done)), record

    init = (env_states, obs, jnp.ones((n_episodes,), jnp.float32))
    _, (o, a, r, alive) = jax.lax.scan(step, init, jax.random.split(key_steps, steps))
    traj = Trajectory(*(jnp.swapaxes(x, 0, 1) for x in (o, a, r, alive)))
    return traj, jnp.sum(traj.reward * traj.alive, axis=1), jnp.sum(traj.alive, axis=1)


@functools.partial(jax.jit, static_argnums=1)
def _split_action_keys(key_steps: jax.Array, steps: int) -> jax.Array:
    return jax.vmap(lambda k: jax.random.split(k)[0])(jax.random.split(key_steps, steps))


def _action_keys(key_steps: jax.Array, steps: int) -> list:
    """The per-step action keys of :func:`jax_rollout`, as a list (no dispatch per step)."""
    return list(_split_action_keys(key_steps, steps))


def python_rollout(agent, envs: list[gym.Env], state, key: jax.Array, episode_seeds, act=None):
    """One episode in each Gymnasium env of ``envs``, stepped in lock-step in Python.

    ``act`` is a jitted ``agent.act`` (built once by the caller); each env is reset with
    its seed from ``episode_seeds``. The action keys are derived from ``key`` exactly as in
    :func:`jax_rollout`. Returns numpy arrays shaped like :func:`jax_rollout`'s.
    """
    act = act or jax.jit(agent.act)
    n = len(envs)
    steps = envs[0].spec.max_episode_steps
    pairs = zip(envs, episode_seeds, strict=True)
    obs = np.stack([np.asarray(env.reset(seed=int(seed))[0], np.float32) for env, seed in pairs])
    alive = np.ones(n, np.float32)
    record = {"obs": [], "action": [], "reward": [], "alive": []}
    # All action keys in one call (as jax_rollout derives them), then one act call per step.
    _, key_steps = jax.random.split(key)
    act_keys = _action_keys(key_steps, steps)
    for t in range(steps):
        action = np.asarray(act(state, obs, act_keys[t]))
        rewards = np.zeros(n, np.float32)
        next_obs, next_alive = obs.copy(), alive.copy()
        for i in np.flatnonzero(alive):
            o, r, terminated, truncated, _ = envs[i].step(agent.head.to_env(action[i]))
            rewards[i] = finite_rewards(envs[i], r)
            next_obs[i] = o
            if terminated or truncated:
                next_alive[i] = 0.0
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
    return traj, np.sum(traj.reward * traj.alive, axis=1), np.sum(traj.alive, axis=1)
