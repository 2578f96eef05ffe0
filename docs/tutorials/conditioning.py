"""Classical conditioning: the TD RPE moves from the reward to the cue.

    python docs/tutorials/conditioning.py            # full run: figures into docs/tutorials/figures
    python docs/tutorials/conditioning.py --quick --out /tmp/t   # a few seconds (the test suite)

The simulation is ``rpe conditioning`` (``scripts/conditioning_rpe.py``), called as a library.
"""

from __future__ import annotations

import argparse
import pathlib

from scripts import conditioning_rpe

FIGURES = pathlib.Path(__file__).resolve().parent / "figures"


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the test suite)")
    parser.add_argument("--out", default=str(FIGURES), help="folder for the figures and output")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # --8<-- [start:run]
    config = conditioning_rpe.ConditioningConfig(
        trials=30 if args.quick else 300,  # cue at step 5, reward at step 15 of 20
        block=10 if args.quick else 30,
    )
    result = conditioning_rpe.run(config)  # train the TD critic and the per-step cell, then probe
    conditioning_rpe.plot(config, result, out / "conditioning_rpe.png")
    text = conditioning_rpe.format_table(config, result)
    # --8<-- [end:run]
    print(text)
    (out / "conditioning.txt").write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
