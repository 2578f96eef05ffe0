"""Tile coding: a sparse, fixed population code of a bounded observation (Sutton & Barto 9.5.4).

Each of ``n_tilings`` grids cuts every observation dimension, scaled to ``[0, 1]`` by the
space's bounds, into ``tiles`` intervals; grid ``k`` is shifted by its own random offset in
``[0, 1)`` of a tile. An observation activates one tile per grid, so the code is
``n_tilings`` active units out of ``n_tilings * tiles_per_grid``, each of value
``1 / n_tilings``. When a grid has more than ``max_tiles`` tiles, tile coordinates are
hashed into ``max_tiles`` slots (collisions are rare and harmless at these sizes).

Shapes: ``obs (..., D)`` -> ``(..., n_features)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rpe.validation import check_positive_int

__all__ = ["TileCode", "tile_code", "tile_encode", "tile_indices"]


class TileCode(NamedTuple):
    low: jax.Array
    high: jax.Array
    offsets: jax.Array  # (n_tilings, D)
    tiles: int
    tiles_per_grid: int
    hashed: bool

    @property
    def n_features(self) -> int:
        return self.offsets.shape[0] * self.tiles_per_grid


def tile_code(
    low, high, tiles: int = 10, n_tilings: int = 8, max_tiles: int = 4096, seed: int = 0
) -> TileCode:
    """A tile code for observations within ``[low, high]`` (finite bounds, shape ``(D,)``)."""
    low, high = np.asarray(low, np.float64).reshape(-1), np.asarray(high, np.float64).reshape(-1)
    if low.shape != high.shape or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"low, high: expected finite bounds of one shape, got {low} and {high}")
    if np.any(high <= low):
        raise ValueError(f"low, high: expected high > low in every dimension, got {low} and {high}")
    tiles = check_positive_int("tiles", tiles)
    n_tilings = check_positive_int("n_tilings", n_tilings)
    max_tiles = check_positive_int("max_tiles", max_tiles)
    full = (tiles + 1) ** low.size
    offsets = np.random.default_rng(seed).uniform(0.0, 1.0, (n_tilings, low.size))
    return TileCode(
        jnp.asarray(low, jnp.float32),
        jnp.asarray(high, jnp.float32),
        jnp.asarray(offsets, jnp.float32),
        tiles,
        min(full, max_tiles),
        full > max_tiles,
    )


def tile_indices(code: TileCode, obs: jax.Array) -> jax.Array:
    """The active features of ``obs (..., D)``: ``(..., n_tilings)`` indices, one per tiling."""
    u = jnp.clip((obs - code.low) / (code.high - code.low), 0.0, 1.0) * code.tiles
    coords = jnp.floor(u[..., None, :] + code.offsets).astype(jnp.uint32)  # (..., n_tilings, D)
    n_tilings, dims = code.offsets.shape
    index = jnp.zeros(coords.shape[:-1], jnp.uint32)
    for d in range(dims):
        if code.hashed:
            index = (index ^ coords[..., d]) * jnp.uint32(0x9E3779B1)
            index = index ^ (index >> 15)
        else:
            index = index * jnp.uint32(code.tiles + 1) + coords[..., d]
    slot = (index % jnp.uint32(code.tiles_per_grid)).astype(jnp.int32)
    return slot + jnp.arange(n_tilings, dtype=jnp.int32) * code.tiles_per_grid


def tile_encode(code: TileCode, obs: jax.Array) -> jax.Array:
    """The code of ``obs (..., D)``: ``(..., n_features)``, ``n_tilings`` entries of 1/n_tilings."""
    slot = tile_indices(code, obs)
    n_tilings = slot.shape[-1]
    # Scatter rather than one_hot(...).sum(): no (..., n_tilings, n_features) intermediate.
    flat = slot.reshape(-1, n_tilings)
    rows = jnp.arange(flat.shape[0])[:, None]
    phi = jnp.zeros((flat.shape[0], code.n_features), jnp.float32).at[rows, flat].add(1.0 / n_tilings)
    return phi.reshape(*slot.shape[:-1], code.n_features)
