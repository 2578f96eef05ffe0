"""Error-cell policy gradient: REINFORCE with a learned baseline, by a three-factor rule.

A linear policy reads normalised observations ``x = [normalize(obs), 1]`` (running
statistics, ``envs.normalization``) through weights ``W (n_features, n_out)``. Its output
feeds an error cell whose ``target`` is the action taken:

==================  ======================  ==================================================
action space        error cell              raw postsynaptic signal ``d`` (modulator 1)
==================  ======================  ==================================================
Discrete(2)         BernoulliErrorCell      ``dp = a - sigmoid(y)`` (logits)
Discrete(n > 2)     CategoricalErrorCell    ``dlogits = onehot(a) - softmax(y)``
Box, finite bounds  GaussianErrorCell       ``dmu = (u - y) / sigma^2``, ``u = y + sigma eps``,
                                            the action ``squash(u)`` into the bounds
==================  ======================  ==================================================

At the end of a batch of episodes, each step's return-to-go
``G_t = sum_k gamma^k r_t+k`` is compared with a ``RewardErrorCell`` baseline that has one
unit per time step of the episode (``horizon`` units): unit ``t`` learns, as an EMA over
batches, the return expected from step ``t``. The RPE ``G_t - mu_t`` is divided by a running
estimate of its own spread (an adaptive gain, as dopamine neurons rescale their responses
to the range of rewards on offer: Tobler, Fiorillo & Schultz 2005) and gates the
three-factor rule
``dW = eta * mean_episodes(sum_t x_t^T (rpe_t * d_t))`` (``rpe.three_factor`` with
pre = ``x_t``, post = ``d_t``, modulator = the scaled RPE). That is REINFORCE with a
baseline (Williams 1992), without backprop.

Episodes are padded to the time limit with an ``alive`` mask, so one ``learn`` serves the
fully jitted path and the Python loop.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from envs.normalization import RunningStats, normalize, running_stats, update_stats
from rpe import (
    BernoulliErrorCell,
    CategoricalErrorCell,
    GaussianErrorCell,
    RewardErrorCell,
    apply_update,
    three_factor,
)
from rpe.validation import check_positive_int, check_real

__all__ = ["PolicyGradientAgent", "PolicyGradientConfig", "PolicyGradientState", "Trajectory"]


@dataclasses.dataclass(frozen=True)
class PolicyGradientConfig:
    """Hyperparameters (validated by :class:`PolicyGradientAgent`)."""

    eta: float = 0.05
    gamma: float = 0.99
    baseline_alpha: float = 0.05
    action_sigma: float = 0.3
    obs_clip: float = 5.0


class PolicyGradientState(NamedTuple):
    """Everything the agent learns: weights, observation statistics, baseline, RPE gain; and
    its learning rate ``eta`` (a leaf, so populations can vmap over it)."""

    weights: jax.Array
    obs_stats: RunningStats
    baseline: tuple
    return_var: jax.Array
    eta: jax.Array


class Trajectory(NamedTuple):
    """A batch of episodes padded to ``T`` steps: shapes ``(episodes, T, ...)``."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    alive: jax.Array


class _Head(NamedTuple):
    n_out: int
    sample: object
    raw_post: object
    to_env: object


