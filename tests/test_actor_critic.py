"""The ac agent's online updates against TD(lambda) worked by hand, and its rollout driver."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.actor_critic import ActorCriticAgent, ActorCriticConfig
from agents.rollout import Transition, python_rollout

CONFIG = ActorCriticConfig(
    gamma=0.9,
    trace_decay=0.5,
    eta_critic=0.3,
    eta_actor=0.2,
    eta_model=0.4,
    model_hidden=4,
    curiosity=0.5,
    model_scale=2.0,
    tiles=2,
    n_tilings=2,
)


def _agent():
    obs_space = gym.spaces.Box(np.zeros(2, np.float32), np.ones(2, np.float32))
    return ActorCriticAgent(obs_space, gym.spaces.Discrete(2), CONFIG, horizon=10)


def _transition(obs, action, reward, next_obs, terminated, alive):
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        f(obs), jnp.asarray(action, jnp.int32), f(reward), f(next_obs), f(terminated), f([0.0, 0.0]), f(alive)
    )


def test_two_online_steps_match_td_lambda_worked_by_hand():
    agent, c = _agent(), CONFIG
    s0, s1, s2 = np.array([0.1, 0.2]), np.array([0.3, 0.2]), np.array([0.8, 0.9])
    junk = np.array([0.6, 0.6])  # episode 1 is padding (alive 0): it must change nothing
    state = agent.init(jax.random.key(0))
    carry = agent.begin(state, 2)
    steps = [
        _transition([s0, junk], [1, 0], [-1.0, 50.0], [s1, junk], [0.0, 1.0], [1.0, 0.0]),
        _transition([s1, junk], [0, 1], [2.0, 50.0], [s2, junk], [1.0, 1.0], [1.0, 0.0]),
    ]
    observe = jax.jit(agent.observe)
    for tr in steps:
        state, carry = observe(state, carry, tr)

    # By hand, float64: features from the tile code and the world model's settled energy and
    # update from agents.ngc_world_model, both tested on their own.
    phi = {
        k: np.asarray(agent.features(jnp.asarray(v, jnp.float32)), np.float64)
        for k, v in enumerate((s0, s1, s2))
    }
    settle, update = jax.jit(agent.world_model.settle), jax.jit(agent.world_model.update)
    w, W = np.zeros(phi[0].size), np.zeros((phi[0].size, 2))
    model, surprise_max = agent.init(jax.random.key(0)).model, 0.0
    z_w, z_W = np.zeros_like(w), np.zeros_like(W)
    decay = c.gamma * c.trace_decay
    for t, (a, r, done) in enumerate([(1, -1.0, 0.0), (0, 2.0, 1.0)]):
        x, x_next = phi[t], phi[t + 1]
        obs = (s0, s1, s2)
        # Model input [2 obs - 1, onehot(a), 1] and target s (obs' - obs) (bounds [0, 1]).
        m_in = np.concatenate([2 * obs[t] - 1, np.eye(2)[a], [1.0]])[None].astype(np.float32)
        m_out = (c.model_scale * (obs[t + 1] - obs[t]))[None].astype(np.float32)
        settled = settle(model, m_in, m_out)
        surprise = float(settled.energy[0])
        assert surprise > 0
        surprise_max = max(surprise_max, surprise)  # r_ep = curiosity L / max L so far
        delta = r + c.curiosity * surprise / surprise_max + c.gamma * (1 - done) * (x_next @ w) - x @ w
        logits = x @ W
        pi = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        z_w = decay * z_w + x
        z_W = decay * z_W + np.outer(x, np.eye(2)[a] - pi)
        w, W = w + c.eta_critic * delta * z_w, W + c.eta_actor * delta * z_W
        model = update(model, m_in, settled, jnp.ones(1))

    np.testing.assert_allclose(state.critic, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.actor, W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.surprise_max, surprise_max, rtol=1e-6)
    for got, want in zip(state.model, model, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert float(carry.trace_valid.max()) == 0.0  # traces end with the episode
    np.testing.assert_allclose(carry.steps, [2.0, 0.0])
    metrics = agent.episode_metrics(carry)
    assert float(metrics["reward_prediction"][0]) == 0.0  # V(s0) before any update


def test_python_rollout_acts_on_weights_updated_after_every_step():
    """Replays the rollout by hand: env stepped again from its seed, observe after each step,
    and each recorded action is the one the agent samples from the weights of that moment."""
    from agents.rollout import _action_keys

    env_id, horizon, seeds = "MountainCar-v0", 30, [3, 4]
    envs = [gym.make(env_id, max_episode_steps=horizon) for _ in seeds]
    agent = ActorCriticAgent(envs[0].observation_space, envs[0].action_space, horizon=horizon)
    observe, act = jax.jit(agent.observe), jax.jit(agent.act)
    state0, key = agent.init(jax.random.key(0)), jax.random.key(1)
    state, traj, returns, lengths, metrics = python_rollout(
        agent, envs, state0, key, seeds, act=act, observe=observe
    )
    assert np.all(lengths == horizon) and np.all(returns == -horizon)

    next_obs = []  # the real next observations, the last one included
    for i, seed in enumerate(seeds):
        env = gym.make(env_id, max_episode_steps=horizon)
        env.reset(seed=seed)
        next_obs.append([env.step(int(a))[0] for a in traj.action[i]])
    next_obs = np.asarray(next_obs, np.float32)
    manual, carry = state0, agent.begin(state0, 2)
    keys = _action_keys(jax.random.split(key)[1], horizon)
    for t in range(horizon):
        np.testing.assert_array_equal(act(manual, traj.obs[:, t], keys[t]), traj.action[:, t])
        last = np.float32(t == horizon - 1)
        tr = Transition(
            traj.obs[:, t],
            traj.action[:, t],
            traj.reward[:, t],
            next_obs[:, t],
            np.zeros(2, np.float32),
            np.full(2, last),
            traj.alive[:, t],
        )
        manual, carry = observe(manual, carry, tr)
    for got, want in zip(jax.tree.leaves(state), jax.tree.leaves(manual), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert float(jnp.abs(manual.critic).max()) > 0  # it did learn
    np.testing.assert_allclose(metrics["mean_abs_rpe"], agent.episode_metrics(carry)["mean_abs_rpe"])
