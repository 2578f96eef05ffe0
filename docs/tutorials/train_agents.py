"""Training, evaluating and resuming agents with ``rpe train``; reading the run folder.

    python docs/tutorials/train_agents.py            # full run: figures into docs/tutorials/figures
    python docs/tutorials/train_agents.py --quick --out /tmp/t   # a few seconds (the test suite)

Each ``rpe COMMAND ARGS`` below is run in this process as ``scripts/COMMAND.py``'s ``main(ARGS)``
(what the console command calls), in a scratch folder; its output is recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import pathlib
import shlex
import shutil
import tempfile

import numpy as np

from scripts import evaluate, train

FIGURES = pathlib.Path(__file__).resolve().parent / "figures"


def rpe(command: str, log: list[str]) -> None:
    """Run ``rpe COMMAND ...`` and append the command and its output to ``log``."""
    name, *argv = shlex.split(command)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        {"train": train.main, "evaluate": evaluate.main}[name](argv)
    log += [f"$ rpe {command}", buffer.getvalue().rstrip(), ""]


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the test suite)")
    parser.add_argument("--out", default=str(FIGURES), help="folder for the figures and output")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    first, more, evals = (16, 32, 2) if args.quick else (300, 800, 20)

    log: list[str] = []
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        # --8<-- [start:commands]
        run = "runs/pg-cartpole"
        rpe(f"train --agent pg --env CartPole-v1 --episodes {first} --out {run} --quiet", log)
        rpe(f"evaluate {run}/checkpoint.npz --episodes {evals} --greedy", log)
        rpe(f"train --agent pg --env CartPole-v1 --episodes {more} --out {run} --quiet --resume", log)
        # --8<-- [end:commands]

        # --8<-- [start:folder]
        folder = pathlib.Path(run)
        log.append("files: " + ", ".join(sorted(p.name for p in folder.iterdir())))
        config = json.loads((folder / "config.json").read_text())
        log.append(f"config.json: agent {config['agent']}, env {config['env']}, seed {config['seed']}")
        log.append(f"  agent_config: {config['agent_config']}")
        with open(folder / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        log.append(f"metrics.csv: {len(rows)} rows; columns: {', '.join(rows[0])}")
        log.append("  last row: " + ", ".join(f"{k}={float(v):.4g}" for k, v in rows[-1].items()))
        # --8<-- [end:folder]

        # --8<-- [start:checkpoint]
        with np.load(folder / "checkpoint.npz", allow_pickle=False) as archive:  # data only
            meta = json.loads(archive["__meta__"].tobytes().decode())
            n_arrays = len(archive.files) - 1
        log.append(f"checkpoint.npz: format {meta['format']}, agent {meta['agent']}, update {meta['update']}")
        log.append(
            f"  {n_arrays} arrays: "
            + ", ".join(f"{p} {s}" for p, s in zip(meta["paths"], meta["shapes"], strict=True))
        )
        log.append(f"  header keys: {', '.join(sorted(meta))}")
        # --8<-- [end:checkpoint]
        (out / "train_checkpoint.txt").write_text("\n".join(log[-3:]) + "\n")
        shutil.copy(folder / "learning_curve.png", out / "train_learning_curve.png")
        shutil.copy(folder / "rpe.png", out / "train_rpe.png")

    text = "\n".join(log)
    print(text)
    (out / "train_agents.txt").write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
