"""Three-factor learning: a Hebbian term gated by a modulator such as the RPE.

For pre ``(B, n_in)``, post ``(B, n_out)`` and modulator ``m`` (shapes in
:mod:`rpe.learning_rule`)::

    H_b = pre_b^T post_b                                   (n_in, n_out) per sample
    E_b = H_b                                              without a trace, or
    E_b <- exp(-dt / tau_e) E_b + H_b                      with an eligibility trace
    dW  = eta * reduce_b(m_b * E_b) - eta * weight_decay * W

``m_b`` multiplies each sample's term (per sample) and/or each postsynaptic column (per
unit) before the batch is reduced (``"sum"`` or ``"mean"``). With a trace, the per-sample
kernels :func:`rpe.functional.eligibility_trace` and
:func:`rpe.functional.three_factor_update` are vmapped over the batch; without one,
``sum_b m_b H_b = pre^T (m post)`` is the batch form of
:func:`rpe.functional.hebbian_update` (one matrix product). The trace is kept per sample,
``(B, n_in, n_out)``, so each environment of a batch keeps its own eligibility. Weight
decay is applied only when ``weight_decay > 0`` (it then needs ``weights``); bounds, only by
:func:`rpe.learning_rule.apply_update` when given. After Gerstner et al. (2018),
"Eligibility traces and plasticity on behavioral time scales".

Example:
  >>> rule = three_factor(eta=0.5)
  >>> pre, post = jnp.ones((2, 3)), jnp.ones((2, 1))
  >>> dw, _ = rule.update(rule.init(2, 3, 1), pre, post, modulator=jnp.asarray([1.0, -3.0]))
  >>> float(dw[0, 0])  # 0.5 * (1 - 3)
  -1.0
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rpe import functional
from rpe.learning_rule import LearningRule, batch_reduce, check_reduce, modulator_by_sample_and_unit
from rpe.validation import check_positive_int, check_real

__all__ = ["ThreeFactorState", "three_factor"]


class ThreeFactorState(NamedTuple):
    """Eligibility trace ``(B, n_in, n_out)``; empty ``(0,)`` when the rule has no trace."""

    trace: jax.Array


def three_factor(
    eta: float, *, tau_e: float | None = None, reduce: str = "sum", weight_decay: float = 0.0
) -> LearningRule:
    """A three-factor rule.

    Args:
      eta: learning rate.
      tau_e: eligibility time constant in ms (same unit as ``dt``); None for the
        instantaneous Hebbian term.
      reduce: ``"sum"`` or ``"mean"`` over the batch.
      weight_decay: L2 decay coefficient (>= 0), applied only when > 0.

    Returns:
      ``LearningRule(init(batch, n_in, n_out), update(state, pre, post, modulator, dt=1.0,
      weights=None))``.
    """
    eta = check_real("eta", eta)
    reduce = check_reduce(reduce)
    weight_decay = check_real("weight_decay", weight_decay, low=0.0)
    if tau_e is not None:
        tau_e = check_real("tau_e", tau_e, low=0.0, low_open=True)

    def init(batch: int, n_in: int, n_out: int) -> ThreeFactorState:
        shape = (
            check_positive_int("batch", batch),
            check_positive_int("n_in", n_in),
            check_positive_int("n_out", n_out),
        )
        return ThreeFactorState(jnp.zeros(shape if tau_e is not None else (0,), jnp.float32))

    def update(state, pre, post, modulator, dt=1.0, weights=None):
        batch, n_out = post.shape
        if pre.shape[0] != batch:
            raise ValueError(f"pre, post: batch sizes differ, {tuple(pre.shape)} and {tuple(post.shape)}")
        m = modulator_by_sample_and_unit(modulator, batch, n_out)
        if tau_e is None:  # sum_b m_b E_b = pre^T (m post): one matrix product
            dw = functional.hebbian_update(pre, m * post, eta)
            return _decay(dw / batch if reduce == "mean" else dw, weights), state
        if state.trace.shape != (batch, pre.shape[1], n_out):
            raise ValueError(
                f"state: trace of shape {tuple(state.trace.shape)} does not fit pre {tuple(pre.shape)} "
                f"and post {tuple(post.shape)}; build it with init(batch, n_in, n_out)"
            )
        trace = jax.vmap(functional.eligibility_trace, in_axes=(0, 0, 0, None, None))
        state = ThreeFactorState(trace(state.trace, pre, post, dt, tau_e))
        m = jnp.broadcast_to(m, (batch, n_out))  # a row per sample, to vmap over
        per_sample = jax.vmap(functional.three_factor_update, in_axes=(0, 0, None))(state.trace, m, eta)
        return _decay(batch_reduce(per_sample, reduce), weights), state

    def _decay(dw, weights):
        if weight_decay > 0.0:
            if weights is None:
                raise ValueError("weights: weight_decay > 0 needs the current weights")
            dw = dw - eta * weight_decay * weights
        return dw

    return LearningRule(init, update)
