"""Node perturbation: learning from the correlation of noise with reward.

Units are perturbed (by injected noise or the cell's own noise); an eligibility trace
collects how each synapse's input correlated with its unit's deviation during a trial, and
the trial-end update moves weights along the eligibility, scaled by how much better (or
worse) than expected the trial was. For pre ``(B, n_in)`` and unit activity
``x (B, n_out)`` at each step of a trial:

``node_perturbation`` (Fiete & Seung 2006), with ``xi`` the injected perturbation::

    E_b += pre_b^T xi_b

``supralinear_node_perturbation`` (Miconi 2017, eLife 6:e20899), with ``x_bar`` a running
mean of ``x`` (``x_bar <- (1 - alpha_x) x_bar + alpha_x x``)::

    E_b += (pre_b^T (x_b - x_bar_b)) ** 3            (elementwise cube)

At the trial's end, with performance ``R`` (per sample or scalar) and its expectation
``R_bar`` (e.g. a RewardErrorCell's ``mu``)::

    dW = +eta * reduce_b((R_b - R_bar_b) E_b)        signal="reward" (higher is better)
    dW = -eta * reduce_b((R_b - R_bar_b) E_b)        signal="error"  (lower is better)

and the eligibility is cleared for the next trial. Eligibility ``(B, n_in, n_out)``.

``accumulate_trial(state, pre_seq, x_seq)`` adds a whole trial at once, from sequences
``(T, B, n_in)`` and ``(T, B, n_out)``: the same sums as ``T`` calls of ``accumulate``, but
one contraction over time instead of a ``(B, n_in, n_out)`` update per step. For Miconi's
rule that rests on the cube of a product being the product of cubes::

    sum_t (pre_t,j dev_t,i) ** 3 = sum_t pre_t,j ** 3  dev_t,i ** 3
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rpe.learning_rule import batch_reduce, check_reduce, modulator_by_sample_and_unit
from rpe.validation import check_positive_int, check_real

__all__ = ["NodePerturbationState", "node_perturbation", "supralinear_node_perturbation"]


class NodePerturbationState(NamedTuple):
    """Eligibility ``(B, n_in, n_out)`` and running mean of activity ``(B, n_out)``."""

    eligibility: jax.Array
    x_bar: jax.Array


def _check_signal(signal: str) -> float:
    if signal not in ("reward", "error"):
        raise ValueError(f"signal: expected 'reward' (higher is better) or 'error', got {signal!r}")
    return 1.0 if signal == "reward" else -1.0


def _init(batch: int, n_in: int, n_out: int) -> NodePerturbationState:
    batch, n_in, n_out = (
        check_positive_int(n, v) for n, v in (("batch", batch), ("n_in", n_in), ("n_out", n_out))
    )
    return NodePerturbationState(
        jnp.zeros((batch, n_in, n_out), jnp.float32), jnp.zeros((batch, n_out), jnp.float32)
    )


def _trial_end(eta: float, sign: float, reduce: str):
    def update(state, performance, baseline):
        batch, _, n_out = state.eligibility.shape
        # Each side to (B or 1, n_out or 1) first: (B,) - (B, 1) would broadcast to (B, B).
        advantage = modulator_by_sample_and_unit(performance, batch, n_out, name="performance") - (
            modulator_by_sample_and_unit(baseline, batch, n_out, name="baseline")
        )
        dw = sign * eta * batch_reduce(advantage[:, None, :] * state.eligibility, reduce)
        return dw, state._replace(eligibility=jnp.zeros_like(state.eligibility))

    return update


class NodePerturbationRule(NamedTuple):
    """``init(batch, n_in, n_out)``; ``accumulate(state, pre, x)`` each step, or
    ``accumulate_trial(state, pre_seq, x_seq)`` once per trial;
    ``update(state, performance, baseline) -> (delta_w, state)`` at a trial's end."""

    init: Callable[[int, int, int], NodePerturbationState]
    accumulate: Callable[[NodePerturbationState, jax.Array, jax.Array], NodePerturbationState]
    update: Callable[..., tuple[jax.Array, NodePerturbationState]]
    accumulate_trial: Callable[[NodePerturbationState, jax.Array, jax.Array], NodePerturbationState]


def _check_sequences(pre_seq, x_seq, state) -> None:
    batch, n_in, n_out = state.eligibility.shape
    if pre_seq.ndim != 3 or pre_seq.shape[1:] != (batch, n_in):
        raise ValueError(f"pre_seq: expected shape (T, {batch}, {n_in}), got {pre_seq.shape}")
    if x_seq.shape != (*pre_seq.shape[:1], batch, n_out):
        raise ValueError(f"x_seq: expected shape ({pre_seq.shape[0]}, {batch}, {n_out}), got {x_seq.shape}")


def node_perturbation(eta: float, *, signal: str = "reward", reduce: str = "sum") -> NodePerturbationRule:
    """Fiete & Seung's rule; ``accumulate(state, pre, xi)`` takes the injected noise ``xi``."""
    eta = check_real("eta", eta)
    sign = _check_signal(signal)
    reduce = check_reduce(reduce)

    def accumulate(state, pre, xi):
        return state._replace(eligibility=state.eligibility + pre[:, :, None] * xi[:, None, :])

    def accumulate_trial(state, pre_seq, xi_seq):
        _check_sequences(pre_seq, xi_seq, state)
        return state._replace(eligibility=state.eligibility + jnp.einsum("tbj,tbi->bji", pre_seq, xi_seq))

    return NodePerturbationRule(_init, accumulate, _trial_end(eta, sign, reduce), accumulate_trial)


def supralinear_node_perturbation(
    eta: float, *, alpha_x: float = 0.05, signal: str = "error", reduce: str = "sum"
) -> NodePerturbationRule:
    """Miconi's rule; ``accumulate(state, pre, x)`` takes the units' activity ``x``. Both
    accumulators take an optional ``alpha_x`` that overrides the constructor's for that call
    (a traced value, to vmap over it)."""
    eta = check_real("eta", eta)
    default_alpha_x = check_real("alpha_x", alpha_x, low=0.0, high=1.0, low_open=True)
    sign = _check_signal(signal)
    reduce = check_reduce(reduce)

    def accumulate(state, pre, x, alpha_x=None):
        alpha_x = default_alpha_x if alpha_x is None else alpha_x
        deviation = x - state.x_bar
        contribution = pre[:, :, None] * deviation[:, None, :]
        return NodePerturbationState(
            eligibility=state.eligibility + contribution**3,
            x_bar=(1.0 - alpha_x) * state.x_bar + alpha_x * x,
        )

    def accumulate_trial(state, pre_seq, x_seq, alpha_x=None):
        _check_sequences(pre_seq, x_seq, state)
        alpha_x = default_alpha_x if alpha_x is None else alpha_x

        def running_mean(x_bar, x):
            return (1.0 - alpha_x) * x_bar + alpha_x * x, x - x_bar

        x_bar, deviation = jax.lax.scan(running_mean, state.x_bar, x_seq)
        eligibility = state.eligibility + jnp.einsum("tbj,tbi->bji", pre_seq**3, deviation**3)
        return NodePerturbationState(eligibility, x_bar)

    return NodePerturbationRule(_init, accumulate, _trial_end(eta, sign, reduce), accumulate_trial)
