"""Learning results: each agent on its tasks for seeds 0-4, as one table.

For every (agent, env) the table gives the number of seeds that reached the solved score
(mean return over 100 consecutive episodes >= the env's threshold), the median and range of
the final score (mean return of the last 100 episodes), the median episodes and env steps to
reach the threshold (solved seeds only) and the median wall time of a run, compile included.

The node-perturbation RNN (``np-rnn``) is scored on the perceptual decision task by its
percentage of correct kick-free trials; its "episodes" column counts trials.

    python scripts/benchmark_learning.py [--seeds 5] [--episodes 5000] [--trials 16000]

With ``--anchors`` it holds the population agents (``pc-ac``) against the published agents
that also learn by local rules (:data:`ANCHORS`: TD-STDP, MAP propagation, ANGC), each row
in the anchor's own statistic, with the anchor's figure beside ours:

    python scripts/benchmark_learning.py --anchors [--envs CartPole-v1 ...] [--seeds 5]

With ``--cognitive`` it prints the recurrent agent's rows on the cognitive tasks
(``scripts/benchmark_cognitive.py``: delayed non-match, perceptual decision, context
integration, CartPole without velocities), Miconi's and Song et al.'s figures beside ours.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np
from cli import OneLineParser, format_table
from tqdm import tqdm

from agents.registry import AGENTS, env_defaults
from agents.training import TrainConfig, Trainer

TASKS = {
    "pg": ("CartPole-v1", "Acrobot-v1", "MountainCar-v0"),
    "ac": ("MountainCar-v0", "Acrobot-v1"),
    "np-rnn": ("PerceptualDecision-v0",),
}
TRIAL_AGENTS = ("np-rnn",)  # trained on trial-based tasks, scored by % correct
TRIAL_TARGET = 0.9
TRIALS_PER_UPDATE = env_defaults("PerceptualDecision-v0", "np-rnn").num_envs  # np-rnn: trials per update of J


@dataclasses.dataclass(frozen=True)
class RunResult:
    final: float
    solved_at: int | None
    steps_to_solve: int | None
    seconds: float


def run_one(agent: str, env: str, seed: int, episodes: int, out: str) -> RunResult:
    config = TrainConfig(agent=agent, env=env, seed=seed, episodes=episodes, out=out)
    result = Trainer(config).run(progress=False)
    rows = result["metrics"]
    solved = result["solved_at"]
    steps = sum(r["steps"] for r in rows[:solved]) if solved else None
    return RunResult(float(np.mean([r["return"] for r in rows[-100:]])), solved, steps, result["seconds"])


def run_trials(seed: int, max_trials: int, out: str, block: int = 50, eval_trials: int = 512) -> RunResult:
    """The np-rnn agent on the perceptual decision task, trained as ``rpe train`` trains it
    (a Trainer's jitted runner, ``TRIALS_PER_UPDATE`` trials per update), evaluated on
    ``eval_trials`` fresh greedy (kick-free) trials after every ``block`` updates; solved at
    the first evaluation >= 90% correct (``benchmark_cognitive.trials_to_criterion``)."""
    from benchmark_cognitive import trials_to_criterion

    result = trials_to_criterion(
        "np-rnn",
        "PerceptualDecision-v0",
        seed,
        max_trials,
        TRIAL_TARGET,
        eval_every=block * TRIALS_PER_UPDATE,
        eval_trials=eval_trials,
        out=out,
        stop=False,
    )
    from agents.env_spec import make_env_spec

    solved_at = result["solved_at"]
    trial_steps = make_env_spec("PerceptualDecision-v0").jax_env.trial_steps
    steps = None if solved_at is None else solved_at * trial_steps
    return RunResult(100.0 * result["final"], solved_at, steps, result["seconds"])


@dataclasses.dataclass(frozen=True)
class Anchor:
    """A published local-learning result and our target against it (issue 12).

    ``statistic``: ``"episodes_to"``: the episode at which the mean return of the last 100
    episodes first reaches ``value`` (lower is better; a run that never does counts as more
    than its budget); ``"mean_first"``: the mean return over the first ``value`` episodes
    (higher is better). ``target``: ours must be at most (``episodes_to``) or at least
    (``mean_first``) this, as a median over the seeds."""

    env: str
    statistic: str
    value: float
    target: float
    anchor: str
    budget: int

    @property
    def label(self) -> str:
        if self.statistic == "episodes_to":
            return f"episodes to 100-ep mean >= {self.value:g}"
        return f"mean return, first {self.value:g} episodes"

    def score(self, returns: np.ndarray) -> float:
        if self.statistic == "mean_first":
            return float(np.mean(returns[: int(self.value)]))
        means = np.convolve(returns, np.ones(100) / 100, mode="valid")
        hits = np.flatnonzero(means >= self.value)
        return float(hits[0] + 100) if hits.size else np.inf

    def met(self, median: float) -> bool:
        return median <= self.target if self.statistic == "episodes_to" else median >= self.target


# The published local-learning agents our population agents are held against (issue 12):
# TD-STDP (Chung & Kozma 2020, stephen-chung-mh/td_stdp, 10 runs), MAP propagation (Chung
# 2021, stephen-chung-mh/map_prop, 10 runs), ANGC (Ororbia & Mali 2022, its two stored runs).
ANCHORS = {
    "pc-ac": (
        Anchor("CartPole-v1", "episodes_to", 500, 170, "169.5 +- 23.5 (TD-STDP)", 1000),
        Anchor("CartPole-v1", "mean_first", 1000, 460, "459.7 (MAP propagation)", 1000),
        Anchor("Acrobot-v1", "mean_first", 500, -100, "-100.3 (MAP propagation)", 500),
        Anchor("MountainCar-v0", "episodes_to", -110, 440, "437, 603 (ANGC, replay buffer)", 1500),
        Anchor("LunarLander-v3", "episodes_to", 200, 2575, "2575 +- 667 (TD-STDP)", 2500),
        Anchor("LunarLander-v3", "mean_first", 2500, 128, "127.9 (MAP propagation)", 2500),
        Anchor("MountainCarContinuous-v0", "mean_first", 500, 39.5, "39.5 (MAP propagation)", 500),
        Anchor("Pendulum-v1", "episodes_to", -200, 1000, "none local; PPO (backprop) -172 at 500", 1000),
    ),
}


def best_window(returns: np.ndarray, window: int = 100) -> float:
    """The best mean return over ``window`` successive episodes (all of them if fewer)."""
    if len(returns) < window:
        return float(np.mean(returns))
    return float(np.max(np.convolve(returns, np.ones(window) / window, mode="valid")))


def run_returns(agent: str, env: str, seed: int, episodes: int, out: str) -> tuple[np.ndarray, float]:
    """Every episode's return of one run of the whole budget (no early stop), and its seconds."""
    config = TrainConfig(agent=agent, env=env, seed=seed, episodes=episodes, out=out, stop_when_solved=False)
    result = Trainer(config).run(progress=False)
    return np.asarray([r["return"] for r in result["metrics"]]), float(result["seconds"])


def anchor_rows(agent: str, anchors, seeds: int, tmp: str, bar=None) -> list[dict]:
    """One row per anchor: each env's runs are shared by its anchors (the longest budget)."""
    rows = []
    for env in dict.fromkeys(a.env for a in anchors):
        mine = [a for a in anchors if a.env == env]
        budget = max(a.budget for a in mine)
        runs = []
        for seed in range(seeds):
            if bar is not None:
                bar.set_description(f"{agent} {env} seed {seed}")
            runs.append(run_returns(agent, env, seed, budget, f"{tmp}/{agent}-{env}-{seed}"))
            if bar is not None:
                bar.update()
        for a in mine:
            scores = np.asarray([a.score(returns[: a.budget]) for returns, _ in runs])
            median = float(np.median(scores))

            def shown(x, budget=a.budget):
                return f">{budget}" if np.isinf(x) else f"{x:.1f}"

            rows.append(
                {
                    "agent": agent,
                    "env": env,
                    "statistic": a.label,
                    "anchor": a.anchor,
                    "target": f"{'<=' if a.statistic == 'episodes_to' else '>='} {a.target:g}",
                    "ours median": shown(median),
                    "range": f"{shown(scores.min())}..{shown(scores.max())}",
                    "met": "yes" if a.met(median) else "no",
                    "best 100-ep mean": f"{np.median([best_window(r[: a.budget]) for r, _ in runs]):.1f}",
                    "wall s": f"{np.median([t for _, t in runs]):.0f}",
                }
            )
    return rows


def summarise(agent: str, env: str, threshold: float | None, runs: list[RunResult]) -> dict:
    finals = np.asarray([r.final for r in runs])
    solved = [r for r in runs if r.solved_at is not None]
    return {
        "agent": agent,
        "env": env,
        "target": "-" if threshold is None else f">= {threshold:g}",
        "solved": f"{len(solved)}/{len(runs)}",
        "final median": f"{np.median(finals):.1f}",
        "final range": f"{finals.min():.1f}..{finals.max():.1f}",
        "episodes": f"{np.median([r.solved_at for r in solved]):.0f}" if solved else "-",
        "env steps": f"{np.median([r.steps_to_solve for r in solved]):.0f}" if solved else "-",
        "wall s": f"{np.median([r.seconds for r in runs]):.1f}",
    }


def main(argv=None) -> list[dict]:
    parser = OneLineParser(prog="benchmark_learning.py", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--episodes", type=int, default=5000, help="episode budget per run")
    parser.add_argument("--trials", type=int, default=16000, help="trial budget of the np-rnn agent")
    parser.add_argument("--agents", nargs="+", default=sorted(TASKS), help=f"among {sorted(TASKS)}")
    parser.add_argument("--envs", nargs="+", default=None, help="restrict to these env ids")
    parser.add_argument(
        "--cognitive",
        action="store_true",
        help="the recurrent agent on the cognitive tasks (issue 13; scripts/benchmark_cognitive.py)",
    )
    parser.add_argument(
        "--anchors",
        action="store_true",
        help="the population agents against the published local-learning agents (issue 12)",
    )
    args = parser.parse_args(argv)
    if args.anchors:
        return main_anchors(args, parser)
    if args.cognitive:
        import benchmark_cognitive

        envs = ["--envs", *args.envs] if args.envs else []
        return benchmark_cognitive.main(["--seeds", str(args.seeds), *envs])
    if args.seeds < 1 or args.episodes < 1:
        parser.error("--seeds and --episodes must be >= 1")
    unknown = [a for a in args.agents if a not in TASKS or (a not in AGENTS and a not in TRIAL_AGENTS)]
    if unknown:
        parser.error(f"unknown agents {unknown}; choose among {sorted(TASKS)}")
    jobs = [(a, e) for a in args.agents for e in TASKS[a] if args.envs is None or e in args.envs]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, tqdm(total=len(jobs) * args.seeds, unit="run") as bar:
        for agent, env in jobs:
            runs = []
            for seed in range(args.seeds):
                bar.set_description(f"{agent} {env} seed {seed}")
                if agent in TRIAL_AGENTS:
                    runs.append(run_trials(seed, args.trials, f"{tmp}/{agent}-{env}-{seed}"))
                else:
                    runs.append(run_one(agent, env, seed, args.episodes, f"{tmp}/{agent}-{env}-{seed}"))
                bar.update()
            if agent in TRIAL_AGENTS:
                row = summarise(agent, env, 100 * TRIAL_TARGET, runs)
                row["target"] = f">= {100 * TRIAL_TARGET:g}%"
                rows.append(row)
            else:
                threshold = Trainer(TrainConfig(agent=agent, env=env, out=tmp)).threshold
                rows.append(summarise(agent, env, threshold, runs))
    print(
        f"seeds 0-{args.seeds - 1}, budget {args.episodes} episodes per run; final = mean return of the "
        "last 100 episodes; episodes / env steps to solve: median over solved seeds.\n"
        f"np-rnn: final = % correct on 512 kick-free trials after a budget of {args.trials} trials; "
        "'episodes' = trials to reach 90%"
    )
    print(format_table(rows))
    return rows


def main_anchors(args, parser) -> list[dict]:
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    known = {a.env for anchors in ANCHORS.values() for a in anchors}
    if args.envs is not None and set(args.envs) - known:
        parser.error(
            f"--envs: no anchor for {sorted(set(args.envs) - known)}; expected some of {sorted(known)}"
        )
    jobs = {
        agent: tuple(a for a in anchors if args.envs is None or a.env in args.envs)
        for agent, anchors in ANCHORS.items()
    }
    total = sum(len({a.env for a in anchors}) for anchors in jobs.values()) * args.seeds
    rows = []
    with tempfile.TemporaryDirectory() as tmp, tqdm(total=total, unit="run") as bar:
        for agent, anchors in jobs.items():
            rows += anchor_rows(agent, anchors, args.seeds, tmp, bar)
    print(
        f"seeds 0-{args.seeds - 1}, one run per seed of the row's budget (no early stop), "
        "episodes counted to the end of the first 100-episode window that reaches the score; "
        "'wall s': median seconds per run on this machine"
    )
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
