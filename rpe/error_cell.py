"""What every error cell shares: the modulator/mask gate and scale-like parameters.

Error cells output a log-likelihood ``L`` (a scalar, ``L <= 0``) and its gradients ``d*``
(ascent directions). Two inputs gate the gradients:

- ``modulator`` (starts as ones, kept until set again or reset): a third factor such as
  the RPE, per entry ``(batch_size, n_units)`` or per sample ``(batch_size, 1)``, the
  latter broadcast across units (the one broadcast we do, and only for these two inputs);
- ``mask`` (starts as ones, consumed: ones again after each step): 0/1 per entry or per
  sample; ``L`` counts only entries where ``mask == 1``.

Every ``d*`` output is ``modulator * mask * raw_derivative``; derivatives with respect to a
scale-like parameter (``Sigma``, ``Scale``) are gated per entry and then summed to that
parameter's shape, ``(1, 1)`` (shared) or ``(1, n_units)`` (per unit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rpe.cell import Cell, Compartment, array_module

__all__ = ["ErrorCell"]


class ErrorCell(Cell):
    """Base of the error cells: the ``modulator``/``mask`` inputs and a scale parameter.

    Declares ``modulator`` and ``mask`` (every error cell's first two compartments; its
    ``init_state`` sets both to ones and its ``step`` consumes the mask). Subclasses set
    ``scale_parameter`` (e.g. ``"Sigma"``) and ``scale_derivative`` (e.g. ``"dSigma"``)
    when they have one, and may add inputs to ``per_sample_inputs`` (accepted as
    ``(batch_size, 1)`` and broadcast across units).
    """

    modulator = Compartment(
        "inputs", "third factor gating every d* output, (batch_size, n_units); set accepts (batch_size, 1)"
    )
    mask = Compartment("inputs", "0/1 entries to count, consumed by each step, (batch_size, n_units)")

    scale_parameter: str | None = None
    scale_derivative: str | None = None
    per_sample_inputs: tuple[str, ...] = ("modulator", "mask")

    def _conform(self, comp_name, value, shape):
        if comp_name in self.per_sample_inputs:  # stored per entry: ``shape`` is (batch_size, n_units)
            if value.shape == shape:
                return None
            if value.shape == (shape[0], 1):
                return {comp_name: array_module(value).broadcast_to(value, shape)}
            raise self._shape_error(comp_name, value.shape, [shape, (shape[0], 1)])
        if comp_name == self.scale_parameter:
            allowed = [(1, 1), (1, self.n_units)]
            if value.shape not in allowed:
                raise self._shape_error(comp_name, value.shape, allowed)
            zeros = array_module(value).zeros(value.shape, value.dtype)
            return {comp_name: value, self.scale_derivative: zeros}
        return super()._conform(comp_name, value, shape)

    def _rest(self, batch_size: int | None) -> tuple[jax.Array, jax.Array]:
        """Zeros and ones of shape ``(batch_size, n_units)`` (default: the shell's batch)."""
        b = self.batch_size if batch_size is None else batch_size
        shape = (b, self.n_units)
        return jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32)
