"""A training run's folder: the config it ran with, per-episode metrics, checkpoints.

- ``config.json``: the :class:`agents.training.TrainConfig`, every agent hyperparameter
  included (``agent_config``);
- ``metrics.csv`` (``metrics-member<k>.csv`` for a population): one row per episode, with
  ``episode``, ``steps``, ``return`` and every metric the agent reports (for a trial env,
  one row per trial, with ``correct``: 1/0, NaN when the env said nothing);
- ``summary.csv`` (populations): one row per member;
- ``checkpoint.npz``: the state, the update count, the metrics so far and the config, in the
  data-only format of ``agents.checkpoint``, written atomically after every
  ``checkpoint_every`` updates and whenever the run stops.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib

import numpy as np

from agents.checkpoint import CheckpointError, atomic_write, read_checkpoint, read_meta, write_checkpoint

__all__ = ["CHECKPOINT", "RunFolder", "episode_rows", "solved_at"]

CHECKPOINT = "checkpoint.npz"


def episode_rows(first: int, returns, lengths, metrics: dict) -> list[dict]:
    """Rows ``{"episode", "steps", "return", <metric>...}`` for one batch of episodes."""
    returns, lengths = np.asarray(returns), np.asarray(lengths)
    columns = {name: np.broadcast_to(np.asarray(v), returns.shape) for name, v in sorted(metrics.items())}
    return [
        {
            "episode": first + i + 1,
            "steps": int(lengths[i]),
            "return": float(returns[i]),
            **{name: float(values[i]) for name, values in columns.items()},
        }
        for i in range(len(returns))
    ]


def solved_at(
    rows: list[dict], threshold: float | None, window: int, correct: float | None = None
) -> int | None:
    """The first episode at which the mean return of the last ``window`` reaches
    ``threshold``; for rows with a ``correct`` column (trials) and a ``correct`` fraction,
    the first trial at which the fraction of the last ``window`` trials the env called
    correct reaches it (a trial it said nothing of counts as not correct)."""
    by_correct = correct is not None and bool(rows) and "correct" in rows[0]
    goal = correct if by_correct else threshold
    if goal is None or len(rows) < window:
        return None
    if by_correct:
        values = np.nan_to_num(np.asarray([r["correct"] for r in rows], float), nan=0.0)
    else:
        values = np.asarray([r["return"] for r in rows])
    means = np.convolve(values, np.ones(window) / window, mode="valid")
    hits = np.flatnonzero(means >= (goal - 1e-9 if by_correct else goal))  # 90 of 100 is 0.9
    return int(hits[0] + window) if hits.size else None


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


class RunFolder:
    """Reads and writes one run folder (see the module docstring)."""

    def __init__(self, path: str | pathlib.Path):
        self.path = pathlib.Path(path)
        self.checkpoint = self.path / CHECKPOINT

    def check_writable(self) -> None:
        """``ValueError`` (one line) unless the folder exists or can be created and written."""
        here = self.path
        while not here.exists():
            here = here.parent
        if not here.is_dir():
            raise ValueError(f"out: {here} is a file, not a folder")
        if not os.access(here, os.W_OK | os.X_OK):
            raise ValueError(f"out: {here} is not writable")

    def check_no_pickle(self) -> None:
        """Refuse to resume over a checkpoint of the pickle era (it is never opened)."""
        old = self.path / "checkpoint.pkl"
        if old.exists():
            raise CheckpointError(
                f"{old}: a pickle checkpoint of an older rpe (format 2), not opened because loading a "
                "pickle runs code; start a new run in another folder"
            )

    def meta(self) -> dict:
        """The checkpoint's JSON header (``agents.checkpoint.read_meta``)."""
        return read_meta(self.checkpoint)[0]

    def prepare(self, config: dict) -> None:
        """Create the folder, drop temporaries of an interrupted write, write ``config.json``."""
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob(".*.tmp"):
            stale.unlink()
        atomic_write(self.path / "config.json", (json.dumps(config, indent=2) + "\n").encode())

    def save(self, state, *, agent: str, config: dict, update: int, rows: list[list[dict]]) -> None:
        """The checkpoint, then the metrics files (both atomic); ``rows[k]``: member k's."""
        meta = {"config": config, "update": update, "metrics": rows}
        write_checkpoint(self.checkpoint, state, agent=agent, meta=meta)
        if len(rows) == 1:
            atomic_write(self.path / "metrics.csv", _csv(rows[0]).encode())
            return
        for k, member_rows in enumerate(rows):
            atomic_write(self.path / f"metrics-member{k}.csv", _csv(member_rows).encode())

    def write_summary(self, summary: list[dict]) -> None:
        atomic_write(self.path / "summary.csv", _csv(summary).encode())

    def load(self, template, *, agent: str) -> tuple:
        """``(state, meta)`` of the checkpoint (``agents.checkpoint.read_checkpoint``)."""
        return read_checkpoint(self.checkpoint, template, agent=agent)
