"""Checks of what environments hand to cells: each error names the env and the value."""

from __future__ import annotations

import math
import numbers

import gymnasium as gym
import numpy as np

__all__ = ["env_name", "finite_rewards"]


def env_name(env: gym.Env | gym.vector.VectorEnv) -> str:
    """The env's registered id when it has one, else its class name."""
    spec = getattr(env, "spec", None)
    if spec is not None and spec.id:
        return spec.id
    return type(getattr(env, "unwrapped", env)).__name__


def finite_rewards(env, reward, num_envs: int | None = None) -> np.ndarray:
    """``reward`` as float32: a finite scalar (single env) or ``(num_envs,)`` (vector env).

    Raises:
      ValueError: a non-numeric, non-finite or wrongly shaped reward, naming the env.
    """
    if num_envs is None and type(reward) in (float, int) and math.isfinite(reward):
        return np.float32(reward)  # the common case, without numpy's per-call overhead
    expected = "a finite scalar" if num_envs is None else f"finite rewards of shape ({num_envs},)"
    if num_envs is None and not isinstance(reward, (numbers.Real, np.ndarray, np.generic)):
        raise ValueError(f"{env_name(env)}: expected {expected} reward, got {reward!r}")
    try:
        value = np.asarray(reward, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{env_name(env)}: expected {expected} reward, got {reward!r}") from None
    shape_ok = value.shape in ((), (1,)) if num_envs is None else value.shape == (num_envs,)
    if not shape_ok or not np.all(np.isfinite(value)):
        raise ValueError(f"{env_name(env)}: expected {expected} reward, got {reward!r}")
    return value.astype(np.float32).reshape(() if num_envs is None else (num_envs,))
