"""Node-perturbation recurrent agent ``np-rnn`` (Miconi 2017, eLife 6:e20899), on trial tasks.

A ``LeakyNoiseCell`` population of ``n_units`` tanh units (``tau_x`` about 30 ms) runs in the
env's steps of ``dt`` ms. At step ``t`` of a trial, for ``E`` trials at once::

    j_input = obs_t @ W_in,   j_recurrent = r_t-1 @ J,   x <- x + kick_t,   cell step
    action_t = x_t[:, :1]       (the readout, unit 0; the env spec's bound gives z_t = tanh(x_t,0) = r_t,0)

Exploration is Miconi's: in ``act`` (never in ``greedy``) each unit, independently, receives
a *kick* to its state with probability ``perturbation_rate * dt / 1000`` per step (a rate in
Hz), drawn uniformly from ``[-perturbation_size, perturbation_size]``. Nothing downstream
knows the kicks. A supralinear eligibility finds them as large deviations of ``x`` from its
running mean ``x_bar <- (1 - alpha_x) x_bar + alpha_x x`` (from ``x_bar = 0``)::

    E_b = sum_t (r_t-1 (x_t - x_bar_t-1)) ** 3 = sum_t r_t-1 ** 3 (x_t - x_bar_t-1) ** 3

(``(N, N)`` per trial ``b``, pre by post; the steps of the trial only). At the end of each
batch of trials (``learn``), the RPE gates the update of ``J``::

    rpe_b = R_b - mu,   dJ = clip(eta * mean_b(rpe_b E_b), -max_dw, max_dw)

``R_b`` is trial ``b``'s return (minus the mean error of the response) and ``mu`` the
prediction of a ``RewardErrorCell``, which then takes one step towards the batch's mean
return (``mu <- (1 - baseline_alpha) mu + baseline_alpha mean_b R_b``). Only ``J`` learns;
``W_in`` stays fixed. The batch is the loop's ``num_envs`` trials; Miconi-style learning
was tuned with 16. :func:`trial_accuracy` measures the fraction of correct trials without
kicks.

The agent writes each step's ``r_t-1`` and ``x_t`` into ``(T, E, N)`` buffers of its carry
and ``learn`` contracts them over time in one go (``rpe.node_perturbation``'s
``accumulate_trial`` over the cubes), rather than updating ``(E, N, N)`` traces at every
step. Continuous Gaussian noise (the cell's ``sigma_pre``) did not learn the task in our
trials; the sparse, strong kicks are what make the cubed eligibility informative, as Miconi
found. Sizes: ``E`` trials, ``T`` steps (the spec's horizon), ``N`` units, ``n_in`` inputs.

Example::

    import jax
    from agents.env_spec import make_env_spec
    from agents.node_perturbation_rnn import node_perturbation_rnn, trial_accuracy

    agent = node_perturbation_rnn(make_env_spec("PerceptualDecision-v0"))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    print(float(trial_accuracy(agent, state, jax.random.key(1), 64)))  # about 0.5 untrained
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from gymnasium import spaces

from agents.contract import Agent, AgentConfig, EnvSpec, Trajectory, numeric, structural
from envs.functional import env_reset, env_step
from rpe import apply_update, supralinear_node_perturbation
from rpe import functional as kernels

__all__ = [
    "NodePerturbationCarry",
    "NodePerturbationConfig",
    "NodePerturbationRNNState",
    "node_perturbation_rnn",
    "trial_accuracy",
]

TRIAL_TASK_ATTRIBUTES = ("dt", "trial_steps", "in_response", "target")


@dataclasses.dataclass(frozen=True)
class NodePerturbationConfig(AgentConfig):
    """Hyperparameters of ``np-rnn`` (defaults: Miconi's, with dt = the env's)."""

    n_units: int = structural(200, low=1, doc="recurrent tanh units; unit 0 is the readout")
    tau_x: float = numeric(30.0, low=0.0, low_open=True, doc="time constant of the units (ms)")
    gain: float = numeric(1.5, low=0.0, doc="scale of the initial J ~ N(0, gain^2 / n_units)")
    perturbation_rate: float = numeric(3.0, low=0.0, doc="kicks per unit per second (Hz)")
    perturbation_size: float = numeric(16.0, low=0.0, doc="kicks are uniform in [-size, size]")
    eta: float = numeric(0.3, low=0.0, doc="learning rate of J")
    max_dw: float = numeric(3e-4, low=0.0, doc="clip of each entry of dJ per batch")
    alpha_x: float = numeric(
        0.05, low=0.0, high=1.0, low_open=True, doc="rate of the running mean x_bar of the states"
    )
    baseline_alpha: float = numeric(
        0.3, low=0.0, high=1.0, low_open=True, doc="EMA rate of the baseline, per batch of trials"
    )


class NodePerturbationRNNState(NamedTuple):
    """Recurrent weights ``recurrent`` (``J (N, N)``, pre by post), input weights ``inputs``
    (``W_in (n_in, N)``), the baseline's reward prediction ``mu ()`` (a RewardErrorCell's,
    ``rpe.functional.reward_prediction_error``), and the numeric hyperparameters ``hp`` (a
    dict of scalars, vmappable)."""

    recurrent: jax.Array
    inputs: jax.Array
    baseline: jax.Array
    hp: dict


class NodePerturbationCarry(NamedTuple):
    """What lasts one batch of trials: the population's activity, its state ``x_now (E, N)``
    and rates ``r (E, N)`` (a LeakyNoiseCell's ``x`` and ``r``), the step index ``t ()``, and
    the sequences the rule reads, ``pre (T, E, N)`` (the rates of the step before each step)
    and ``x (T, E, N)`` (the states after each step, kicks included)."""

    x_now: jax.Array
    r: jax.Array
    t: jax.Array
    pre: jax.Array
    x: jax.Array


def _check_spec(spec: EnvSpec) -> None:
    env = spec.jax_env
    if env is None:
        raise TypeError(
            f"env: expected a JAX-native trial-based task (like envs.PerceptualDecision), "
            f"but {spec.env_id} has no JAX twin"
        )
    for attribute in TRIAL_TASK_ATTRIBUTES:
        if not hasattr(env, attribute):
            raise TypeError(
                f"env: expected a trial-based task with {attribute!r} (like envs.PerceptualDecision), "
                f"got {type(env).__name__}"
            )
    if not isinstance(spec.action_space, spaces.Box) or spec.action_space.shape != (1,):
        raise ValueError(f"env: expected a Box action space of shape (1,), got {spec.action_space}")
    if not isinstance(spec.observation_space, spaces.Box) or len(spec.observation_space.shape) != 1:
        raise ValueError(f"env: expected a flat Box observation space, got {spec.observation_space}")


def node_perturbation_rnn(spec: EnvSpec, config: NodePerturbationConfig | None = None) -> Agent:
    """``np-rnn`` for ``spec``: a JAX-native trial task (``dt``, ``trial_steps``,
    ``in_response(time)``, ``target(state)``, like ``envs.PerceptualDecision``) with a flat
    Box observation and a ``Box`` action of shape ``(1,)``.

    Raises:
      TypeError: the env has no JAX twin or is not a trial-based task.
      ValueError: other spaces, or a ``perturbation_rate`` giving more than one kick per step.
    """
    config = config or NodePerturbationConfig()
    _check_spec(spec)
    dt = float(spec.jax_env.dt)
    if config.perturbation_rate * dt / 1000.0 > 1.0:
        raise ValueError(
            f"perturbation_rate: {config.perturbation_rate} Hz at dt={dt} ms gives more than one kick "
            "per step"
        )
    n, n_inputs, horizon = config.n_units, int(spec.observation_space.shape[0]), spec.horizon
    # Fed the cubes r^3 and (x - x_bar)^3, Fiete & Seung's sum_t pre^T xi is Miconi's
    # eligibility; its trial end gives mean_b((R_b - mu) E_b), times hp["eta"] (a leaf).
    rule = supralinear_node_perturbation(1.0, alpha_x=config.alpha_x, signal="reward", reduce="mean")

    def init(key, hp):
        key_j, key_in = jax.random.split(key)
        return NodePerturbationRNNState(
            recurrent=jax.random.normal(key_j, (n, n)) * hp["gain"] / jnp.sqrt(n),
            inputs=jax.random.uniform(key_in, (n_inputs, n), minval=-1.0, maxval=1.0),
            baseline=jnp.zeros((), jnp.float32),
            hp=dict(hp),
        )

    def begin(state, n_episodes):
        buffer = jnp.zeros((horizon, n_episodes, n), jnp.float32)
        rest = jnp.zeros((n_episodes, n), jnp.float32)  # x = 0, r = tanh(0)
        return NodePerturbationCarry(rest, rest, jnp.zeros((), jnp.int32), buffer, buffer)

    def advance(state, carry, obs, kick):
        """One step of the population; the action is the readout's pre-activation."""
        r_prev = carry.r
        # A LeakyNoiseCell step (rpe.functional.leaky_noise_step) without its own noise: the
        # kicks are the exploration.
        now = kernels.leaky_noise_step(
            carry.x_now + kick,
            obs @ state.inputs,
            r_prev @ state.recurrent,
            dt,
            state.hp["tau_x"],
            0.0,
            sigma_pre=0.0,
            act_fx="tanh",
        )
        t = carry.t
        carry = NodePerturbationCarry(
            now.x, now.r, t + 1, carry.pre.at[t].set(r_prev), carry.x.at[t].set(now.x)
        )
        return now.x[:, :1], carry

    def act(state, carry, obs, key):
        key_when, key_size = jax.random.split(key)
        shape = (obs.shape[0], n)
        p_kick = state.hp["perturbation_rate"] * dt / 1000.0
        size = state.hp["perturbation_size"]
        kick = jnp.where(
            jax.random.uniform(key_when, shape) < p_kick,
            jax.random.uniform(key_size, shape, minval=-size, maxval=size),
            0.0,
        )
        return advance(state, carry, obs, kick)

    def greedy(state, carry, obs):
        return advance(state, carry, obs, 0.0)

    def observe(state, carry, transition):
        return state, carry

    def learn(state, carry, traj: Trajectory):
        hp = state.hp
        alive = traj.alive.astype(jnp.float32)
        episodes = alive.shape[0]
        returns = jnp.sum(traj.reward * alive, axis=1)
        in_trial = jnp.swapaxes(alive, 0, 1)[:, :, None]  # (T, E, 1): the padding adds nothing
        # (pre dev)^3 = pre^3 dev^3: a zero pre keeps the padding out of the eligibility.
        eligibility = rule.accumulate_trial(
            rule.init(episodes, n, n), carry.pre * in_trial, carry.x, alpha_x=hp["alpha_x"]
        )
        mu = state.baseline
        dw, _ = rule.update(eligibility, returns, mu)
        dw = jnp.clip(hp["eta"] * dw, -hp["max_dw"], hp["max_dw"])
        baseline = kernels.reward_prediction_error(jnp.mean(returns), mu, hp["baseline_alpha"]).mu
        metrics = {
            "mean_abs_rpe": jnp.abs(returns - mu),
            "reward_prediction": jnp.broadcast_to(mu, (episodes,)),
        }
        new_state = state._replace(recurrent=apply_update(state.recurrent, dw), baseline=baseline)
        return new_state, metrics

    return Agent("np-rnn", config, spec, init, begin, act, greedy, observe, learn, observes=False)


def trial_accuracy(agent: Agent, state, key: jax.Array, n_trials: int = 512) -> jax.Array:
    """The fraction of ``n_trials`` greedy trials (no kicks) that are correct: the sign of
    the bounded action summed over the response window matches ``env.target`` (the task's
    ``correct``). Pure and jit-safe for a fixed ``n_trials``; vmap it over a population.

    ``agent.spec.jax_env`` is a trial task (see :func:`node_perturbation_rnn`) whose states
    carry their step ``time``.
    """
    env, bound = agent.spec.jax_env, agent.spec.bound
    key_reset, key_steps = jax.random.split(key)
    env_states, obs = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key_reset, n_trials))
    targets = jax.vmap(env.target)(env_states)

    def step(loop, key_t):
        carry, env_states, obs, response = loop
        action, carry = agent.greedy(state, carry, obs)
        z = bound(action)
        response = response + jnp.where(env.in_response(env_states.time), z[:, 0], 0.0)
        env_states, ts = jax.vmap(lambda s, a, k: env_step(env, s, a, k))(
            env_states, z, jax.random.split(key_t, n_trials)
        )
        return (carry, env_states, ts.obs, response), None

    loop = (agent.begin(state, n_trials), env_states, obs, jnp.zeros((n_trials,), jnp.float32))
    (_, _, _, response), _ = jax.lax.scan(step, loop, jax.random.split(key_steps, env.trial_steps))
    return jnp.mean(jnp.sign(response) == targets)
