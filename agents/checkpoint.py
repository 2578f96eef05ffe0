"""Checkpoints that are safe to open: arrays and JSON, never pickle.

A checkpoint is one ``.npz`` archive (``numpy.savez``, read with ``allow_pickle=False``):

- ``leaf_00000, leaf_00001, ...``: the state's leaves, in ``jax.tree`` order;
- ``__meta__``: a JSON document (UTF-8 bytes as ``uint8``) with ``format`` (the version,
  :data:`FORMAT_VERSION`), ``agent`` (its name), ``paths`` (each leaf's key path, e.g.
  ``.weights`` or ``.hp['eta']``), ``shapes``, ``dtypes`` and whatever else the caller
  stores (config, update count, metrics).

Loading needs a *template* of the state (``agent.init`` of the same agent and config): the
tree structure comes from the code, the numbers from the file, and both must agree leaf by
leaf. A file that is truncated, not a checkpoint, of another format version, for another
agent or of another structure raises :class:`CheckpointError`, one line naming the file.
Writes are atomic (a temporary file in the same folder, ``fsync``, then ``os.replace``).
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import tempfile
import zipfile
import zlib

import jax
import numpy as np

__all__ = ["FORMAT_VERSION", "CheckpointError", "atomic_write", "read_checkpoint", "write_checkpoint"]

FORMAT_VERSION = 3  # 1-2 were pickles (before the npz format)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a kill leaves the old file or the new one, whole."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _paths(tree) -> list[str]:
    return [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def write_checkpoint(path: str | os.PathLike, state, *, agent: str, meta: dict) -> None:
    """Store ``state`` (a pytree of arrays) and the JSON-able ``meta`` atomically at ``path``."""
    leaves = [np.asarray(x) for x in jax.tree.leaves(state)]
    header = {
        **meta,
        "format": FORMAT_VERSION,
        "agent": agent,
        "paths": _paths(state),
        "shapes": [list(x.shape) for x in leaves],
        "dtypes": [x.dtype.str for x in leaves],
    }
    arrays = {f"leaf_{i:05d}": x for i, x in enumerate(leaves)}
    arrays["__meta__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def read_meta(path: str | os.PathLike) -> tuple[dict, dict]:
    """``(meta, arrays)`` of the checkpoint at ``path``, checked for format and completeness."""
    name = str(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except FileNotFoundError:
        raise CheckpointError(f"{name}: no such checkpoint") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error, KeyError) as error:
        raise CheckpointError(
            f"{name}: not a readable checkpoint (truncated or another format: {error})"
        ) from None
    if "__meta__" not in arrays:
        raise CheckpointError(f"{name}: not an rpe checkpoint (no __meta__ entry)")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{name}: its __meta__ entry is not JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: its __meta__ entry is not a JSON object")
    version = meta.get("format")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{name}: checkpoint format version {version}, this rpe reads version {FORMAT_VERSION}"
        )
    missing = [
        key
        for key in ("agent", "paths", "shapes", "dtypes", "config", "update", "metrics")
        if key not in meta
    ]
    if missing:
        raise CheckpointError(f"{name}: its header lacks {', '.join(missing)} (damaged)")
    if len(arrays) != len(meta.get("paths", ())):
        raise CheckpointError(
            f"{name}: {len(arrays)} arrays for {len(meta.get('paths', ()))} leaves (damaged)"
        )
    return meta, arrays


def read_checkpoint(path: str | os.PathLike, template, *, agent: str) -> tuple:
    """``(state, meta)`` from the checkpoint at ``path``; ``template`` gives the structure
    (e.g. ``agent.init(key, hp)``, with a leading member axis for a population)."""
    name = str(path)
    meta, arrays = read_meta(path)
    if meta.get("agent") != agent:
        raise CheckpointError(f"{name}: a checkpoint of agent {meta.get('agent')!r}, not {agent!r}")
    leaves, treedef = jax.tree.flatten(template)
    paths = _paths(template)
    if meta["paths"] != paths:
        extra = sorted(set(meta["paths"]) ^ set(paths))[:4]
        raise CheckpointError(
            f"{name}: the state's structure differs from agent {agent!r}'s (leaves {extra})"
        )
    restored = []
    for i, (want, where) in enumerate(zip(leaves, paths, strict=True)):
        got = arrays[f"leaf_{i:05d}"]
        if got.shape != np.shape(want) or got.dtype != np.asarray(want).dtype:
            raise CheckpointError(
                f"{name}: leaf {where} is {got.dtype}{list(got.shape)}, the agent's is "
                f"{np.asarray(want).dtype}{list(np.shape(want))} (another configuration?)"
            )
        restored.append(got)
    return jax.tree.unflatten(treedef, restored), meta
