"""envs: Gymnasium wrappers that feed rewards and episode ends into rpe cells, observation
encoders, action decoders, and JAX-native environments for the fully jitted path."""

from envs.acrobot import Acrobot, AcrobotParams
from envs.bandit import Bandit
from envs.cartpole import CartPole, CartPoleParams
from envs.checks import env_name, finite_rewards
from envs.conditioning import Conditioning, ConditioningParams
from envs.decoders import SUPPORTED_SPACES, Decoder, decoder_for
from envs.functional import Timestep, env_reset, env_step, make
from envs.mountain_car import MountainCar, MountainCarParams
from envs.normalization import NormalizeObservation, RunningStats, normalize, running_stats, update_stats
from envs.perceptual_decision import PerceptualDecision, PerceptualDecisionState
from envs.population_coding import PopulationCode, PopulationEncode, encode, population_code
from envs.registry import JAX_ENVS
from envs.reward_to_cell import RewardToCell, VectorRewardToCell
from envs.state_features import STATE_FEATURES, StateFeatures

__all__ = [
    "JAX_ENVS",
    "STATE_FEATURES",
    "SUPPORTED_SPACES",
    "Acrobot",
    "AcrobotParams",
    "Bandit",
    "CartPole",
    "CartPoleParams",
    "Conditioning",
    "ConditioningParams",
    "Decoder",
    "MountainCar",
    "MountainCarParams",
    "NormalizeObservation",
    "PerceptualDecision",
    "PerceptualDecisionState",
    "PopulationCode",
    "PopulationEncode",
    "RewardToCell",
    "RunningStats",
    "StateFeatures",
    "Timestep",
    "VectorRewardToCell",
    "decoder_for",
    "encode",
    "env_name",
    "env_reset",
    "env_step",
    "finite_rewards",
    "make",
    "normalize",
    "population_code",
    "running_stats",
    "update_stats",
]
