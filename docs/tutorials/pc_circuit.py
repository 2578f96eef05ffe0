"""A circuit from cells: a predictive-coding layer of RateCells between two GaussianErrorCells.

    python docs/tutorials/pc_circuit.py            # full run: figures into docs/tutorials/figures
    python docs/tutorials/pc_circuit.py --quick --out /tmp/t   # a few seconds (the test suite)

The input ``x`` is clamped at the top, the target ``y`` at the bottom, and the hidden layer
``z`` settles between them by its own dynamics::

    mu1 = x W_in          e1: GaussianErrorCell(mu=mu1, target=z)       (the prior on z)
    mu0 = f(z) W_out      e0: GaussianErrorCell(mu=mu0, target=y)       (the prediction of y)
    tau_m dz/dt = f'(z) (e0.dmu W_out^T) + e1.dtarget                   (RateCell: j, j_td)

which descends the energy ``F = -(e0.L + e1.L)``. After settling, each synapse moves by its
presynaptic activity times its error cell's ``dmu`` (a local rule, no backprop).
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rpe import GaussianErrorCell, RateCell

FIGURES = pathlib.Path(__file__).resolve().parent / "figures"
N_IN, N_HID, N_OUT, BATCH = 4, 16, 3, 32

# --8<-- [start:cells]
z = RateCell("z", n_units=N_HID, tau_m=20.0, prior=("gaussian", 0.0), act_fx="tanh", batch_size=BATCH)
e1 = GaussianErrorCell("e1", n_units=N_HID, batch_size=BATCH)  # z against its prediction from x
e0 = GaussianErrorCell("e0", n_units=N_OUT, batch_size=BATCH)  # y against its prediction from z
f = jnp.tanh


def settle(w_in, w_out, x, y, steps: int):
    """Clamp x and y, start z at its prediction, run the cells; the energy at every step."""
    mu1 = x @ w_in
    s_z = z.set(z.init_state(), z=mu1)
    s_e1, s_e0 = e1.init_state(), e0.init_state()

    def step(carry, _):
        s_z, s_e1, s_e0 = carry
        s_e1 = e1.step(e1.set(s_e1, mu=mu1, target=s_z.z))
        s_e0 = e0.step(e0.set(s_e0, mu=f(s_z.z) @ w_out, target=y))
        s_z = z.step(z.set(s_z, j=s_e0.dmu @ w_out.T, j_td=s_e1.dtarget), dt=1.0)
        return (s_z, s_e1, s_e0), -(s_e0.L + s_e1.L)  # the energy F before this step

    (s_z, s_e1, s_e0), energy = jax.lax.scan(step, (s_z, s_e1, s_e0), None, length=steps)
    return s_z, s_e1, s_e0, energy


@jax.jit
def train_step(w_in, w_out, x, y, eta=0.02):
    s_z, s_e1, s_e0, energy = settle(w_in, w_out, x, y, steps=50)
    w_out = w_out + eta * f(s_z.z).T @ s_e0.dmu  # pre: f(z), post: e0's error
    w_in = w_in + eta * x.T @ s_e1.dmu  # pre: x, post: e1's error
    return w_in, w_out, energy


# --8<-- [end:cells]


def make_data(key, n_batches: int):
    """A teacher of the same form: y = tanh(x A) B + noise."""
    key_a, key_b, key_x, key_n = jax.random.split(key, 4)
    a = jax.random.normal(key_a, (N_IN, N_HID)) / np.sqrt(N_IN)
    b = jax.random.normal(key_b, (N_HID, N_OUT)) / np.sqrt(N_HID)
    x = jax.random.normal(key_x, (n_batches, BATCH, N_IN))
    y = jnp.tanh(x @ a) @ b + 0.05 * jax.random.normal(key_n, (n_batches, BATCH, N_OUT))
    return x, y


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the test suite)")
    parser.add_argument("--out", default=str(FIGURES), help="folder for the figures and output")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # --8<-- [start:train]
    updates = 40 if args.quick else 600
    x, y = make_data(jax.random.key(0), n_batches=8)
    key_in, key_out = jax.random.split(jax.random.key(1))
    w_in = 0.3 * jax.random.normal(key_in, (N_IN, N_HID))
    w_out = 0.3 * jax.random.normal(key_out, (N_HID, N_OUT))
    curves, settled = [], []
    for u in range(updates):
        w_in, w_out, energy = train_step(w_in, w_out, x[u % 8], y[u % 8])
        curves.append(np.asarray(energy))
        settled.append(float(energy[-1]))
    # --8<-- [end:train]

    fig, (ax_s, ax_l) = plt.subplots(1, 2, figsize=(11, 3.6))
    for u, color in ((0, "tab:red"), (updates // 4, "tab:orange"), (updates - 1, "tab:green")):
        ax_s.plot(curves[u], color=color, label=f"update {u + 1}")
    ax_s.set_xlabel("settling step (dt = 1 ms, tau_m = 20 ms)")
    ax_s.set_yscale("log")
    ax_s.set_ylabel("energy F")
    ax_s.set_title("inference: the layer settles, F falls")
    ax_s.legend(fontsize=8)
    ax_l.plot(np.arange(1, updates + 1), settled)
    ax_l.set_yscale("log")
    ax_l.set_xlabel("update (one batch of 32)")
    ax_l.set_ylabel("F after settling")
    ax_l.set_title("learning: local updates lower the settled F")
    fig.tight_layout()
    fig.savefig(out / "pc_circuit.png", dpi=100)
    plt.close(fig)

    first, last = curves[0], curves[-1]
    falls = all(bool(np.all(np.diff(c) <= 1e-4 * c[0])) for c in curves)
    text = "\n".join(
        [
            f"update 1:   F {first[0]:8.3f} -> {first[-1]:8.3f} over 50 settling steps",
            f"update {updates}: F {last[0]:8.3f} -> {last[-1]:8.3f}",
            f"F never rises while settling: {falls}",
        ]
    )
    print(text)
    (out / "pc_circuit.txt").write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
