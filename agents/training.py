"""Training runs: batches of episodes, local learning, metrics, checkpoints, resume.

A run writes to its own folder:

- ``config.json``: the :class:`TrainConfig` it ran with;
- ``metrics.csv``: one row per episode (episode, steps, return, mean |RPE|, reward
  prediction);
- ``checkpoint.pkl``: the agent's state, the metrics so far and the update count, written
  atomically (a temporary file, then ``os.replace``) after every ``checkpoint_every``
  updates and at the end, so a kill never leaves a corrupt checkpoint;
- ``learning_curve.png`` and ``rpe.png`` at the end.

Update ``u`` uses the key ``fold_in(key(seed), u)`` and, on the Python path, resets env
``i`` with a seed derived from ``(seed, u, i)``: a run resumed from its checkpoint ends with
the same weights and metrics as one that never stopped.

Paths: ``"jit"`` rolls out a JAX-native twin of the env (``envs.JAX_ENVS``) and learns in one
compiled function per update; ``"python"`` steps Gymnasium envs in Python and learns with
the same jitted ``learn``; ``"auto"`` picks ``"jit"`` when a twin exists.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import pathlib
import pickle
import tempfile
import time
from collections.abc import Callable

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from agents.registry import AGENTS, make_agent
from agents.rollout import jax_rollout, python_rollout
from envs.registry import JAX_ENVS

__all__ = ["METRIC_FIELDS", "TrainConfig", "Trainer", "load_checkpoint", "solved_threshold"]

METRIC_FIELDS = ("episode", "steps", "return", "mean_abs_rpe", "reward_prediction")
PATHS = ("auto", "jit", "python")
CHECKPOINT = "checkpoint.pkl"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What a run does. ``episodes`` is the budget; a run stops early once solved."""

    agent: str = "pg"
    env: str = "CartPole-v1"
    seed: int = 0
    episodes: int = 5000
    num_envs: int = 8
    path: str = "auto"
    out: str = "runs/pg-CartPole-v1"
    checkpoint_every: int = 25
    stop_when_solved: bool = True
    solved_window: int = 100


def solved_threshold(env_id: str) -> float | None:
    """The env's solved score (mean return over ``solved_window`` episodes), if it has one."""
    if env_id in JAX_ENVS and hasattr(JAX_ENVS[env_id], "reward_threshold"):
        return float(JAX_ENVS[env_id].reward_threshold)
    threshold = gym.spec(env_id).reward_threshold
    return None if threshold is None else float(threshold)


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
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


