"""The population actor-critic ``pc-ac``: settling against its energy and a closed form, one
update worked by hand in NumPy, and short learning runs per action-space kind."""

from __future__ import annotations

import pathlib

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.contract import Transition
from agents.env_spec import make_env_spec
from agents.pc_actor_critic import (
    PCActorCriticConfig,
    _init_network,
    forward_means,
    network_energy,
    pc_actor_critic,
    settle,
)
from agents.training import TrainConfig, Trainer
from rpe import functional as kernels
from rpe.activations import get_activation


def softplus(x):
    return np.log1p(np.exp(x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_settling_lowers_the_energy_at_every_step():
    weights = _init_network(jax.random.key(0), (3, 6, 4, 3)).weights
    x = jax.random.normal(jax.random.key(1), (5, 3))
    onehot = jax.nn.one_hot(jnp.asarray([0, 1, 2, 2, 0]), 3)
    t = 2.0
    output_error = lambda out: kernels.categorical_error(out / t, onehot).dlogits / t  # noqa: E731
    output_energy = lambda out: -jax.vmap(kernels.categorical_error)(out / t, onehot).L  # noqa: E731
    variances = (0.03, 0.1)
    one_step = jax.jit(lambda h: settle(weights, x, output_error, variances, 0.5, 1, h0=h).h)
    energy = jax.jit(lambda h: network_energy(weights, x, h, variances, output_energy))
    h = forward_means(weights, x)[0]  # settling starts from the means of a forward pass
    energies = [np.asarray(energy(h))]
    for _ in range(24):
        h = one_step(h)
        energies.append(np.asarray(energy(h)))
    energies = np.stack(energies)  # (steps, E)
    assert np.all(np.diff(energies, axis=0) <= 1e-6)
    assert np.all(energies[-1] < energies[0] - 1e-4)


def test_settled_state_of_a_linear_network_is_the_least_squares_solution():
    """Identity units and a Gaussian output: the energy is quadratic in (h1, h2), so its
    minimum is the weighted least-squares solution of three linear residuals."""
    rng = np.random.default_rng(0)
    d, n1, n2, a = 2, 3, 2, 1
    w1, w2, w3 = (0.4 * rng.standard_normal(s) for s in ((d, n1), (n1, n2), (n2, a)))
    b1, b2, b3 = (0.1 * rng.standard_normal(n) for n in (n1, n2, a))
    v1, v2, v3 = 0.3, 0.2, 0.1
    x = rng.standard_normal(d)
    u = np.asarray([1.5])
    weights = tuple(jnp.asarray(p, jnp.float32) for p in (w1, b1, w2, b2, w3, b3))
    output_error = lambda out: kernels.gaussian_error(out, jnp.asarray(u[None]), v3).dmu  # noqa: E731
    settled = settle(
        weights,
        jnp.asarray(x[None], jnp.float32),
        output_error,
        (v1, v2),
        0.5,
        3000,
        get_activation("identity"),
    )
    # residuals: (h1 - (x w1 + b1)) / sqrt(v1), (h2 - h1 w2 - b2) / sqrt(v2), (u - h2 w3 - b3) / sqrt(v3)
    A = np.zeros((n1 + n2 + a, n1 + n2))
    c = np.zeros(n1 + n2 + a)
    A[:n1, :n1], c[:n1] = np.eye(n1) / np.sqrt(v1), (x @ w1 + b1) / np.sqrt(v1)
    A[n1 : n1 + n2, :n1] = -w2.T / np.sqrt(v2)
    A[n1 : n1 + n2, n1:] = np.eye(n2) / np.sqrt(v2)
    c[n1 : n1 + n2] = b2 / np.sqrt(v2)
    A[n1 + n2 :, n1:] = w3.T / np.sqrt(v3)
    c[n1 + n2 :] = (u - b3) / np.sqrt(v3)
    h_star = np.linalg.lstsq(A, c, rcond=None)[0]
    np.testing.assert_allclose(np.asarray(settled.h[0][0]), h_star[:n1], atol=1e-4)
    np.testing.assert_allclose(np.asarray(settled.h[1][0]), h_star[n1:], atol=1e-4)


def numpy_settle(weights, x, d3_of_out, var, rate, steps):
    """The settling of the module docstring as a plain NumPy loop (softplus units)."""
    w1, b1, w2, b2, w3, b3 = weights
    h1 = softplus(x @ w1 + b1)
    h2 = softplus(h1 @ w2 + b2)
    for _ in range(steps + 1):
        p1, p2 = x @ w1 + b1, h1 @ w2 + b2
        out = h2 @ w3 + b3
        e1, e2 = (h1 - softplus(p1)) / var[0], (h2 - softplus(p2)) / var[1]
        d1, d2, d3 = e1 * sigmoid(p1), e2 * sigmoid(p2), d3_of_out(out)
        if _ == steps:
            return (x, h1, h2), (d1, d2, d3)
        h1, h2 = (
            h1 + rate * var[0] * (-e1 + d2 @ w2.T),
            h2 + rate * var[1] * (-e2 + d3 @ w3.T),
        )


def test_one_update_by_hand():
    """From the initial weights, one transition: the TD error of the critic's means, the
    settled errors of a NumPy loop, and Adam's first step ``eta_l sign(delta pre post)``."""
    config = PCActorCriticConfig(hidden1=3, hidden2=2, settle_steps=4)
    agent = pc_actor_critic(make_env_spec("CartPole-v1"), config)
    hp = config.numeric_values()
    state = agent.init(jax.random.key(3), hp)
    obs = np.asarray([[0.02, 0.3, -0.04, -0.2]], np.float32)
    next_obs = np.asarray([[0.03, 0.5, -0.05, -0.6]], np.float32)
    tr = Transition(
        obs=jnp.asarray(obs),
        action=jnp.asarray([1]),
        reward=jnp.asarray([1.0]),
        next_obs=jnp.asarray(next_obs),
        terminated=jnp.asarray([0.0]),
        truncated=jnp.asarray([0.0]),
        alive=jnp.asarray([1.0]),
    )
    new, carry = jax.jit(agent.observe)(state, agent.begin(state, 1), tr)

    critic = [np.asarray(w, np.float64) for w in state.critic.weights]
    actor = [np.asarray(w, np.float64) for w in state.actor.weights]

    def value(o):
        h1 = softplus(o @ critic[0] + critic[1])
        return (softplus(h1 @ critic[2] + critic[3]) @ critic[4] + critic[5])[0, 0]

    delta = 1.0 + config.gamma * value(next_obs) - value(obs)
    t = config.temperature

    def policy_error(out):
        pi = np.exp(out / t) / np.exp(out / t).sum()
        return (np.asarray([[0.0, 1.0]]) - pi) / t

    anneal = 1.0 + (config.eta_final_scale - 1.0) / config.anneal_steps
    layer_scale = (1.0, config.eta_hidden_scale, config.eta_out_scale)
    for name, weights, d3, var, eta in (
        ("actor", actor, policy_error, (config.actor_var1, config.actor_var2), config.eta_actor),
        (
            "critic",
            critic,
            lambda out: np.full_like(out, 1.0 / config.critic_var_out),
            (config.critic_var1, config.critic_var2),
            config.eta_critic,
        ),
    ):
        pre, post = numpy_settle(weights, obs.astype(np.float64), d3, var, config.settle_rate, 4)
        moved = [
            np.asarray(n - o)
            for n, o in zip(getattr(new, name).weights, getattr(state, name).weights, strict=True)
        ]
        for layer in range(3):
            g_w = delta * np.outer(pre[layer][0], post[layer][0])
            g_b = delta * post[layer][0]
            step = eta * layer_scale[layer] * anneal
            for got, g in ((moved[2 * layer], g_w), (moved[2 * layer + 1], g_b)):
                expected = step * g / (np.abs(g) + 1e-9)
                np.testing.assert_allclose(
                    got, expected, rtol=2e-3, atol=step * 1e-3 + 2e-7, err_msg=f"{name} {layer}"
                )
        traces = getattr(carry, f"{name}_traces")
        np.testing.assert_allclose(
            np.asarray(traces[0][0]), np.outer(pre[0][0], post[0][0]), rtol=1e-3, atol=1e-6
        )
    assert float(new.count) == 1.0


def test_a_padding_step_changes_nothing():
    agent = pc_actor_critic(make_env_spec("CartPole-v1"), PCActorCriticConfig(hidden1=4, hidden2=3))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    zeros = jnp.zeros((1, 4))
    tr = Transition(zeros, jnp.asarray([0]), jnp.asarray([1.0]), zeros, *(jnp.zeros(1),) * 3)
    new, _ = jax.jit(agent.observe)(state, agent.begin(state, 1), tr)
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_learns_cartpole_discrete_actions(tmp_path):
    """80 episodes, one at a time: random play lasts about 22 steps."""
    result = Trainer(
        TrainConfig(agent="pc-ac", env="CartPole-v1", seed=1, episodes=80, num_envs=1, out=str(tmp_path))
    ).run(progress=False)
    returns = [row["return"] for row in result["metrics"]]
    assert np.mean(returns[:10]) < 60
    assert np.mean(returns[-20:]) > 120


class Steer(gym.Env):
    """A Box-action task: steer to the shown target. obs ``x ~ U(-1, 1)``, action ``a`` in
    ``[-1, 1]``, reward ``1 - |a - x|``; a new target each step, 10 steps an episode."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self.x, {}

    def step(self, action):
        reward = 1.0 - float(abs(np.asarray(action).reshape(-1)[0] - self.x[0]))
        self.x = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self.x, reward, False, False, {}


@pytest.fixture(scope="module")
def steer_id():
    env_id = "SteerTest-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=Steer, max_episode_steps=10)
    return env_id


def test_learns_a_box_action_task_on_the_python_path(tmp_path, steer_id):
    """Steer has no JAX twin, so this runs on the Python path. Uniform random actions score
    10 (1 - E|a - x|) = 10 / 3 per episode, the untrained policy (a near 0) 10 (1 - E|x|) =
    5; steering well gives nearly 10."""
    config = PCActorCriticConfig(actor_var_out=0.05, eta_actor=0.03, gamma=0.0, trace_decay=0.0)
    result = Trainer(
        TrainConfig(
            agent="pc-ac",
            env=steer_id,
            agent_config=config,
            seed=0,
            episodes=160,
            num_envs=8,
            out=str(tmp_path),
        )
    ).run(progress=False)
    returns = [row["return"] for row in result["metrics"]]
    assert np.mean(returns[:16]) < 6.5
    assert np.mean(returns[-40:]) > 6.8
    assert np.mean(returns[-40:]) > np.mean(returns[:16]) + 1.0


def test_population_record_gives_the_critics_td_error_and_the_rates():
    """``rpe population``'s recording, against NumPy forward passes of the initial weights:
    the critic's TD error of every step and the actor's first population's rates."""
    from scripts.population_plot import record

    agent = pc_actor_critic(make_env_spec("CartPole-v1"), PCActorCriticConfig(hidden1=5, hidden2=3))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    rec = record(agent, state, seed=4)
    obs, rewards = rec["obs"].astype(np.float64), rec["rewards"]
    n = len(rewards)
    assert obs.shape == (n + 1, 4) and rec["terminated"]  # an untrained policy drops the pole
    w = [np.asarray(p, np.float64) for p in state.critic.weights]
    value = (softplus(softplus(obs @ w[0] + w[1]) @ w[2] + w[3]) @ w[4] + w[5])[:, 0]
    discount = np.full(n, agent.config.gamma)
    discount[-1] = 0.0  # terminated: no bootstrap
    np.testing.assert_allclose(rec["rpe"], rewards + discount * value[1:] - value[:-1], rtol=1e-4, atol=1e-5)
    a = [np.asarray(p, np.float64) for p in state.actor.weights]
    np.testing.assert_allclose(rec["populations"]["actor h1"], softplus(obs[:-1] @ a[0] + a[1]), rtol=1e-4)
    assert rec["populations"]["critic h2"].shape == (n, 3)


@pytest.mark.slow
def test_population_command_writes_the_figure_and_refuses_agents_without_activity(tmp_path):
    from scripts.population_plot import main

    for agent in ("pc-ac", "pg"):
        Trainer(
            TrainConfig(
                agent=agent, env="CartPole-v1", seed=0, episodes=4, num_envs=2, out=str(tmp_path / agent)
            )
        ).run(progress=False)
    out = main([str(tmp_path / "pc-ac"), "--out", str(tmp_path / "pop.png")])
    assert pathlib.Path(out).stat().st_size > 10_000
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "pg")])
    assert exit_info.value.code == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "episodes", "target"), [("CartPole-v1", 300, 450.0), ("Acrobot-v1", 250, -110.0)]
)
def test_solves_cartpole_and_acrobot_with_the_tuned_defaults(tmp_path, env, episodes, target):
    """The tuned defaults of agents/defaults.toml: the mean of the last 50 episodes."""
    result = Trainer(
        TrainConfig(
            agent="pc-ac", env=env, seed=0, episodes=episodes, out=str(tmp_path), stop_when_solved=False
        )
    ).run(progress=False)
    returns = [row["return"] for row in result["metrics"]]
    assert np.mean(returns[-50:]) >= target
