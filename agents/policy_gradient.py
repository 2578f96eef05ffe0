"""Error-cell policy gradient: REINFORCE with a learned baseline, by a three-factor rule.

A linear policy reads normalised observations ``x = [normalize(obs), 1]`` (running
statistics, ``envs.normalization``) through weights ``W (n_features, n_out)``. Its output
``y = x W`` feeds the action decoder's error cell (``envs.decoder_for``), whose ``target``
is the action taken:

==================  ======================  ==================================================
action space        error cell              raw postsynaptic signal ``d`` (modulator 1)
==================  ======================  ==================================================
Discrete(2)         BernoulliErrorCell      ``dp = a - sigmoid(y)`` (logits)
Discrete(n > 2)     CategoricalErrorCell    ``dlogits = onehot(a) - softmax(y)``
Box, finite bounds  GaussianErrorCell       ``dmu = (u - y) / sigma^2``, ``u = y + sigma eps``,
                                            the env gets ``u`` squashed into the bounds
==================  ======================  ==================================================

At the end of a batch of episodes, each step's return-to-go
``G_t = sum_k gamma^k r_t+k`` is compared with a baseline that has one unit per time step of
the episode (``horizon`` units, a RewardErrorCell's EMA prediction,
``rpe.functional.reward_prediction_error``): unit ``t`` learns, as an EMA over batches, the
return expected from step ``t``. The RPE ``G_t - mu_t`` is divided by a running
estimate of its own spread (an adaptive gain, as dopamine neurons rescale their responses
to the range of rewards on offer: Tobler, Fiorillo & Schultz 2005) and gates the
three-factor rule
``dW = eta * mean_episodes(sum_t x_t^T (rpe_t * d_t))`` (``rpe.three_factor`` with
pre = ``x_t``, post = ``d_t``, modulator = the scaled RPE). That is REINFORCE with a
baseline (Williams 1992), without backprop.

The agent learns from whole episodes (``learn``); ``observe`` does nothing. Episodes are
padded to the time limit with an ``alive`` mask, so one ``learn`` serves the fully jitted
path and the Python loop.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp

from agents.contract import Agent, AgentConfig, EnvSpec, Trajectory, numeric
from envs.decoders import decoder_for
from envs.normalization import RunningStats, normalize, running_stats, update_stats
from rpe import apply_update, three_factor
from rpe import functional as kernels

__all__ = ["PolicyGradientConfig", "PolicyGradientState", "policy_gradient"]


@dataclasses.dataclass(frozen=True)
class PolicyGradientConfig(AgentConfig):
    """Hyperparameters of ``pg``."""

    eta: float = numeric(0.05, low=0.0, doc="learning rate of the policy weights")
    gamma: float = numeric(0.99, low=0.0, high=1.0, doc="discount of the return-to-go")
    baseline_alpha: float = numeric(
        0.05, low=0.0, high=1.0, low_open=True, doc="EMA rate of the baseline and of the RPE's spread"
    )
    action_sigma: float = numeric(0.3, low=0.0, low_open=True, doc="exploration noise (Box actions)")
    obs_clip: float = numeric(5.0, low=0.0, low_open=True, doc="clip of the normalised observation")


class PolicyGradientState(NamedTuple):
    """Everything the agent learns: weights, observation statistics, baseline, RPE spread;
    and its numeric hyperparameters ``hp`` (a dict of scalars, vmappable)."""

    weights: jax.Array
    obs_stats: RunningStats
    baseline: jax.Array  # (horizon,) the expected return from each step
    return_var: jax.Array
    hp: dict


def policy_gradient(spec: EnvSpec, config: PolicyGradientConfig | None = None) -> Agent:
    """``pg`` for ``spec``: a 1-D Box observation; Discrete, MultiBinary or bounded Box actions."""
    config = config or PolicyGradientConfig()
    space = spec.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"{spec.env_id}: the pg agent needs a 1-D Box observation space, got {space}")
    obs_dim = int(space.shape[0])
    decoder = decoder_for(spec.action_space, env=spec.env_id)
    horizon = spec.horizon
    rule = three_factor(eta=1.0)  # times hp["eta"], a leaf

    def init(key, hp):
        del key  # deterministic start: zero weights, an unbiased random policy
        return PolicyGradientState(
            weights=jnp.zeros((obs_dim + 1, decoder.n_outputs), jnp.float32),
            obs_stats=running_stats((obs_dim,)),
            baseline=jnp.zeros((horizon,), jnp.float32),
            return_var=jnp.ones((), jnp.float32),
            hp=dict(hp),
        )

    def features(state, obs):
        """``[normalize(obs), 1]``: ``obs (..., obs_dim)`` -> ``(..., obs_dim + 1)``."""
        x = normalize(state.obs_stats, obs, state.hp["obs_clip"])
        return jnp.concatenate([x, jnp.ones((*x.shape[:-1], 1), x.dtype)], axis=-1)

    def begin(state, n_episodes):
        return ()

    def act(state, carry, obs, key):
        y = features(state, obs) @ state.weights
        return decoder.sample(y, key, state.hp["action_sigma"]), carry

    def greedy(state, carry, obs):
        return decoder.greedy(features(state, obs) @ state.weights), carry

    def observe(state, carry, transition):
        return state, carry

    def learn(state, carry, traj: Trajectory):
        hp, alive = state.hp, traj.alive
        returns = _returns_to_go(traj.reward * alive, hp["gamma"]) * alive
        # The baseline cell has one unit per time step: unit t learns the return expected
        # from step t. It sees the batch's mean return at each step reached by an episode.
        mu = state.baseline
        n_t = jnp.sum(alive, axis=0)
        mean_t = jnp.where(n_t > 0, jnp.sum(returns, axis=0) / jnp.maximum(n_t, 1.0), mu)
        baseline = kernels.reward_prediction_error(mean_t, mu, hp["baseline_alpha"]).mu
        rpe = (returns - mu) * alive
        n_alive = jnp.maximum(jnp.sum(alive), 1.0)
        a = hp["baseline_alpha"]
        return_var = (1.0 - a) * state.return_var + a * jnp.sum(rpe**2) / n_alive
        gain = rpe / jnp.sqrt(return_var + 1e-6)
        x = features(state, traj.obs)
        post = decoder.post(x @ state.weights, traj.action, hp["action_sigma"])
        episodes, steps = alive.shape
        flat = (episodes * steps, -1)
        dw, _ = rule.update(None, x.reshape(flat), post.reshape(flat), gain.reshape(-1))
        weights = apply_update(state.weights, hp["eta"] * dw / episodes)
        stats = update_stats(state.obs_stats, traj.obs.reshape(-1, obs_dim), alive.reshape(-1))
        metrics = {
            "mean_abs_rpe": jnp.sum(jnp.abs(rpe), axis=1) / jnp.maximum(jnp.sum(alive, axis=1), 1.0),
            "reward_prediction": jnp.broadcast_to(mu[0], (episodes,)),
        }
        return PolicyGradientState(weights, stats, baseline, return_var, hp), metrics

    return Agent("pg", config, spec, init, begin, act, greedy, observe, learn, observes=False)


def _returns_to_go(rewards: jax.Array, gamma) -> jax.Array:
    """``G_t = r_t + gamma G_t+1`` along the last axis."""

    def back(g, r):
        g = r + gamma * g
        return g, g

    _, g = jax.lax.scan(back, jnp.zeros(rewards.shape[:-1]), jnp.moveaxis(rewards, -1, 0)[::-1])
    return jnp.moveaxis(g[::-1], 0, -1)
