"""The fully jitted path learns what the step-by-step Python loop learns."""

import jax
import jax.numpy as jnp
import numpy as np

from agents.jit_training import make_train, python_loop_train
from agents.registry import make_agent
from agents.training import TrainConfig, Trainer
from envs import CartPole


def _pg_on_cartpole():
    env = CartPole()
    agent = make_agent("pg", env.observation_space, env.action_space, horizon=env.max_episode_steps)
    return agent, env


def assert_trees_close(a, b, rtol=1e-4, atol=1e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def test_one_jitted_scan_learns_the_same_weights_as_the_python_loop():
    agent, env = _pg_on_cartpole()
    state, key = agent.init(jax.random.key(0)), jax.random.key(3)
    fused, metrics = jax.jit(make_train(agent, env, num_envs=4, n_updates=3))(state, key)
    looped, returns = python_loop_train(agent, env, state, key, num_envs=4, n_updates=3)
    np.testing.assert_allclose(metrics["returns"], returns, rtol=1e-6)
    assert_trees_close(fused, looped)
    assert float(jnp.max(jnp.abs(fused.weights - state.weights))) > 0  # it did learn something
    assert metrics["mean_abs_rpe"].shape == (3, 4)


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
