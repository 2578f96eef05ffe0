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


def test_policy_heads_give_each_error_cells_raw_derivative():
    """Each head's postsynaptic signal against its closed form, on (episodes, T, n_out)."""
    import gymnasium as gym
    import jax

    from agents.policy_gradient import _make_head

    rng = np.random.default_rng(0)
    key = jax.random.key(0)
    bernoulli = _make_head(gym.spaces.Discrete(2), 0.3, "env")
    y, a = jax.random.normal(key, (3, 5, 1)), jnp.asarray(rng.integers(0, 2, (3, 5)))
    np.testing.assert_allclose(bernoulli.raw_post(y, a), a[..., None] - jax.nn.sigmoid(y), atol=1e-6)
    categorical = _make_head(gym.spaces.Discrete(4), 0.3, "env")
    y, a = jax.random.normal(key, (3, 5, 4)), jnp.asarray(rng.integers(0, 4, (3, 5)))
    np.testing.assert_allclose(
        categorical.raw_post(y, a), jax.nn.one_hot(a, 4) - jax.nn.softmax(y), atol=1e-6
    )
    gaussian = _make_head(gym.spaces.Box(-1.0, 1.0, (2,)), 0.3, "env")
    y = jax.random.normal(key, (3, 5, 2))
    np.testing.assert_allclose(gaussian.raw_post(y, y + 0.1), 0.1 / 0.3**2 * np.ones((3, 5, 2)), rtol=1e-4)
    with pytest.raises(ValueError, match=r"Pendulum-v1.*Discrete, Box with finite bounds"):
        _make_head(gym.spaces.MultiDiscrete([2, 2]), 0.3, "Pendulum-v1")


def test_node_perturbation_rnn_learns_the_perceptual_decision_task():
    """Chance is 50%; kicks found by the cubed eligibility and an RPE get it well above."""
    import jax

    from agents.node_perturbation_rnn import NodePerturbationRNN
    from envs.perceptual_decision import PerceptualDecision

    agent = NodePerturbationRNN(PerceptualDecision())
    state = agent.init(jax.random.key(0))
    before = float(agent.evaluate(state, jax.random.key(7), 256))
    state, metrics = jax.jit(agent.train, static_argnums=2)(state, jax.random.key(1), 400)
    after = float(jax.jit(agent.evaluate, static_argnums=2)(state, jax.random.key(7), 512))
    assert metrics["accuracy"].shape == (400,)
    assert np.all(np.isfinite(np.asarray(state.recurrent)))
    assert before < 0.65 and after > 0.8, (before, after)


def test_node_perturbation_rnn_rejects_envs_it_cannot_run():
    import gymnasium as gym

    from agents.node_perturbation_rnn import NodePerturbationRNN
    from envs import CartPole, PerceptualDecision

    with pytest.raises(TypeError, match="env: expected a trial-based task"):
        NodePerturbationRNN(CartPole())
    task = PerceptualDecision()
    task.action_space = gym.spaces.Discrete(2)
    with pytest.raises(ValueError, match="env: expected a Box action space"):
        NodePerturbationRNN(task)
