"""Node-perturbation recurrent agent (Miconi 2017, eLife 6:e20899), on trial-based tasks.

A ``LeakyNoiseCell`` population of ``n_units`` tanh units (tau_x about 30 ms) runs in the
env's steps of ``dt`` ms::

    j_input = obs_t @ W_in,   j_recurrent = r_t-1 @ J,   x <- x + kick_t,   cell step
    z_t = r_t[:, 0]                                  (the readout: unit 0's rate, as in Miconi)

Exploration is Miconi's: each unit, independently, receives a *kick* to its state at
``perturbation_rate`` Hz, drawn uniformly from ``[-perturbation_size, perturbation_size]``.
Nothing downstream knows the kicks. The supralinear eligibility
(``rpe.supralinear_node_perturbation``) finds them as large deviations of ``x`` from its
running mean::

    E_b = sum_t (r_t-1 (x_t - x_bar_t)) ** 3      ((n_units, n_units) per trial b)

At each trial's end, the RPE gates the update::

    rpe_b = R_b - mu,   dJ = clip(eta * mean_b(rpe_b E_b), -max_dw, max_dw)

Here ``R_b`` is the trial's return (minus the mean error of the response) and ``mu`` is the
prediction of a ``RewardErrorCell``, updated with the mean return of each batch of
``trials_per_update`` trials. Only ``J`` learns; ``W_in`` stays fixed. Accuracy is measured
on trials without kicks (:meth:`NodePerturbationRNN.evaluate`).

Continuous Gaussian noise (the cell's ``sigma_pre``) did not learn the task in our trials.
The sparse, strong kicks are what make the cubed eligibility informative, as Miconi found.
Sizes: ``B`` trials, ``T`` steps, ``N`` units, ``n_in`` inputs.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from gymnasium import spaces

from envs.functional import env_reset, env_step
from rpe import LeakyNoiseCell, RewardErrorCell, supralinear_node_perturbation
from rpe.validation import check_positive_int, check_real

__all__ = ["NodePerturbationConfig", "NodePerturbationRNN", "NodePerturbationRNNState", "TrialBatch"]


@dataclasses.dataclass(frozen=True)
class NodePerturbationConfig:
    """Hyperparameters (defaults: Miconi's, with batches of trials and dt = the env's)."""

    n_units: int = 200
    tau_x: float = 30.0
    gain: float = 1.5
    perturbation_rate: float = 3.0
    perturbation_size: float = 16.0
    eta: float = 0.3
    max_dw: float = 3e-4
    alpha_x: float = 0.05
    baseline_alpha: float = 0.3
    trials_per_update: int = 16


class NodePerturbationRNNState(NamedTuple):
    """Recurrent weights ``J (N, N)`` (pre, post), input weights ``W_in (n_in, N)``, and the
    baseline RewardErrorCell's state."""

    recurrent: jax.Array
    inputs: jax.Array
    baseline: tuple


class TrialBatch(NamedTuple):
    """One batch of trials: ``returns (B,)``, ``correct (B,)``, and the sequences the rule
    reads, ``pre (T, B, N)`` (rates of the step before) and ``x (T, B, N)`` (states)."""

    returns: jax.Array
    correct: jax.Array
    pre: jax.Array
    x: jax.Array


