"""Actor-critic with a TD RPE and an epistemic (curiosity) reward from a world model's error.

After Ororbia & Mali (2022, active neural generative coding): the agent adds to the task
reward the error of its own world model, so it seeks what it cannot yet predict. Every
weight moves by a local rule gated by the critic's TD error, the RPE; there is no backprop.

Per step, for a batch of episodes, with ``phi = tile_encode(obs)`` (``agents.tile_coding``,
``F`` features; for envs listed in ``envs.state_features``, such as Acrobot-v1, the tile code
reads the underlying state variables, e.g. joint angles instead of their cos and sin) and the
action ``a`` taken:

- **World model**: a predictive-coding circuit (``agents.ngc_world_model``): the state and
  action ``x = [2 norm(obs) - 1, onehot(a), 1]`` clamped at the top, the scaled change of the
  observation ``y = s (norm(obs') - norm(obs))`` at the bottom, and a hidden RateCell layer
  settled between two GaussianErrorCells by its own dynamics. Its energy after settling,
  ``L = 0.5 |e0|^2 + 0.5 |e1|^2`` per episode, is the agent's surprise; each synapse then
  moves by its error times its presynaptic activity.

- **Critic**: a ``TDErrorCell`` gives the RPE on the task reward plus the epistemic reward::

      delta = r + r_ep + gamma (1 - terminated) V(obs') - V(obs),   V = phi @ w
      r_ep = curiosity L / max(L seen so far)                 (in [0, curiosity])

  The epistemic reward is normalised by the largest surprise seen so far, as in active
  neural generative coding: without it, on Acrobot (large changes of cos and sin per step)
  it outweighs the task reward and the policy collapses.
      z_w <- gamma lambda z_w + phi,             w += eta_critic delta z_w

  The traces are kept sparse: the active tiles of the last ``trace_steps`` steps of the
  episode, ``z_w = sum_k (gamma lambda)^k phi_t-k`` (the older terms, below
  ``(gamma lambda)^K``, are dropped), so a step costs ``O(E K n_tilings A)``, not
  ``O(E F A)``.

- **Actor**: a ``CategoricalErrorCell`` with ``target = onehot(a)`` gives
  ``d = onehot(a) - softmax(phi @ W)``; a three-factor rule with an eligibility trace::

      z_W <- gamma lambda z_W + phi^T d,         W += eta_actor delta z_W

The agent learns *online*, after every env step of a batch of ``E`` parallel episodes
(``observe``, driven by ``agents.rollout``), so the next action already comes from the
updated weights: on MountainCar the critic's values of the states just visited fall during
the episode and the car goes elsewhere, which replaying the batch after the episode loses.
Each episode's transition is its own update (summed over the batch, so the rates are per
transition and do not depend on the number of envs); padding after an episode's end gets none. At
a time limit the critic bootstraps from the real next observation; traces end with the
episode.

Spaces: a Box observation with finite bounds and a Discrete action.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.ngc_world_model import NGCWorldModel, NGCWorldModelState
from agents.rollout import Transition
from agents.tile_coding import tile_code, tile_encode, tile_indices
from envs.state_features import STATE_FEATURES
from rpe import CategoricalErrorCell, TDErrorCell
from rpe.validation import check_positive_int, check_real

__all__ = ["ActorCriticAgent", "ActorCriticCarry", "ActorCriticConfig", "ActorCriticState"]


@dataclasses.dataclass(frozen=True)
class ActorCriticConfig:
    """Hyperparameters (validated by :class:`ActorCriticAgent`)."""

    gamma: float = 0.99
    trace_decay: float = 0.9
    trace_steps: int = 32  # traces kept over the last K steps ((gamma lambda)^32 = 0.025)
    eta_critic: float = 0.05
    eta_actor: float = 0.125
    eta_model: float = 0.02
    curiosity: float = 1.0
    model_scale: float = 10.0
    model_hidden: int = 32
    settle_steps: int = 10
    settle_rate: float = 0.2
    tiles: int | None = None  # per dimension; None: the env's in envs.STATE_FEATURES, else 10
    n_tilings: int = 8
    max_tiles: int = 4096
    state_features: bool = True  # tile-code envs.STATE_FEATURES[env] where the env is listed


class ActorCriticState(NamedTuple):
    """Critic ``w (F,)``, actor ``W (F, A)``, world model (``agents.ngc_world_model``)."""

    critic: jax.Array
    actor: jax.Array
    model: NGCWorldModelState
    surprise_max: jax.Array  # () the largest surprise L seen so far


class ActorCriticCarry(NamedTuple):
    """Per-episode learner state during a rollout. The eligibility traces, as the last ``K``
    steps, newest first: ``trace_tiles (E, K, n_tilings)`` active tiles, ``trace_post (E, K,
    A)`` the actor's ``d``, ``trace_valid (E, K)`` 1 for steps of the current episode. Sums
    ``steps``, ``sum_abs_rpe``, ``sum_epistemic`` and ``first_value``, ``(E,)``."""

    trace_tiles: jax.Array
    trace_post: jax.Array
    trace_valid: jax.Array
    steps: jax.Array
    sum_abs_rpe: jax.Array
    sum_epistemic: jax.Array
    first_value: jax.Array


class _DiscreteHead(NamedTuple):
    n_out: int
    to_env: object


class ActorCriticAgent:
    """See the module docstring. Args as :class:`agents.PolicyGradientAgent`'s."""

    name = "ac"
    online = True  # learns while it acts: begin / observe / episode_metrics (agents.rollout)

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
        check_positive_int("trace_steps", config.trace_steps)
        known = STATE_FEATURES.get(env) if config.state_features else None
        self.state_features = known.fn if known else (lambda obs: obs)
        low, high = (known.low, known.high) if known else (observation_space.low, observation_space.high)
        tiles = config.tiles if config.tiles is not None else (known.tiles if known else 10)
        self.code = tile_code(low, high, tiles, config.n_tilings, config.max_tiles)
        self.obs_low = jnp.asarray(observation_space.low, jnp.float32)
        self.obs_high = jnp.asarray(observation_space.high, jnp.float32)
        self.obs_dim = int(observation_space.shape[0])
        self.n_actions = int(action_space.n)
        start = int(action_space.start)
        self.head = _DiscreteHead(self.n_actions, lambda a: int(a) + start)
        self.td_cell = TDErrorCell("critic", 1, gamma=config.gamma)
        self.policy_cell = CategoricalErrorCell("policy", self.n_actions)
        self.world_model = NGCWorldModel(
            self.obs_dim + self.n_actions + 1,
            self.obs_dim,
            config.model_hidden,
            config.settle_steps,
            config.settle_rate,
            eta=config.eta_model,
        )

    def init(self, key: jax.Array) -> ActorCriticState:
        """A uniform policy, a critic predicting 0, a random world model."""
        f = self.code.n_features
        return ActorCriticState(
            critic=jnp.zeros((f,), jnp.float32),
            actor=jnp.zeros((f, self.n_actions), jnp.float32),
            model=self.world_model.init(key),
            surprise_max=jnp.zeros((), jnp.float32),
        )

    def features(self, obs: jax.Array) -> jax.Array:
        """The dense code ``phi (..., F)``."""
        return tile_encode(self.code, self.state_features(obs))

    def active(self, obs: jax.Array) -> jax.Array:
        """The active tiles of ``obs (..., D)``: ``(..., n_tilings)`` indices (each of value
        ``1 / n_tilings`` in ``phi``), so ``phi @ w = mean(w[active])``."""
        return tile_indices(self.code, self.state_features(obs))

    def act(self, state: ActorCriticState, obs: jax.Array, key: jax.Array) -> jax.Array:
        """Sample actions for ``obs (batch, D)`` from ``softmax(phi @ W)``."""
        return jax.random.categorical(key, self._logits(state, self.active(obs)), axis=-1).astype(jnp.int32)

    def greedy(self, state: ActorCriticState, obs: jax.Array) -> jax.Array:
        return jnp.argmax(self._logits(state, self.active(obs)), axis=-1).astype(jnp.int32)

    @staticmethod
    def _logits(state: ActorCriticState, active: jax.Array) -> jax.Array:
        """``phi @ W`` from the active tiles ``(E, n_tilings)``: ``(E, A)``."""
        return jnp.mean(state.actor[active], axis=-2)

    def _unit(self, obs: jax.Array) -> jax.Array:
        return (obs - self.obs_low) / (self.obs_high - self.obs_low)

    def model_io(self, obs, onehot, next_obs) -> tuple[jax.Array, jax.Array]:
        """The world model's clamped input ``x (E, D + A + 1)`` and target ``y (E, D)``;
        ``onehot (E, A)`` is the action taken."""
        x = jnp.concatenate([2.0 * self._unit(obs) - 1.0, onehot, jnp.ones_like(onehot[:, :1])], axis=1)
        return x, self.config.model_scale * (self._unit(next_obs) - self._unit(obs))

    def begin(self, state: ActorCriticState, n_episodes: int) -> ActorCriticCarry:
        """Empty eligibility traces and running sums for ``n_episodes`` episodes."""
        e = n_episodes
        k, n = self.config.trace_steps, self.code.offsets.shape[0]
        zeros = jnp.zeros((e,), jnp.float32)
        return ActorCriticCarry(
            jnp.zeros((e, k, n), jnp.int32),
            jnp.zeros((e, k, self.n_actions), jnp.float32),
            jnp.zeros((e, k), jnp.float32),
            zeros,
            zeros,
            zeros,
            zeros,
        )

    def observe(
        self, state: ActorCriticState, carry: ActorCriticCarry, tr: Transition
    ) -> tuple[ActorCriticState, ActorCriticCarry]:
        """One online update from a batch of transitions (see the module docstring)."""
        c = self.config
        episodes = tr.obs.shape[0]
        alive = jnp.asarray(tr.alive, jnp.float32)
        active, active_next = self.active(tr.obs), self.active(tr.next_obs)  # (E, n_tilings)
        onehot = jax.nn.one_hot(tr.action, self.n_actions)
        x, y = self.model_io(tr.obs, onehot, tr.next_obs)
        settled = self.world_model.settle(state.model, x, y)
        surprise = settled.energy * alive  # per-episode L
        surprise_max = jnp.maximum(state.surprise_max, jnp.max(surprise))
        epistemic = c.curiosity * surprise / jnp.maximum(surprise_max, 1e-8)  # in [0, curiosity]
        value = jnp.mean(state.critic[active], axis=-1)
        td = self.td_cell.step(
            self.td_cell.set(
                self.td_cell.init_state(episodes),
                reward=(tr.reward + epistemic)[:, None],
                value=value[:, None],
                next_value=jnp.mean(state.critic[active_next], axis=-1)[:, None],
                done=tr.terminated[:, None],
                mask=alive[:, None],
            )
        )
        delta = td.dvalue[:, 0]
        policy = self.policy_cell.step(
            self.policy_cell.set(
                self.policy_cell.init_state(episodes),
                logits=self._logits(state, active),
                target=onehot,
            )
        )

        # The traces as the last K steps' active tiles, newest first: z = sum_k decay^k phi_t-k.
        def push(buffer, new):
            return jnp.concatenate([new[:, None], buffer[:, :-1]], axis=1)

        trace_tiles = push(carry.trace_tiles, active)
        trace_post = push(carry.trace_post, policy.dlogits)
        trace_valid = push(carry.trace_valid, alive)
        n_tilings = active.shape[-1]
        ages = (c.gamma * c.trace_decay) ** jnp.arange(c.trace_steps, dtype=jnp.float32)
        gain = delta[:, None] * ages * trace_valid / n_tilings  # (E, K)
        tiles = trace_tiles.reshape(-1)
        per_tile = jnp.broadcast_to(gain[:, :, None], trace_tiles.shape).reshape(-1)
        post = jnp.broadcast_to(
            (gain[:, :, None] * trace_post)[:, :, None, :], (*trace_tiles.shape, self.n_actions)
        )
        state = ActorCriticState(
            critic=state.critic.at[tiles].add(c.eta_critic * per_tile),
            actor=state.actor.at[tiles].add(c.eta_actor * post.reshape(-1, self.n_actions)),
            model=self.world_model.update(state.model, x, settled, alive),
            surprise_max=surprise_max,
        )
        # Traces carry on only within an episode.
        goes_on = alive * (1.0 - tr.terminated) * (1.0 - tr.truncated)
        carry = ActorCriticCarry(
            trace_tiles=trace_tiles,
            trace_post=trace_post,
            trace_valid=trace_valid * goes_on[:, None],
            steps=carry.steps + alive,
            sum_abs_rpe=carry.sum_abs_rpe + jnp.abs(delta) * alive,
            sum_epistemic=carry.sum_epistemic + epistemic * alive,
            first_value=jnp.where(carry.steps == 0, value, carry.first_value),
        )
        return state, carry

    def episode_metrics(self, carry: ActorCriticCarry) -> dict:
        """Per episode: ``mean_abs_rpe``, ``reward_prediction`` (``V`` of the first state when
        the episode began) and ``epistemic_reward`` (mean ``r_ep`` per step)."""
        n = jnp.maximum(carry.steps, 1.0)
        return {
            "mean_abs_rpe": carry.sum_abs_rpe / n,
            "reward_prediction": carry.first_value,
            "epistemic_reward": carry.sum_epistemic / n,
        }
