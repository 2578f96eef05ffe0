"""Cognitive-task results of the recurrent agents (issue 13), anchor figures beside ours.

Each task runs for seeds 0-4 through the train command's own machinery: a
:class:`agents.training.Trainer` (the agent and values from ``agents/defaults.toml`` unless
given) and its jitted runner, the same compiled program ``rpe train --env ID`` runs. Trial
tasks are scored by the task's own ``correct(state)`` (the sign of the response summed
over the response window): after every ``eval_every`` training trials the agent answers
``eval_trials`` fresh greedy trials (no exploration, no learning;
:func:`agents.eprop_rnn.trial_correct`), and "trials to X%" is the first evaluation at or
above X%. (Miconi 2017 counted 95% over 100 successive training trials; a greedy
evaluation on fresh trials is the noise-free form of it.) CartPole without velocities is
scored by the Trainer's own solved criterion, the mean return of 100 successive training
episodes.

    python scripts/benchmark_cognitive.py [--seeds 5] [--quick] [--agent eprop-rnn]
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import jax
import numpy as np
from cli import OneLineParser, format_table

from agents.eprop_rnn import trial_correct
from agents.population import population_keys, unstack
from agents.training import TrainConfig, Trainer

__all__ = ["TASKS", "Task", "main", "rows", "trials_to_criterion"]


@dataclasses.dataclass(frozen=True)
class Task:
    """One row: ``kind`` "trials" (trials until ``criterion`` correct, median <= ``target``,
    every seed <= ``worst``), "final" (% correct after ``budget`` trials >= ``criterion``) or
    "return" (100-episode mean return >= ``criterion``)."""

    env: str
    kind: str
    criterion: float
    budget: int
    quick_budget: int
    statistic: str
    anchor: str
    target: float | None = None
    worst: float | None = None


TASKS = (
    Task(
        "DelayedNonMatch-v0", "trials", 0.95, 5000, 400, "trials to 95% correct",
        "Miconi 2017: median 843 (IQR 692-1125)", target=843,
    ),
    Task(
        "PerceptualDecision-v0", "trials", 0.90, 3000, 400, "trials to 90% correct",
        "issue 13: median <= 800, none > 2000 (np-rnn: 11,200)", target=800, worst=2000,
    ),
    Task(
        "ContextIntegration-v0", "final", 0.85, 5000, 400, "% correct after 5,000 trials",
        "Song, Yang & Wang 2017: 85% criterion",
    ),
    Task(
        "CartPoleNoVelocity-v1", "return", 475.0, 5000, 64, "100-episode mean return",
        "issue 13: >= 475",
    ),
)  # fmt: skip


def trials_to_criterion(
    agent: str | None,
    env: str,
    seed: int,
    budget: int,
    criterion: float,
    *,
    eval_every: int = 40,
    eval_trials: int = 512,
    out: str,
    stop: bool = True,
) -> dict:
    """Train ``agent`` (None: the env's default) on trial task ``env`` through a Trainer's
    jitted runner for up to ``budget`` trials, evaluating every ``eval_every`` trials.

    Returns ``{"solved_at": trials or None, "final": last fraction correct, "best": best
    fraction, "seconds": wall time, compiling included}``; with ``stop`` the run ends at the
    first evaluation >= ``criterion``."""
    trainer = Trainer(TrainConfig(agent=agent, env=env, seed=seed, episodes=budget, out=out, path="jit"))
    per_call = max(1, eval_every // trainer.config.num_envs)
    keys = population_keys(trainer.seeds)
    evaluate = jax.jit(lambda s: trial_correct(trainer.agent, s, jax.random.key(10_000 + seed), eval_trials))
    state, update, trials = trainer.initial_state, 0, 0
    solved_at, final, best = None, 0.0, 0.0
    start = time.perf_counter()
    while trials < budget:
        state, _ = trainer.runner.run(state, keys, update, per_call)
        update += per_call
        trials += per_call * trainer.config.num_envs
        final = float(evaluate(unstack(state, 0)))
        best = max(best, final)
        if solved_at is None and final >= criterion:
            solved_at = trials
            if stop:
                break
    return {"solved_at": solved_at, "final": final, "best": best, "seconds": time.perf_counter() - start}


def _episodes_return(agent: str | None, env: str, seed: int, budget: int, out: str) -> dict:
    config = TrainConfig(agent=agent, env=env, seed=seed, episodes=budget, out=out)
    result = Trainer(config).run(progress=False)
    returns = np.asarray([r["return"] for r in result["metrics"]], float)
    windows = np.convolve(returns, np.ones(100) / 100, "valid") if returns.size >= 100 else returns[-1:]
    return {"solved_at": result["solved_at"], "best": float(windows.max()), "seconds": result["seconds"]}


def _row(task: Task, runs: list[dict], budget: int) -> dict:
    seconds = f"{np.median([r['seconds'] for r in runs]):.0f}"
    if task.kind == "trials":
        at = np.asarray([r["solved_at"] if r["solved_at"] is not None else np.inf for r in runs], float)
        median = float(np.median(at))
        met = bool(median <= task.target and (task.worst is None or at.max() <= task.worst))
        show = lambda v: f"{v:.0f}" if np.isfinite(v) else f">{budget}"  # noqa: E731
        ours = show(median)
        spread = f"{show(at.min())}..{show(at.max())}"
        if not np.isfinite(median):
            ours += f" (best {100 * np.median([r['best'] for r in runs]):.0f}%)"
        per_seed = " ".join(show(v) for v in at)
    elif task.kind == "final":
        finals = np.asarray([r["final"] for r in runs]) * 100
        met = bool(np.median(finals) >= 100 * task.criterion)
        ours, spread = f"{np.median(finals):.1f}%", f"{finals.min():.1f}..{finals.max():.1f}"
        per_seed = " ".join(f"{v:.1f}" for v in finals)
    else:
        best = np.asarray([r["best"] for r in runs])
        met = bool(np.median(best) >= task.criterion)
        ours, spread = f"{np.median(best):.1f}", f"{best.min():.1f}..{best.max():.1f}"
        per_seed = " ".join(f"{v:.1f}" for v in best)
    return {
        "task": task.env,
        "statistic": task.statistic,
        "anchor": task.anchor,
        "ours median": ours,
        "range": spread,
        "per seed": per_seed,
        "met": "yes" if met else "no",
        "wall s": seconds,
    }


def rows(
    seeds=(0, 1, 2, 3, 4), quick: bool = False, agent: str | None = "eprop-rnn", envs=None
) -> list[dict]:
    """One row per task of :data:`TASKS` (or those in ``envs``): ``task``, ``statistic``,
    ``anchor``, ``ours median``, ``range``, ``per seed`` (seeds in order), ``met`` (yes/no)
    and ``wall s`` (median per seed).
    ``quick`` runs tiny budgets (a smoke test; the figures mean nothing)."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in TASKS:
            if envs is not None and task.env not in envs:
                continue
            budget = task.quick_budget if quick else task.budget
            runs = []
            for seed in seeds:
                folder = f"{tmp}/{task.env}-{seed}"
                if task.kind == "return":
                    runs.append(_episodes_return(agent, task.env, seed, budget, folder))
                else:
                    runs.append(
                        trials_to_criterion(
                            agent,
                            task.env,
                            seed,
                            budget,
                            task.criterion,
                            out=folder,
                            stop=task.kind == "trials",
                        )
                    )
            out.append(_row(task, runs, budget))
    return out


def main(argv=None) -> list[dict]:
    parser = OneLineParser(prog="benchmark_cognitive.py", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    parser.add_argument("--agent", default="eprop-rnn", help="agent name (default eprop-rnn)")
    parser.add_argument("--envs", nargs="+", default=None, help="restrict to these env ids")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    table = rows(tuple(range(args.seeds)), args.quick, args.agent, args.envs)
    print(
        f"{args.agent}, seeds 0-{args.seeds - 1}: trial tasks scored by greedy evaluations of 512 fresh "
        "trials every 40 training trials; CartPole by the 100-episode mean training return."
    )
    print(format_table(table))
    return table


if __name__ == "__main__":
    main()
