"""The fully jitted path learns what the step-by-step Python loop learns."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.env_spec import make_env_spec
from agents.jit_training import make_train, python_loop_train
from agents.registry import make_agent
from agents.training import TrainConfig, Trainer


def _init(agent, seed=0):
    return agent.init(jax.random.key(seed), agent.config.numeric_values())


def assert_trees_close(a, b, rtol=1e-4, atol=1e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.mark.slow
def test_one_jitted_scan_learns_the_same_weights_as_the_python_loop():
    agent = make_agent("pg", make_env_spec("CartPole-v1"))
    state, key = _init(agent), jax.random.key(3)
    fused, metrics = jax.jit(make_train(agent, num_envs=4, n_updates=3))(state, key)
    looped, returns = python_loop_train(agent, state, key, num_envs=4, n_updates=3)
    np.testing.assert_allclose(metrics["returns"], returns, rtol=1e-6)
    assert_trees_close(fused, looped)
    assert float(jnp.max(jnp.abs(fused.weights - state.weights))) > 0  # it did learn something
    assert metrics["mean_abs_rpe"].shape == (3, 4)


def test_an_online_learner_on_the_jitted_path_matches_the_step_by_step_loop():
    """ac learns after every step: the scan and one call per step give the same weights."""
    agent = make_agent("ac", make_env_spec("MountainCar-v0")._replace(horizon=40))
    state, key = _init(agent), jax.random.key(5)
    fused, metrics = jax.jit(make_train(agent, num_envs=3, n_updates=2))(state, key)
    looped, returns = python_loop_train(agent, state, key, num_envs=3, n_updates=2)
    np.testing.assert_allclose(metrics["returns"], returns, rtol=1e-6)
    assert_trees_close(fused, looped)
    assert float(jnp.max(jnp.abs(fused.critic))) > 0 and set(metrics) >= {"epistemic_reward", "mean_abs_rpe"}


def test_chunks_of_any_size_give_the_same_run(tmp_path):
    """Update u always uses fold_in(key, u): one call of 6 updates == six calls of one."""
    runs = []
    for per_call in (1, 6):
        config = TrainConfig(
            episodes=24,
            num_envs=4,
            updates_per_call=per_call,
            checkpoint_every=6,
            out=str(tmp_path / f"{per_call}"),
        )
        runs.append(Trainer(config).run(progress=False))
    assert [r["return"] for r in runs[0]["metrics"]] == [r["return"] for r in runs[1]["metrics"]]
    assert_trees_close(runs[0]["state"], runs[1]["state"])


@pytest.mark.slow
def test_stopping_a_batch_early_changes_nothing_for_an_online_learner():
    """ac on CartPole (episodes of different lengths, velocities bounded for the tile code):
    the early-stopping loop, the whole-horizon loop and the step-by-step loop agree."""
    import gymnasium as gym

    spec = make_env_spec("CartPole-v1")
    high = np.asarray([4.8, 4.0, 0.42, 4.0], np.float32)
    agent = make_agent("ac", spec._replace(observation_space=gym.spaces.Box(-high, high)))
    state, key = _init(agent), jax.random.key(7)
    early, m_early = jax.jit(make_train(agent, num_envs=4, n_updates=2))(state, key)
    whole, m_whole = jax.jit(make_train(agent, num_envs=4, n_updates=2, stop_early=False))(state, key)
    looped, returns = python_loop_train(agent, state, key, num_envs=4, n_updates=2)
    lengths = np.asarray(m_early["lengths"])
    assert len(set(lengths.ravel().tolist())) > 1 and lengths.max() < 500  # ends differ, all early
    np.testing.assert_array_equal(m_early["returns"], m_whole["returns"])
    np.testing.assert_allclose(m_early["returns"], returns, rtol=1e-6)
    assert_trees_close(early, whole, rtol=1e-6, atol=1e-7)
    assert_trees_close(early, looped)
    np.testing.assert_allclose(m_early["mean_abs_rpe"], m_whole["mean_abs_rpe"], rtol=1e-6)
