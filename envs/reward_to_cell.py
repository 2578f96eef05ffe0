"""RewardToCell: a Gymnasium wrapper that feeds each step's reward into a RewardErrorCell.

After every ``step`` the wrapper writes the reward into the cell's ``reward`` compartment
(every unit of the row gets the scalar reward), advances the cell, and reports in ``info``:

- ``info["rpe"]``: the RPE of this step, ``reward - mu`` (mu from before the step);
- ``info["mu"]``: the prediction the next step's RPE will use (after ``evolve`` if the
  episode ended).

When an episode ends (``terminated`` or ``truncated``, passed on unchanged and distinct) it
calls ``evolve`` for that episode; so does a trial's end (``info["new_trial"]``, neurogym's
convention, where the env goes on into the next trial: see ``envs.trials``), once for a step
that ends both. The trial-ending step's reward belongs to the trial that it ends. A
``reset`` in the middle of an episode drops the unfinished episode's accumulators without
folding them into ``mu``. The cell's ``mu`` persists across episodes; reset the cell
yourself to forget it.

Vector envs (``gymnasium.vector.VectorEnv``) need a cell with ``batch_size == num_envs``:
row ``i`` follows sub-environment ``i``. In the ``NEXT_STEP`` autoreset mode, the step
that resets a finished sub-environment (reward 0, not part of any episode) leaves its row
untouched; in ``SAME_STEP`` every step counts; in ``DISABLED`` a finished row is frozen
until ``reset``. A trial's end (``info["new_trial"]`` with its ``"_new_trial"`` mask) folds
the row but does not freeze it: the sub-environment goes on into its next trial. Per-env
values come as arrays ``(num_envs,)`` (``(num_envs, n_units)`` for cells with several
units) with the ``"_rpe"``/``"_mu"`` masks of Gymnasium's vector info convention.

A reward that is not a finite number raises ``ValueError`` naming the env; it is never
written into the cell.

Example:
  >>> env = RewardToCell(gym.make("CartPole-v1"), RewardErrorCell("rpe", 1, alpha=0.1))
  >>> obs, info = env.reset(seed=0)
  >>> obs, r, terminated, truncated, info = env.step(0)
  >>> info["rpe"]
  1.0
"""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode

from envs.checks import env_name, finite_rewards
from rpe import RewardErrorCell

__all__ = ["RewardToCell", "VectorRewardToCell"]


def _row_values(values: jax.Array) -> np.ndarray | float:
    """``(B, n_units)`` -> a float (single env, one unit) or per-row numpy arrays."""
    arr = np.asarray(values)
    return arr[:, 0] if arr.shape[1] == 1 else arr


def _check_cell(cell, batch_size: int, what: str) -> RewardErrorCell:
    if not isinstance(cell, RewardErrorCell):
        raise TypeError(f"cell: expected a RewardErrorCell, got {type(cell).__name__}")
    if cell.batch_size != batch_size:
        raise ValueError(
            f"cell: batch_size {cell.batch_size} does not match {what} ({batch_size}); "
            f"build the cell with batch_size={batch_size} or call cell.batched_reset({batch_size})"
        )
    return cell


def _trial_ends(info: dict, num_envs: int) -> np.ndarray:
    """``(num_envs,)`` bool: the rows whose trial ended at this step (``info["new_trial"]``
    where its ``"_new_trial"`` mask is set; all False when the envs report no trials)."""
    if "new_trial" not in info:
        return np.zeros(num_envs, dtype=bool)
    mask = np.asarray(info.get("_new_trial", np.ones(num_envs, dtype=bool)), dtype=bool)
    return np.asarray(info["new_trial"], dtype=bool) & mask


def _drop_unfinished(cell: RewardErrorCell, rows=None) -> None:
    """Clear the episode accumulators of ``rows`` (all rows if None), keeping ``mu``."""
    state = cell.state
    rows = jnp.ones(state.n_ep_steps.shape, bool) if rows is None else jnp.asarray(rows).reshape(-1, 1)
    cell.state = state._replace(
        accum_reward=jnp.where(rows, 0.0, state.accum_reward),
        n_ep_steps=jnp.where(rows, 0.0, state.n_ep_steps),
    )


class RewardToCell(gym.Wrapper):
    """Feed an env's rewards into ``cell``: a RewardErrorCell with ``batch_size=1`` for a
    single env; for a vector env, ``RewardToCell(envs, cell)`` builds a
    :class:`VectorRewardToCell` (``batch_size == num_envs``)."""

    def __new__(cls, env, cell):
        if isinstance(env, gym.vector.VectorEnv):
            return VectorRewardToCell(env, cell)
        return super().__new__(cls)

    def __init__(self, env: gym.Env, cell: RewardErrorCell):
        super().__init__(env)
        self.cell = _check_cell(cell, 1, "a single environment")

    def reset(self, *, seed=None, options=None):
        _drop_unfinished(self.cell)
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        r = finite_rewards(self, reward)
        cell = self.cell
        cell.reward.set(jnp.full((1, cell.n_units), r, jnp.float32))
        cell.advance_state(dt=1.0)
        info = dict(info)
        rpe = _row_values(cell.rpe.get())
        if terminated or truncated or bool(info.get("new_trial", False)):
            cell.evolve(dt=1.0)
        mu = _row_values(cell.mu.get())
        info["rpe"] = float(rpe[0]) if cell.n_units == 1 else rpe[0]
        info["mu"] = float(mu[0]) if cell.n_units == 1 else mu[0]
        return obs, reward, terminated, truncated, info


class VectorRewardToCell(gym.vector.VectorWrapper):
    """Feed a vector env's rewards into ``cell`` (``batch_size == num_envs``), row by row."""

    def __init__(self, env: gym.vector.VectorEnv, cell: RewardErrorCell):
        super().__init__(env)
        self.cell = _check_cell(cell, env.num_envs, f"num_envs of {env_name(env)}")
        self.autoreset_mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        self._inactive = np.zeros(env.num_envs, dtype=bool)
        self._advance_rows = jax.jit(self._advance_rows_pure)

    def _advance_rows_pure(self, state, reward, active, ended):
        stepped = self.cell.step(self.cell.set(state, reward=reward))
        rows = active[:, None]
        state = jax.tree.map(lambda new, old: jnp.where(rows, new, old), stepped, state)
        return self.cell.end_episode(state, done=ended & active)

    def reset(self, *, seed=None, options=None):
        mask = None if options is None else options.get("reset_mask")
        _drop_unfinished(self.cell, None if mask is None else np.asarray(mask, dtype=bool))
        if mask is None:
            self._inactive[:] = False
        else:
            self._inactive[np.asarray(mask, dtype=bool)] = False
        return self.env.reset(seed=seed, options=options)

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        r = finite_rewards(self, rewards, self.num_envs)
        active = ~self._inactive
        ended = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        folds = ended | _trial_ends(info, self.num_envs)
        cell = self.cell
        reward = jnp.broadcast_to(jnp.asarray(r)[:, None], (self.num_envs, cell.n_units))
        cell.state = self._advance_rows(cell.state, reward, jnp.asarray(active), jnp.asarray(folds))
        rpe = np.where(active[:, None], np.asarray(cell.rpe.get()), 0.0)
        info = dict(info)
        info["rpe"], info["_rpe"] = _row_values(rpe), active.copy()
        info["mu"], info["_mu"] = _row_values(cell.mu.get()), np.ones(self.num_envs, dtype=bool)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._inactive = ended & active
        elif self.autoreset_mode == AutoresetMode.DISABLED:
            self._inactive = self._inactive | ended
        return obs, rewards, terminated, truncated, info
