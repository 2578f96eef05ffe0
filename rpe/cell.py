"""The cell contract: a functional core under an object shell.

A cell class declares its compartments with :class:`Compartment`. From them it gets a
``State`` NamedTuple (a pytree whose leaves are the compartments) and ``help()``. Every
subclass writes its mathematics once, as pure functions:

- ``init_state(batch_size)`` -> ``State``,
- ``step(state, dt, key=None, params=None)`` -> ``State`` (jit / vmap / scan safe),
- ``set(state, **values)`` -> ``State`` (validated: names and shapes).

Numeric hyperparameters live in ``cell.params`` (a NamedTuple of floats): pass another
``params`` pytree to ``step`` to ``vmap`` over hyperparameter values. Names that select
behaviour (activation, prior, integrator) are fixed when the cell is built.

The shell, for interactive use, holds one state (and, for stochastic cells, one PRNG key
split inside the jitted step) and exposes each compartment by name::

    cell.reward.set(r); cell.advance_state(dt=1.0); cell.rpe.get()
    cell.reset(); cell.batched_reset(8); type(cell).help()

It runs the jitted pure functions; it never re-implements them.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rpe.validation import check_name, check_positive_int, check_real

__all__ = ["Cell", "Compartment", "CompartmentView", "make_key"]

_ROLES = ("inputs", "states", "outputs")


class Compartment:
    """Declares one compartment of a :class:`Cell` subclass.

    Args:
      roles: where ``help()`` lists it: any of ``"inputs"``, ``"states"``, ``"outputs"``.
      doc: one line for ``help()``: meaning, shape and units.
      finite: refuse non-finite values in ``set`` (checked on concrete values only).
    """

    def __init__(self, roles: str | tuple[str, ...], doc: str, *, finite: bool = False):
        roles = (roles,) if isinstance(roles, str) else tuple(roles)
        unknown = [r for r in roles if r not in _ROLES]
        if unknown:
            raise ValueError(f"roles: unknown {unknown}; expected some of {list(_ROLES)}")
        self.roles = roles
        self.doc = doc
        self.finite = finite
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, cell: Cell | None, owner: type) -> Any:
        if cell is None:
            return self
        return CompartmentView(cell, self.name)


class CompartmentView:
    """One compartment of a live cell: ``get()`` its value, ``set(value)`` a new one."""

    __slots__ = ("_cell", "name")

    def __init__(self, cell: Cell, name: str):
        self._cell = cell
        self.name = name

    def get(self) -> jax.Array:
        """The compartment's current value."""
        return getattr(self._cell.state, self.name)

    def set(self, value) -> None:
        """Replace the value; shapes are checked by the cell's pure ``set``."""
        self._cell.state = self._cell.set(self._cell.state, **{self.name: value})

    @property
    def value(self) -> jax.Array:
        return self.get()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.get().shape)

    def __repr__(self) -> str:
        return f"{type(self._cell).__name__}({self._cell.name!r}).{self.name} = {self.get()!r}"


def make_key(key) -> jax.Array:
    """A PRNG key from ``None`` (the fixed default seed 0), an int seed, or a key array."""
    if key is None:
        return jax.random.key(0)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array) and (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or (key.dtype == jnp.uint32 and key.shape == (2,))
    ):
        return key
    raise TypeError(f"key: expected None, an int seed or a jax.random key, got {key!r}")


