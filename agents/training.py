"""Training runs: batches of episodes, local learning, metrics, checkpoints, exact resume.

:class:`TrainConfig` says what a run does, the agent's hyperparameters included;
:class:`Trainer` runs it into a run folder (``agents.run_folder``). Update ``u`` uses the key
``fold_in(key(seed), u)`` and, on the Python path, resets env ``i`` with a seed derived from
``(seed, u, i)``: a run resumed from its checkpoint ends with the same weights and metrics as
one that never stopped.

Paths: ``"jit"`` rolls out the env's JAX-native twin and runs ``updates_per_call`` updates in
one compiled ``lax.scan`` (``agents.jit_training``); ``"python"`` steps Gymnasium envs in
Python (``agents.rollout.python_rollout``); ``"auto"`` picks ``"jit"`` when a twin exists.
Both are runners with one interface, ``run(state, keys, update, n) -> (state, metrics)``,
over a state with a leading member axis.

Trials. A trial env of neurogym's convention (its trials end by ``info["new_trial"]``, the
env never does) trains on the Python path, one trial per episode through
``envs.trials.TrialsAsEpisodes`` (cap ``max_trial_steps``): ``episodes`` counts trials, the
metrics have one row per trial with ``correct`` (``info["performance"]`` on the trial's last
step; NaN when the env says nothing), and a run is solved once the fraction of correct
trials over ``solved_window`` reaches ``solved_correct``. So are the one-trial episodes of an
env that reports ``new_trial`` on the Python path. Each update resets every env with its
seed, which starts a fresh trial: the env's state is not in the checkpoint, and this keeps a
resumed run exact.

Populations (jit path): ``population`` members with seeds ``seed, seed + 1, ...`` and, with
``sweep``, per-member values of any numeric hyperparameter, trained by ``vmap`` in one
program and sharded over all visible devices when the population divides evenly.

Stopping. A run stops when solved, out of budget, or asked: ``SIGINT`` (Ctrl-C) or
``SIGTERM`` at any moment. The loop only ever holds a consistent ``(state, update,
metrics)``; a stop request lets the current call finish, saves that, and returns with
``interrupted``. A second request, or one that comes before the first update has finished
(while compiling), ends the process at once (exit status 130), keeping the last
checkpoint, which is always whole.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time

import jax
import numpy as np
from tqdm import tqdm

from agents.contract import Agent, AgentConfig
from agents.env_spec import env_trial_kind, make_env, make_env_spec
from agents.jit_training import make_train
from agents.plots import plot_run
from agents.population import init_population, population_keys, shard_population, unstack
from agents.registry import env_defaults, family, make_agent
from agents.rollout import PythonLoop, python_rollout
from agents.run_folder import RunFolder, episode_rows, solved_at
from envs.trials import TrialsAsEpisodes

__all__ = ["PATHS", "RESUMABLE_CHANGES", "ResumeError", "TrainConfig", "Trainer", "resolve_config"]

PATHS = ("auto", "jit", "python")
# Fields a resumed run may change: the budgets and the folder. (The chunking fields decide
# where a solved run stops, so they must stay as they were.)
RESUMABLE_CHANGES = ("episodes", "max_steps", "out")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What a run does; validated when built. ``episodes`` (trials, for a trial env) and
    ``max_steps`` (env steps, None for no limit) are the budgets; a run stops early once
    solved. ``agent=None`` takes the env's tuned entry in ``agents/defaults.toml``;
    ``agent_config=None`` the tuned values there, else the agent's defaults, and
    ``num_envs=None`` the entry's episodes per update (see :func:`resolve_config`).
    ``sweep``: ``((name, (value per member, ...)), ...)``. ``max_trial_steps``: the trial
    cap of a trial env (None: the env's ``metadata["max_trial_steps"]``, else 1000);
    ``solved_correct``: the fraction of correct trials that solves a trial env."""

    agent: str | None = None
    env: str = "CartPole-v1"
    agent_config: AgentConfig | None = None
    seed: int = 0
    episodes: int = 5000
    max_steps: int | None = None
    num_envs: int | None = None
    path: str = "auto"
    out: str = "runs/run"
    checkpoint_every: int = 25
    stop_when_solved: bool = True
    solved_window: int = 100
    solved_correct: float = 0.9
    max_trial_steps: int | None = None
    population: int = 1
    sweep: tuple = ()
    updates_per_call: int = 25

    def __post_init__(self):
        fam = None if self.agent is None else family(self.agent)  # the registry's own check
        if self.path not in PATHS:
            raise ValueError(f"path: expected one of {list(PATHS)}, got {self.path!r}")
        for name in (
            "num_envs",
            "episodes",
            "max_steps",
            "max_trial_steps",
            "checkpoint_every",
            "population",
            "updates_per_call",
            "solved_window",
        ):
            value = getattr(self, name)
            if name in ("num_envs", "max_steps", "max_trial_steps") and value is None:
                continue  # the env's entry in defaults.toml; no step budget; the env's cap
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        correct = self.solved_correct
        if isinstance(correct, bool) or not isinstance(correct, (int, float)) or not 0 < correct <= 1:
            raise ValueError(f"solved_correct: expected a fraction in (0, 1], got {correct!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected an int >= 0, got {self.seed!r}")
        for name, values in self.sweep:
            if len(values) != self.population:
                raise ValueError(
                    f"sweep: {name} has {len(values)} values for a population of {self.population}"
                )
        config = self.agent_config
        if fam is not None and config is not None and not isinstance(config, fam.config):
            raise TypeError(f"agent_config: agent {self.agent!r} takes a {fam.config.__name__}")

    def as_dict(self) -> dict:
        """JSON-able: what ``config.json`` records."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["agent_config"] = None if self.agent_config is None else self.agent_config.as_dict()
        d["sweep"] = [[name, list(values)] for name, values in self.sweep]
        return d


def resolve_config(config: TrainConfig, overrides: dict | None = None) -> TrainConfig:
    """``config`` with ``agent`` and ``agent_config`` filled in: the env's entry in
    ``agents/defaults.toml`` (the agent's own table there), then
    ``overrides`` (``{name: text or value}``, e.g. from ``--set``) on top."""
    agent, tuned, num_envs = env_defaults(config.env, config.agent)
    fam = family(agent)
    base = config.agent_config if config.agent_config is not None else fam.config.from_strings(tuned)
    agent_config = fam.config.from_strings(overrides or {}, base=base)
    num_envs = config.num_envs if config.num_envs is not None else num_envs
    return dataclasses.replace(config, agent=agent, agent_config=agent_config, num_envs=num_envs)


class ResumeError(ValueError):
    """A run that cannot be resumed from its folder (one line)."""


def _episode_seed(seed: int, update: int, env_index: int) -> int:
    return int(np.random.SeedSequence([seed, update, env_index]).generate_state(1)[0])


class _JitRunner:
    """Chunks of ``n`` updates in one jitted program (one compile per size). A population of
    one runs unbatched, each batch stopping when its episodes have ended; a larger one is
    vmapped over its members with batches of the whole horizon (``stop_early=False``: a
    vmapped ``while_loop`` selects every member's carry at every step and, sharded,
    reduces its predicate across devices)."""

    def __init__(self, agent: Agent, num_envs: int, population: int):
        self.agent, self.num_envs, self.population, self.chunks = agent, num_envs, population, {}

    def program(self, n: int):
        """The jitted program of ``n`` updates over a state with a leading member axis."""
        if n not in self.chunks:
            train = make_train(self.agent, self.num_envs, n, stop_early=self.population == 1)
            if self.population == 1:

                def one_member(state, keys, first_update):
                    out = train(unstack(state, 0), keys[0], first_update)
                    return jax.tree.map(lambda x: x[None], out)

                self.chunks[n] = jax.jit(one_member)
            else:
                self.chunks[n] = jax.jit(jax.vmap(train, in_axes=(0, 0, None)))
        return self.chunks[n]

    def run(self, state, keys, update: int, n: int):
        state, metrics = self.program(n)(state, keys, update)
        return state, jax.tree.map(np.asarray, metrics)  # (population, n, num_envs)


class _PythonRunner:
    """One update at a time, Gymnasium envs stepped in Python (a population of one). For an
    env with trials (``trials``), each episode's ``correct`` is a metric."""

    def __init__(self, agent: Agent, num_envs: int, seed: int, max_trial_steps: int | None):
        self.loop = PythonLoop(agent)
        self.envs = [make_env(agent.spec.env_id, max_trial_steps) for _ in range(num_envs)]
        self.seed = seed
        self.trials = env_trial_kind(agent.spec.env_id) is not None

    @property
    def trials_cut(self) -> int:
        """Trials cut at their cap so far, over all envs (0 for an env without trials)."""
        return sum(env.trials_cut for env in self.envs if isinstance(env, TrialsAsEpisodes))

    def run(self, state, keys, update: int, n: int):
        seeds = [_episode_seed(self.seed, update, i) for i in range(len(self.envs))]
        member, batch = python_rollout(
            self.loop, self.envs, unstack(state, 0), jax.random.fold_in(keys[0], update), seeds
        )
        metrics = {"returns": batch.returns, "lengths": batch.lengths, **batch.metrics}
        if self.trials:
            metrics["correct"] = batch.correct
        return jax.tree.map(lambda x: x[None], member), {
            k: np.asarray(v)[None, None] for k, v in metrics.items()
        }


class _StopRequests:
    """SIGINT/SIGTERM while a run is going: the first asks the loop to stop at the next
    consistent point; a second, or any before the first update finished, ends the process at
    once (``hard_exit``, for commands) or raises ``KeyboardInterrupt`` in the caller."""

    def __init__(self, hard_exit: bool):
        self.event = threading.Event()
        self.started = False
        self.hard_exit = hard_exit
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.event.is_set() or not self.started:
            sys.stderr.write(
                "\nstopped; the last checkpoint is kept. Resume: the same command with --resume\n"
            )
            sys.stderr.flush()
            os._exit(130)
        self.event.set()
        sys.stderr.write("\nstopping after the current call (Ctrl-C again to quit at once)...\n")
        sys.stderr.flush()


class Trainer:
    """Runs one :class:`TrainConfig`; ``run()`` returns the final state and metrics.

    Everything is checked here, before anything is written: the env, the agent, its
    hyperparameters, the sweep."""

    def __init__(self, config: TrainConfig, overrides: dict | None = None):
        config = resolve_config(config, overrides)
        self.config = config
        self.spec = make_env_spec(config.env, config.max_trial_steps)
        self.agent = make_agent(config.agent, self.spec, config.agent_config)
        path = config.path
        if path == "auto":
            path = "jit" if self.spec.jax_env is not None else "python"
        if path == "jit" and self.spec.jax_env is None:
            raise ValueError(f"path: {config.env} has no JAX-native twin; use --path python")
        if config.population > 1 and path != "jit":
            raise ValueError(
                "population: populations train on the jitted path (an env with a JAX-native twin)"
            )
        self.config = config = dataclasses.replace(config, path=path)
        self.path = path
        self.threshold = self.spec.reward_threshold
        self.folder = RunFolder(config.out)
        self.folder.check_writable()
        self.out = self.folder.path
        self.initial_state = init_population(self.agent, self.seeds, dict(config.sweep))  # checks the sweep
        for k in range(config.population):  # each member's values through the agent's own checks
            member = {name: float(values[k]) for name, values in config.sweep}
            if member:
                make_agent(config.agent, self.spec, dataclasses.replace(config.agent_config, **member))
        if path == "jit":
            self.runner = _JitRunner(self.agent, config.num_envs, config.population)
        else:
            self.runner = _PythonRunner(self.agent, config.num_envs, config.seed, config.max_trial_steps)
        self.trials = path == "python" and self.runner.trials

    @property
    def seeds(self) -> list[int]:
        return [self.config.seed + k for k in range(self.config.population)]

    def lower_first_call(self):
        """The jitted path's program for the run's first call, lowered for its arguments
        (``.compile()`` it to time compiling)."""
        if self.path != "jit":
            raise ValueError("path: only the jitted path compiles its calls")
        n = self._updates_this_call(0, 0, None)
        return self.runner.program(n).lower(self.initial_state, population_keys(self.seeds), 0)

    # ------------------------------------------------------------------ bookkeeping
    def solved_at(self, rows: list[dict]) -> int | None:
        """The episode (trial) at which ``rows`` first count as solved (see
        ``agents.run_folder.solved_at``), or None."""
        config = self.config
        return solved_at(rows, self.threshold, config.solved_window, config.solved_correct)

    def summary(self, rows: list[list[dict]]) -> list[dict]:
        """One row per member: seed, swept values, episodes, final mean, solved episode."""
        w = self.config.solved_window
        summary = []
        for k, member_rows in enumerate(rows):
            row = {"member": k, "seed": self.seeds[k]}
            row.update({name: values[k] for name, values in self.config.sweep})
            row["episodes"] = len(member_rows)
            row[f"final_mean_{w}"] = (
                float(np.mean([r["return"] for r in member_rows[-w:]])) if member_rows else ""
            )
            at = self.solved_at(member_rows)
            row["solved_at"] = "" if at is None else at
            summary.append(row)
        return summary

    def solved(self, rows: list[dict]) -> bool:
        """Whether the mean return (for trials: the fraction correct) over ``solved_window``
        consecutive episodes has reached the threshold at some point of ``rows``."""
        return self.solved_at(rows) is not None

    def _resume(self) -> tuple:
        """``(state, update, rows)`` from the checkpoint, refusing one of another config
        (naming every field that differs) before reading its arrays."""
        meta = self.folder.meta()
        differ = _differences(meta["config"], self.config.as_dict())
        if differ:
            raise ResumeError(
                f"resume: {self.folder.checkpoint} was written with a different configuration "
                f"({'; '.join(differ)}); use another --out or the same settings"
            )
        state, meta = self.folder.load(self.initial_state, agent=self.agent.name)
        return state, meta["update"], meta["metrics"]

    def _save(self, state, update: int, rows: list[list[dict]]) -> None:
        self.folder.save(state, agent=self.agent.name, config=self.config.as_dict(), update=update, rows=rows)
        if self.config.population > 1:
            self.folder.write_summary(self.summary(rows))

    # ------------------------------------------------------------------ the loop
    def run(
        self, *, resume: bool = False, progress: bool = True, stop_after: int | None = None, hard_exit=False
    ) -> dict:
        """Train until solved or out of episodes (or stopped; see the module docstring).

        Args:
          resume: continue from ``out/checkpoint.npz`` if it exists.
          progress: show a tqdm bar (episodes, return, mean |RPE|).
          stop_after: stop (as if interrupted) after this many updates; for tests.
          hard_exit: a second Ctrl-C, or one while compiling, ends the process at once
            (status 130) instead of raising ``KeyboardInterrupt``; for commands.

        Returns:
          ``{"state", "metrics", "solved_at" (episode or None), "seconds", "interrupted",
          "trials_cut"}`` (trials cut at ``max_trial_steps`` in this call; 0 without
          trials); for a population, ``state`` has a leading member axis and ``metrics`` and
          ``solved_at`` are lists over members.
        """
        config, population = self.config, self.config.population
        state, update, rows = self.initial_state, 0, [[] for _ in range(population)]
        if resume:
            self.folder.check_no_pickle()
            if self.folder.checkpoint.exists():
                state, update, rows = self._resume()
            else:
                sys.stderr.write(f"resume: no checkpoint in {self.out}; starting a new run\n")
        self.folder.prepare(config.as_dict())
        keys = population_keys(self.seeds)
        if self.path == "jit" and len(jax.devices()) > 1 and population % len(jax.devices()) == 0:
            state, keys = shard_population((state, keys))
        result = {"state": state, "update": update, "rows": rows, "interrupted": False}
        start = time.perf_counter()
        with _StopRequests(hard_exit) as stop:
            if threading.current_thread() is threading.main_thread():
                worker = threading.Thread(
                    target=self._loop, args=(result, keys, stop, progress, stop_after), daemon=True
                )
                worker.start()
                while worker.is_alive():
                    worker.join(0.1)
            else:
                self._loop(result, keys, stop, progress, stop_after)
        if "error" in result:
            raise result["error"]
        state, rows = result["state"], result["rows"]
        self._save(state, result["update"], rows)
        if not result["interrupted"]:
            for k, member_rows in enumerate(rows):
                suffix = "" if population == 1 else f"-member{k}"
                plot_run(self.out, member_rows, self.threshold, config.solved_window, suffix=suffix)
        at = [self.solved_at(r) for r in rows]
        single = population == 1
        return {
            "state": unstack(state, 0) if single else state,
            "metrics": rows[0] if single else rows,
            "solved_at": at[0] if single else at,
            "seconds": time.perf_counter() - start,
            "interrupted": result["interrupted"],
            "trials_cut": self.runner.trials_cut if self.trials else 0,
        }

    def _loop(self, result: dict, keys, stop: _StopRequests, progress: bool, stop_after: int | None) -> None:
        """The update loop; keeps ``result`` a consistent ``(state, update, rows)`` at all times."""
        config, population = self.config, self.config.population
        rows = result["rows"]
        bar = tqdm(
            total=config.episodes,
            initial=len(rows[0]),
            unit="trial" if self.trials else "ep",
            disable=not progress,
            desc=f"{config.agent} {config.env}" + (f" x{population}" if population > 1 else ""),
        )
        try:
            while not self._finished(rows):
                if stop.event.is_set() or (stop_after is not None and result["update"] >= stop_after):
                    result["interrupted"] = True
                    return
                update = result["update"]
                n = self._updates_this_call(update, len(rows[0]), stop_after)
                state, metrics = self.runner.run(result["state"], keys, update, n)
                new_rows = [list(r) for r in rows]
                for k in range(population):
                    for i in range(n):
                        member = {name: value[k, i] for name, value in metrics.items()}
                        returns, lengths = member.pop("returns"), member.pop("lengths")
                        new_rows[k].extend(episode_rows(len(new_rows[k]), returns, lengths, member))
                # Commit: one assignment, so the state never runs ahead of its metrics.
                result.update(state=state, update=update + n, rows=new_rows)
                rows = new_rows
                stop.started = True
                bar.update(len(rows[0]) - bar.n)
                bar.set_postfix(self._postfix(rows))
                if result["update"] % config.checkpoint_every == 0:
                    self._save(state, result["update"], rows)
        except Exception as error:  # reported by run() in the calling thread
            result["error"] = error
        finally:
            bar.close()

    def _finished(self, rows: list[list[dict]]) -> bool:
        out_of_budget = len(rows[0]) >= self.config.episodes
        if self.config.max_steps is not None:  # checked after each call
            out_of_budget |= all(sum(r["steps"] for r in member) >= self.config.max_steps for member in rows)
        return out_of_budget or (self.config.stop_when_solved and all(self.solved(r) for r in rows))

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
        postfix = {
            "return": f"{np.mean([x['return'] for r in last for x in r]):.1f}",
            "avg100": f"{np.mean([np.mean([x['return'] for x in r[-100:]]) for r in rows]):.1f}",
        }
        if "correct" in rows[0][-1]:
            correct = [np.nan_to_num([x["correct"] for x in r[-100:]]).mean() for r in rows]
            postfix["correct100"] = f"{np.mean(correct):.2f}"
        if "mean_abs_rpe" in rows[0][-1]:
            postfix["|rpe|"] = f"{np.mean([x['mean_abs_rpe'] for r in last for x in r]):.3f}"
        return postfix


def _differences(saved: dict, now: dict) -> list[str]:
    """``"name: saved -> now"`` for every field that differs (agent hyperparameters by name;
    a field the saved config lacks, from an older rpe, at its default)."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    differ = []
    for name in sorted(set(saved) | set(now)):
        if name in RESUMABLE_CHANGES:
            continue
        a, b = saved.get(name, defaults.get(name)), now.get(name)
        if isinstance(a, dict) and isinstance(b, dict):
            differ += [
                f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
            ]
        elif a != b:
            differ.append(f"{name}: {a!r} -> {b!r}")
    return differ
