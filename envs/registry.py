"""The JAX-native environments by name (the names of their Gymnasium twins where any)."""

from __future__ import annotations

from envs.acrobot import Acrobot
from envs.bandit import Bandit
from envs.cartpole import CartPole
from envs.conditioning import Conditioning
from envs.context_integration import ContextIntegration
from envs.dnms import DelayedNonMatch
from envs.mountain_car import MountainCar
from envs.partial_cartpole import CartPoleNoVelocity
from envs.perceptual_decision import PerceptualDecision

__all__ = ["JAX_ENVS"]

JAX_ENVS = {
    "CartPole-v1": CartPole,
    "Acrobot-v1": Acrobot,
    "MountainCar-v0": MountainCar,
    "Bandit-v0": Bandit,
    "Conditioning-v0": Conditioning,
    "PerceptualDecision-v0": PerceptualDecision,
    "DelayedNonMatch-v0": DelayedNonMatch,
    "ContextIntegration-v0": ContextIntegration,
    "CartPoleNoVelocity-v1": CartPoleNoVelocity,
}