class NodePerturbationRNN:
    """A recurrent agent for trial-based tasks such as ``envs.PerceptualDecision``.

    Args:
      env: a FuncEnv with a ``Box`` observation, a ``Box(shape=(1,))`` action, and the
        trial interface of ``envs.PerceptualDecision`` (``dt``, ``trial_steps``,
        ``in_response(time)``, ``target(state)``).
      config: a :class:`NodePerturbationConfig`.
    """

    def __init__(self, env, config: NodePerturbationConfig = NodePerturbationConfig()):
        for attribute in ("dt", "trial_steps", "in_response", "target"):
            if not hasattr(env, attribute):
                raise TypeError(
                    f"env: expected a trial-based task with {attribute!r} (like envs.PerceptualDecision), "
                    f"got {type(env).__name__}"
                )
        if not isinstance(env.action_space, spaces.Box) or env.action_space.shape != (1,):
            raise ValueError(f"env: expected a Box action space of shape (1,), got {env.action_space}")
        if not isinstance(env.observation_space, spaces.Box) or len(env.observation_space.shape) != 1:
            raise ValueError(f"env: expected a flat Box observation space, got {env.observation_space}")
        self.env, self.config = env, config
        n = check_positive_int("n_units", config.n_units)
        check_positive_int("trials_per_update", config.trials_per_update)
        for name in ("gain", "perturbation_rate", "perturbation_size", "eta", "max_dw"):
            check_real(name, getattr(config, name), low=0.0)
        self.n_inputs = env.observation_space.shape[0]
        self.kick_probability = config.perturbation_rate * env.dt / 1000.0
        if self.kick_probability > 1.0:
            raise ValueError(
                f"perturbation_rate: {config.perturbation_rate} Hz at dt={env.dt} ms gives more than "
                "one kick per step"
            )
        self.cell = LeakyNoiseCell("rnn", n, tau_x=config.tau_x, act_fx="tanh", sigma_pre=0.0)
        self.rule = supralinear_node_perturbation(
            config.eta, alpha_x=config.alpha_x, signal="reward", reduce="mean"
        )
        self.baseline_cell = RewardErrorCell("baseline", 1, alpha=config.baseline_alpha)

    def init(self, key: jax.Array) -> NodePerturbationRNNState:
        """``J ~ N(0, gain^2 / N)``, ``W_in ~ U(-1, 1)``, a baseline predicting 0."""
        n = self.config.n_units
        key_j, key_in = jax.random.split(key)
        return NodePerturbationRNNState(
            recurrent=jax.random.normal(key_j, (n, n)) * self.config.gain / jnp.sqrt(n),
            inputs=jax.random.uniform(key_in, (self.n_inputs, n), minval=-1.0, maxval=1.0),
            baseline=self.baseline_cell.init_state(1),
        )

    def run_trials(self, state, key: jax.Array, n_trials: int, perturb: bool = True) -> TrialBatch:
        """Run ``n_trials`` trials in parallel, with or without the exploratory kicks."""
        env, cell, p = self.env, self.cell, self.kick_probability
        size = self.config.perturbation_size
        key_reset, key_run = jax.random.split(key)
        env_states, obs = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key_reset, n_trials))
        targets = jax.vmap(env.target)(env_states)

        def step(carry, inputs):
            cell_state, env_states, obs = carry
            time, key = inputs
            key_kick, key_cell, key_env = jax.random.split(key, 3)
            r_prev = cell_state.r
            cell_state = cell.set(
                cell_state, j_input=obs @ state.inputs, j_recurrent=r_prev @ state.recurrent
            )
            if perturb:
                u = jax.random.uniform(key_kick, cell_state.x.shape)
                kick = jnp.where(u < p, size * (2.0 * u / p - 1.0), 0.0)
                cell_state = cell_state._replace(x=cell_state.x + kick)
            cell_state = cell.step(cell_state, env.dt, key_cell)
            z = cell_state.r[:, :1]
            env_states, ts = jax.vmap(lambda s, a, k: env_step(env, s, a, k))(
                env_states, z, jax.random.split(key_env, n_trials)
            )
            response = jnp.where(env.in_response(time), z[:, 0], 0.0)
            return (cell_state, env_states, ts.obs), (ts.reward, response, r_prev, cell_state.x)

        steps = jnp.arange(env.trial_steps)
        carry = (cell.init_state(n_trials), env_states, obs)
        _, (rewards, response, pre, x) = jax.lax.scan(
            step, carry, (steps, jax.random.split(key_run, env.trial_steps))
        )
        correct = jnp.sign(response.sum(0)) == targets
        return TrialBatch(rewards.sum(0), correct, pre, x)

    def update(self, state, key: jax.Array) -> tuple[NodePerturbationRNNState, dict]:
        """One batch of perturbed trials and the RPE-gated update of ``J``.

        Returns the new state and ``{"accuracy", "mean_return", "mean_abs_rpe",
        "reward_prediction"}`` (scalars; accuracy of the perturbed trials)."""
        batch = self.run_trials(state, key, self.config.trials_per_update, perturb=True)
        mu = state.baseline.mu[0, 0]
        eligibility = self.rule.accumulate_trial(
            self.rule.init(self.config.trials_per_update, self.config.n_units, self.config.n_units),
            batch.pre,
            batch.x,
        )
        dw, _ = self.rule.update(eligibility, batch.returns, mu)
        dw = jnp.clip(dw, -self.config.max_dw, self.config.max_dw)
        mean_return = batch.returns.mean()
        baseline = self.baseline_cell.step(
            self.baseline_cell.set(state.baseline, reward=jnp.reshape(mean_return, (1, 1)))
        )
        metrics = {
            "accuracy": batch.correct.mean(),
            "mean_return": mean_return,
            "mean_abs_rpe": jnp.abs(batch.returns - mu).mean(),
            "reward_prediction": mu,
        }
        return state._replace(recurrent=state.recurrent + dw, baseline=baseline), metrics

    def train(self, state, key: jax.Array, n_updates: int) -> tuple[NodePerturbationRNNState, dict]:
        """``n_updates`` updates rolled by ``lax.scan`` (jit it); metrics come back as
        arrays ``(n_updates,)``. Update ``u`` uses ``fold_in(key, u)``."""

        def body(state, u):
            return self.update(state, jax.random.fold_in(key, u))

        return jax.lax.scan(body, state, jnp.arange(n_updates))

    def evaluate(self, state, key: jax.Array, n_trials: int = 512) -> jax.Array:
        """Fraction of correct trials without kicks."""
        return self.run_trials(state, key, n_trials, perturb=False).correct.mean()
