"""A three-factor rule written with the kernels: an eligibility trace bridges a delay to the RPE.

    python docs/tutorials/three_factor.py            # full run: figures into docs/tutorials/figures
    python docs/tutorials/three_factor.py --quick --out /tmp/t   # a few seconds (the test suite)

A cue (one of two contexts) drives two input units; a Bernoulli policy unit reads them and
acts at 100 ms; the reward (1 if the action matches the context) comes 500 ms later. The
synapses keep an eligibility trace of ``pre x post`` (post: the policy unit's local
derivative ``a - q``), and the RPE against a running reward prediction gates it when the
reward arrives. A trace that decays faster than the delay leaves nothing to gate.
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

from rpe import functional

FIGURES = pathlib.Path(__file__).resolve().parent / "figures"
DT = 10.0  # ms per step
T_ACT, T_REWARD, T_END = 10, 60, 70  # steps: act at 100 ms, reward at 600 ms
ETA, ALPHA = 2.0, 0.05


# --8<-- [start:trial]
def trial(w, mu, key, tau_e):
    """One trial of one agent: w (2, 1) synapses, mu the reward prediction (a scalar)."""
    key_ctx, key_act = jax.random.split(key)
    context = jax.random.bernoulli(key_ctx).astype(jnp.float32)
    x = jnp.stack([1.0 - context, context])  # presynaptic: the cue
    logit = x @ w  # (1,)
    a = jax.random.bernoulli(key_act, jax.nn.sigmoid(logit)).astype(jnp.float32)
    post = functional.bernoulli_error(logit, a, input_logits=True).dp  # a - q: local derivative

    def step(trace, t):
        pre_t = jnp.where(t == T_ACT, x, 0.0)  # pre and post coincide when the unit acts
        trace = functional.eligibility_trace(trace, pre_t, post, DT, tau_e)
        return trace, trace

    _, traces = jax.lax.scan(step, jnp.zeros((2, 1)), jnp.arange(T_END))
    r = (a[0] == context).astype(jnp.float32)  # the action should equal the context
    pred = functional.reward_prediction_error(r, mu, ALPHA)  # rpe = r - mu; mu moves toward r
    dw = functional.three_factor_update(traces[T_REWARD], pred.rpe, ETA)  # third factor: the RPE
    return w + dw, pred.mu, r, traces[:, :, 0]


def learn(key, tau_e, n_trials: int):
    """n_trials of one agent, in one lax.scan; the reward of each trial."""

    def body(carry, key_trial):
        w, mu = carry
        w, mu, r, _ = trial(w, mu, key_trial, tau_e)
        return (w, mu), r

    _, rewards = jax.lax.scan(body, (jnp.zeros((2, 1)), jnp.asarray(0.5)), jax.random.split(key, n_trials))
    return rewards


# a population: every (tau_e, seed) pair at once
learn_population = jax.jit(
    jax.vmap(jax.vmap(learn, in_axes=(0, None, None)), in_axes=(None, 0, None)), static_argnums=2
)
# --8<-- [end:trial]


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the test suite)")
    parser.add_argument("--out", default=str(FIGURES), help="folder for the figures and output")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # --8<-- [start:run]
    taus = jnp.asarray([50.0, 200.0, 1000.0])  # ms; the reward comes 500 ms after the action
    n_trials, n_seeds = (100, 4) if args.quick else (400, 32)
    keys = jax.random.split(jax.random.key(0), n_seeds)
    rewards = np.asarray(learn_population(keys, taus, n_trials))  # (tau, seed, trial)
    # --8<-- [end:run]
    traces = [np.asarray(trial(jnp.zeros((2, 1)), 0.0, jax.random.key(3), tau)[3]) for tau in taus]

    fig, (ax_e, ax_l) = plt.subplots(1, 2, figsize=(11, 3.6))
    t_ms = np.arange(T_END) * DT
    for tau, tr in zip(taus, traces, strict=True):
        ax_e.plot(t_ms, np.abs(tr).sum(axis=1), label=f"tau_e = {float(tau):g} ms")
    ax_e.axvline(T_ACT * DT, color="grey", ls=":", lw=0.8)
    ax_e.axvline(T_REWARD * DT, color="k", ls="--", lw=0.8)
    ax_e.text(T_REWARD * DT, 0.02, " reward", fontsize=8)
    ax_e.set_xlabel("time in trial (ms)")
    ax_e.set_ylabel("|eligibility trace|")
    ax_e.set_title("the trace left by the action")
    ax_e.legend(fontsize=8)
    block = 20
    for tau, r in zip(taus, rewards, strict=True):
        curve = r.mean(axis=0).reshape(-1, block).mean(axis=1)
        ax_l.plot(
            np.arange(1, len(curve) + 1) * block, curve, marker="o", ms=3, label=f"tau_e = {float(tau):g} ms"
        )
    ax_l.set_xlabel("trial")
    ax_l.set_ylabel(f"fraction rewarded ({n_seeds} seeds)")
    ax_l.set_title("learning: the RPE gates what the trace kept")
    ax_l.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "three_factor.png", dpi=100)
    plt.close(fig)

    last = rewards[:, :, -block:].mean(axis=(1, 2))
    delay_ms = (T_REWARD - T_ACT) * DT
    text = "\n".join(
        f"tau_e = {float(tau):6g} ms: trace at the reward {np.exp(-delay_ms / float(tau)):.3f} "
        f"of its peak; rewarded in the last {block} trials: {frac:.2f}"
        for tau, frac in zip(taus, last, strict=True)
    )
    print(text)
    (out / "three_factor.txt").write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
