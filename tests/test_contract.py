"""The agent contract: a new agent is one file plus one registry line, hyperparameters are
validated configs with a vmappable numeric part, and the env spec is built once per run."""

import dataclasses
import sys
import textwrap

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import (
    AGENTS,
    Agent,
    AgentConfig,
    TrainConfig,
    Trainer,
    make_env_spec,
    numeric,
    register,
    structural,
)
from agents.contract import EnvSpec
from agents.policy_gradient import PolicyGradientConfig
from agents.registry import env_defaults


# ----------------------------------------------------------------- a tiny agent, defined here
@dataclasses.dataclass(frozen=True)
class ConstantConfig(AgentConfig):
    """Always push right with probability ``p_right``; count steps in ``learn``."""

    p_right: float = numeric(1.0, low=0.0, high=1.0)
    unused_width: int = structural(3, low=1)


def constant_agent(spec: EnvSpec, config: ConstantConfig) -> Agent:
    def init(key, hp):
        zero = jnp.zeros((), jnp.float32)
        return {
            "updates": jnp.zeros((), jnp.int32),
            "steps_seen": zero,
            "observe_calls": zero,
            "hp": dict(hp),
        }

    def act(state, carry, obs, key):
        right = jax.random.bernoulli(key, state["hp"]["p_right"], obs.shape[:1])
        return right.astype(jnp.int32), carry

    def greedy(state, carry, obs):
        return jnp.ones(obs.shape[:1], jnp.int32), carry

    def observe(state, carry, transition):
        seen = {
            "steps_seen": state["steps_seen"] + transition.alive.sum(),
            "observe_calls": state["observe_calls"] + 1,
        }
        return {**state, **seen}, carry + transition.alive

    def learn(state, carry, traj):
        return {**state, "updates": state["updates"] + 1}, {"steps_counted": carry}

    return Agent(
        "constant",
        config,
        spec,
        init,
        lambda state, n: jnp.zeros((n,), jnp.float32),
        act,
        greedy,
        observe,
        learn,
    )


@pytest.fixture
def constant_registered():
    register("constant", ConstantConfig, constant_agent, "test agent")
    yield
    AGENTS.pop("constant")


@pytest.mark.parametrize("path", ["jit", "python"])
def test_a_new_agent_is_one_file_and_one_registry_line(tmp_path, constant_registered, path):
    config = TrainConfig(
        agent="constant", episodes=6, num_envs=3, path=path, out=str(tmp_path), stop_when_solved=False
    )
    result = Trainer(config).run(progress=False)
    rows = result["metrics"]
    # Always pushing right topples CartPole within 8-11 steps (the env's physics); observe
    # saw every step and learn ran once per batch.
    assert len(rows) == 6 and all(8 <= r["steps"] <= 11 for r in rows)
    assert [r["steps_counted"] for r in rows] == [float(r["steps"]) for r in rows]
    assert int(result["state"]["updates"]) == 2
    assert float(result["state"]["steps_seen"]) == sum(r["steps"] for r in rows)
    # A batch stops once all its episodes have ended: as many steps as its longest episode,
    # not the 500-step time limit.
    longest = [max(r["steps"] for r in rows[k : k + 3]) for k in (0, 3)]
    assert float(result["state"]["observe_calls"]) == sum(longest)


def test_a_population_sweeps_any_numeric_hyperparameter(tmp_path, constant_registered):
    config = TrainConfig(
        agent="constant",
        episodes=8,
        num_envs=4,
        population=2,
        sweep=(("p_right", (0.0, 1.0)),),
        out=str(tmp_path),
    )
    result = Trainer(config).run(progress=False)
    np.testing.assert_array_equal(result["state"]["hp"]["p_right"], [0.0, 1.0])
    # Always left and always right both topple the pole in 8-11 steps.
    assert all(8 <= r["steps"] <= 11 for member in result["metrics"] for r in member)
    with pytest.raises(ValueError, match="'unused_width' is a structural hyperparameter"):
        Trainer(dataclasses.replace(config, sweep=(("unused_width", (1, 2)),)))


