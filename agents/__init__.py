"""agents: neuromodulated agents built from rpe cells, and their training loops.

Every agent learns by local rules gated by a reward prediction error; none uses autodiff.
Layers, importing downwards only: the contract (``agents.contract``, ``agents.env_spec``),
the families (``pg``, ``ac``, ``np-rnn``), the registry, the loop (rollouts, populations,
the trainer, the run folder).
"""

from agents.actor_critic import ActorCriticConfig, actor_critic
from agents.checkpoint import CheckpointError
from agents.contract import Agent, AgentConfig, EnvSpec, Trajectory, Transition, numeric, structural
from agents.env_spec import make_env_spec
from agents.node_perturbation_rnn import NodePerturbationConfig, node_perturbation_rnn
from agents.policy_gradient import PolicyGradientConfig, policy_gradient
from agents.registry import AGENTS, env_defaults, make_agent, register
from agents.td_critic import LinearTDCritic
from agents.training import TrainConfig, Trainer, resolve_config

__all__ = [
    "AGENTS",
    "ActorCriticConfig",
    "Agent",
    "AgentConfig",
    "CheckpointError",
    "EnvSpec",
    "LinearTDCritic",
    "NodePerturbationConfig",
    "PolicyGradientConfig",
    "TrainConfig",
    "Trainer",
    "Trajectory",
    "Transition",
    "actor_critic",
    "env_defaults",
    "make_agent",
    "make_env_spec",
    "node_perturbation_rnn",
    "numeric",
    "policy_gradient",
    "register",
    "resolve_config",
    "structural",
]
