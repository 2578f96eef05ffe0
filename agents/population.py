"""Populations of independent agents: one leading axis for seeds and hyperparameter values,
vmapped, and sharded over all visible devices.

A population of ``P`` members is one agent state pytree whose leaves have a leading ``(P,)``
axis (the numeric hyperparameters ``state.hp`` included), and ``P`` PRNG keys. ``jax.vmap``
of a training function over that axis trains all members in one program;
:func:`shard_population` splits the axis over devices with a ``Mesh`` and a
``NamedSharding``, and ``jit`` then runs each device's members on it (no communication:
members are independent). Results are the same as unsharded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from agents.contract import Agent

__all__ = [
    "POPULATION_AXIS",
    "init_population",
    "member_hyperparameters",
    "population_keys",
    "shard_population",
    "unstack",
]

POPULATION_AXIS = "population"


def population_keys(seeds: Sequence[int]) -> jax.Array:
    """One PRNG key per member, ``key(seed)``: ``(P,)``."""
    return jnp.stack([jax.random.key(int(s)) for s in seeds])


def member_hyperparameters(agent: Agent, size: int, sweep: Mapping[str, Sequence[float]] | None = None):
    """The numeric hyperparameters of ``size`` members, ``{name: (size,) float32}``: the
    agent's config everywhere, and ``sweep[name]`` (one value per member) where given.

    Raises ``ValueError`` naming a name that is not a numeric hyperparameter (listing those
    that are), a value out of its range, or a sweep whose length is not ``size``."""
    config = agent.config
    names = type(config).numeric_names()
    values = {name: np.full((size,), getattr(config, name), np.float32) for name in names}
    for name, member_values in (sweep or {}).items():
        if name not in names:
            kind = (
                "a structural hyperparameter (it sets shapes)"
                if name in type(config).kinds()
                else "not a hyperparameter"
            )
            raise ValueError(
                f"sweep: {name!r} is {kind} of agent {agent.name!r}; sweepable: {', '.join(names)}"
            )
        if len(member_values) != size:
            raise ValueError(f"sweep: {name} has {len(member_values)} values for a population of {size}")
        for v in member_values:
            dataclasses.replace(config, **{name: float(v)})  # range check
        values[name] = np.asarray(member_values, np.float32)
    return {name: jnp.asarray(v) for name, v in values.items()}


def init_population(agent: Agent, seeds: Sequence[int], sweep: Mapping[str, Sequence[float]] | None = None):
    """``agent.init`` for each seed with its member's hyperparameters (see
    :func:`member_hyperparameters`): a state with a leading ``(len(seeds),)`` axis."""
    if len(seeds) < 1:
        raise ValueError("seeds: a population needs at least one member")
    hp = member_hyperparameters(agent, len(seeds), sweep)
    return jax.vmap(agent.init)(population_keys(seeds), hp)


def shard_population(tree, devices: Sequence[jax.Device] | None = None):
    """Place every leaf's leading (population) axis across ``devices`` (default: all).

    The population size must be a multiple of the number of devices."""
    devices = list(jax.devices() if devices is None else devices)
    leaves = jax.tree.leaves(tree)
    size = leaves[0].shape[0] if leaves else 0
    if size % len(devices):
        raise ValueError(
            f"population: {size} members cannot be split evenly over {len(devices)} devices; "
            "use a multiple of the device count"
        )
    mesh = Mesh(np.asarray(devices), (POPULATION_AXIS,))
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec(POPULATION_AXIS)))


def unstack(tree, member: int):
    """Member ``member`` of a population pytree."""
    return jax.tree.map(lambda x: x[member], tree)
