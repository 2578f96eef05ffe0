"""The cell contract: a functional core under an object shell.

A cell class declares its compartments with :class:`Compartment`; a subclass inherits its
parents' compartments (declared first, in order) and adds its own. From them the class
gets a ``State`` NamedTuple (a pytree whose leaves are the compartments) and ``help()``.
Every subclass writes its mathematics once, as pure functions:

- ``init_state(batch_size=None, params=None)`` -> ``State``,
- ``step(state, dt, key=None, params=None)`` -> ``State`` (jit / vmap / scan safe),
- ``set(state, **values)`` -> ``State`` (validated: names, shapes and finiteness).

Numeric hyperparameters live in ``cell.params`` (a NamedTuple of floats). Every pure
function that reads one takes a ``params`` pytree in its place, so ``jax.vmap`` over
``params`` sweeps hyperparameter values: ``step`` reads the dynamics' constants, and
``init_state`` the rest values of compartments (a GaussianErrorCell's ``sigma`` is the
variance ``Sigma`` starts at). Names that select behaviour (activation, prior,
integrator) are fixed when the cell is built.

The shell, for interactive use, holds one state (and, for stochastic cells, one PRNG key
split inside the jitted step) and exposes each compartment by name::

    cell.reward.set(r); cell.advance_state(dt=1.0); cell.rpe.get()
    cell.reset(); cell.batched_reset(8); type(cell).help()

``set`` checks the value at once on the host (shape, and finiteness where the compartment
requires it: a ``ValueError`` naming the compartment, the state untouched) and stores it
in a plain dict, moving nothing to the device (a NumPy value is kept as a private copy).
``advance_state`` hands every compartment to the jitted step as an argument (one dispatch
per step; a NumPy value travels with that call) and stores only the compartments the step
changed. ``get`` returns the current value, values set since the last step included. The
shell runs the jitted pure functions; it never re-implements them.

Where a step's microseconds go on a CPU (n_units 128, measured for
``scripts/benchmark_cells.py``): a jitted call costs ~3.5 us plus ~0.75 us per array it
returns and ~0.15 us per argument; XLA runs a program of under 1000 flops inline and a
larger one on a worker thread (~5 us more, far more on a loaded machine); the shell's own
Python is ~1-3 us per step (a finiteness check, ~1 us, included).
"""

from __future__ import annotations

import math
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
      finite: refuse non-finite values in ``set`` (checked on the host, for concrete
        values; a traced value inside ``jit`` is not checked).
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
        """The compartment's current value (a value set since the last step included)."""
        return self._cell._get_compartment(self.name)

    def set(self, value) -> None:
        """Replace the value from the next step on; checked at once (shape, finiteness).

        Raises:
          ValueError: a value of the wrong shape, or a non-finite value where the
            compartment must be finite; the cell's state is left as it was.
        """
        self._cell._set_compartment(self.name, value)

    @property
    def value(self) -> jax.Array:
        return self.get()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.get().shape)

    def __repr__(self) -> str:
        return f"{type(self._cell).__name__}({self._cell.name!r}).{self.name} = {self.get()!r}"


def make_key(key) -> jax.Array:
    """A typed PRNG key from ``None`` (the fixed default seed 0), an int seed, or a key
    (typed, or raw ``uint32[2]`` data, which is wrapped as a threefry key)."""
    if key is None:
        return jax.random.key(0)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            return key
        if key.dtype == jnp.uint32 and key.shape == (2,):
            return jax.random.wrap_key_data(key)
    raise TypeError(f"key: expected None, an int seed or a jax.random key, got {key!r}")