def _episode_seed(seed: int, update: int, env_index: int) -> int:
    return int(np.random.SeedSequence([seed, update, env_index]).generate_state(1)[0])


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint: ``config`` (dict), ``update``, ``state`` (jax arrays), ``metrics``."""
    with open(path, "rb") as f:
        ckpt = pickle.load(f)
    ckpt["state"] = jax.tree.map(jnp.asarray, ckpt["state"])
    return ckpt


class Trainer:
    """Runs one :class:`TrainConfig`; ``run()`` returns the final state and metrics."""

    def __init__(self, config: TrainConfig):
        if config.agent not in AGENTS:
            raise ValueError(f"agent: unknown agent {config.agent!r}; expected one of {sorted(AGENTS)}")
        if config.path not in PATHS:
            raise ValueError(f"path: expected one of {list(PATHS)}, got {config.path!r}")
        if config.num_envs < 1 or config.episodes < 1 or config.checkpoint_every < 1:
            raise ValueError("num_envs, episodes and checkpoint_every must be >= 1")
        self.config = config
        probe = gym.make(config.env)
        horizon = probe.spec.max_episode_steps if probe.spec and probe.spec.max_episode_steps else None
        if horizon is None:
            raise ValueError(
                f"env: {config.env} has no time limit; agents here need episodes of bounded length"
            )
        self.agent = make_agent(
            config.agent, probe.observation_space, probe.action_space, env=config.env, horizon=horizon
        )
        probe.close()
        path = config.path
        if path == "auto":
            path = "jit" if config.env in JAX_ENVS else "python"
        if path == "jit" and config.env not in JAX_ENVS:
            raise ValueError(
                f"path: no JAX-native twin of {config.env}; use --path python (twins: {sorted(JAX_ENVS)})"
            )
        self.path = path
        self.threshold = solved_threshold(config.env)
        self.out = pathlib.Path(config.out)
        self._update = self._build_update()

    def _build_update(self) -> Callable:
        agent, n = self.agent, self.config.num_envs
        if self.path == "jit":
            env = JAX_ENVS[self.config.env]()

            @jax.jit
            def update(state, key):
                traj, returns, lengths = jax_rollout(agent, env, state, key, n)
                state, metrics = agent.learn(state, traj)
                return state, returns, lengths, metrics

            return lambda state, key, _: update(state, key)

        envs = [gym.make(self.config.env) for _ in range(n)]
        act, learn = jax.jit(agent.act), jax.jit(agent.learn)

        def update(state, key, u):
            seeds = [_episode_seed(self.config.seed, u, i) for i in range(n)]
            traj, returns, lengths = python_rollout(agent, envs, state, key, seeds, act=act)
            state, metrics = learn(state, jax.tree.map(jnp.asarray, traj))
            return state, returns, lengths, metrics

        return update

    # ------------------------------------------------------------------ run files
    def _save(self, state, update: int, rows: list[dict]) -> None:
        ckpt = {
            "format": 1,
            "config": dataclasses.asdict(self.config),
            "update": update,
            "state": jax.tree.map(np.asarray, state),
            "metrics": rows,
        }
        _atomic_write(self.out / CHECKPOINT, pickle.dumps(ckpt))
        _atomic_write(self.out / "metrics.csv", _csv(rows).encode())

    def solved(self, rows: list[dict]) -> bool:
        w = self.config.solved_window
        if self.threshold is None or len(rows) < w:
            return False
        return float(np.mean([r["return"] for r in rows[-w:]])) >= self.threshold

    def run(self, *, resume: bool = False, progress: bool = True, stop_after: int | None = None) -> dict:
        """Train until solved or out of episodes.

        Args:
          resume: continue from ``out/checkpoint.pkl`` if it exists.
          progress: show a tqdm bar (episodes, return, mean |RPE|).
          stop_after: stop (as if interrupted) after this many updates; for tests.

        Returns:
          ``{"state", "metrics", "solved_at" (episode or None), "seconds", "interrupted"}``.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2) + "\n")
        state, update, rows = self.agent.init(jax.random.key(self.config.seed)), 0, []
        if resume and (self.out / CHECKPOINT).exists():
            ckpt = load_checkpoint(self.out / CHECKPOINT)
            if ckpt["config"] != dataclasses.asdict(self.config):
                raise ValueError(f"resume: {self.out / CHECKPOINT} was written by a different configuration")
            state, update, rows = ckpt["state"], ckpt["update"], ckpt["metrics"]
        base_key = jax.random.key(self.config.seed)
        start, interrupted = time.perf_counter(), False
        bar = tqdm(
            total=self.config.episodes,
            initial=len(rows),
            unit="ep",
            disable=not progress,
            desc=f"{self.config.agent} {self.config.env}",
        )
        try:
            while len(rows) < self.config.episodes and not (
                self.config.stop_when_solved and self.solved(rows)
            ):
                if stop_after is not None and update >= stop_after:
                    interrupted = True
                    break
                state, returns, lengths, metrics = self._update(
                    state, jax.random.fold_in(base_key, update), update
                )
                update += 1
                rows.extend(_rows(len(rows), returns, lengths, metrics))
                bar.update(len(returns))
                bar.set_postfix(
                    {
                        "return": f"{np.mean(returns):.1f}",
                        "avg100": f"{np.mean([r['return'] for r in rows[-100:]]):.1f}",
                        "|rpe|": f"{np.mean(np.asarray(metrics['mean_abs_rpe'])):.3f}",
                    }
                )
                if update % self.config.checkpoint_every == 0:
                    self._save(state, update, rows)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        self._save(state, update, rows)
        if not interrupted:
            _plot(self.out, rows, self.threshold, self.config.solved_window)
        return {
            "state": state,
            "metrics": rows,
            "solved_at": _solved_at(rows, self.threshold, self.config.solved_window),
            "seconds": time.perf_counter() - start,
            "interrupted": interrupted,
        }


def _rows(first: int, returns, lengths, metrics) -> list[dict]:
    returns, lengths = np.asarray(returns), np.asarray(lengths)
    rpe = np.broadcast_to(np.asarray(metrics["mean_abs_rpe"]), returns.shape)
    mu = np.broadcast_to(np.asarray(metrics["reward_prediction"]), returns.shape)
    return [
        {
            "episode": first + i + 1,
            "steps": int(lengths[i]),
            "return": float(returns[i]),
            "mean_abs_rpe": float(rpe[i]),
            "reward_prediction": float(mu[i]),
        }
        for i in range(len(returns))
    ]


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _solved_at(rows: list[dict], threshold: float | None, window: int) -> int | None:
    if threshold is None or len(rows) < window:
        return None
    returns = np.asarray([r["return"] for r in rows])
    means = np.convolve(returns, np.ones(window) / window, mode="valid")
    hits = np.flatnonzero(means >= threshold)
    return int(hits[0] + window) if hits.size else None


def _plot(out: pathlib.Path, rows: list[dict], threshold: float | None, window: int) -> None:
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    episode = np.asarray([r["episode"] for r in rows])
    returns = np.asarray([r["return"] for r in rows])
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(episode, returns, lw=0.5, alpha=0.5, label="return")
    if len(returns) >= window:
        ax.plot(
            episode[window - 1 :],
            np.convolve(returns, np.ones(window) / window, mode="valid"),
            label=f"mean of {window}",
        )
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"solved ({threshold:g})")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=110)
    plt.close(fig)
    fig, (ax_rpe, ax_mu) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    ax_rpe.plot(episode, [r["mean_abs_rpe"] for r in rows], lw=0.8)
    ax_rpe.set_ylabel("mean |RPE|")
    ax_mu.plot(episode, [r["reward_prediction"] for r in rows], lw=0.8, color="tab:orange")
    ax_mu.set_ylabel("reward prediction")
    ax_mu.set_xlabel("episode")
    fig.tight_layout()
    fig.savefig(out / "rpe.png", dpi=110)
    plt.close(fig)
