"""Fully jitted training: rollouts and learning of many updates in one compiled program.

:func:`make_train` returns a pure ``train(state, key, first_update) -> (state, metrics)``
that runs ``n_updates`` updates under ``lax.scan``. Each update rolls out ``num_envs``
episodes of a JAX-native env (env step, agent step, autoreset: ``agents.rollout.jax_rollout``)
and learns from them (``agent.learn``), or, for an online learner (``agent.online``), learns
after every step (``agents.rollout.jax_rollout_online``). Update ``u`` uses the key ``fold_in(key, u)``, the
same as the train command's, so a run split into chunks of any size gives the same result as
one call. Metrics come back as arrays with a leading ``(n_updates,)`` axis and are written
afterwards:

- ``returns (n_updates, num_envs)``, ``lengths (n_updates, num_envs)``;
- the agent's metrics (``mean_abs_rpe (n_updates, num_envs)``, ``reward_prediction``...).

:func:`python_loop_train` does the same updates with a Python loop over updates and over
env steps (each env step and agent step a separate call), for checking that the fused
program learns exactly what the step-by-step one does.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from agents.policy_gradient import Trajectory
from agents.rollout import jax_rollout, jax_rollout_online
from envs.functional import env_reset, env_step
from rpe.validation import check_positive_int

__all__ = ["make_train", "python_loop_train"]


def make_train(agent, env, num_envs: int, n_updates: int) -> Callable:
    """``train(state, key, first_update=0) -> (state, metrics)``: ``n_updates`` updates in one
    ``lax.scan`` (jit it, vmap it over a population). See the module docstring."""
    num_envs = check_positive_int("num_envs", num_envs)
    n_updates = check_positive_int("n_updates", n_updates)

    def train(state, key, first_update=0):
        def one_update(state, u):
            key_u = jax.random.fold_in(key, u)
            if getattr(agent, "online", False):
                state, _, returns, lengths, metrics = jax_rollout_online(agent, env, state, key_u, num_envs)
            else:
                traj, returns, lengths = jax_rollout(agent, env, state, key_u, num_envs)
                state, metrics = agent.learn(state, traj)
            return state, {"returns": returns, "lengths": lengths, **metrics}

        updates = first_update + jnp.arange(n_updates)
        return jax.lax.scan(one_update, state, updates)

    return train


def python_loop_train(agent, env, state, key, num_envs: int, n_updates: int):
    """The same updates as ``make_train(...)(state, key)``, one Python call per env step.

    Keys are split exactly as in ``jax_rollout``; returns the final state and the per-update
    returns ``(n_updates, num_envs)``. For agents that learn from whole batches (``learn``).
    """
    act = jax.jit(agent.act)
    step_envs = jax.jit(jax.vmap(lambda s, a, k: env_step(env, s, a, k)))
    reset_envs = jax.jit(jax.vmap(lambda k: env_reset(env, k)))
    learn = jax.jit(agent.learn)
    all_returns = []
    for u in range(n_updates):
        key_reset, key_steps = jax.random.split(jax.random.fold_in(key, u))
        env_states, obs = reset_envs(jax.random.split(key_reset, num_envs))
        alive = jnp.ones((num_envs,), jnp.float32)
        record = []
        for key_t in jax.random.split(key_steps, env.max_episode_steps):
            key_act, key_env = jax.random.split(key_t)
            action = act(state, obs, key_act)
            env_states, ts = step_envs(env_states, action, jax.random.split(key_env, num_envs))
            record.append((obs, action, ts.reward, alive))
            alive = alive * (1.0 - (ts.terminated | ts.truncated))
            obs = ts.obs
        traj = Trajectory(*(jnp.stack(x, axis=1) for x in zip(*record, strict=True)))
        state, _ = learn(state, traj)
        all_returns.append(jnp.sum(traj.reward * traj.alive, axis=1))
    return state, jnp.stack(all_returns)
