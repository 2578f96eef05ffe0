"""RewardErrorCell: a reward predictor whose error is the reward prediction error (RPE).

Per step (``advance_state`` / :meth:`RewardErrorCell.step`), with ``mu`` from before it::

    accum_reward <- accum_reward + reward
    rpe          <- reward - mu
    mu           <- (1 - alpha) mu + alpha reward        (online mode only)
    n_ep_steps   <- n_ep_steps + 1

At an episode's end (``evolve`` / :meth:`RewardErrorCell.end_episode`), in both modes::

    mu <- (1 - 1/W) mu + (1/W) accum_reward / n_ep_steps      (W = ema_window_len)
    accum_reward <- 0;  n_ep_steps <- 0

Rows with ``n_ep_steps == 0`` keep their ``mu`` (no 0/0). Compartments are
``(batch_size, n_units)`` except ``n_ep_steps``, ``(batch_size, 1)``. After ngc-learn's
``RewardErrorCell``, with the fixes listed in ``shared/reference/cells.md``.

Example:
  >>> cell = RewardErrorCell("rpe", n_units=1, alpha=0.5)
  >>> cell.reward.set(jnp.ones((1, 1))); cell.advance_state(dt=1.0)
  >>> float(cell.rpe.get()[0, 0]), float(cell.mu.get()[0, 0])
  (1.0, 0.5)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rpe import functional
from rpe.cell import Cell, Compartment
from rpe.validation import check_real

__all__ = ["RewardErrorCell", "RewardErrorParams"]


class RewardErrorParams(NamedTuple):
    """Numeric hyperparameters of a RewardErrorCell (leaves may be arrays under vmap)."""

    alpha: float
    ema_window_len: float


class RewardErrorCell(Cell):
    """Exponential-moving-average reward predictor emitting the RPE.

    Args:
      name: the cell's name.
      n_units: number of reward channels.
      alpha: online EMA rate, in (0, 1].
      ema_window_len: window ``W >= 1`` of the episodic EMA applied by ``evolve``.
      use_online_predictor: update ``mu`` every step (True) or only at episode ends.
      batch_size: rows of every compartment.
    """

    reward = Compartment("inputs", "reward r_t, (batch_size, n_units)", finite=True)
    accum_reward = Compartment(("inputs", "outputs"), "reward summed over the episode, (batch_size, n_units)")
    mu = Compartment("outputs", "reward prediction, (batch_size, n_units)")
    rpe = Compartment("outputs", "reward prediction error r_t - mu_{t-1}, (batch_size, n_units)")
    n_ep_steps = Compartment("states", "steps taken in the current episode, (batch_size, 1)")

    Params = RewardErrorParams
    dynamics = (
        "step: rpe = reward - mu; mu = (1 - alpha) mu + alpha reward (online); "
        "accum_reward += reward; n_ep_steps += 1. evolve: "
        "mu = (1 - 1/W) mu + (1/W) accum_reward / n_ep_steps; accumulators cleared"
    )
    hyperparameter_docs = {
        "n_units": "number of reward channels",
        "alpha": "online EMA rate of the reward prediction, in (0, 1]",
        "ema_window_len": "window W >= 1 of the episodic EMA applied by evolve",
        "use_online_predictor": "update mu every step (True) or only in evolve (False)",
        "batch_size": "rows of every compartment",
    }

    def __init__(
        self,
        name: str,
        n_units: int,
        alpha: float,
        ema_window_len: float = 10,
        use_online_predictor: bool = True,
        batch_size: int = 1,
    ):
        if not isinstance(use_online_predictor, bool):
            raise TypeError(f"use_online_predictor: expected a bool, got {use_online_predictor!r}")
        self.params = RewardErrorParams(
            alpha=check_real("alpha", alpha, low=0.0, high=1.0, low_open=True),
            ema_window_len=check_real("ema_window_len", ema_window_len, low=1.0),
        )
        self.use_online_predictor = use_online_predictor
        super().__init__(name, n_units, batch_size)
        self._evolve_jit = jax.jit(self.end_episode)

    def init_state(self, batch_size: int | None = None, params=None) -> RewardErrorCell.State:
        b = self.batch_size if batch_size is None else batch_size
        zeros = jnp.zeros((b, self.n_units), jnp.float32)
        return self.State(
            reward=zeros,
            accum_reward=zeros,
            mu=zeros,
            rpe=zeros,
            n_ep_steps=jnp.zeros((b, 1), jnp.float32),
        )

    def step(self, state, dt=1.0, key=None, params=None):
        """One reward step (``dt`` is unused: the cell counts steps, not time).

        :func:`rpe.functional.reward_prediction_error` on the rows; its new ``mu`` is kept
        only in online mode.
        """
        out = functional.reward_prediction_error(state.reward, state.mu, self._params(params).alpha)
        return state._replace(
            accum_reward=state.accum_reward + state.reward,
            rpe=out.rpe,
            mu=out.mu if self.use_online_predictor else state.mu,
            n_ep_steps=state.n_ep_steps + 1.0,
        )

    def end_episode(self, state, dt=1.0, done=None, params=None):
        """The pure form of ``evolve``: fold each finished episode's mean reward into ``mu``.

        Args:
          state: the cell's state.
          dt: unused.
          done: optional ``(batch_size,)`` or ``(batch_size, 1)`` mask of the rows whose
            episode ended (vector environments); all rows when None.
          params: optional :class:`RewardErrorParams` overriding ``self.params``.

        :func:`rpe.functional.end_episode` on the rows.
        """
        n = state.n_ep_steps
        ended = True if done is None else _rows(done, n.shape)
        out = functional.end_episode(
            state.mu, state.accum_reward, n, self._params(params).ema_window_len, ended
        )
        return state._replace(mu=out.mu, accum_reward=out.accum_reward, n_ep_steps=out.n_ep_steps)

    def evolve(self, dt=1.0) -> None:
        """End the current episode of every row (runs the jitted :meth:`end_episode`)."""
        self._load(self._evolve_jit(self.state, dt))


def _rows(done, shape) -> jax.Array:
    done = jnp.asarray(done)
    if done.shape not in ((shape[0],), shape):
        raise ValueError(f"done: expected shape ({shape[0]},) or {tuple(shape)}, got {tuple(done.shape)}")
    return done.reshape(shape).astype(bool)
