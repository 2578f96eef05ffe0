"""The ac agent's online updates against TD(lambda) and the world model's settling worked by
hand, and its Python rollout driver replayed by hand."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.actor_critic import ActorCriticConfig, actor_critic
from agents.contract import EnvSpec, Trajectory, Transition
from agents.env_spec import make_env_spec
from agents.rollout import PythonLoop, _split_action_keys, python_rollout
from agents.tile_coding import tile_code, tile_encode
from envs.decoders import decoder_for

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


def _spec():
    """A [0, 1]^2 Box observation (no entry in envs.STATE_FEATURES) and Discrete(2) actions."""
    obs_space = gym.spaces.Box(np.zeros(2, np.float32), np.ones(2, np.float32))
    action_space = gym.spaces.Discrete(2)
    decoder = decoder_for(action_space, categorical=True)
    return EnvSpec("UnitSquare-test", obs_space, action_space, 10, None, None, decoder.bound, decoder.to_env)


def _transition(obs, action, reward, next_obs, terminated, alive):
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        f(obs), jnp.asarray(action, jnp.int32), f(reward), f(next_obs), f(terminated), f([0.0, 0.0]), f(alive)
    )


def _settle_and_update_by_hand(W_in, W_out, x, y, c):
    """The world model of ``agents.ngc_world_model`` for one row, float64: ``z`` starts at
    ``mu1 = x W_in`` and takes ``settle_steps`` Euler steps of ``dt / tau_m = settle_rate`` of
    ``dz/dt = f'(z) (e0 W_out^T) - e1`` (RateCell, tau_m = 1, gaussian prior with gamma 0:
    no leak), ``f = tanh``. Returns the energy after settling and the updated weights."""
    mu1 = x @ W_in
    z = mu1.copy()
    for _ in range(c.settle_steps):
        e1, e0 = z - mu1, y - np.tanh(z) @ W_out
        z = z + c.settle_rate * ((1.0 - np.tanh(z) ** 2) * (e0 @ W_out.T) - e1)
    e1, e0 = z - mu1, y - np.tanh(z) @ W_out
    energy = 0.5 * np.sum(e0**2) + 0.5 * np.sum(e1**2)
    return energy, W_in + c.eta_model * np.outer(x, e1), W_out + c.eta_model * np.outer(np.tanh(z), e0)


def test_two_online_steps_match_td_lambda_worked_by_hand():
    c = CONFIG
    agent = actor_critic(_spec(), c)
    s0, s1, s2 = np.array([0.1, 0.2]), np.array([0.3, 0.2]), np.array([0.8, 0.9])
    junk = np.array([0.6, 0.6])  # episode 1 is padding (alive 0): it must change nothing
    state0 = agent.init(jax.random.key(0), c.numeric_values())
    state, carry = state0, agent.begin(state0, 2)
    steps = [
        _transition([s0, junk], [1, 0], [-1.0, 50.0], [s1, junk], [0.0, 1.0], [1.0, 0.0]),
        _transition([s1, junk], [0, 1], [2.0, 50.0], [s2, junk], [1.0, 1.0], [1.0, 0.0]),
    ]
    observe = jax.jit(agent.observe)
    for tr in steps:
        state, carry = observe(state, carry, tr)

    # By hand, float64: the tile code of a [0, 1]^2 box with the agent's settings, TD(lambda)
    # with dense traces, and the world model's equations.
    code = tile_code(np.zeros(2), np.ones(2), tiles=2, n_tilings=2, max_tiles=c.max_tiles)
    obs = (s0, s1, s2)
    phi = [np.asarray(tile_encode(code, jnp.asarray(o, jnp.float32)), np.float64) for o in obs]
    w, W = np.zeros(phi[0].size), np.zeros((phi[0].size, 2))
    W_in, W_out = (np.asarray(m, np.float64) for m in state0.model)
    surprise_max, abs_rpe, epistemic = 0.0, [], []
    z_w, z_W = np.zeros_like(w), np.zeros_like(W)
    decay = c.gamma * c.trace_decay
    for t, (a, r, done) in enumerate([(1, -1.0, 0.0), (0, 2.0, 1.0)]):
        x, x_next = phi[t], phi[t + 1]
        # Model input [2 obs - 1, onehot(a), 1] and target s (obs' - obs) (bounds [0, 1]).
        m_in = np.concatenate([2 * obs[t] - 1, np.eye(2)[a], [1.0]])
        m_out = c.model_scale * (obs[t + 1] - obs[t])
        surprise, W_in, W_out = _settle_and_update_by_hand(W_in, W_out, m_in, m_out, c)
        assert surprise > 0
        surprise_max = max(surprise_max, surprise)  # r_ep = curiosity L / max L so far
        epistemic.append(c.curiosity * surprise / surprise_max)
        delta = r + epistemic[-1] + c.gamma * (1 - done) * (x_next @ w) - x @ w
        abs_rpe.append(abs(delta))
        logits = x @ W
        pi = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        z_w = decay * z_w + x
        z_W = decay * z_W + np.outer(x, np.eye(2)[a] - pi)
        w, W = w + c.eta_critic * delta * z_w, W + c.eta_actor * delta * z_W

    np.testing.assert_allclose(state.critic, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.actor, W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.surprise_max, surprise_max, rtol=1e-5)
    np.testing.assert_allclose(state.model.W_in, W_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.model.W_out, W_out, rtol=1e-5, atol=1e-6)
    assert float(carry.trace_valid.max()) == 0.0  # traces end with the episode
    np.testing.assert_allclose(carry.steps, [2.0, 0.0])
    zeros = jnp.zeros((2, 10))
    traj = Trajectory(jnp.zeros((2, 10, 2)), zeros.astype(jnp.int32), zeros, zeros)
    for learn in (agent.learn, jax.jit(agent.learn)):
        same, metrics = learn(state, carry, traj)
        for got, want in zip(jax.tree.leaves(same), jax.tree.leaves(state), strict=True):
            np.testing.assert_array_equal(got, want)  # learn changes nothing
        np.testing.assert_allclose(metrics["reward_prediction"], [0.0, 0.0])  # V(s0) before any update
        np.testing.assert_allclose(metrics["mean_abs_rpe"], [np.mean(abs_rpe), 0.0], rtol=1e-5)
        np.testing.assert_allclose(metrics["epistemic_reward"], [np.mean(epistemic), 0.0], rtol=1e-5)


def test_python_rollout_acts_on_weights_updated_after_every_step():
    """Replays the rollout by hand: env stepped again from its seed, observe after each step,
    and each recorded action is the one the agent samples from the weights of that moment."""
    env_id, horizon, seeds = "MountainCar-v0", 30, [3, 4]
    spec = make_env_spec(env_id)._replace(horizon=horizon)
    envs = [gym.make(env_id, max_episode_steps=horizon) for _ in seeds]
    agent = actor_critic(spec)
    loop = PythonLoop(agent)
    state0, key = agent.init(jax.random.key(0), agent.config.numeric_values()), jax.random.key(1)
    state, batch = python_rollout(loop, envs, state0, key, seeds)
    traj = batch.traj
    assert np.all(batch.lengths == horizon) and np.all(batch.returns == -horizon)

    next_obs = []  # the real next observations, the last one included
    for i, seed in enumerate(seeds):
        env = gym.make(env_id, max_episode_steps=horizon)
        env.reset(seed=seed)
        bounded = np.asarray(spec.bound(jnp.asarray(traj.action[i])))
        next_obs.append([env.step(spec.to_env(a))[0] for a in bounded])
    next_obs = np.asarray(next_obs, np.float32)
    manual, carry = state0, agent.begin(state0, 2)
    keys = _split_action_keys(jax.random.split(key)[1], horizon)
    act, observe = jax.jit(agent.act), jax.jit(agent.observe)
    for t in range(horizon):
        action, carry = act(manual, carry, jnp.asarray(traj.obs[:, t]), keys[t])
        np.testing.assert_array_equal(action, traj.action[:, t])
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
    _, metrics = agent.learn(manual, carry, jax.tree.map(jnp.asarray, traj))
    for name, value in metrics.items():
        np.testing.assert_allclose(batch.metrics[name], value, rtol=1e-6)
