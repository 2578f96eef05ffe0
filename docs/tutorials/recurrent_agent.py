"""A recurrent agent on a cognitive task, and the analysis plots of its population.

    python docs/tutorials/recurrent_agent.py            # full run: figures into docs/tutorials/figures
    python docs/tutorials/recurrent_agent.py --quick --out /tmp/t   # a few seconds (the test suite)

``np-rnn`` (Miconi 2017: 200 leaky tanh units, node perturbation by sparse kicks, a cubed
eligibility and a trial-end RPE) learns ``PerceptualDecision-v0``: noisy evidence for 100 ms,
a delay of 100 ms, then 100 ms to answer with the sign of the evidence.
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from agents import make_agent, make_env_spec
from agents.jit_training import make_train
from envs import env_reset, env_step

FIGURES = pathlib.Path(__file__).resolve().parent / "figures"


# --8<-- [start:record]
def record(agent, state, key, n_trials: int):
    """Greedy trials (no kicks, as ``agents.node_perturbation_rnn.trial_accuracy`` plays them):
    each trial's coherence, the rates (T, E, N), the output z (T, E) and whether each step is
    in the response window (T, E)."""
    env = agent.spec.jax_env
    key_reset, key_steps = jax.random.split(key)
    env_states, obs = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key_reset, n_trials))

    def step(loop, key_t):
        carry, env_states, obs = loop
        action, carry = agent.greedy(state, carry, obs)
        z = agent.spec.bound(action)[:, 0]
        window = env.in_response(env_states.time)
        env_states, ts = jax.vmap(lambda s, a, k: env_step(env, s, a, k))(
            env_states, z[:, None], jax.random.split(key_t, n_trials)
        )
        return (carry, env_states, ts.obs), (carry.r, z, window)

    loop = (agent.begin(state, n_trials), env_states, obs)
    coherence = env_states.coherence
    _, (rates, z, window) = jax.lax.scan(step, loop, jax.random.split(key_steps, env.trial_steps))
    return coherence, rates, z, window


# --8<-- [end:record]


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (the test suite)")
    parser.add_argument("--out", default=str(FIGURES), help="folder for the figures and output")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chunks, per_chunk, n_eval = (2, 2, 64) if args.quick else (20, 25, 512)

    # --8<-- [start:train]
    agent = make_agent("np-rnn", make_env_spec("PerceptualDecision-v0"))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    initial = state
    train = jax.jit(make_train(agent, num_envs=16, n_updates=per_chunk))  # 16 trials per update
    analysis = jax.jit(lambda s: record(agent, s, jax.random.key(7), n_eval))  # no kicks

    def accuracy(state):
        coherence, _, z, window = analysis(state)
        return np.mean(choices(z, window) == np.sign(coherence))

    curve, rpe = [(0, float(accuracy(state)))], []
    for chunk in range(chunks):
        state, metrics = train(state, jax.random.fold_in(jax.random.key(1), chunk))
        curve.append(((chunk + 1) * per_chunk * 16, float(accuracy(state))))
        rpe.append(float(metrics["mean_abs_rpe"].mean()))  # |R - mu| of the chunk's trials
    # --8<-- [end:train]

    before, after = analysis(initial), analysis(state)
    plot(agent, curve, before, after, out / "recurrent_agent.png")
    lines = [f"trials trained {curve[0][0]:5d}: fraction correct {curve[0][1]:.2f}"]
    lines += [
        f"trials trained {t:5d}: fraction correct {a:.2f}; mean |RPE| while training {r:.3f}"
        for (t, a), r in zip(curve[1:], rpe, strict=True)
    ]
    text = "\n".join(lines)
    print(text)
    (out / "recurrent_agent.txt").write_text(text + "\n")
    return text


def choices(z, window):
    """+1 / -1: the sign of the output summed over the response window."""
    return np.sign(np.sum(np.asarray(z) * np.asarray(window), axis=0))


def plot(agent, curve, before, after, path: pathlib.Path) -> None:
    dt = agent.spec.jax_env.dt
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax_c, ax_p, ax_z, ax_pc = axes.ravel()

    trials, acc = zip(*curve, strict=True)
    ax_c.plot(trials, acc, marker="o", ms=3)
    ax_c.axhline(0.5, color="grey", ls=":", lw=0.8)
    ax_c.set_xlabel("trials trained")
    ax_c.set_ylabel("fraction correct (no kicks)")
    ax_c.set_title("learning")

    for (coh, _, z, window), label in ((before, "before"), (after, "after")):
        coh, choice = np.asarray(coh), choices(z, window)
        levels = np.unique(coh)
        ax_p.plot(levels, [np.mean(choice[coh == c] > 0) for c in levels], marker="o", label=label)
    ax_p.set_xlabel("signed coherence")
    ax_p.set_ylabel("P(answer +)")
    ax_p.set_title("psychometric curve")
    ax_p.legend(fontsize=8)

    coh, rates, z, window = (np.asarray(a) for a in after)
    t_ms = np.arange(z.shape[0]) * dt
    levels = np.unique(coh)
    colors = plt.cm.coolwarm(np.linspace(0, 1, len(levels)))
    for c, color in zip(levels, colors, strict=True):
        ax_z.plot(t_ms, z[:, coh == c].mean(axis=1), color=color, label=f"c = {c:+g}")
    response = t_ms[window[:, 0]]
    ax_z.axvspan(response[0], response[-1], color="grey", alpha=0.15)
    ax_z.set_xlabel("time in trial (ms); shaded: response window")
    ax_z.set_ylabel("output z (mean over trials)")
    ax_z.set_title("readout by coherence, after training")
    ax_z.legend(fontsize=7, ncol=2)

    mean_by_coh = np.stack([rates[:, coh == c].mean(axis=1) for c in levels])  # (C, T, N)
    flat = mean_by_coh.reshape(-1, rates.shape[-1])
    centred = flat - flat.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    pcs = (centred @ vt[:2].T).reshape(len(levels), -1, 2)
    for c, color, pc in zip(levels, colors, pcs, strict=True):
        ax_pc.plot(pc[:, 0], pc[:, 1], color=color, label=f"c = {c:+g}")
        ax_pc.plot(pc[0, 0], pc[0, 1], "o", color=color, ms=3)
    ax_pc.set_xlabel("PC 1")
    ax_pc.set_ylabel("PC 2")
    ax_pc.set_title("population trajectories (rates), after training")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