# ----------------------------------------------------------------- configs
def test_configs_validate_themselves_and_parse_text():
    with pytest.raises(ValueError, match=r"gamma: expected a value in \[0, 1\], got 1.5"):
        PolicyGradientConfig(gamma=1.5)
    with pytest.raises(TypeError, match="eta: expected a real number"):
        PolicyGradientConfig(eta="0.1")
    with pytest.raises(TypeError, match="unused_width: expected an int"):
        ConstantConfig(unused_width=2.5)
    with pytest.raises(ValueError, match="unused_width: expected an int >= 1"):
        ConstantConfig(unused_width=0)
    config = PolicyGradientConfig.from_strings({"eta": "0.2", "gamma": "0.9"})
    assert (config.eta, config.gamma) == (0.2, 0.9)
    with pytest.raises(
        ValueError, match=r"nope: not a hyperparameter of PolicyGradientConfig; expected one of"
    ):
        PolicyGradientConfig.from_strings({"nope": "1"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.eta = 1.0
    assert ConstantConfig.kinds() == {"p_right": "numeric", "unused_width": "structural"}
    values = PolicyGradientConfig().numeric_values()
    assert set(values) == {"eta", "gamma", "baseline_alpha", "action_sigma", "obs_clip"}
    assert all(v.dtype == jnp.float32 and v.shape == () for v in values.values())


def test_a_field_without_a_kind_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Sloppy(AgentConfig):
        rate: float = 0.1

    with pytest.raises(TypeError, match=r"Sloppy\.rate: declare it with agents\.contract\.numeric"):
        Sloppy()


# ----------------------------------------------------------------- env specs
def test_the_env_spec_of_a_twin_matches_its_gymnasium_env():
    spec = make_env_spec("MountainCar-v0")
    assert spec.horizon == 200 and spec.reward_threshold == -110.0 and spec.jax_env is not None
    assert spec.to_env(np.asarray(spec.bound(jnp.asarray(2)))) == 2
    spec = make_env_spec("PerceptualDecision-v0")  # a JAX-native env that Gymnasium does not register
    assert spec.horizon == spec.jax_env.trial_steps + 1 and spec.reward_threshold is None
    np.testing.assert_allclose(spec.bound(jnp.asarray([[0.3]])), np.tanh([[0.3]]), rtol=1e-6)  # Box(-1, 1)


def test_a_twin_that_disagrees_with_its_gymnasium_env_is_refused(monkeypatch):
    from envs.cartpole import CartPole

    monkeypatch.setattr(CartPole, "max_episode_steps", 200)
    with pytest.raises(
        ValueError, match="JAX twin of CartPole-v1 has a time limit of 200 steps, Gymnasium's 500"
    ):
        make_env_spec("CartPole-v1")


def test_module_colon_env_id_imports_the_module_that_registers_it(tmp_path, monkeypatch):
    (tmp_path / "my_rpe_envs.py").write_text(
        textwrap.dedent(
            """
            import gymnasium as gym
            gym.register("ShortCartPole-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv",
                         max_episode_steps=20, reward_threshold=19.0)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = TrainConfig(
        env="my_rpe_envs:ShortCartPole-v0", episodes=4, num_envs=2, out=str(tmp_path / "run")
    )
    trainer = Trainer(config)
    assert trainer.path == "python" and trainer.spec.horizon == 20 and trainer.agent.name == "pg"
    result = trainer.run(progress=False)
    assert len(result["metrics"]) == 4 and all(r["steps"] <= 20 for r in result["metrics"])
    sys.modules.pop("my_rpe_envs", None)
    gym.registry.pop("ShortCartPole-v0", None)


def test_the_tuned_defaults_pick_an_agent_per_env():
    from agents.training import resolve_config

    assert Trainer(TrainConfig(env="Acrobot-v1")).agent.name == "pc-ac"  # what the trainer builds
    assert resolve_config(TrainConfig(env="MountainCar-v0")).agent == "ac"
    assert resolve_config(TrainConfig(env="CartPole-v1")).agent == "pc-ac"
    assert resolve_config(TrainConfig(env="Pendulum-v1")).agent == "pc-ac"
    assert env_defaults("AnyUnlistedEnv-v0") == ("pg", {}, 8)  # not listed: pg with its defaults


def test_an_agents_table_in_the_defaults_applies_whenever_that_agent_runs():
    from agents.training import resolve_config

    own = resolve_config(TrainConfig(env="CartPole-v1"))
    assert (own.agent, own.num_envs, own.agent_config.temperature) == ("pc-ac", 1, 1.0)
    other = resolve_config(TrainConfig(agent="pg", env="CartPole-v1"))
    assert other.num_envs == 8 and other.agent_config == PolicyGradientConfig()
    chosen = resolve_config(TrainConfig(agent="pc-ac", env="Acrobot-v1", num_envs=3))
    assert chosen.num_envs == 3 and chosen.agent_config.temperature == 4.0  # the table, then the call


def test_an_agent_that_does_not_observe_is_not_called_after_each_step(tmp_path):
    """``observes=False`` (batch learners such as pg): the loop skips ``observe`` on both
    paths, and ``learn`` still runs once per batch."""
    register(
        "batch-only",
        ConstantConfig,
        lambda spec, config: constant_agent(spec, config)._replace(observes=False),
    )
    try:
        for path in ("jit", "python"):
            config = TrainConfig(
                agent="batch-only",
                episodes=6,
                num_envs=3,
                path=path,
                out=str(tmp_path / path),
                stop_when_solved=False,
            )
            state = Trainer(config).run(progress=False)["state"]
            assert float(state["observe_calls"]) == 0.0 and int(state["updates"]) == 2
    finally:
        AGENTS.pop("batch-only")
