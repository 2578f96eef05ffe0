"""The agents by name, for the train command."""

from __future__ import annotations

from agents.actor_critic import ActorCriticAgent
from agents.policy_gradient import PolicyGradientAgent

__all__ = ["AGENTS", "make_agent"]

AGENTS = {
    "pg": PolicyGradientAgent,
    "ac": ActorCriticAgent,
}


def make_agent(name: str, observation_space, action_space, env: str = "env", horizon: int = 500):
    """Build agent ``name`` for the given spaces and episode horizon (errors name the env)."""
    if name not in AGENTS:
        raise ValueError(f"agent: unknown agent {name!r}; expected one of {sorted(AGENTS)}")
    return AGENTS[name](observation_space, action_space, env=env, horizon=horizon)
