"""Collecting a batch of episodes and learning from it: the fully jitted rollout on a
JAX-native env, and the Python loop on any Gymnasium env, both through the agent contract
(``agents.contract``) alone.

One *update* runs ``E`` episodes in lock-step, each padded to the horizon ``T`` with an
``alive`` mask, calling ``act`` and then ``observe`` after every env step and ``learn`` at
the end (see ``agents.contract``). Both paths return ``(state, Batch)``.

Randomness: ``key`` splits into a reset key and ``T`` step keys; each step key splits into
the action key and the env key. The Python loop draws the agent's actions from the same
action keys and seeds every episode's env reset from ``episode_seeds``, so both paths are
reproducible and resumable from a checkpoint.

Trials: the Python loop reads ``info["performance"]`` on each episode's last step (where
neurogym's convention and the one-trial episodes of our cognitive tasks put it) into
``Batch.correct``; a trial env of neurogym's convention runs one trial per episode through
``envs.trials.TrialsAsEpisodes`` (``agents.env_spec.make_env``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.contract import Agent, Trajectory, Transition
from envs.checks import finite_rewards
from envs.functional import env_reset, env_step
from envs.trials import trial_correct

__all__ = ["Batch", "PythonLoop", "jax_rollout", "python_rollout"]


class Batch(NamedTuple):
    """What one update gives the loop: ``traj`` (padded, ``(E, T, ...)``), ``returns (E,)``,
    ``lengths (E,)``, the agent's per-episode ``metrics`` (name -> ``(E,)``) and, from the
    Python loop, ``correct (E,)``: ``info["performance"]`` on each episode's last step as a
    float (1 correct, 0 not), NaN where the env said nothing (None from :func:`jax_rollout`)."""

    traj: Trajectory
    returns: jax.Array
    lengths: jax.Array
    metrics: dict
    correct: np.ndarray | None = None


def _padded(x, alive):
    """``x (E, ...)`` with the rows of ended episodes set to 0 (the trajectory's padding)."""
    mask = alive.reshape(alive.shape + (1,) * (x.ndim - 1)) > 0
    return jnp.where(mask, x, jnp.zeros((), x.dtype))


def _summarise(traj: Trajectory, metrics: dict, xp=jnp) -> Batch:
    returns = xp.sum(traj.reward * traj.alive, axis=1)
    return Batch(traj, returns, xp.sum(traj.alive, axis=1), metrics)


def jax_rollout(
    agent: Agent,
    state,
    key: jax.Array,
    n_episodes: int,
    *,
    learn: bool = True,
    greedy: bool = False,
    stop_early: bool = True,
):
    """``n_episodes`` episodes of ``agent.spec.jax_env`` in parallel, pure and jit-safe.

    With ``stop_early`` the steps run in a ``lax.while_loop`` that stops as soon as every
    episode of the batch has ended, so a batch costs ``E x`` its longest episode, not
    ``E x T``. Without it they run for the whole horizon ``T`` (a ``fori_loop``): the choice
    for a vmapped population, where a batched ``while_loop`` would select every member's
    whole carry at every step, and, sharded, reduce its predicate across devices. Either way
    the trajectory is padded to ``T`` with zeros (``alive`` 0) for ``learn``, and the results
    are the same. With ``learn`` the agent observes every step (unless it declares
    ``observes=False``) and learns at the end; without it the state comes back unchanged
    (evaluation), and ``greedy`` takes the most likely actions. Returns ``(state, Batch)``.
    """
    env, spec = agent.spec.jax_env, agent.spec
    horizon = spec.horizon
    key_reset, key_steps = jax.random.split(key)
    step_keys = jax.random.split(key_steps, horizon)
    env_states, obs = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key_reset, n_episodes))
    carry = agent.begin(state, n_episodes)
    alive = jnp.ones((n_episodes,), jnp.float32)
    action = jax.eval_shape(lambda: agent.act(state, carry, obs, step_keys[0])[0])
    buffers = Trajectory(  # (E, T, ...), filled step by step; zeros after each episode's end
        jnp.zeros((n_episodes, horizon, *obs.shape[1:]), obs.dtype),
        jnp.zeros((n_episodes, horizon, *action.shape[1:]), action.dtype),
        jnp.zeros((n_episodes, horizon), jnp.float32),  # env_step's rewards are float32
        jnp.zeros((n_episodes, horizon), jnp.float32),
    )

    def step(loop):
        t, env_states, obs, alive, state, carry, record = loop
        key_act, key_env = jax.random.split(step_keys[t])
        if greedy:
            action, carry = agent.greedy(state, carry, obs)
        else:
            action, carry = agent.act(state, carry, obs, key_act)
        # No autoreset: after its end an episode is padding (alive 0) until the batch ends.
        env_states, ts = jax.vmap(lambda s, a, k: env_step(env, s, a, k, autoreset=False))(
            env_states, spec.bound(action), jax.random.split(key_env, n_episodes)
        )
        if learn and agent.observes:
            ends = (ts.terminated.astype(jnp.float32), ts.truncated.astype(jnp.float32))
            transition = Transition(obs, action, ts.reward, ts.final_obs, *ends, alive)
            state, carry = agent.observe(state, carry, transition)
        now = (*(_padded(x, alive) for x in (obs, action, ts.reward)), alive)
        record = Trajectory(*(buf.at[:, t].set(x) for buf, x in zip(record, now, strict=True)))
        done = ts.terminated | ts.truncated
        return t + 1, env_states, ts.obs, alive * (1.0 - done), state, carry, record

    def going(loop):
        t, alive = loop[0], loop[3]
        return (t < horizon) & jnp.any(alive > 0)

    loop = (jnp.zeros((), jnp.int32), env_states, obs, alive, state, carry, buffers)
    if stop_early:
        loop = jax.lax.while_loop(going, step, loop)
    else:
        loop = jax.lax.fori_loop(0, horizon, lambda _, loop: step(loop), loop)
    _, _, _, _, new_state, carry, traj = loop
    if not learn:
        return state, _summarise(traj, {})
    new_state, metrics = agent.learn(new_state, carry, traj)
    return new_state, _summarise(traj, metrics)


