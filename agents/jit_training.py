"""Fully jitted training: rollouts and learning of many updates in one compiled program.

:func:`make_train` returns a pure ``train(state, key, first_update) -> (state, metrics)``
that runs ``n_updates`` updates under ``lax.scan``. Each update rolls out ``num_envs``
episodes of the agent's JAX-native env and learns (``agents.rollout.jax_rollout``). Update
``u`` uses the key ``fold_in(key, u)``, the same as the train command's, so a run split into
chunks of any size gives the same result as one call. Metrics come back as arrays with a
leading ``(n_updates,)`` axis and are written afterwards:

- ``returns (n_updates, num_envs)``, ``lengths (n_updates, num_envs)``;
- every metric the agent reports (``mean_abs_rpe (n_updates, num_envs)``, ...).

:func:`python_loop_train` does the same updates with a Python loop over updates and over
env steps (each env step and agent step a separate call), for checking that the fused
program learns exactly what the step-by-step one does.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from agents.contract import Agent, Trajectory, Transition
from agents.rollout import jax_rollout
from envs.functional import env_reset, env_step
from rpe.validation import check_positive_int

__all__ = ["make_train", "python_loop_train"]


def make_train(agent: Agent, num_envs: int, n_updates: int, stop_early: bool = True) -> Callable:
    """``train(state, key, first_update=0) -> (state, metrics)``: ``n_updates`` updates in one
    ``lax.scan`` (jit it, vmap it over a population: then pass ``stop_early=False``; see
    :func:`agents.rollout.jax_rollout`). See the module docstring."""
    num_envs = check_positive_int("num_envs", num_envs)
    n_updates = check_positive_int("n_updates", n_updates)
    if agent.spec.jax_env is None:
        raise ValueError(f"env: {agent.spec.env_id} has no JAX-native twin for the jitted path")

    def train(state, key, first_update=0):
        def one_update(state, u):
            state, batch = jax_rollout(
                agent, state, jax.random.fold_in(key, u), num_envs, stop_early=stop_early
            )
            return state, {"returns": batch.returns, "lengths": batch.lengths, **batch.metrics}

        return jax.lax.scan(one_update, state, first_update + jnp.arange(n_updates))

    return train


def python_loop_train(agent: Agent, state, key, num_envs: int, n_updates: int):
    """The same updates as ``make_train(...)(state, key)``, one Python call per env step and
    per agent function. Returns the final state and the returns ``(n_updates, num_envs)``."""
    env, spec = agent.spec.jax_env, agent.spec
    act, observe, learn = jax.jit(agent.act), jax.jit(agent.observe), jax.jit(agent.learn)
    step_envs = jax.jit(jax.vmap(lambda s, a, k: env_step(env, s, a, k, autoreset=False)))
    reset_envs = jax.jit(jax.vmap(lambda k: env_reset(env, k)))
    all_returns = []
    for u in range(n_updates):
        key_reset, key_steps = jax.random.split(jax.random.fold_in(key, u))
        env_states, obs = reset_envs(jax.random.split(key_reset, num_envs))
        alive = jnp.ones((num_envs,), jnp.float32)
        carry = agent.begin(state, num_envs)
        record = []
        for key_t in jax.random.split(key_steps, spec.horizon):
            key_act, key_env = jax.random.split(key_t)
            action, carry = act(state, carry, obs, key_act)
            env_states, ts = step_envs(env_states, spec.bound(action), jax.random.split(key_env, num_envs))
            ends = (ts.terminated.astype(jnp.float32), ts.truncated.astype(jnp.float32))
            state, carry = observe(
                state, carry, Transition(obs, action, ts.reward, ts.final_obs, *ends, alive)
            )
            record.append((obs, action, ts.reward, alive))
            alive = alive * (1.0 - (ts.terminated | ts.truncated))
            obs = ts.obs
        traj = Trajectory(*(jnp.stack(x, axis=1) for x in zip(*record, strict=True)))
        state, _ = learn(state, carry, traj)
        all_returns.append(jnp.sum(traj.reward * traj.alive, axis=1))
    return state, jnp.stack(all_returns)
