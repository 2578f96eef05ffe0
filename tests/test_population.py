"""Populations: vmap over seeds and hyperparameters, sharded over devices, same results."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from agents.env_spec import make_env_spec
from agents.jit_training import make_train
from agents.population import init_population, population_keys, shard_population, unstack
from agents.registry import make_agent
from agents.training import TrainConfig, Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _setup():
    return make_agent("pg", make_env_spec("CartPole-v1"))


@pytest.mark.parametrize(("name", "values"), [("eta", (0.05, 0.2)), ("gamma", (0.9, 0.99))])
def test_a_vmapped_population_equals_its_members_trained_alone(name, values):
    """Any numeric hyperparameter: each member of the vmapped population equals the agent
    built with that value in its config and trained alone."""
    agent = _setup()
    train = make_train(agent, num_envs=2, n_updates=2)
    seeds = [0, 5]
    states = init_population(agent, seeds, {name: values})
    together, metrics = jax.jit(jax.vmap(train, in_axes=(0, 0, None)))(states, population_keys(seeds), 0)
    assert metrics["returns"].shape == (2, 2, 2)
    for k, (seed, value) in enumerate(zip(seeds, values, strict=True)):
        config = dataclasses.replace(agent.config, **{name: value})
        solo = make_agent("pg", agent.spec, config)
        alone, _ = jax.jit(make_train(solo, num_envs=2, n_updates=2))(
            solo.init(jax.random.key(seed), config.numeric_values()), jax.random.key(seed)
        )
        for x, y in zip(jax.tree.leaves(unstack(together, k)), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
    assert not np.allclose(unstack(together, 0).weights, unstack(together, 1).weights)


def test_population_input_errors_name_the_argument():
    agent = _setup()
    with pytest.raises(ValueError, match="'nope' is not a hyperparameter of agent 'pg'; sweepable: eta"):
        init_population(agent, [0, 1], {"nope": [0.9, 0.99]})
    with pytest.raises(ValueError, match="sweep: eta has 1 values for a population of 2"):
        init_population(agent, [0, 1], {"eta": [0.1]})
    with pytest.raises(ValueError, match="sweep: eta has 1 values for a population of 2"):
        Trainer(TrainConfig(agent="pg", population=2, sweep=(("eta", (0.1,)),)))
    with pytest.raises(ValueError, match="population: populations train on the jitted path"):
        Trainer(TrainConfig(agent="pg", population=2, path="python"))
    with pytest.raises(ValueError, match="cannot be split evenly"):
        shard_population(np.zeros((3, 2)), devices=[jax.devices()[0]] * 2)


def test_the_train_command_writes_one_metrics_file_per_member_and_a_summary(tmp_path):
    config = TrainConfig(
        agent="pg",
        episodes=16,
        num_envs=4,
        population=3,
        sweep=(("eta", (0.01, 0.05, 0.1)),),
        out=str(tmp_path),
    )
    result = Trainer(config).run(progress=False)
    assert len(result["metrics"]) == 3 and all(len(m) == 16 for m in result["metrics"])
    for k in range(3):
        assert (tmp_path / f"metrics-member{k}.csv").read_text().count("\n") == 17
    summary = (tmp_path / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("member,seed,eta,episodes") and len(summary) == 4
    assert summary[2].split(",")[:3] == ["1", "1", "0.05"]


SHARDED = textwrap.dedent(
    """
    import json, jax, numpy as np
    from agents.env_spec import make_env_spec
    from agents.jit_training import make_train
    from agents.population import init_population, population_keys, shard_population
    from agents.registry import make_agent
    agent = make_agent("pg", make_env_spec("CartPole-v1"))
    train = jax.jit(jax.vmap(make_train(agent, num_envs=2, n_updates=2), in_axes=(0, 0, None)))
    seeds = [0, 1, 2, 3]
    states, keys = init_population(agent, seeds, {"eta": [0.02, 0.05, 0.1, 0.2]}), population_keys(seeds)
    plain, _ = train(states, keys, 0)
    sharded, metrics = train(*shard_population((states, keys)), 0)
    print(json.dumps({
        "devices": len(jax.devices()),
        "output_devices": len(sharded.weights.sharding.device_set),
        "max_diff": max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                        for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(sharded))),
        "returns_equal": bool(np.allclose(metrics["returns"], _["returns"])),
    }))
    """
)


@pytest.mark.slow
def test_sharding_over_four_host_devices_gives_the_unsharded_results():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", SHARDED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4 and result["output_devices"] == 4
    assert result["max_diff"] < 1e-5 and result["returns_equal"]


def test_evaluate_picks_a_member_of_a_population_checkpoint(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import evaluate

    Trainer(TrainConfig(agent="pg", episodes=8, num_envs=4, population=2, out=str(tmp_path))).run(
        progress=False
    )
    returns = evaluate.evaluate(str(tmp_path / "checkpoint.npz"), episodes=3, member=1)
    assert returns.shape == (3,) and np.all(returns >= 1)  # CartPole pays 1 per step taken
    with pytest.raises(ValueError, match="member: expected 0 <= member < 2"):
        evaluate.evaluate(str(tmp_path / "checkpoint.npz"), episodes=1, member=2)