class Cell:
    """Base class of every cell. Subclasses declare compartments and write the pure core.

    Subclass contract:
      - class attributes: :class:`Compartment` declarations, ``dynamics`` (one line),
        ``hyperparameter_docs`` (``{name: description}``), ``Params`` (NamedTuple type),
        ``stochastic`` (True if ``step`` needs a key);
      - ``init_state(batch_size)``, ``step(state, dt, key=None, params=None)``;
      - optionally ``_conform(name, value, state)`` for compartments whose accepted
        shapes differ from their current shape.
    """

    compartments: ClassVar[dict[str, Compartment]] = {}
    State: ClassVar[type]
    Params: ClassVar[type]
    dynamics: ClassVar[str] = ""
    hyperparameter_docs: ClassVar[dict[str, str]] = {}
    stochastic: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = {n: c for n, c in vars(cls).items() if isinstance(c, Compartment)}
        if not declared:
            return
        cls.compartments = declared
        state_type = NamedTuple(f"{cls.__name__}State", [(n, jax.Array) for n in declared])
        state_type.__module__ = cls.__module__
        state_type.__qualname__ = f"{cls.__qualname__}.State"
        state_type.__doc__ = f"Compartments of a {cls.__name__}: {', '.join(declared)}."
        cls.State = state_type

    def __init__(self, name: str, n_units: int, batch_size: int = 1, key=None):
        self.name = check_name("name", name)
        self.n_units = check_positive_int("n_units", n_units)
        self._key = make_key(key) if self.stochastic else None
        self._state = self.init_state(check_positive_int("batch_size", batch_size))
        self._step_jit = jax.jit(self._shell_step)

    # ----------------------------------------------------------------- pure core
    def init_state(self, batch_size: int | None = None):
        """A fresh ``State`` at rest for ``batch_size`` rows (default: the shell's)."""
        raise NotImplementedError

    def step(self, state, dt=1.0, key=None, params=None):
        """One step of the dynamics: ``State`` -> ``State``. Pure."""
        raise NotImplementedError

    def set(self, state, **values):
        """A copy of ``state`` with compartments replaced; names and shapes checked.

        Raises:
          ValueError: an unknown compartment name, a value of the wrong shape, or a
            non-finite value where the compartment must be finite.
        """
        updates = {}
        for comp_name, value in values.items():
            if comp_name not in self.compartments:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: unknown compartment {comp_name!r}; "
                    f"expected one of {list(self.compartments)}"
                )
            current = getattr(state, comp_name)
            value = jnp.asarray(value, dtype=current.dtype)
            must_be_finite = self.compartments[comp_name].finite and not isinstance(value, jax.core.Tracer)
            if must_be_finite and not bool(np.all(np.isfinite(np.asarray(value)))):
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: compartment {comp_name!r} must be "
                    f"finite, got {np.asarray(value)!r}"
                )
            updates.update(self._conform(comp_name, value, state))
        return state._replace(**updates)

    def _conform(self, comp_name: str, value: jax.Array, state) -> dict[str, jax.Array]:
        """Check ``value`` for compartment ``comp_name``; return the updates to apply."""
        expected = getattr(state, comp_name).shape
        if value.shape != expected:
            raise self._shape_error(comp_name, value.shape, [expected])
        return {comp_name: value}

    def _shape_error(self, comp_name: str, got: tuple, allowed: list[tuple]) -> ValueError:
        wanted = " or ".join(str(tuple(s)) for s in allowed)
        return ValueError(
            f"{type(self).__name__} {self.name!r}: compartment {comp_name!r} expects shape {wanted}, "
            f"got {tuple(got)} (values are never broadcast silently)"
        )

    def _params(self, params):
        return self.params if params is None else params

    # ---------------------------------------------------------------- the shell
    @property
    def state(self):
        """The shell's current ``State`` (a pytree of compartments)."""
        return self._state

    @state.setter
    def state(self, new_state) -> None:
        if not isinstance(new_state, self.State):
            raise TypeError(f"state: expected a {self.State.__qualname__}, got {type(new_state).__name__}")
        self._state = new_state

    @property
    def batch_size(self) -> int:
        return int(next(iter(self._state)).shape[0])

    @property
    def key(self):
        """The shell's PRNG key (stochastic cells only; split inside each step)."""
        return self._key

    def _shell_step(self, state, key, dt):
        if self.stochastic:
            key, key_step = jax.random.split(key)
            return self.step(state, dt, key_step), key
        return self.step(state, dt), key

    def advance_state(self, dt=1.0) -> None:
        """Advance the shell's state by one step of ``dt`` ms (runs the jitted ``step``)."""
        self._state, self._key = self._step_jit(self._state, self._key, _check_dt(dt))

    def reset(self) -> None:
        """Every compartment, inputs included, back to its initial value."""
        self._state = self.init_state(self.batch_size)

    def batched_reset(self, batch_size: int) -> None:
        """As :meth:`reset`, with a new batch size."""
        self._state = self.init_state(check_positive_int("batch_size", batch_size))

    @classmethod
    def help(cls) -> dict:
        """A description of the cell: type, compartments by role, dynamics, hyperparameters."""
        comps: dict[str, dict[str, str]] = {role: {} for role in _ROLES}
        for comp_name, comp in cls.compartments.items():
            for role in comp.roles:
                comps[role][comp_name] = comp.doc
        return {
            "cell_type": cls.__name__,
            "compartments": comps,
            "dynamics": cls.dynamics,
            "hyperparameters": dict(cls.hyperparameter_docs),
        }

    def __repr__(self) -> str:
        pairs = zip(self.compartments, self._state, strict=True)
        shapes = ", ".join(f"{n}{tuple(v.shape)}" for n, v in pairs)
        return f"{type(self).__name__}(name={self.name!r}, n_units={self.n_units}; {shapes})"


def _check_dt(dt):
    if isinstance(dt, numbers.Real) and not isinstance(dt, bool):
        return check_real("dt", dt, low=0.0, low_open=True)
    return dt
