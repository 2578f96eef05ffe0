"""What local learning rules share: the ``init``/``update`` pair, modulator shapes and the
weight update itself.

A rule is a :class:`LearningRule` of pure functions in the style of optax:
``state = rule.init(...)``; ``delta_w, state = rule.update(state, ...)``; then
``weights = apply_update(weights, delta_w, bounds=...)``. Rules never call ``jax.grad``:
every update is built from presynaptic activity, a postsynaptic signal and, for three-factor
rules, a modulator.

Modulator shapes (``m``) for a batch of ``B`` samples and ``n_out`` postsynaptic units:

=================  ==========================================
shape of m         meaning
=================  ==========================================
``()``             one value for everything (e.g. a global RPE)
``(B,)``           one per sample (e.g. an RPE per environment)
``(B, 1)``         one per sample
``(1, n_out)``     one per postsynaptic unit
``(B, n_out)``     one per sample and postsynaptic unit
=================  ==========================================

Anything else raises ``ValueError`` naming both shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["LearningRule", "apply_update", "batch_reduce", "modulator_by_sample_and_unit"]


class LearningRule(NamedTuple):
    """A local learning rule: ``init`` builds its state, ``update`` returns ``(delta_w, state)``."""

    init: Callable[..., Any]
    update: Callable[..., tuple[jax.Array, Any]]


def modulator_by_sample_and_unit(modulator, batch: int, n_out: int, name: str = "modulator") -> jax.Array:
    """``modulator`` as a ``(B or 1, n_out or 1)`` array, by the table of this module."""
    m = jnp.asarray(modulator, jnp.float32)
    if m.ndim == 0:
        return m.reshape(1, 1)
    if m.shape == (batch,):
        return m.reshape(batch, 1)
    if m.shape in ((batch, 1), (1, n_out), (batch, n_out)):
        return m
    raise ValueError(
        f"{name}: expected shape (), ({batch},), ({batch}, 1), (1, {n_out}) or ({batch}, {n_out}) "
        f"for a batch of {batch} and {n_out} postsynaptic units, got {tuple(m.shape)}"
    )


def batch_reduce(per_sample: jax.Array, reduce: str) -> jax.Array:
    """Sum (``"sum"``) or average (``"mean"``) over the leading batch axis."""
    return jnp.mean(per_sample, axis=0) if reduce == "mean" else jnp.sum(per_sample, axis=0)


def check_reduce(reduce: str) -> str:
    if reduce not in ("sum", "mean"):
        raise ValueError(f"reduce: expected 'sum' or 'mean', got {reduce!r}")
    return reduce


def apply_update(weights: jax.Array, delta_w: jax.Array, *, bounds: tuple[float, float] | None = None):
    """``weights + delta_w``, clipped to ``bounds = (low, high)`` only if bounds are given."""
    new = weights + delta_w
    if bounds is None:
        return new
    low, high = bounds
    if not low < high:
        raise ValueError(f"bounds: expected (low, high) with low < high, got {bounds!r}")
    return jnp.clip(new, low, high)
