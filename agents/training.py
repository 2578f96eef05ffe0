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

Paths: ``"jit"`` rolls out a JAX-native twin of the env (``envs.JAX_ENVS``) and runs
``updates_per_call`` updates (rollouts and learning) in one compiled ``lax.scan``
(``agents.jit_training``), writing the metrics after each call; ``"python"`` steps
Gymnasium envs in Python and learns with the same jitted ``learn``; ``"auto"`` picks
``"jit"`` when a twin exists.

Populations (jit path): ``population`` members with seeds ``seed, seed + 1, ...`` and, with
``sweep``, per-member values of hyperparameters that are leaves of the agent's state (``pg``:
``eta``), trained by ``vmap`` in one program and sharded over all visible devices when the
population divides evenly (``agents.population``). Each member gets
``metrics-member<k>.csv``; ``summary.csv`` holds one row per member. The run stops when
every member is solved or the budget is spent.
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

from agents.jit_training import make_train
from agents.population import init_population, population_keys, shard_population, unstack
from agents.registry import AGENTS, make_agent
from agents.rollout import python_rollout
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
    population: int = 1
    sweep: tuple = ()  # ((name, (value per member, ...)), ...)
    updates_per_call: int = 25


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
        for name in ("num_envs", "episodes", "checkpoint_every", "population", "updates_per_call"):
            if getattr(config, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(config, name)}")
        for name, values in config.sweep:
            if len(values) != config.population:
                raise ValueError(
                    f"sweep: {name} has {len(values)} values for a population of {config.population}"
                )
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
        if config.population > 1 and path != "jit":
            raise ValueError(
                "population: populations train on the jitted path (an env with a JAX-native twin)"
            )
        self.threshold = solved_threshold(config.env)
        self.out = pathlib.Path(config.out)
        self._update = self._build_update()

    def _build_update(self) -> Callable | None:
        agent, n = self.agent, self.config.num_envs
        if self.path == "jit":
            self._env = JAX_ENVS[self.config.env]()
            self._chunks = {}
            return None
        envs = [gym.make(self.config.env) for _ in range(n)]
        act = jax.jit(agent.act)
        if getattr(agent, "online", False):
            observe = jax.jit(agent.observe)

            def update(state, key, u):
                seeds = [_episode_seed(self.config.seed, u, i) for i in range(n)]
                state, _, returns, lengths, metrics = python_rollout(
                    agent, envs, state, key, seeds, act=act, observe=observe
                )
                return state, returns, lengths, metrics

            return update
        learn = jax.jit(agent.learn)

        def update(state, key, u):
            seeds = [_episode_seed(self.config.seed, u, i) for i in range(n)]
            traj, returns, lengths = python_rollout(agent, envs, state, key, seeds, act=act)
            state, metrics = learn(state, jax.tree.map(jnp.asarray, traj))
            return state, returns, lengths, metrics

        return update

    def _chunk(self, n_updates: int) -> Callable:
        """The jitted, population-vmapped program of ``n_updates`` updates (one per size)."""
        if n_updates not in self._chunks:
            train = make_train(self.agent, self._env, self.config.num_envs, n_updates)
            self._chunks[n_updates] = jax.jit(jax.vmap(train, in_axes=(0, 0, None)))
        return self._chunks[n_updates]

    @property
    def seeds(self) -> list[int]:
        return [self.config.seed + k for k in range(self.config.population)]

    # ------------------------------------------------------------------ run files
    def _save(self, state, update: int, rows: list[list[dict]]) -> None:
        """``rows[k]``: member k's episodes. A population of one is stored unstacked."""
        single = self.config.population == 1
        ckpt = {
            "format": 2,
            "config": dataclasses.asdict(self.config),
            "update": update,
            "state": jax.tree.map(np.asarray, unstack(state, 0) if single and self.path == "jit" else state),
            "metrics": rows[0] if single else rows,
        }
        _atomic_write(self.out / CHECKPOINT, pickle.dumps(ckpt))
        if single:
            _atomic_write(self.out / "metrics.csv", _csv(rows[0]).encode())
            return
        for k, member_rows in enumerate(rows):
            _atomic_write(self.out / f"metrics-member{k}.csv", _csv(member_rows).encode())
        summary = self.summary(rows)
        _atomic_write(self.out / "summary.csv", _csv(summary, fields=list(summary[0])).encode())

    def summary(self, rows: list[list[dict]]) -> list[dict]:
        w = self.config.solved_window
        summary = []
        for k, member_rows in enumerate(rows):
            row = {"member": k, "seed": self.seeds[k]}
            row.update({name: values[k] for name, values in self.config.sweep})
            row["episodes"] = len(member_rows)
            row[f"final_mean_{w}"] = (
                float(np.mean([r["return"] for r in member_rows[-w:]])) if member_rows else ""
            )
            solved_at = _solved_at(member_rows, self.threshold, w)
            row["solved_at"] = "" if solved_at is None else solved_at
            summary.append(row)
        return summary

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
          ``{"state", "metrics", "solved_at" (episode or None), "seconds", "interrupted"}``;
          for a population, ``state`` has a leading member axis and ``metrics`` and
          ``solved_at`` are lists over members.
        """
        config, population = self.config, self.config.population
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
        if self.path == "jit":
            state = init_population(self.agent, self.seeds, dict(config.sweep))
        else:
            state = self.agent.init(jax.random.key(config.seed))
        update, rows = 0, [[] for _ in range(population)]
        if resume and (self.out / CHECKPOINT).exists():
            ckpt = load_checkpoint(self.out / CHECKPOINT)
            if ckpt["config"] != dataclasses.asdict(config):
                raise ValueError(f"resume: {self.out / CHECKPOINT} was written by a different configuration")
            state, update = ckpt["state"], ckpt["update"]
            rows = [ckpt["metrics"]] if population == 1 else ckpt["metrics"]
            if population == 1 and self.path == "jit":
                state = jax.tree.map(lambda x: x[None], state)
        keys = population_keys(self.seeds)
        if self.path == "jit" and len(jax.devices()) > 1 and population % len(jax.devices()) == 0:
            state, keys = shard_population((state, keys))
        start, interrupted = time.perf_counter(), False
        bar = tqdm(
            total=config.episodes,
            initial=len(rows[0]),
            unit="ep",
            disable=not progress,
            desc=f"{config.agent} {config.env}" + (f" x{population}" if population > 1 else ""),
        )

        def finished() -> bool:
            out_of_budget = len(rows[0]) >= config.episodes
            return out_of_budget or (config.stop_when_solved and all(self.solved(r) for r in rows))

        try:
            while not finished():
                if stop_after is not None and update >= stop_after:
                    interrupted = True
                    break
                n = self._updates_this_call(update, len(rows[0]), stop_after)
                if self.path == "jit":
                    state, metrics = self._chunk(n)(state, keys, update)
                    metrics = jax.tree.map(np.asarray, metrics)  # (population, n, num_envs)
                    for k in range(population):
                        for i in range(n):
                            member = {name: value[k, i] for name, value in metrics.items()}
                            rows[k].extend(_rows(len(rows[k]), member["returns"], member["lengths"], member))
                else:
                    state, returns, lengths, metrics = self._update(
                        state, jax.random.fold_in(keys[0], update), update
                    )
                    rows[0].extend(_rows(len(rows[0]), returns, lengths, metrics))
                before, update = bar.n, update + n
                bar.update(len(rows[0]) - before)
                bar.set_postfix(self._postfix(rows))
                if update % config.checkpoint_every == 0:
                    self._save(state, update, rows)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        self._save(state, update, rows)
        if not interrupted:
            for k, member_rows in enumerate(rows):
                name = "" if population == 1 else f"-member{k}"
                _plot(self.out, member_rows, self.threshold, config.solved_window, suffix=name)
        solved_at = [_solved_at(r, self.threshold, config.solved_window) for r in rows]
        single = population == 1
        return {
            "state": unstack(state, 0) if single and self.path == "jit" else state,
            "metrics": rows[0] if single else rows,
            "solved_at": solved_at[0] if single else solved_at,
            "seconds": time.perf_counter() - start,
            "interrupted": interrupted,
        }

    def _updates_this_call(self, update: int, episodes_done: int, stop_after: int | None) -> int:
        """Updates in the next call: one on the Python path; on the jitted path up to
        ``updates_per_call``, cut at the next checkpoint, the budget and ``stop_after``."""
        if self.path != "jit":
            return 1
        config = self.config
        n = min(config.updates_per_call, config.checkpoint_every - update % config.checkpoint_every)
        n = min(n, -(-(config.episodes - episodes_done) // config.num_envs))
        if stop_after is not None:
            n = min(n, stop_after - update)
        return max(n, 1)

    def _postfix(self, rows: list[list[dict]]) -> dict:
        last = [r[-self.config.num_envs :] for r in rows]
        return {
            "return": f"{np.mean([x['return'] for r in last for x in r]):.1f}",
            "avg100": f"{np.mean([np.mean([x['return'] for x in r[-100:]]) for r in rows]):.1f}",
            "|rpe|": f"{np.mean([x['mean_abs_rpe'] for r in last for x in r]):.3f}",
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


def _csv(rows: list[dict], fields=METRIC_FIELDS) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
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


def _plot(
    out: pathlib.Path, rows: list[dict], threshold: float | None, window: int, suffix: str = ""
) -> None:
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
    fig.savefig(out / f"learning_curve{suffix}.png", dpi=110)
    plt.close(fig)
    fig, (ax_rpe, ax_mu) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    ax_rpe.plot(episode, [r["mean_abs_rpe"] for r in rows], lw=0.8)
    ax_rpe.set_ylabel("mean |RPE|")
    ax_mu.plot(episode, [r["reward_prediction"] for r in rows], lw=0.8, color="tab:orange")
    ax_mu.set_ylabel("reward prediction")
    ax_mu.set_xlabel("episode")
    fig.tight_layout()
    fig.savefig(out / f"rpe{suffix}.png", dpi=110)
    plt.close(fig)
