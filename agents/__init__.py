"""agents: neuromodulated agents built from rpe cells, and their training loops.

Every agent learns by local rules gated by a reward prediction error; none uses autodiff.
"""

from agents.node_perturbation_rnn import NodePerturbationConfig, NodePerturbationRNN, NodePerturbationRNNState
from agents.policy_gradient import PolicyGradientAgent, PolicyGradientConfig, PolicyGradientState, Trajectory
from agents.registry import AGENTS, make_agent
from agents.td_critic import LinearTDCritic
from agents.training import TrainConfig, Trainer, load_checkpoint

__all__ = [
    "AGENTS",
    "LinearTDCritic",
    "NodePerturbationConfig",
    "NodePerturbationRNN",
    "NodePerturbationRNNState",
    "PolicyGradientAgent",
    "PolicyGradientConfig",
    "PolicyGradientState",
    "TrainConfig",
    "Trainer",
    "Trajectory",
    "load_checkpoint",
    "make_agent",
]
