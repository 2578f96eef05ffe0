"""Actor-critic with a TD RPE and an epistemic (curiosity) reward from a world model's error.

After Ororbia & Mali (2022, active neural generative coding): the agent adds to the task
reward the error of its own world model, so it seeks what it cannot yet predict. Every
weight moves by a local rule gated by the critic's TD error, the RPE; there is no backprop.

Per step, for a batch of episodes, with ``phi = tile_encode(obs)`` (``agents.tile_coding``,
``F`` features) and the action ``a`` taken:

- **World model** (one linear map per action, ``M (A, F, D)``) predicts the scaled change
  of the observation; a ``GaussianErrorCell`` compares it with what happened::

      target = s (norm(obs') - norm(obs)),   mu = phi @ M[a],   e = target - mu (= dmu)
      L = 0.5 |e|^2   (per episode)           M[a] += eta_model phi^T e         (delta rule)

- **Critic**: a ``TDErrorCell`` gives the RPE on the task reward plus the epistemic reward::

      delta = r + curiosity L + gamma (1 - terminated) V(obs') - V(obs),   V = phi @ w
      z_w <- gamma lambda z_w + phi,             w += eta_critic delta z_w

- **Actor**: a ``CategoricalErrorCell`` with ``target = onehot(a)`` gives
  ``d = onehot(a) - softmax(phi @ W)``; a three-factor rule with an eligibility trace::

      z_W <- gamma lambda z_W + phi^T d,         W += eta_actor delta z_W

Updates are averaged over the batch's episodes. ``learn`` replays a batch of padded episodes
step by step (the same updates as acting online, with the actor's trace computed from the
current weights), so one ``learn`` serves the jitted path and the Python loop. Steps whose
successor was cut by the time limit (truncation) get no update: their next observation is
not recorded.

Spaces: a Box observation with finite bounds and a Discrete action.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.policy_gradient import Trajectory
from agents.tile_coding import tile_code, tile_encode
from rpe import CategoricalErrorCell, GaussianErrorCell, TDErrorCell
from rpe.validation import check_positive_int, check_real

__all__ = ["ActorCriticAgent", "ActorCriticConfig", "ActorCriticState"]


@dataclasses.dataclass(frozen=True)
class ActorCriticConfig:
    """Hyperparameters (validated by :class:`ActorCriticAgent`)."""

    gamma: float = 0.99
    trace_decay: float = 0.9
    eta_critic: float = 0.2
    eta_actor: float = 0.5
    eta_model: float = 0.5
    curiosity: float = 1.0
    model_scale: float = 10.0
    tiles: int = 10
    n_tilings: int = 8
    max_tiles: int = 4096


class ActorCriticState(NamedTuple):
    """Critic ``w (F,)``, actor ``W (F, A)``, world model ``M (A, F, D)``."""

    critic: jax.Array
    actor: jax.Array
    model: jax.Array


class _DiscreteHead(NamedTuple):
    n_out: int
    to_env: object


class ActorCriticAgent:
    """See the module docstring. Args as :class:`agents.PolicyGradientAgent`'s."""

    name = "ac"

    def __init__(self, observation_space, action_space, config=None, env="env", horizon=500):
        config = config or ActorCriticConfig()
        for name in ("gamma", "trace_decay"):
            check_real(name, getattr(config, name), low=0.0, high=1.0)
        for name in ("eta_critic", "eta_actor", "eta_model", "curiosity", "model_scale"):
            check_real(name, getattr(config, name), low=0.0)
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(
                f"{env}: the ac agent needs a 1-D Box observation space, got {observation_space}"
            )
        if not (np.all(np.isfinite(observation_space.low)) and np.all(np.isfinite(observation_space.high))):
            raise ValueError(
                f"{env}: the ac agent tile-codes the observation and needs finite bounds, got "
                f"{observation_space}; use the pg agent"
            )
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(
                f"{env}: the ac agent cannot act in the action space {action_space}; supported: Discrete"
            )
        self.config = config
        self.horizon = check_positive_int("horizon", horizon)
        self.code = tile_code(
            observation_space.low, observation_space.high, config.tiles, config.n_tilings, config.max_tiles
        )
        self.obs_dim = int(observation_space.shape[0])
        self.n_actions = int(action_space.n)
        start = int(action_space.start)
        self.head = _DiscreteHead(self.n_actions, lambda a: int(a) + start)
        self.td_cell = TDErrorCell("critic", 1, gamma=config.gamma)
        self.policy_cell = CategoricalErrorCell("policy", self.n_actions)
        self.model_cell = GaussianErrorCell("world_model", self.obs_dim)

    def init(self, key: jax.Array) -> ActorCriticState:
        """Zero weights: a uniform policy, a critic predicting 0, a model predicting no change."""
        del key
        f = self.code.n_features
        return ActorCriticState(
            critic=jnp.zeros((f,), jnp.float32),
            actor=jnp.zeros((f, self.n_actions), jnp.float32),
            model=jnp.zeros((self.n_actions, f, self.obs_dim), jnp.float32),
        )

    def features(self, obs: jax.Array) -> jax.Array:
        return tile_encode(self.code, obs)

    def act(self, state: ActorCriticState, obs: jax.Array, key: jax.Array) -> jax.Array:
        """Sample actions for ``obs (batch, D)`` from ``softmax(phi @ W)``."""
        return jax.random.categorical(key, self.features(obs) @ state.actor, axis=-1).astype(jnp.int32)

    def greedy(self, state: ActorCriticState, obs: jax.Array) -> jax.Array:
        return jnp.argmax(self.features(obs) @ state.actor, axis=-1).astype(jnp.int32)

    def _scaled(self, obs: jax.Array) -> jax.Array:
        return self.config.model_scale * (obs - self.code.low) / (self.code.high - self.code.low)

    def learn(self, state: ActorCriticState, traj: Trajectory) -> tuple[ActorCriticState, dict]:
        """Replay a batch of padded episodes ``(E, T, ...)``; returns the new state and metrics
        ``mean_abs_rpe (E,)``, ``reward_prediction`` (mean ``V`` of the first states) and
        ``epistemic_reward (E,)`` (mean ``curiosity L`` per step)."""
        c = self.config
        episodes, steps = traj.alive.shape
        if steps != self.horizon:
            raise ValueError(f"traj: episodes padded to {steps} steps, the agent's horizon is {self.horizon}")
        alive = traj.alive
        alive_next = jnp.concatenate([alive[:, 1:], jnp.zeros((episodes, 1), alive.dtype)], axis=1)
        not_last = (jnp.arange(steps) < steps - 1).astype(alive.dtype)
        terminated = alive * (1.0 - alive_next) * not_last
        has_next = alive * alive_next
        learnable = has_next + terminated
        next_obs = jnp.concatenate([traj.obs[:, 1:], traj.obs[:, -1:]], axis=1)
        sequences = (traj.obs, next_obs, traj.action, traj.reward, terminated, has_next, learnable)
        sequences = tuple(jnp.swapaxes(x, 0, 1) for x in sequences)
        decay = c.gamma * c.trace_decay

        def step(carry, inputs):
            weights, z_critic, z_actor = carry
            obs, obs_next, action, reward, done, model_mask, mask = inputs
            phi, phi_next = self.features(obs), self.features(obs_next)
            onehot = jax.nn.one_hot(action, self.n_actions)
            mu = jnp.einsum("ef,afd,ea->ed", phi, weights.model, onehot)
            model = self.model_cell.step(
                self.model_cell.set(
                    self.model_cell.init_state(episodes),
                    mu=mu,
                    target=self._scaled(obs_next) - self._scaled(obs),
                    mask=jnp.broadcast_to(model_mask[:, None], mu.shape),
                )
            )
            surprise = 0.5 * jnp.sum(model.dmu**2, axis=-1)  # per-episode L (Sigma = 1)
            td = self.td_cell.step(
                self.td_cell.set(
                    self.td_cell.init_state(episodes),
                    reward=(reward + c.curiosity * surprise)[:, None],
                    value=(phi @ weights.critic)[:, None],
                    next_value=(phi_next @ weights.critic)[:, None],
                    done=done[:, None],
                    mask=mask[:, None],
                )
            )
            delta = td.dvalue[:, 0]
            policy = self.policy_cell.step(
                self.policy_cell.set(
                    self.policy_cell.init_state(episodes), logits=phi @ weights.actor, target=onehot
                )
            )
            z_critic = decay * z_critic + phi
            z_actor = decay * z_actor + phi[:, :, None] * policy.dlogits[:, None, :]
            weights = ActorCriticState(
                critic=weights.critic + c.eta_critic * jnp.einsum("e,ef->f", delta, z_critic) / episodes,
                actor=weights.actor + c.eta_actor * jnp.einsum("e,efa->fa", delta, z_actor) / episodes,
                model=weights.model
                + c.eta_model * jnp.einsum("ef,ed,ea->afd", phi, model.dmu, onehot) / episodes,
            )
            # Traces carry on only into a recorded next step of the same episode.
            z_critic = z_critic * model_mask[:, None]
            z_actor = z_actor * model_mask[:, None, None]
            return (weights, z_critic, z_actor), (jnp.abs(delta), c.curiosity * surprise)

        f = self.code.n_features
        carry = (state, jnp.zeros((episodes, f)), jnp.zeros((episodes, f, self.n_actions)))
        (state_out, _, _), (abs_delta, epistemic) = jax.lax.scan(step, carry, sequences)
        n = jnp.maximum(jnp.sum(alive, axis=1), 1.0)
        metrics = {
            "mean_abs_rpe": jnp.sum(abs_delta.T, axis=1) / n,
            "reward_prediction": jnp.mean(self.features(traj.obs[:, 0]) @ state.critic),
            "epistemic_reward": jnp.sum(epistemic.T * alive, axis=1) / n,
        }
        return state_out, metrics
