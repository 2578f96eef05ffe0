"""The agent contract: what every agent provides and what the loop may rely on.

In the style of ``optax.GradientTransformation``, an :class:`Agent` is a NamedTuple of pure
functions (jit, vmap and scan safe) plus what describes it. The loop (rollouts, the jitted
trainer, populations, the run folder) knows an agent through these fields alone.

Per batch of ``E`` episodes, the loop calls::

    carry = begin(state, E)                                   # per-episode working memory
    for each env step t:
        action, carry = act(state, carry, obs_t, key_t)       # greedy(state, carry, obs_t) to evaluate
        (env step)
        state, carry = observe(state, carry, transition_t)    # online learning (or nothing)
    state, metrics = learn(state, carry, trajectory)          # batch learning (or nothing)

``metrics`` maps names to ``(E,)`` arrays, one value per episode; every one of them is
written to the run's ``metrics.csv``. ``carry`` holds what lasts one episode: eligibility
traces, running sums, a recurrent network's activity. ``state`` holds what is learned and
the numeric hyperparameters (``state.hp``, see below), so a population is one state pytree
with a leading member axis.

Hyperparameters. Each agent has a frozen :class:`AgentConfig` dataclass, validated when it
is built. Its fields are declared with :func:`numeric` (a real number, part of the
vmappable pytree ``config.numeric_values()``: populations can give each member its own
value, and the agent reads it from ``state.hp``) or :func:`structural` (an int, bool or
choice that sets array shapes or program structure: the same for every member).

Actions. An agent emits action arrays in the convention of ``envs.decoder_for`` (Discrete:
indices from 0; Box: unbounded values that the env spec squashes into the bounds); the
:class:`EnvSpec` turns them into env actions (``bound`` for a batch, jit-safe; ``to_env``
for one Gymnasium env).
"""

from __future__ import annotations

import dataclasses
import numbers
import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rpe.validation import check_real

__all__ = [
    "Agent",
    "AgentConfig",
    "EnvSpec",
    "Trajectory",
    "Transition",
    "numeric",
    "structural",
]

State = Any
Carry = Any


class Transition(NamedTuple):
    """One env step of a batch of ``E`` episodes, as ``observe`` sees it.

    ``obs (E, D)``, ``action (E, ...)``, ``reward (E,)``, ``next_obs (E, D)`` (the real next
    observation, also at a time limit), ``terminated (E,)`` and ``truncated (E,)`` (0/1),
    ``alive (E,)`` (0 for the padding after an episode ended).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    alive: jax.Array


class Trajectory(NamedTuple):
    """A batch of episodes padded to the horizon ``T``: shapes ``(E, T, ...)``; ``alive`` is 1
    for the steps of the episode and 0 for the padding after it."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    alive: jax.Array


class EnvSpec(NamedTuple):
    """What an agent and the loop know of an env, built once per run (``agents.env_spec``).

    ``env_id``: the id it was made from; ``observation_space``, ``action_space``;
    ``horizon``: the time limit in steps (episodes are padded to it); ``reward_threshold``:
    the solved score or None; ``jax_env``: the JAX-native twin (a ``FuncEnv``) or None;
    ``bound(actions)``: a batch of agent action arrays as env-valued arrays (jit-safe);
    ``to_env(row)``: one bounded action row as a Gymnasium env takes it.
    """

    env_id: str
    observation_space: Any
    action_space: Any
    horizon: int
    reward_threshold: float | None
    jax_env: Any
    bound: Callable[[jax.Array], jax.Array]
    to_env: Callable[[Any], Any]


class Agent(NamedTuple):
    """An agent: pure functions over ``(state, carry)`` (see the module docstring).

    ``init(key, hp) -> state`` (``hp``: ``config.numeric_values()``, or one member's values);
    ``begin(state, n_episodes) -> carry``;
    ``act(state, carry, obs (E, D), key) -> (action (E, ...), carry)``;
    ``greedy(state, carry, obs) -> (action, carry)``: the most likely action, no exploration;
    ``observe(state, carry, Transition) -> (state, carry)``: after every env step;
    ``learn(state, carry, Trajectory) -> (state, metrics)``: after every batch of episodes;
    ``observes``: False when ``observe`` changes nothing (an agent that learns from whole
    batches only), so the loop need not call it;
    ``activity(state, obs (T, D)) -> {name: (T, ...)}``: for analysis only (the loop never
    calls it), the activity of the agent's populations for a sequence of observations, one
    entry per population (rates ``(T, n)``) and ``"value"`` ``(T,)`` where the agent has a
    critic; None when the agent has none to show.
    """

    name: str
    config: AgentConfig
    spec: EnvSpec
    init: Callable[[jax.Array, Mapping[str, jax.Array]], State]
    begin: Callable[[State, int], Carry]
    act: Callable[[State, Carry, jax.Array, jax.Array], tuple[jax.Array, Carry]]
    greedy: Callable[[State, Carry, jax.Array], tuple[jax.Array, Carry]]
    observe: Callable[[State, Carry, Transition], tuple[State, Carry]]
    learn: Callable[[State, Carry, Trajectory], tuple[State, dict]]
    observes: bool = True
    activity: Callable[[State, jax.Array], dict] | None = None


