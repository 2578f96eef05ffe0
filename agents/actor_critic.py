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

- **Critic**: the TD error (``rpe.functional.td_error``, a ``TDErrorCell``'s maths) gives
  the RPE on the task reward plus the epistemic reward::

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

- **Actor**: a categorical error (``rpe.functional.categorical_error``, through the action
  decoder) with ``target = onehot(a)`` gives
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

Spaces: a Box observation with finite bounds and a Discrete action. ``learn`` changes nothing:
it returns each episode's metrics from the rollout's carry.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.contract import Agent, AgentConfig, EnvSpec, Transition, numeric, structural
from agents.ngc_world_model import NGCWorldModel, NGCWorldModelState
from agents.tile_coding import tile_code, tile_indices
from envs.decoders import decoder_for
from envs.state_features import STATE_FEATURES
from rpe import functional as kernels

__all__ = ["ActorCriticCarry", "ActorCriticConfig", "ActorCriticState", "actor_critic"]


@dataclasses.dataclass(frozen=True)
class ActorCriticConfig(AgentConfig):
    """Hyperparameters of ``ac``."""

    gamma: float = numeric(0.99, low=0.0, high=1.0, doc="discount")
    trace_decay: float = numeric(0.9, low=0.0, high=1.0, doc="lambda of the eligibility traces")
    eta_critic: float = numeric(0.05, low=0.0, doc="critic learning rate, per transition")
    eta_actor: float = numeric(0.125, low=0.0, doc="actor learning rate, per transition")
    eta_model: float = numeric(0.02, low=0.0, doc="world-model learning rate")
    curiosity: float = numeric(1.0, low=0.0, doc="weight of the epistemic reward")
    model_scale: float = numeric(10.0, low=0.0, doc="scale of the world model's target")
    settle_rate: float = numeric(0.2, low=0.0, high=1.0, low_open=True, doc="dt / tau of settling")
    trace_steps: int = structural(32, low=1, doc="traces kept over the last K steps")
    model_hidden: int = structural(32, low=1, doc="hidden units of the world model")
    settle_steps: int = structural(10, low=1, doc="settling steps per transition")
    tiles: int | None = structural(None, low=1, doc="tiles per dimension; None: the env's, else 10")
    n_tilings: int = structural(8, low=1, doc="tilings")
    max_tiles: int = structural(4096, low=1, doc="tiles per tiling before hashing")
    state_features: bool = structural(True, doc="tile-code envs.STATE_FEATURES[env] where listed")


class ActorCriticState(NamedTuple):
    """Critic ``w (F,)``, actor ``W (F, A)``, world model (``agents.ngc_world_model``), the
    largest surprise so far, and the numeric hyperparameters ``hp``."""

    critic: jax.Array
    actor: jax.Array
    model: NGCWorldModelState
    surprise_max: jax.Array  # () the largest surprise L seen so far
    hp: dict


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


def actor_critic(spec: EnvSpec, config: ActorCriticConfig | None = None) -> Agent:
    """``ac`` for ``spec``: a 1-D Box observation with finite bounds, Discrete actions."""
    c = config or ActorCriticConfig()
    env, space = spec.env_id, spec.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"{env}: the ac agent needs a 1-D Box observation space, got {space}")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(
            f"{env}: the ac agent tile-codes the observation and needs finite bounds, got {space}; "
            "use the pg agent"
        )
    if not isinstance(spec.action_space, gym.spaces.Discrete):
        raise ValueError(
            f"{env}: the ac agent cannot act in the action space {spec.action_space}; supported: Discrete"
        )
    known = STATE_FEATURES.get(env) if c.state_features else None
    state_features = known.fn if known else (lambda obs: obs)
    low, high = (known.low, known.high) if known else (space.low, space.high)
    tiles = c.tiles if c.tiles is not None else (known.tiles if known else 10)
    code = tile_code(low, high, tiles, c.n_tilings, c.max_tiles)
    obs_low = jnp.asarray(space.low, jnp.float32)
    obs_high = jnp.asarray(space.high, jnp.float32)
    obs_dim, n_actions = int(space.shape[0]), int(spec.action_space.n)
    decoder = decoder_for(spec.action_space, env=env, categorical=True)
    world_model = NGCWorldModel(
        obs_dim + n_actions + 1, obs_dim, c.model_hidden, c.settle_steps, c.settle_rate, eta=c.eta_model
    )

    def active(obs):
        """The active tiles of ``obs (..., D)``: ``(..., n_tilings)`` indices (each of value
        ``1 / n_tilings`` in ``phi``), so ``phi @ w = mean(w[active])``."""
        return tile_indices(code, state_features(obs))

    def logits(state, tiles_on):
        """``phi @ W`` from the active tiles ``(E, n_tilings)``: ``(E, A)``."""
        return jnp.mean(state.actor[tiles_on], axis=-2)

    def init(key, hp):
        """A uniform policy, a critic predicting 0, a random world model."""
        f = code.n_features
        return ActorCriticState(
            critic=jnp.zeros((f,), jnp.float32),
            actor=jnp.zeros((f, n_actions), jnp.float32),
            model=world_model.init(key),
            surprise_max=jnp.zeros((), jnp.float32),
            hp=dict(hp),
        )

    def act(state, carry, obs, key):
        return decoder.sample(logits(state, active(obs)), key), carry

    def greedy(state, carry, obs):
        return decoder.greedy(logits(state, active(obs))), carry

    def model_io(obs, onehot, next_obs, scale):
        """The world model's clamped input ``x (E, D + A + 1)`` and target ``y (E, D)``."""
        unit = lambda o: (o - obs_low) / (obs_high - obs_low)  # noqa: E731
        x = jnp.concatenate([2.0 * unit(obs) - 1.0, onehot, jnp.ones_like(onehot[:, :1])], axis=1)
        return x, scale * (unit(next_obs) - unit(obs))

    def begin(state, n_episodes):
        """Empty eligibility traces and running sums for ``n_episodes`` episodes."""
        e, k, n = n_episodes, c.trace_steps, code.offsets.shape[0]
        zeros = jnp.zeros((e,), jnp.float32)
        return ActorCriticCarry(
            jnp.zeros((e, k, n), jnp.int32),
            jnp.zeros((e, k, n_actions), jnp.float32),
            jnp.zeros((e, k), jnp.float32),
            zeros,
            zeros,
            zeros,
            zeros,
        )

    def observe(state, carry, tr: Transition):
        """One online update from a batch of transitions (see the module docstring)."""
        hp = state.hp
        alive = jnp.asarray(tr.alive, jnp.float32)
        tiles_on, tiles_next = active(tr.obs), active(tr.next_obs)  # (E, n_tilings)
        onehot = jax.nn.one_hot(tr.action, n_actions)
        x, y = model_io(tr.obs, onehot, tr.next_obs, hp["model_scale"])
        epistemic, model, surprise_max = world_model.curiosity(  # r_ep in [0, curiosity]
            state.model, x, y, alive, state.surprise_max, hp["curiosity"], hp["eta_model"], hp["settle_rate"]
        )
        value = jnp.mean(state.critic[tiles_on], axis=-1)
        next_value = jnp.mean(state.critic[tiles_next], axis=-1)
        discount = hp["gamma"] * (1.0 - tr.terminated)
        delta = kernels.td_error(tr.reward + epistemic, discount, value, next_value, mask=alive).dvalue
        post_now = decoder.post(logits(state, tiles_on), tr.action)

        # The traces as the last K steps' active tiles, newest first: z = sum_k decay^k phi_t-k.
        def push(buffer, new):
            return jnp.concatenate([new[:, None], buffer[:, :-1]], axis=1)

        trace_tiles = push(carry.trace_tiles, tiles_on)
        trace_post = push(carry.trace_post, post_now)
        trace_valid = push(carry.trace_valid, alive)
        n_tilings = tiles_on.shape[-1]
        ages = (hp["gamma"] * hp["trace_decay"]) ** jnp.arange(c.trace_steps, dtype=jnp.float32)
        gain = delta[:, None] * ages * trace_valid / n_tilings  # (E, K)
        flat_tiles = trace_tiles.reshape(-1)
        per_tile = jnp.broadcast_to(gain[:, :, None], trace_tiles.shape).reshape(-1)
        post = jnp.broadcast_to(
            (gain[:, :, None] * trace_post)[:, :, None, :], (*trace_tiles.shape, n_actions)
        )
        state = ActorCriticState(
            critic=state.critic.at[flat_tiles].add(hp["eta_critic"] * per_tile),
            actor=state.actor.at[flat_tiles].add(hp["eta_actor"] * post.reshape(-1, n_actions)),
            model=model,
            surprise_max=surprise_max,
            hp=hp,
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

    def learn(state, carry, traj):
        """Per episode: ``mean_abs_rpe``, ``reward_prediction`` (``V`` of the first state when
        the episode began) and ``epistemic_reward`` (mean ``r_ep`` per step)."""
        n = jnp.maximum(carry.steps, 1.0)
        return state, {
            "mean_abs_rpe": carry.sum_abs_rpe / n,
            "reward_prediction": carry.first_value,
            "epistemic_reward": carry.sum_epistemic / n,
        }

    return Agent("ac", c, spec, init, begin, act, greedy, observe, learn)
