"""Populations of independent agents: one leading axis for seeds and hyperparameter values,
vmapped, and sharded over all visible devices.

A population of ``P`` members is one agent state pytree whose leaves have a leading ``(P,)``
axis, and ``P`` PRNG keys. ``jax.vmap`` of a training function over that axis trains all
members in one program; :func:`shard_population` splits the axis over devices with a
``Mesh`` and a ``NamedSharding``, and ``jit`` then runs each device's members on it (no
communication: members are independent). Results are the same as unsharded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["POPULATION_AXIS", "init_population", "population_keys", "shard_population", "unstack"]

POPULATION_AXIS = "population"


def population_keys(seeds: Sequence[int]) -> jax.Array:
    """One PRNG key per member, ``key(seed)``: ``(P,)``."""
    return jnp.stack([jax.random.key(int(s)) for s in seeds])


def init_population(
    agent, seeds: Sequence[int], hyperparameters: Mapping[str, Sequence[float]] | None = None
):
    """``agent.init`` for each seed, with per-member values of hyperparameters that are
    leaves of the agent's state (e.g. ``{"eta": [0.02, 0.05]}`` for ``pg``)."""
    if len(seeds) < 1:
        raise ValueError("seeds: a population needs at least one member")
    state = jax.vmap(agent.init)(population_keys(seeds))
    for name, values in (hyperparameters or {}).items():
        fields = getattr(state, "_fields", ())
        if name not in fields:
            raise ValueError(
                f"hyperparameters: {name!r} is not a leaf of the {type(agent).__name__} state "
                f"(its fields: {list(fields)})"
            )
        values = np.asarray(values, np.float32)
        if values.shape != (len(seeds),):
            raise ValueError(
                f"hyperparameters: {name!r} needs one value per member ({len(seeds)}), got {values.shape}"
            )
        state = state._replace(**{name: jnp.asarray(values)})
    return state


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
