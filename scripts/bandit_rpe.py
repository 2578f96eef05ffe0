"""RPE dynamics on a two-armed bandit with a reversal.

Each arm has its own ``RewardErrorCell``; a softmax policy over the cells' predictions
``mu`` picks an arm, the arm pays a Bernoulli reward, and only that arm's cell advances:
its ``rpe = r - mu`` is the reward prediction error and ``mu`` tracks the arm's reward rate.
Halfway through, the arms' rates swap: the RPE of the formerly good arm turns negative,
its prediction falls, and choices follow.

Prints one row per block of trials and writes ``bandit_rpe.png`` (predictions against
the true rates, and the RPE of each pull) to ``--out``.

    python scripts/bandit_rpe.py --trials 2000 --seed 0 --out runs/bandit
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import jax.numpy as jnp
import numpy as np
from cli import format_table
from tqdm import tqdm

from rpe import RewardErrorCell


@dataclasses.dataclass(frozen=True)
class BanditConfig:
    trials: int = 2000
    rates: tuple[float, float] = (0.8, 0.2)
    alpha: float = 0.05
    temperature: float = 0.1
    block: int = 200
    seed: int = 0
    out: str = "runs/bandit"


def run(config: BanditConfig) -> dict[str, np.ndarray]:
    """Simulate; return per-trial arrays: choice, reward, rpe, mu (trials x 2), best arm."""
    rng = np.random.default_rng(config.seed)
    cells = [RewardErrorCell(f"arm{i}", n_units=1, alpha=config.alpha) for i in range(2)]
    reversal = config.trials // 2
    log = {k: [] for k in ("choice", "reward", "rpe", "mu", "best")}
    for t in tqdm(range(config.trials), desc="bandit", unit="trial", leave=False):
        rates = config.rates if t < reversal else config.rates[::-1]
        mu = np.array([float(c.mu.get()[0, 0]) for c in cells])
        logits = mu / config.temperature
        p = np.exp(logits - logits.max())
        arm = int(rng.choice(2, p=p / p.sum()))
        reward = float(rng.random() < rates[arm])
        cells[arm].reward.set(jnp.full((1, 1), reward))
        cells[arm].advance_state(dt=1.0)
        log["choice"].append(arm)
        log["reward"].append(reward)
        log["rpe"].append(float(cells[arm].rpe.get()[0, 0]))
        log["mu"].append([float(c.mu.get()[0, 0]) for c in cells])
        log["best"].append(int(np.argmax(rates)))
    return {k: np.asarray(v) for k, v in log.items()}


def block_table(config: BanditConfig, log: dict[str, np.ndarray]) -> list[dict[str, float]]:
    rows = []
    reversal = config.trials // 2
    for start in range(0, config.trials, config.block):
        sl = slice(start, min(start + config.block, config.trials))
        rates = config.rates if start < reversal else config.rates[::-1]
        end_mu = log["mu"][sl.stop - 1]
        rows.append(
            {
                "trials": f"{sl.start}-{sl.stop - 1}",
                "p(arm0)": rates[0],
                "mu0": end_mu[0],
                "p(arm1)": rates[1],
                "mu1": end_mu[1],
                "best%": 100.0 * np.mean(log["choice"][sl] == log["best"][sl]),
                "mean rpe": float(np.mean(log["rpe"][sl])),
                "mean|rpe|": float(np.mean(np.abs(log["rpe"][sl]))),
            }
        )
    return rows


def plot(config: BanditConfig, log: dict[str, np.ndarray], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(config.trials)
    reversal = config.trials // 2
    fig, (ax_mu, ax_rpe) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for arm, color in ((0, "tab:blue"), (1, "tab:orange")):
        true = np.where(t < reversal, config.rates[arm], config.rates[1 - arm])
        ax_mu.plot(t, log["mu"][:, arm], color=color, label=f"mu, arm {arm}")
        ax_mu.plot(t, true, color=color, ls="--", lw=1, label=f"true rate, arm {arm}")
        pulled = log["choice"] == arm
        ax_rpe.scatter(t[pulled], log["rpe"][pulled], s=2, color=color, label=f"RPE, arm {arm}")
    for ax in (ax_mu, ax_rpe):
        ax.axvline(reversal, color="k", lw=0.8, ls=":")
    ax_mu.set_ylabel("reward prediction")
    ax_mu.legend(loc="center right", fontsize=8)
    ax_rpe.set_ylabel("RPE of the pulled arm")
    ax_rpe.set_xlabel("trial")
    ax_rpe.legend(loc="lower right", fontsize=8, markerscale=4)
    fig.suptitle("RewardErrorCell on a two-armed bandit with a reversal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv=None) -> BanditConfig:
    d = BanditConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=d.trials)
    parser.add_argument("--alpha", type=float, default=d.alpha, help="EMA rate of each arm's RewardErrorCell")
    parser.add_argument("--temperature", type=float, default=d.temperature, help="softmax temperature")
    parser.add_argument("--block", type=int, default=d.block, help="trials per table row")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--out", default=d.out, help="folder for the plot")
    args = parser.parse_args(argv)
    if args.trials < 2 or args.block < 1 or args.temperature <= 0:
        parser.error("--trials must be >= 2, --block >= 1 and --temperature > 0")
    return dataclasses.replace(d, **vars(args))


def main(argv=None) -> dict[str, np.ndarray]:
    config = parse_args(argv)
    log = run(config)
    print(format_table(block_table(config, log)))
    out = pathlib.Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(config, log, out / "bandit_rpe.png")
    print(f"plot: {out / 'bandit_rpe.png'}")
    return log


if __name__ == "__main__":
    main()