class PolicyGradientAgent:
    """REINFORCE by an error cell and a three-factor rule; see the module docstring.

    Args:
      observation_space: a 1-D Box.
      action_space: Discrete, or Box with finite bounds.
      config: hyperparameters.
      env: the env's name, for error messages.
    """

    name = "pg"

    def __init__(
        self,
        observation_space,
        action_space,
        config: PolicyGradientConfig | None = None,
        env="env",
        horizon=500,
    ):
        """Build the agent for the given spaces and episode horizon; errors name ``env``."""
        config = config or PolicyGradientConfig()
        check_real("eta", config.eta, low=0.0)
        check_real("gamma", config.gamma, low=0.0, high=1.0)
        check_real("baseline_alpha", config.baseline_alpha, low=0.0, high=1.0, low_open=True)
        check_real("action_sigma", config.action_sigma, low=0.0, low_open=True)
        check_real("obs_clip", config.obs_clip, low=0.0, low_open=True)
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(
                f"{env}: the pg agent needs a 1-D Box observation space, got {observation_space}"
            )
        self.config = config
        self.obs_dim = int(observation_space.shape[0])
        self.n_features = self.obs_dim + 1
        self.head = _make_head(action_space, config.action_sigma, env)
        self.horizon = check_positive_int("horizon", horizon)
        self.baseline_cell = RewardErrorCell("baseline", n_units=self.horizon, alpha=config.baseline_alpha)
        self.rule = three_factor(eta=1.0)  # times the state's eta, a leaf

    # ------------------------------------------------------------------ pure core
    def init(self, key: jax.Array) -> PolicyGradientState:
        """Zero weights (an unbiased random policy), empty statistics, zero baseline."""
        del key  # deterministic start: the policy's randomness is in act
        return PolicyGradientState(
            weights=jnp.zeros((self.n_features, self.head.n_out), jnp.float32),
            obs_stats=running_stats((self.obs_dim,)),
            baseline=self.baseline_cell.init_state(1),
            return_var=jnp.ones((), jnp.float32),
            eta=jnp.asarray(self.config.eta, jnp.float32),
        )

    def features(self, state: PolicyGradientState, obs: jax.Array) -> jax.Array:
        """``[normalize(obs), 1]``: ``obs (..., obs_dim)`` -> ``(..., n_features)``."""
        x = normalize(state.obs_stats, obs, self.config.obs_clip)
        return jnp.concatenate([x, jnp.ones((*x.shape[:-1], 1), x.dtype)], axis=-1)

    def act(self, state: PolicyGradientState, obs: jax.Array, key: jax.Array) -> jax.Array:
        """Sample actions for ``obs (batch, obs_dim)``; returns the head's action array."""
        return self.head.sample(self.features(state, obs) @ state.weights, key)

    def greedy(self, state: PolicyGradientState, obs: jax.Array) -> jax.Array:
        """The most likely action (evaluation)."""
        y = self.features(state, obs) @ state.weights
        return self.head.sample(y, None)

    def learn(self, state: PolicyGradientState, traj: Trajectory) -> tuple[PolicyGradientState, dict]:
        """One update from a batch of padded episodes; returns the new state and metrics."""
        alive = traj.alive
        if alive.shape[1] != self.horizon:
            raise ValueError(
                f"traj: episodes padded to {alive.shape[1]} steps, the agent's horizon is {self.horizon}"
            )
        returns = _returns_to_go(traj.reward * alive, self.config.gamma) * alive
        # The baseline cell has one unit per time step: unit t learns the return expected
        # from step t. It sees the batch's mean return at each step reached by an episode.
        mu = state.baseline.mu[0]
        n_t = jnp.sum(alive, axis=0)
        mean_t = jnp.where(n_t > 0, jnp.sum(returns, axis=0) / jnp.maximum(n_t, 1.0), mu)
        baseline = self.baseline_cell.step(self.baseline_cell.set(state.baseline, reward=mean_t[None]))
        rpe = (returns - mu) * alive
        n_alive = jnp.maximum(jnp.sum(alive), 1.0)
        a = self.config.baseline_alpha
        return_var = (1.0 - a) * state.return_var + a * jnp.sum(rpe**2) / n_alive
        gain = rpe / jnp.sqrt(return_var + 1e-6)
        x = self.features(state, traj.obs)
        post = self.head.raw_post(x @ state.weights, traj.action)
        episodes, steps = alive.shape
        flat = (episodes * steps, -1)
        dw, _ = self.rule.update(None, x.reshape(flat), post.reshape(flat), gain.reshape(-1))
        weights = apply_update(state.weights, state.eta * dw / episodes)
        stats = update_stats(state.obs_stats, traj.obs.reshape(-1, self.obs_dim), alive.reshape(-1))
        metrics = {
            "mean_abs_rpe": jnp.sum(jnp.abs(rpe), axis=1) / jnp.maximum(jnp.sum(alive, axis=1), 1.0),
            "reward_prediction": mu[0],
        }
        return PolicyGradientState(weights, stats, baseline, return_var, state.eta), metrics


