"""Populations and sweeps on one machine, and sharding over several devices.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python docs/tutorials/populations.py
    python docs/tutorials/populations.py --quick --out /tmp/t   # a few seconds (the test suite)

The first line is the full run of the page (four CPU devices forced, so the sharded path runs
on a laptop); without the flag the same code runs on the devices there are.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import pathlib
import tempfile

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from agents import make_agent, make_env_spec
from agents.jit_training import make_train
from agents.population import init_population, population_keys, shard_population
from scripts import train

FIGURES = pathlib.Path(__file__).resolve().parent / "figures"


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the test suite)")
    parser.add_argument("--out", default=str(FIGURES), help="folder for the figures and output")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    episodes, n_updates = (16, 2) if args.quick else (400, 25)
    etas = (0.02, 0.05, 0.1, 0.2)
    log: list[str] = []

    # The command line: four members, one program, each with its own eta.
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        # --8<-- [start:cli]
        command = [
            *("--agent", "pg", "--env", "CartPole-v1", "--population", "4", "--seed", "0"),
            *("--sweep", "eta=" + ",".join(map(str, etas)), "--episodes", str(episodes)),
            *("--out", "runs/sweep", "--quiet"),
        ]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            train.main(command)  # = rpe train ...
        # --8<-- [end:cli]
        log += ["$ rpe train " + " ".join(command), buffer.getvalue().rstrip(), ""]
        folder = pathlib.Path("runs/sweep")
        log.append("files: " + ", ".join(sorted(p.name for p in folder.iterdir())))
        curves = []
        for k in range(len(etas)):
            with open(folder / f"metrics-member{k}.csv") as f:
                curves.append([float(r["return"]) for r in csv.DictReader(f)])

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for eta, returns in zip(etas, curves, strict=True):
        smooth = np.convolve(returns, np.ones(8) / 8, mode="valid")
        ax.plot(np.arange(len(smooth)) + 8, smooth, label=f"eta = {eta:g}")
    ax.set_xlabel("episode")
    ax.set_ylabel("return (mean of 8)")
    ax.set_title("rpe train --population 4 --sweep eta=...")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "populations.png", dpi=100)
    plt.close(fig)

    # The same in code, sharded over every visible device.
    # --8<-- [start:code]
    agent = make_agent("pg", make_env_spec("CartPole-v1"))
    states = init_population(agent, seeds=[0, 1, 2, 3], sweep={"eta": list(etas)})  # leading axis 4
    keys = population_keys([0, 1, 2, 3])
    states, keys = shard_population((states, keys))  # a 1-D Mesh over jax.devices()
    train_all = jax.jit(jax.vmap(make_train(agent, num_envs=8, n_updates=n_updates, stop_early=False)))
    states, metrics = train_all(states, keys)  # each device trains its own members
    returns = np.asarray(metrics["returns"])  # (member, update, episode)
    # --8<-- [end:code]
    log.append(f"devices: {len(jax.devices())} ({jax.devices()[0].platform})")
    log.append(
        f"state.weights sharding: {states.weights.sharding.spec}, "
        f"{len(states.weights.sharding.device_set)} device(s)"
    )
    for k, eta in enumerate(etas):
        log.append(f"member {k} (eta {eta:g}): mean return of its last update {returns[k, -1].mean():.1f}")

    text = "\n".join(log)
    print(text)
    (out / "populations.txt").write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
