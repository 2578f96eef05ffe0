"""Agents: learning by local rules only, checked in the source and in the numbers."""

import pathlib
import re

import jax.numpy as jnp
import numpy as np
import pytest

from agents.td_critic import LinearTDCritic

AGENTS = pathlib.Path(__file__).resolve().parents[1] / "agents"
AUTODIFF = re.compile(r"\b(grad|value_and_grad|vjp|jvp|jacrev|jacfwd|hessian|linearize|custom_vjp)\b")


def test_agents_never_use_autodiff():
    offenders = []
    for path in sorted(AGENTS.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if AUTODIFF.search(code):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, "agents must learn by local rules:\n" + "\n".join(offenders)


def test_linear_td_critic_reaches_the_discounted_values_of_a_chain():
    """A 4-state chain s0 -> s1 -> s2 -> s3 (terminal, reward 1): V(s_k) = gamma^(2 - k)."""
    gamma = 0.9
    critic = LinearTDCritic(n_features=3, gamma=gamma, eta=0.2)
    weights = critic.init()
    eye = jnp.eye(3)
    for _ in range(300):
        for k in range(3):
            terminal = k == 2
            next_x = jnp.zeros((1, 3)) if terminal else eye[None, k + 1]
            weights, _ = critic.update(
                weights,
                eye[None, k],
                jnp.asarray([1.0 if terminal else 0.0]),
                next_x,
                jnp.asarray([terminal]),
            )
    np.testing.assert_allclose(critic.value(weights, eye), [gamma**2, gamma, 1.0], rtol=1e-3)


def test_linear_td_critic_checks_its_arguments():
    with pytest.raises(ValueError, match="gamma"):
        LinearTDCritic(3, gamma=2.0)
    with pytest.raises(ValueError, match="n_features"):
        LinearTDCritic(0)


def _np_rnn_train(agent, n_updates: int, n_trials: int):
    """``train(state, key) -> (state, metrics)``: ``n_updates`` batches of ``n_trials``
    trials, each rolled out by begin / act / env_step / observe over ``lax.scan`` and ended
    by ``learn``; metrics ``(n_updates, n_trials)``. Jit it."""
    import jax

    from agents.contract import Trajectory, Transition
    from envs.functional import env_reset, env_step

    env, spec = agent.spec.jax_env, agent.spec

    def batch(state, key):
        key_reset, key_steps = jax.random.split(key)
        env_states, obs = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key_reset, n_trials))

        def step(loop, key_t):
            state, carry, env_states, obs, alive = loop
            key_act, key_env = jax.random.split(key_t)
            action, carry = agent.act(state, carry, obs, key_act)
            env_states, ts = jax.vmap(lambda s, a, k: env_step(env, s, a, k))(
                env_states, spec.bound(action), jax.random.split(key_env, n_trials)
            )
            terminated, truncated = ts.terminated.astype(jnp.float32), ts.truncated.astype(jnp.float32)
            transition = Transition(obs, action, ts.reward, ts.final_obs, terminated, truncated, alive)
            state, carry = agent.observe(state, carry, transition)
            alive_next = alive * (1.0 - jnp.maximum(terminated, truncated))
            return (state, carry, env_states, ts.obs, alive_next), (obs, action, ts.reward, alive)

        loop = (state, agent.begin(state, n_trials), env_states, obs, jnp.ones((n_trials,), jnp.float32))
        (state, carry, *_), record = jax.lax.scan(step, loop, jax.random.split(key_steps, spec.horizon))
        return agent.learn(state, carry, Trajectory(*(jnp.swapaxes(x, 0, 1) for x in record)))

    def train(state, key):
        return jax.lax.scan(lambda s, u: batch(s, jax.random.fold_in(key, u)), state, jnp.arange(n_updates))

    return train


@pytest.mark.slow
def test_node_perturbation_rnn_learns_the_perceptual_decision_task():
    """Chance is 50%; kicks found by the cubed eligibility and an RPE get it well above."""
    import jax

    from agents.env_spec import make_env_spec
    from agents.node_perturbation_rnn import node_perturbation_rnn, trial_accuracy

    agent = node_perturbation_rnn(make_env_spec("PerceptualDecision-v0"))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    accuracy = jax.jit(lambda s: trial_accuracy(agent, s, jax.random.key(7), 512))
    before = float(accuracy(state))
    state, metrics = jax.jit(_np_rnn_train(agent, 400, 16))(state, jax.random.key(1))
    after = float(accuracy(state))
    assert metrics["mean_abs_rpe"].shape == metrics["reward_prediction"].shape == (400, 16)
    assert np.all(np.isfinite(np.asarray(state.recurrent)))
    assert before < 0.65 and after > 0.8, (before, after)


def _np_rnn_batch(agent, episodes: int, seed: int = 0):
    """A carry with random buffers ``pre``, ``x (T, E, N)`` and a trajectory whose trials
    last 151, 120 and 90 steps (the rest is padding), for checks of ``learn``."""
    import jax

    from agents.contract import Trajectory

    rng = np.random.default_rng(seed)
    horizon, n = agent.spec.horizon, agent.config.n_units
    carry = agent.begin(agent.init(jax.random.key(0), agent.config.numeric_values()), episodes)
    pre = rng.uniform(-1.0, 1.0, (horizon, episodes, n)).astype(np.float32)
    x = rng.normal(0.0, 1.0, (horizon, episodes, n)).astype(np.float32)
    carry = carry._replace(pre=jnp.asarray(pre), x=jnp.asarray(x))
    lengths = np.array([horizon, 120, 90][:episodes])
    alive = (np.arange(horizon)[None, :] < lengths[:, None]).astype(np.float32)
    reward = rng.uniform(-0.02, 0.0, (episodes, horizon)).astype(np.float32)
    obs, action = jnp.zeros((episodes, horizon, 2)), jnp.zeros((episodes, horizon, 1))
    traj = Trajectory(obs, action, jnp.asarray(reward), jnp.asarray(alive))
    return carry, traj


