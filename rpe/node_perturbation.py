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

and the eligibility is cleared for the next trial. Eligibility ``(B, n_in, n_out)``. Each
sample's term is a kernel of :mod:`rpe.functional` (:func:`~rpe.functional.node_perturbation_eligibility`,
:func:`~rpe.functional.supralinear_eligibility` and its ``_trial`` form,
:func:`~rpe.functional.node_perturbation_update`), vmapped over the batch.

``accumulate_trial(state, pre_seq, x_seq)`` adds a whole trial at once, from sequences
``(T, B, n_in)`` and ``(T, B, n_out)``: the same sums as ``T`` calls of ``accumulate``, but
one contraction over time instead of a ``(B, n_in, n_out)`` update per step. For Miconi's
rule that rests on the cube of a product being the product of cubes::

    sum_t (pre_t,j dev_t,i) ** 3 = sum_t pre_t,j ** 3  dev_t,i ** 3
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rpe import functional
from rpe.learning_rule import batch_reduce, check_reduce, modulator_by_sample_and_unit
from rpe.validation import check_positive_int, check_real

__all__ = ["NodePerturbationState", "node_perturbation", "supralinear_node_perturbation"]


class NodePerturbationState(NamedTuple):
    """Eligibility ``(B, n_in, n_out)`` and running mean of activity ``(B, n_out)``."""

    eligibility: jax.Array
    x_bar: jax.Array


def _init(batch: int, n_in: int, n_out: int) -> NodePerturbationState:
    batch, n_in, n_out = (
        check_positive_int(n, v) for n, v in (("batch", batch), ("n_in", n_in), ("n_out", n_out))
    )
    return NodePerturbationState(
        jnp.zeros((batch, n_in, n_out), jnp.float32), jnp.zeros((batch, n_out), jnp.float32)
    )


def _trial_end(eta: float, signal: str, reduce: str):
    per_sample = jax.vmap(
        functools.partial(functional.node_perturbation_update, signal=signal), in_axes=(0, 0, 0, None)
    )

    def update(state, performance, baseline):
        batch, _, n_out = state.eligibility.shape

        def rows(value, name):  # (B, n_out); each side on its own: (B,) - (B, 1) would be (B, B)
            by_table = modulator_by_sample_and_unit(value, batch, n_out, name=name)
            return jnp.broadcast_to(by_table, (batch, n_out))

        dw = per_sample(state.eligibility, rows(performance, "performance"), rows(baseline, "baseline"), eta)
        return batch_reduce(dw, reduce), state._replace(eligibility=jnp.zeros_like(state.eligibility))

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
    signal = functional.check_signal(signal)
    reduce = check_reduce(reduce)
    step = jax.vmap(functional.node_perturbation_eligibility)
    trial = jax.vmap(functional.node_perturbation_eligibility, in_axes=(0, 1, 1))

    def accumulate(state, pre, xi):
        return state._replace(eligibility=step(state.eligibility, pre, xi))

    def accumulate_trial(state, pre_seq, xi_seq):
        _check_sequences(pre_seq, xi_seq, state)
        return state._replace(eligibility=trial(state.eligibility, pre_seq, xi_seq))

    return NodePerturbationRule(_init, accumulate, _trial_end(eta, signal, reduce), accumulate_trial)


def supralinear_node_perturbation(
    eta: float, *, alpha_x: float = 0.05, signal: str = "error", reduce: str = "sum"
) -> NodePerturbationRule:
    """Miconi's rule; ``accumulate(state, pre, x)`` takes the units' activity ``x``. Both
    accumulators take an optional ``alpha_x`` that overrides the constructor's for that call
    (a traced value, to vmap over it)."""
    eta = check_real("eta", eta)
    default_alpha_x = check_real("alpha_x", alpha_x, low=0.0, high=1.0, low_open=True)
    signal = functional.check_signal(signal)
    reduce = check_reduce(reduce)
    step = jax.vmap(functional.supralinear_eligibility, in_axes=(0, 0, 0, 0, None))
    trial = jax.vmap(functional.supralinear_eligibility_trial, in_axes=(0, 0, 1, 1, None))

    def accumulate(state, pre, x, alpha_x=None):
        alpha_x = default_alpha_x if alpha_x is None else alpha_x
        return NodePerturbationState(*step(state.eligibility, state.x_bar, pre, x, alpha_x))

    def accumulate_trial(state, pre_seq, x_seq, alpha_x=None):
        _check_sequences(pre_seq, x_seq, state)
        alpha_x = default_alpha_x if alpha_x is None else alpha_x
        return NodePerturbationState(*trial(state.eligibility, state.x_bar, pre_seq, x_seq, alpha_x))

    return NodePerturbationRule(_init, accumulate, _trial_end(eta, signal, reduce), accumulate_trial)
