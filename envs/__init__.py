"""envs: Gymnasium wrappers that feed rewards and episode ends into rpe cells, observation
encoders, action decoders, and JAX-native environments for the fully jitted path."""

from envs.acrobot import Acrobot, AcrobotParams
from envs.bandit import Bandit
from envs.cartpole import CartPole, CartPoleParams
from envs.checks import env_name, finite_rewards
from envs.conditioning import Conditioning, ConditioningParams
from envs.context_integration import ContextIntegration, ContextIntegrationParams, ContextIntegrationState
from envs.decoders import SUPPORTED_SPACES, Decoder, decoder_for
from envs.dnms import DelayedNonMatch, DelayedNonMatchParams, DelayedNonMatchState
from envs.functional import Timestep, env_reset, env_step, make
from envs.mountain_car import MountainCar, MountainCarParams
from envs.normalization import NormalizeObservation, RunningStats, normalize, running_stats, update_stats
from envs.partial_cartpole import CartPoleNoVelocity
from envs.perceptual_decision import (
    PerceptualDecision,
    PerceptualDecisionParams,
    PerceptualDecisionState,
    ResponseTask,
)
from envs.population_coding import PopulationCode, PopulationEncode, encode, population_code
from envs.registry import JAX_ENVS
from envs.reward_to_cell import RewardToCell, VectorRewardToCell
from envs.state_features import STATE_FEATURES, StateFeatures
from envs.trials import TrialsAsEpisodes, is_trial_env, trial_correct, trial_kind

__all__ = [
    "JAX_ENVS",
    "STATE_FEATURES",
    "SUPPORTED_SPACES",
    "Acrobot",
    "AcrobotParams",
    "Bandit",
    "CartPole",
    "CartPoleNoVelocity",
    "CartPoleParams",
    "Conditioning",
    "ConditioningParams",
    "ContextIntegration",
    "ContextIntegrationParams",
    "ContextIntegrationState",
    "Decoder",
    "DelayedNonMatch",
    "DelayedNonMatchParams",
    "DelayedNonMatchState",
    "MountainCar",
    "MountainCarParams",
    "NormalizeObservation",
    "PerceptualDecision",
    "PerceptualDecisionParams",
    "PerceptualDecisionState",
    "PopulationCode",
    "PopulationEncode",
    "ResponseTask",
    "RewardToCell",
    "RunningStats",
    "StateFeatures",
    "Timestep",
    "TrialsAsEpisodes",
    "VectorRewardToCell",
    "decoder_for",
    "encode",
    "env_name",
    "env_reset",
    "env_step",
    "finite_rewards",
    "is_trial_env",
    "make",
    "normalize",
    "population_code",
    "running_stats",
    "trial_correct",
    "trial_kind",
    "update_stats",
]
