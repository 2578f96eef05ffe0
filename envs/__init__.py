"""envs: Gymnasium wrappers that feed rewards and episode ends into rpe cells, observation
encoders, action decoders, and JAX-native environments for the fully jitted path."""

from envs.checks import env_name, finite_rewards
from envs.decoders import SUPPORTED_SPACES, Decoder, decoder_for
from envs.normalization import NormalizeObservation, RunningStats, normalize, running_stats, update_stats
from envs.population_coding import PopulationCode, PopulationEncode, encode, population_code
from envs.reward_to_cell import RewardToCell, VectorRewardToCell

__all__ = [
    "SUPPORTED_SPACES",
    "Decoder",
    "NormalizeObservation",
    "PopulationCode",
    "PopulationEncode",
    "RewardToCell",
    "RunningStats",
    "VectorRewardToCell",
    "decoder_for",
    "encode",
    "env_name",
    "finite_rewards",
    "normalize",
    "population_code",
    "running_stats",
    "update_stats",
]
