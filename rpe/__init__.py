"""rpe: graded cells, reward prediction errors and local learning in JAX.

Cells, synapses and local learning rules (Hebbian, three-factor with eligibility traces,
node perturbation). The cells follow ngc-learn's graded (non-spiking) neurons, with a pure functional core
(``init_state`` / ``step`` / ``set``) under an object shell (``advance_state``, ``reset``,
``batched_reset``, ``evolve``, ``help`` and compartments by name).
"""

from rpe import functional
from rpe.activations import ACTIVATIONS, get_activation
from rpe.bernoulli_error_cell import BernoulliErrorCell
from rpe.categorical_error_cell import CategoricalErrorCell
from rpe.cell import Cell, Compartment, CompartmentView
from rpe.gaussian_error_cell import GaussianErrorCell
from rpe.hebbian import hebbian
from rpe.integrators import INTEGRATORS, get_integrator
from rpe.laplacian_error_cell import LaplacianErrorCell
from rpe.leaky_noise_cell import LeakyNoiseCell
from rpe.learning_rule import LearningRule, apply_update
from rpe.node_perturbation import node_perturbation, supralinear_node_perturbation
from rpe.priors import PRIORS, get_prior
from rpe.rate_cell import RateCell
from rpe.reward_error_cell import RewardErrorCell
from rpe.synapse import DenseParams, dense_forward, dense_init
from rpe.td_error_cell import TDErrorCell
from rpe.three_factor import three_factor
from rpe.thresholds import THRESHOLDS, get_threshold

__all__ = [
    "ACTIVATIONS",
    "INTEGRATORS",
    "PRIORS",
    "THRESHOLDS",
    "BernoulliErrorCell",
    "CategoricalErrorCell",
    "Cell",
    "Compartment",
    "CompartmentView",
    "DenseParams",
    "GaussianErrorCell",
    "LaplacianErrorCell",
    "LeakyNoiseCell",
    "LearningRule",
    "RateCell",
    "RewardErrorCell",
    "TDErrorCell",
    "apply_update",
    "dense_forward",
    "dense_init",
    "functional",
    "get_activation",
    "get_integrator",
    "get_prior",
    "get_threshold",
    "hebbian",
    "node_perturbation",
    "supralinear_node_perturbation",
    "three_factor",
]

__version__ = "0.1.0"