@functools.partial(jax.jit, static_argnums=1)
def _split_action_keys(key_steps: jax.Array, steps: int) -> jax.Array:
    return jax.vmap(lambda k: jax.random.split(k)[0])(jax.random.split(key_steps, steps))


class PythonLoop:
    """The agent's functions jitted once, for :func:`python_rollout` over Gymnasium envs.

    ``observe_act`` observes step ``t - 1`` and acts at step ``t`` in one call: one dispatch
    per env step instead of two, the order of the updates unchanged."""

    def __init__(self, agent: Agent, *, greedy: bool = False):
        self.agent = agent
        spec = agent.spec

        def act(state, carry, obs, key_data, impl):
            key = jax.random.wrap_key_data(key_data, impl=impl)  # raw key data: cheaper to pass
            if greedy:
                action, carry = agent.greedy(state, carry, obs)
            else:
                action, carry = agent.act(state, carry, obs, key)
            return action, carry, spec.bound(action)

        def observe_act(state, carry, transition, obs, key_data, impl):
            state, carry = agent.observe(state, carry, transition)
            return (state, *act(state, carry, obs, key_data, impl))

        self.act = jax.jit(act, static_argnums=4)
        self.observe_act = jax.jit(observe_act, static_argnums=5)
        self.begin = jax.jit(agent.begin, static_argnums=1)
        self.observe = jax.jit(agent.observe)
        self.learn = jax.jit(agent.learn)


def python_rollout(
    loop: PythonLoop, envs: list[gym.Env], state, key: jax.Array, episode_seeds, *, learn: bool = True
):
    """One episode in each Gymnasium env of ``envs``, stepped in lock-step in Python, each
    reset with its seed from ``episode_seeds``. Same semantics and keys as
    :func:`jax_rollout`; returns ``(state, Batch)`` with numpy arrays."""
    agent, n = loop.agent, len(envs)
    steps, to_env = agent.spec.horizon, agent.spec.to_env
    pairs = zip(envs, episode_seeds, strict=True)
    obs = np.stack([np.asarray(env.reset(seed=int(seed))[0], np.float32) for env, seed in pairs])
    alive = np.ones(n, np.float32)
    correct = np.full(n, np.nan, np.float32)
    carry = loop.begin(state, n)
    new_state = state
    record = {"obs": [], "action": [], "reward": [], "alive": []}
    _, key_steps = jax.random.split(key)
    # All the action keys at once, as raw data on the host: no dispatch or key object per step.
    act_keys = np.asarray(jax.random.key_data(_split_action_keys(key_steps, steps)))
    impl = str(jax.random.key_impl(key))
    last = None  # the transition not yet observed
    for t in range(steps):
        if last is None:
            action, carry, bounded = loop.act(new_state, carry, obs, act_keys[t], impl)
        else:
            new_state, action, carry, bounded = loop.observe_act(
                new_state, carry, last, obs, act_keys[t], impl
            )
        action, bounded = np.asarray(action), np.asarray(bounded)
        rewards = np.zeros(n, np.float32)
        ends = np.zeros((2, n), np.float32)  # terminated, truncated
        next_obs, next_alive = obs.copy(), alive.copy()
        for i in np.flatnonzero(alive):
            o, r, terminated, truncated, info = envs[i].step(to_env(bounded[i]))
            rewards[i] = finite_rewards(envs[i], r)
            next_obs[i] = o
            ends[:, i] = terminated, truncated
            if terminated or truncated:
                next_alive[i] = 0.0
                correct[i] = trial_correct(info)
        if learn and agent.observes:
            last = Transition(obs, action, rewards, next_obs, ends[0], ends[1], alive)
        now = {"obs": obs, "action": action, "reward": rewards, "alive": alive}
        if not alive.all():  # rows of ended episodes are padding, recorded as zeros
            dead = alive == 0
            for name in ("obs", "action"):
                value = now[name]
                now[name] = np.where(dead.reshape(-1, *[1] * (value.ndim - 1)), 0, value).astype(value.dtype)
        for name, value in now.items():
            record[name].append(value)
        obs, alive = next_obs, next_alive
        if not alive.any():
            break
    if last is not None:
        new_state, carry = loop.observe(new_state, carry, last)
    arrays = {name: np.stack(values, axis=1) for name, values in record.items()}
    pad = steps - arrays["obs"].shape[1]
    if pad:
        arrays = {
            k: np.concatenate([v, np.zeros((n, pad, *v.shape[2:]), v.dtype)], axis=1)
            for k, v in arrays.items()
        }
    traj = Trajectory(arrays["obs"], arrays["action"], arrays["reward"], arrays["alive"])
    if not learn:
        return state, _summarise(traj, {}, np)._replace(correct=correct)
    new_state, metrics = loop.learn(new_state, carry, jax.tree.map(jnp.asarray, traj))
    return new_state, _summarise(traj, jax.tree.map(np.asarray, metrics), np)._replace(correct=correct)