# ---------------------------------------------------------------------- hyperparameters
def numeric(
    default: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    doc: str = "",
):
    """A real-valued hyperparameter in ``[low, high]`` (open ends as asked): a leaf of the
    vmappable ``numeric_values()`` pytree, so populations can sweep it."""
    bounds = {"low": low, "high": high, "low_open": low_open, "high_open": high_open}
    return dataclasses.field(default=default, metadata={"kind": "numeric", "bounds": bounds, "doc": doc})


def structural(default, *, choices: tuple | None = None, low: int | None = None, doc: str = ""):
    """A hyperparameter that sets shapes or program structure (an int ``>= low``, a bool, or
    one of ``choices``); the same for every member of a population."""
    return dataclasses.field(
        default=default, metadata={"kind": "structural", "choices": choices, "low": low, "doc": doc}
    )


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Base of every agent's frozen hyperparameter dataclass; validates itself when built.

    Subclasses declare every field with :func:`numeric` or :func:`structural`.
    """

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check_field(type(self), field, getattr(self, field.name))
            if field.metadata.get("kind") == "numeric":  # 1 -> 1.0, np.float32 -> float
                object.__setattr__(self, field.name, float(getattr(self, field.name)))

    @classmethod
    def kinds(cls) -> dict[str, str]:
        """``{name: "numeric" | "structural"}`` for every hyperparameter."""
        return {f.name: f.metadata.get("kind", "structural") for f in dataclasses.fields(cls)}

    @classmethod
    def numeric_names(cls) -> list[str]:
        return [name for name, kind in cls.kinds().items() if kind == "numeric"]

    def numeric_values(self) -> dict[str, jax.Array]:
        """The numeric hyperparameters as a pytree of float32 scalars (vmap over it)."""
        return {name: jnp.asarray(getattr(self, name), jnp.float32) for name in self.numeric_names()}

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_strings(cls, values: Mapping[str, str], base: AgentConfig | None = None) -> AgentConfig:
        """``base`` (default: the defaults) with ``{name: "text"}`` parsed by each field's type.

        An unknown name, a value of the wrong type or out of range raises ``ValueError``
        naming it and what is allowed."""
        base = base if base is not None else cls()
        return dataclasses.replace(base, **{k: cls.parse(k, v) for k, v in values.items()})

    @classmethod
    def parse(cls, name: str, text) -> Any:
        """One value of hyperparameter ``name`` from text (or a number)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if name not in fields:
            raise ValueError(
                f"{name}: not a hyperparameter of {cls.__name__}; expected one of {sorted(fields)}"
            )
        kind = _field_type(cls, name)
        if not isinstance(text, str):
            return text
        text = text.strip()
        if kind is bool:
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError(f"{name}: expected true or false, got {text!r}")
        if text.lower() == "none" and _allows_none(cls, name):
            return None
        try:
            if kind is int:
                return int(text)
            if kind is float:
                return float(text)
        except ValueError:
            raise ValueError(
                f"{name}: expected {kind.__name__ if kind else 'a value'}, got {text!r}"
            ) from None
        return text


def _field_type(cls, name: str):
    hints = typing.get_type_hints(cls)
    hint = hints[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    for t in (bool, int, float, str):
        if t in args:
            return t
    return None


def _allows_none(cls, name: str) -> bool:
    return type(None) in typing.get_args(typing.get_type_hints(cls)[name])


def _check_field(cls, field: dataclasses.Field, value) -> None:
    meta, name = field.metadata, field.name
    kind = meta.get("kind")
    if kind == "numeric":
        check_real(name, value, **meta["bounds"])
        return
    if kind != "structural":
        raise TypeError(f"{cls.__name__}.{name}: declare it with agents.contract.numeric or structural")
    if value is None and _allows_none(cls, name):
        return
    expected = _field_type(cls, name)
    if meta.get("choices") is not None:
        if value not in meta["choices"]:
            raise ValueError(f"{name}: expected one of {list(meta['choices'])}, got {value!r}")
        return
    if expected is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name}: expected true or false, got {value!r}")
        return
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}: expected an int, got {value!r} ({type(value).__name__})")
        low = meta.get("low")
        if low is not None and value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