def _returns_to_go(rewards: jax.Array, gamma: float) -> jax.Array:
    """``G_t = r_t + gamma G_t+1`` along the last axis."""

    def back(g, r):
        g = r + gamma * g
        return g, g

    _, g = jax.lax.scan(back, jnp.zeros(rewards.shape[:-1]), jnp.moveaxis(rewards, -1, 0)[::-1])
    return jnp.moveaxis(g[::-1], 0, -1)


def _error_cell_output(cell, output: str, y: jax.Array, **inputs: jax.Array) -> jax.Array:
    """Step an error cell (modulator 1) over inputs shaped ``(..., n_out)`` like ``y`` and
    return its ``output`` compartment in that shape: the leading axes are the cell's batch."""
    flat = {name: value.reshape(-1, value.shape[-1]) for name, value in inputs.items()}
    state = cell.set(cell.init_state(int(np.prod(y.shape[:-1]))), **flat)
    return getattr(cell.step(state), output).reshape(y.shape)


def _make_head(space, sigma: float, env: str) -> _Head:
    if isinstance(space, gym.spaces.Discrete) and space.n == 2:
        cell = BernoulliErrorCell("policy", 1, input_logits=True)

        def sample(y, key):
            if key is None:
                return (y[..., 0] > 0).astype(jnp.int32)
            return jax.random.bernoulli(key, jax.nn.sigmoid(y[..., 0])).astype(jnp.int32)

        def raw_post(y, action):
            return _error_cell_output(cell, "dp", y, p=y, target=action.astype(jnp.float32)[..., None])

        start = int(space.start)
        return _Head(1, sample, raw_post, lambda a: int(a) + start)
    if isinstance(space, gym.spaces.Discrete) and space.n > 2:
        n = int(space.n)
        cell = CategoricalErrorCell("policy", n)

        def sample(y, key):
            if key is None:
                return jnp.argmax(y, axis=-1).astype(jnp.int32)
            return jax.random.categorical(key, y, axis=-1).astype(jnp.int32)

        def raw_post(y, action):
            return _error_cell_output(cell, "dlogits", y, logits=y, target=jax.nn.one_hot(action, n))

        start = int(space.start)
        return _Head(n, sample, raw_post, lambda a: int(a) + start)
    if (
        isinstance(space, gym.spaces.Box)
        and np.all(np.isfinite(space.low))
        and np.all(np.isfinite(space.high))
    ):
        n = int(np.prod(space.shape))
        cell = GaussianErrorCell("policy", n, sigma=sigma**2)
        low = jnp.asarray(space.low, jnp.float32).reshape(-1)
        high = jnp.asarray(space.high, jnp.float32).reshape(-1)

        def sample(y, key):
            # The action carried through learning is the unsquashed draw u.
            return y if key is None else y + sigma * jax.random.normal(key, y.shape)

        def raw_post(y, action):
            return _error_cell_output(cell, "dmu", y, mu=y, target=action)

        def to_env(u):
            squashed = low + (high - low) * (np.tanh(np.asarray(u)) + 1.0) / 2.0
            return np.asarray(squashed, space.dtype).reshape(space.shape)

        return _Head(n, sample, raw_post, to_env)
    raise ValueError(
        f"{env}: the pg agent cannot act in the action space {space}; "
        "supported: Discrete, Box with finite bounds"
    )