class Cell:
    """Base class of every cell. Subclasses declare compartments and write the pure core.

    Subclass contract:
      - class attributes: :class:`Compartment` declarations (inherited ones come first),
        ``dynamics`` (one line), ``hyperparameter_docs`` (``{name: description}``),
        ``Params`` (NamedTuple type), ``stochastic`` (True if ``step`` needs a key);
      - ``init_state(batch_size=None, params=None)``, ``step(state, dt, key=None,
        params=None)``, each reading its numeric hyperparameters from ``params``;
      - optionally ``_conform(name, value, shape)`` for compartments whose accepted
        shapes differ from their current ``shape`` (or whose setting updates others).
    """

    compartments: ClassVar[dict[str, Compartment]] = {}
    State: ClassVar[type]
    Params: ClassVar[type]
    dynamics: ClassVar[str] = ""
    hyperparameter_docs: ClassVar[dict[str, str]] = {}
    stochastic: ClassVar[bool] = False
    _finite: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared: dict[str, Compartment] = {}
        for klass in reversed(cls.__mro__):
            for attr_name, attr in vars(klass).items():
                if isinstance(attr, Compartment):
                    declared[attr_name] = attr
                elif attr_name in declared:  # a subclass hides an inherited compartment
                    del declared[attr_name]
        cls.compartments = declared
        cls._finite = frozenset(n for n, c in declared.items() if c.finite)
        if not declared:
            return
        state_type = NamedTuple(f"{cls.__name__}State", [(n, jax.Array) for n in declared])
        state_type.__module__ = cls.__module__
        state_type.__qualname__ = f"{cls.__qualname__}.State"
        state_type.__doc__ = f"Compartments of a {cls.__name__}: {', '.join(declared)}."
        cls.State = state_type

    def __init__(self, name: str, n_units: int, batch_size: int = 1, key=None):
        self.name = check_name("name", name)
        self.n_units = check_positive_int("n_units", n_units)
        if self.stochastic:  # kept as raw key data: typed keys cost more per jitted call
            key = make_key(key)
            self._key_impl = jax.random.key_impl(key)
            self._key = jax.random.key_data(key)
        else:
            self._key_impl = self._key = None
        self._batch_size = check_positive_int("batch_size", batch_size)
        self._values: dict[str, Any] = {}  # compartment -> value (JAX, or NumPy until moved)
        self._host: set[str] = set()  # compartments holding a NumPy value
        self._host_stale: tuple = ()  # (name, value) of NumPy values already passed to a step
        self._load(self.init_state(self._batch_size))
        self._batch_index: int | None = None
        self._dt = (None, None, None)  # the last dt, its type and its device scalar
        self._written: tuple[str, ...] = ()  # compartments the jitted step returns
        self._step_jit = jax.jit(self._shell_step)
        for comp_name in self.compartments:  # instance attributes: no view built per access
            self.__dict__[comp_name] = CompartmentView(self, comp_name)

    # ----------------------------------------------------------------- pure core
    def init_state(self, batch_size: int | None = None, params=None):
        """A fresh ``State`` at rest for ``batch_size`` rows (default: the shell's)."""
        raise NotImplementedError

    def step(self, state, dt=1.0, key=None, params=None):
        """One step of the dynamics: ``State`` -> ``State``. Pure."""
        raise NotImplementedError

    def set(self, state, **values):
        """A copy of ``state`` with compartments replaced; names, shapes, finiteness checked.

        Values are converted to the compartment's dtype; traced values (inside ``jit``)
        skip the finiteness check.

        Raises:
          ValueError: an unknown compartment name, a value of the wrong shape, or a
            non-finite value where the compartment must be finite.
        """
        updates = {}
        for comp_name, value in values.items():
            if comp_name not in self.compartments:
                raise self._unknown(comp_name)
            current = getattr(state, comp_name)
            value = jnp.asarray(value, dtype=current.dtype)
            updates.update(self._conform(comp_name, value, current.shape) or {comp_name: value})
            if comp_name in self._finite and not isinstance(value, jax.core.Tracer):
                self._check_finite(comp_name, value)
        return state._replace(**updates)

    def _unknown(self, comp_name: str) -> ValueError:
        return ValueError(
            f"{type(self).__name__} {self.name!r}: unknown compartment {comp_name!r}; "
            f"expected one of {list(self.compartments)}"
        )

    def _check_finite(self, comp_name: str, value) -> None:
        """Refuse a concrete non-finite ``value`` (for a compartment declared ``finite``)."""
        host = np.asarray(value)  # a view for numpy and for JAX's CPU arrays
        # One BLAS pass: a NaN or an inf makes the sum of squares non-finite; so may an
        # overflow of finite values, hence the exact check behind it.
        if not math.isfinite(np.vdot(host, host)) and not np.isfinite(host).all():
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: compartment {comp_name!r} must be finite, got {host!r}"
            )

    def _conform(self, comp_name: str, value, shape: tuple[int, ...]) -> dict[str, Any] | None:
        """Check ``value`` for compartment ``comp_name``, whose current shape is ``shape``.

        Returns None to store ``value`` as it is, or the updates to apply instead.
        ``value`` is a JAX array (pure ``set``) or a NumPy array (the shell); updates keep
        its kind (see :func:`array_module`).
        """
        if value.shape != shape:
            raise self._shape_error(comp_name, value.shape, [shape])
        return None

    def _shape_error(self, comp_name: str, got: tuple, allowed: list[tuple]) -> ValueError:
        wanted = " or ".join(str(tuple(s)) for s in allowed)
        return ValueError(
            f"{type(self).__name__} {self.name!r}: compartment {comp_name!r} expects shape {wanted}, "
            f"got {tuple(got)} (values are never broadcast silently)"
        )

    def _params(self, params):
        return self.params if params is None else params

    # ---------------------------------------------------------------- the shell
    # The shell keeps one value per compartment in ``_values`` (a dict in declaration
    # order). ``set`` checks a value and stores it there: a JAX array as it is, anything
    # else as a private NumPy copy, which moves to the device as part of the next step's
    # call. ``advance_state`` passes the values to the jitted step as arguments and
    # stores the compartments it returns: one dispatch per step.
    @property
    def state(self):
        """The shell's current ``State`` (a pytree of compartments), values set since the
        last step included."""
        self._to_device(self._host)
        return self.State(*self._values.values())

    @state.setter
    def state(self, new_state) -> None:
        if not isinstance(new_state, self.State):
            raise TypeError(f"state: expected a {self.State.__qualname__}, got {type(new_state).__name__}")
        if self._batch_index is None:
            self._batch_index = self._batched_leaf()
        self._batch_size = int(new_state[self._batch_index].shape[0])
        self._load(new_state)

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def key(self):
        """The shell's PRNG key (stochastic cells only; split inside each step)."""
        if self._key is None:
            return None
        return jax.random.wrap_key_data(self._key, impl=self._key_impl)

    def _load(self, state) -> None:
        """Make ``state`` (a ``State`` of JAX arrays) the shell's values."""
        self._values = dict(zip(self.compartments, state, strict=True))
        self._host = set()
        self._host_stale = ()

    def _batched_leaf(self) -> int:
        """Index of a compartment whose leading axis is the batch (from ``init_state``'s shapes)."""
        one, two = (jax.eval_shape(lambda b=b: self.init_state(b)) for b in (1, 2))
        for i, (a, b) in enumerate(zip(one, two, strict=True)):
            if a.shape[:1] == (1,) and b.shape[:1] == (2,):
                return i
        raise TypeError(f"{type(self).__name__}: no compartment of init_state has a batch axis")

    def _get_compartment(self, comp_name: str):
        if comp_name in self._host:
            self._to_device((comp_name,))
        return self._values[comp_name]

    def _set_compartment(self, comp_name: str, value) -> None:
        """Check ``value`` for ``comp_name`` and store it; nothing moves to the device."""
        current = self._values.get(comp_name)
        if current is None:
            raise self._unknown(comp_name)
        if isinstance(value, jax.Array):  # immutable: no copy; CPU arrays are read in place
            if value.dtype != current.dtype:
                value = value.astype(current.dtype)
        else:  # a private copy: later writes to the caller's buffer change nothing here
            value = np.array(value, dtype=current.dtype)
        updates = self._conform(comp_name, value, current.shape)
        if comp_name in self._finite:
            self._check_finite(comp_name, value)
        if updates is None:
            self._values[comp_name] = value
            if value.__class__ is np.ndarray:
                self._host.add(comp_name)
            elif comp_name in self._host:
                self._host.discard(comp_name)
            return
        self._values.update(updates)
        for name, update in updates.items():
            if isinstance(update, np.ndarray):
                self._host.add(name)
            else:
                self._host.discard(name)

    def _to_device(self, names) -> None:
        """Move the NumPy values of ``names`` to the device, once."""
        values, host = self._values, self._host
        for name in tuple(names):
            if name in host:
                values[name] = jnp.asarray(values[name])
                host.discard(name)

    def _shell_step(self, leaves, key, dt):
        """The jitted shell step: the compartments ``step`` changed, in a tuple, and the
        next key. Their names go to ``self._written`` when the step is traced."""
        state = self.State(*leaves)
        if self.stochastic:
            key, key_step = jax.random.split(jax.random.wrap_key_data(key, impl=self._key_impl))
            new_state, key = self.step(state, dt, key_step), jax.random.key_data(key)
        else:
            new_state = self.step(state, dt)
        fields = zip(state._fields, state, new_state, strict=True)
        pairs = [(name, new) for name, old, new in fields if new is not old]
        self._written = tuple(name for name, _ in pairs)
        return tuple(new for _, new in pairs), key

    def _dt_argument(self, dt):
        """``dt`` as a device scalar, kept from the last call (a Python float costs a
        transfer per call)."""
        last, last_type, device_dt = self._dt
        if dt.__class__ is last_type and dt == last:
            return device_dt
        if isinstance(dt, jax.core.Tracer):
            return dt
        if isinstance(dt, (jax.Array, np.ndarray, np.generic)) and np.ndim(dt) == 0:
            dt = float(dt)  # a concrete 0-d array: checked like a number
        device_dt = jax.device_put(np.float32(_check_dt(dt)))
        self._dt = (dt, dt.__class__, device_dt)
        return device_dt

    def advance_state(self, dt=1.0) -> None:
        """Advance the shell's state by one step of ``dt`` ms: one call of the jitted
        ``step``, with the compartments' values as its arguments."""
        dt = self._dt_argument(dt)
        values = self._values
        if self._host:
            # A NumPy value goes to the device with the call it was set for; one still in
            # force at a later step is moved there once.
            self._to_device([n for n, v in self._host_stale if values[n] is v])
            self._host_stale = tuple((n, values[n]) for n in self._host)
        changed, self._key = self._step_jit(tuple(values.values()), self._key, dt)
        values.update(zip(self._written, changed, strict=True))

    def reset(self) -> None:
        """Every compartment, inputs included, back to its initial value."""
        self._load(self.init_state(self._batch_size))

    def batched_reset(self, batch_size: int) -> None:
        """As :meth:`reset`, with a new batch size."""
        self._batch_size = check_positive_int("batch_size", batch_size)
        self.reset()

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
        pairs = zip(self.compartments, self.state, strict=True)
        shapes = ", ".join(f"{n}{tuple(v.shape)}" for n, v in pairs)
        return f"{type(self).__name__}(name={self.name!r}, n_units={self.n_units}; {shapes})"


def array_module(value):
    """``jax.numpy`` for JAX arrays (traced ones included), ``numpy`` for host arrays."""
    return jnp if isinstance(value, jax.Array) else np


def _check_dt(dt) -> float:
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real):
        raise TypeError(f"dt: expected a real number of ms, got {dt!r} ({type(dt).__name__})")
    return check_real("dt", dt, low=0.0, low_open=True)
