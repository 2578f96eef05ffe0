"""The RPE of a RewardErrorCell: online prediction, episodic mode with evolve, a bandit reversal.

python docs/tutorials/rpe_cell.py            # full run: figures into docs/tutorials/figures
python docs/tutorials/rpe_cell.py --quick --out /tmp/t   # a few seconds (the test suite)
"""

from __future__ import annotations

import argparse
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rpe import RewardErrorCell
from scripts import bandit_rpe
from scripts.cli import format_table

FIGURES = pathlib.Path(__file__).resolve().parent / "figures"


# --8<-- [start:online]
def online(steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A Bernoulli reward (p = 0.7, then 0.2 from halfway) into one cell, step by step."""
    rng = np.random.default_rng(seed)
    cell = RewardErrorCell("critic", n_units=1, alpha=0.1)
    p = np.where(np.arange(steps) < steps // 2, 0.7, 0.2)
    log = {"reward": [], "rpe": [], "mu": []}
    for t in range(steps):
        r = float(rng.random() < p[t])
        cell.reward.set(np.full((1, 1), r, np.float32))
        cell.advance_state(dt=1.0)  # rpe = r - mu (the old mu), then mu moves toward r
        log["reward"].append(r)
        log["rpe"].append(float(cell.rpe.get()[0, 0]))
        log["mu"].append(float(cell.mu.get()[0, 0]))
    return {k: np.asarray(v) for k, v in log.items()} | {"p": p}


# --8<-- [end:online]


# --8<-- [start:episodic]
def episodic(episodes: int, length: int = 20) -> np.ndarray:
    """Episodes of a constant reward 1.0; the prediction moves only when an episode ends."""
    cell = RewardErrorCell("critic", n_units=1, alpha=0.1, ema_window_len=10, use_online_predictor=False)
    mu = []
    for _ in range(episodes):
        for _ in range(length):
            cell.reward.set(np.ones((1, 1), np.float32))
            cell.advance_state(dt=1.0)  # accumulates the reward; mu stays
            mu.append(float(cell.mu.get()[0, 0]))
        cell.evolve(dt=1.0)  # mu <- (1 - 1/10) mu + (1/10) (the episode's mean reward)
    return np.asarray(mu)


# --8<-- [end:episodic]


def plot(log: dict, mu_episodic: np.ndarray, length: int, path: pathlib.Path) -> None:
    fig, (ax_on, ax_ep) = plt.subplots(1, 2, figsize=(11, 3.6))
    t = np.arange(len(log["mu"]))
    ax_on.plot(t, log["p"], "k--", lw=1, label="true reward rate")
    ax_on.plot(t, log["mu"], label="mu (prediction)")
    ax_on.scatter(t, log["rpe"], s=4, color="tab:red", label="rpe = r - mu")
    ax_on.set_xlabel("step")
    ax_on.set_title("online: mu is an EMA of the reward")
    ax_on.legend(fontsize=8, loc="lower left")
    ax_ep.plot(np.arange(len(mu_episodic)), mu_episodic)
    for end in range(length, len(mu_episodic) + 1, length):
        ax_ep.axvline(end, color="grey", lw=0.5, ls=":")
    ax_ep.set_xlabel("step (dotted: evolve at each episode end)")
    ax_ep.set_ylabel("mu")
    ax_ep.set_title("episodic: mu moves only in evolve")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the test suite)")
    parser.add_argument("--out", default=str(FIGURES), help="folder for the figures and output")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    log = online(steps=60 if args.quick else 400)
    mu_episodic = episodic(episodes=4 if args.quick else 30)
    plot(log, mu_episodic, 20, out / "rpe_cell.png")
    half = len(log["mu"]) // 2
    lines = [
        f"online: mu at the end of each half {log['mu'][half - 1]:.2f}, {log['mu'][-1]:.2f} "
        "(true rates 0.70, 0.20)",
        f"episodic: mu through episodes 1, 2, 3: {mu_episodic[0]:.3f}, {mu_episodic[20]:.3f}, "
        f"{mu_episodic[40]:.3f} (after k evolves: 1 - 0.9^k)",
    ]

    # --8<-- [start:bandit]
    config = bandit_rpe.BanditConfig(trials=200 if args.quick else 2000, block=50 if args.quick else 250)
    bandit_log = bandit_rpe.run(config)  # a RewardErrorCell per arm; the rates swap halfway
    bandit_rpe.plot(config, bandit_log, out / "bandit_rpe.png")
    table = format_table(bandit_rpe.block_table(config, bandit_log))
    # --8<-- [end:bandit]
    text = "\n".join([*lines, "", table])
    print(text)
    (out / "rpe_cell.txt").write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
