"""The run's plots: the learning curve, and every per-episode metric the agent reports."""

from __future__ import annotations

import pathlib

import numpy as np

__all__ = ["plot_run"]

BOOKKEEPING = ("episode", "steps", "return")


def plot_run(
    out: pathlib.Path, rows: list[dict], threshold: float | None, window: int, suffix: str = ""
) -> None:
    """Write ``learning_curve{suffix}.png`` (return, its running mean over ``window``
    episodes, the solved threshold) and ``rpe{suffix}.png`` (one panel per agent metric)."""
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
    names = [name for name in rows[0] if name not in BOOKKEEPING]
    if not names:
        return
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 1.5 + 1.8 * len(names)), sharex=True, squeeze=False)
    for ax, name, color in zip(
        axes[:, 0], names, ("tab:blue", "tab:orange", "tab:green", "tab:red") * 4, strict=False
    ):
        ax.plot(episode, [r[name] for r in rows], lw=0.8, color=color)
        ax.set_ylabel(name.replace("_", " "))
    axes[-1, 0].set_xlabel("episode")
    fig.tight_layout()
    fig.savefig(out / f"rpe{suffix}.png", dpi=110)
    plt.close(fig)