def test_node_perturbation_rnn_learn_applies_the_clipped_rpe_gated_cubed_eligibility():
    """``dJ = clip(eta mean_b((R_b - mu) E_b), -max_dw, max_dw)``, ``E_b`` by a plain loop."""
    import dataclasses

    import jax

    from agents.env_spec import make_env_spec
    from agents.node_perturbation_rnn import NodePerturbationConfig, node_perturbation_rnn

    config = NodePerturbationConfig(n_units=4, eta=0.7, alpha_x=0.2, baseline_alpha=0.4)
    agent = node_perturbation_rnn(make_env_spec("PerceptualDecision-v0"), config)
    carry, traj = _np_rnn_batch(agent, 3)
    pre, x = np.asarray(carry.pre, np.float64), np.asarray(carry.x, np.float64)
    alive, reward = np.asarray(traj.alive), np.asarray(traj.reward, np.float64)
    mu = -0.3
    returns = (reward * alive).sum(axis=1)
    eligibility = np.zeros((3, 4, 4))
    for b in range(3):
        x_bar = np.zeros(4)
        for t in range(agent.spec.horizon):
            if alive[b, t]:
                eligibility[b] += np.outer(pre[t, b], x[t, b] - x_bar) ** 3
            x_bar = (1 - config.alpha_x) * x_bar + config.alpha_x * x[t, b]
    raw = config.eta * np.mean((returns - mu)[:, None, None] * eligibility, axis=0)
    max_dw = float(np.median(np.abs(raw)))  # half the entries clipped
    agent = node_perturbation_rnn(agent.spec, dataclasses.replace(config, max_dw=max_dw))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    state = state._replace(baseline=jnp.float32(mu))
    for learn in (agent.learn, jax.jit(agent.learn)):
        new_state, metrics = learn(state, carry, traj)
        dj = np.asarray(new_state.recurrent, np.float64) - np.asarray(state.recurrent, np.float64)
        np.testing.assert_allclose(dj, np.clip(raw, -max_dw, max_dw), rtol=2e-3, atol=1e-8)
        np.testing.assert_allclose(metrics["mean_abs_rpe"], np.abs(returns - mu), rtol=1e-5)
        np.testing.assert_allclose(metrics["reward_prediction"], [mu] * 3, rtol=1e-6)
        expected_mu = (1 - config.baseline_alpha) * mu + config.baseline_alpha * returns.mean()
        np.testing.assert_allclose(new_state.baseline, expected_mu, rtol=1e-5)
        np.testing.assert_array_equal(new_state.inputs, state.inputs)


@pytest.mark.slow
def test_node_perturbation_rnn_population_members_match_their_runs_alone():
    """vmap over two values of ``eta``: each member equals the agent run with its value."""
    import jax

    from agents.env_spec import make_env_spec
    from agents.node_perturbation_rnn import NodePerturbationConfig, node_perturbation_rnn

    spec = make_env_spec("PerceptualDecision-v0")
    agent = node_perturbation_rnn(spec, NodePerturbationConfig(n_units=5, max_dw=1e6))
    carry, traj = _np_rnn_batch(agent, 3, seed=1)
    key = jax.random.key(3)
    etas = jnp.asarray([0.1, 2.0])
    hp = {k: jnp.stack([v, v]) for k, v in agent.config.numeric_values().items()} | {"eta": etas}
    states = jax.vmap(agent.init, in_axes=(None, 0))(key, hp)
    states, metrics = jax.vmap(agent.learn, in_axes=(0, None, None))(states, carry, traj)
    init_alone = [agent.init(key, jax.tree.map(lambda v, i=i: v[i], hp)) for i in range(2)]
    for i, state in enumerate(init_alone):
        alone, alone_metrics = agent.learn(state, carry, traj)
        np.testing.assert_allclose(states.recurrent[i], alone.recurrent, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(states.baseline[i], alone.baseline, rtol=1e-6)
        np.testing.assert_allclose(metrics["mean_abs_rpe"][i], alone_metrics["mean_abs_rpe"], rtol=1e-6)
    # No clipping here, so the members' steps differ by the ratio of their etas.
    dj = np.asarray(states.recurrent) - np.stack([np.asarray(s.recurrent) for s in init_alone])
    np.testing.assert_allclose(dj[1], 20.0 * dj[0], rtol=1e-3, atol=1e-6)


def test_node_perturbation_rnn_rejects_envs_it_cannot_run():
    import gymnasium as gym

    from agents.env_spec import make_env_spec
    from agents.node_perturbation_rnn import NodePerturbationConfig, node_perturbation_rnn

    with pytest.raises(TypeError, match="env: expected a trial-based task"):
        node_perturbation_rnn(make_env_spec("CartPole-v1"))
    spec = make_env_spec("PerceptualDecision-v0")
    with pytest.raises(TypeError, match="env: expected a JAX-native trial-based task"):
        node_perturbation_rnn(spec._replace(jax_env=None))
    with pytest.raises(ValueError, match="env: expected a Box action space"):
        node_perturbation_rnn(spec._replace(action_space=gym.spaces.Discrete(2)))
    with pytest.raises(ValueError, match="perturbation_rate"):
        node_perturbation_rnn(spec, NodePerturbationConfig(perturbation_rate=1000.0))
    with pytest.raises(ValueError, match="eta"):
        NodePerturbationConfig(eta=-0.1)
    with pytest.raises(TypeError, match="n_units"):
        NodePerturbationConfig(n_units=20.5)
