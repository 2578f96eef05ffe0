"""The agents by name, and the tuned defaults per env (``agents/defaults.toml``).

A new agent is one module (a config class deriving ``agents.contract.AgentConfig`` and a
``build(spec, config) -> Agent``) plus one line in :data:`AGENTS`, or a call of
:func:`register`.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Callable
from typing import NamedTuple

from agents.actor_critic import ActorCriticConfig, actor_critic
from agents.contract import Agent, AgentConfig, EnvSpec
from agents.eprop_rnn import EpropRNNConfig, eprop_rnn
from agents.node_perturbation_rnn import NodePerturbationConfig, node_perturbation_rnn
from agents.pc_actor_critic import PCActorCriticConfig, pc_actor_critic
from agents.policy_gradient import PolicyGradientConfig, policy_gradient

__all__ = [
    "AGENTS",
    "DEFAULT_AGENT",
    "DEFAULT_NUM_ENVS",
    "EnvDefaults",
    "Family",
    "env_defaults",
    "make_agent",
    "register",
]


class Family(NamedTuple):
    """An agent family: its config class, its builder and one line saying what it is."""

    config: type[AgentConfig]
    build: Callable[[EnvSpec, AgentConfig], Agent]
    summary: str


AGENTS: dict[str, Family] = {
    "pg": Family(PolicyGradientConfig, policy_gradient, "linear policy, REINFORCE by a three-factor rule"),
    "ac": Family(
        ActorCriticConfig, actor_critic, "tile-coded actor-critic, TD RPE, predictive-coding world model"
    ),
    "pc-ac": Family(
        PCActorCriticConfig, pc_actor_critic, "RateCell-population actor-critic, MAP-propagation settling"
    ),
    "np-rnn": Family(
        NodePerturbationConfig, node_perturbation_rnn, "recurrent LeakyNoiseCell net, node perturbation"
    ),
    "eprop-rnn": Family(EpropRNNConfig, eprop_rnn, "recurrent LeakyNoiseCell net, online e-prop / RFLO"),
}
DEFAULT_AGENT = "pg"
DEFAULT_NUM_ENVS = 8


class EnvDefaults(NamedTuple):
    """An env's entry in ``defaults.toml``: the agent, its tuned hyperparameters (``{name:
    value}``, the rest at the agent's defaults) and the episodes per update."""

    agent: str
    hyperparameters: dict
    num_envs: int


def register(
    name: str, config: type[AgentConfig], build: Callable[[EnvSpec, AgentConfig], Agent], summary=""
):
    """Add an agent family under ``name`` (the train command and ``Trainer`` find it)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty str, got {name!r}")
    if not (isinstance(config, type) and issubclass(config, AgentConfig)):
        raise TypeError(f"config: expected a subclass of agents.contract.AgentConfig, got {config!r}")
    AGENTS[name] = Family(config, build, summary)


def family(name: str) -> Family:
    if name not in AGENTS:
        raise ValueError(f"agent: unknown agent {name!r}; expected one of {sorted(AGENTS)}")
    return AGENTS[name]


def make_agent(name: str, spec: EnvSpec, config: AgentConfig | None = None) -> Agent:
    """Build agent ``name`` for ``spec`` (its default config unless given)."""
    fam = family(name)
    config = config if config is not None else fam.config()
    if not isinstance(config, fam.config):
        raise TypeError(f"config: agent {name!r} takes a {fam.config.__name__}, got {type(config).__name__}")
    return fam.build(spec, config)


def _load_defaults() -> dict:
    text = importlib.resources.files("agents").joinpath("defaults.toml").read_text()
    return tomllib.loads(text)


def env_defaults(env_id: str, agent: str | None = None) -> EnvDefaults:
    """The tuned settings of ``agent`` (default: the env's own agent) on ``env_id`` from
    ``defaults.toml``: the agent's sub-table of hyperparameters, whose ``num_envs`` (if any)
    sets the episodes per update; else the env's ``num_envs`` for its own agent. For an env
    it does not list, :data:`DEFAULT_AGENT` with its defaults and :data:`DEFAULT_NUM_ENVS`."""
    entry = _load_defaults().get(env_id, {})
    own = entry.get("agent", DEFAULT_AGENT)
    agent = agent or own
    table = dict(entry.get(agent, {}))
    fallback = entry.get("num_envs", DEFAULT_NUM_ENVS) if agent == own else DEFAULT_NUM_ENVS
    return EnvDefaults(agent, table, int(table.pop("num_envs", fallback)))
