"""Recurrent agent ``eprop-rnn``: a LeakyNoiseCell population trained online by e-prop or RFLO.

A population of ``N`` tanh units (a ``LeakyNoiseCell``, :func:`rpe.functional.leaky_noise_step`,
time constant ``tau_x`` ms, the env's step ``dt`` ms, ``a = dt / tau_x``) reads the
observation through ``W_in`` and itself through ``J`` (pre by post); linear readouts of its
rates give the policy and, for the TD critic, a value. Per env step ``t``, for ``E`` trials
(episodes) at once, with ``u_t = [obs_t, 1]`` (``K = n_in + 1`` inputs) and ``h_t = [r_t, 1]``::

    x_t = (1 - a) x_t-1 + a (u_t W_in + r_t-1 J),   r_t = tanh(x_t),   r'_t = 1 - r_t^2
    y_t = h_t W_out                      (A,)   the policy's readout
    V_t = h_t w_V                        ()     the value readout (critic "td")

Policy. A Box action of shape ``(1,)``: ``a_t = y_t + sigma xi`` (the env spec squashes it
with tanh), score ``s_t = (a_t - y_t) / sigma^2``; a Discrete one: ``a_t ~ softmax(y_t)``,
score ``s_t = onehot(a_t) - softmax(y_t)``. ``greedy`` takes ``y_t`` (or its argmax).

Local eligibility (no autodiff: ``rpe`` forbids it and a test checks). Reward-based e-prop
(Bellec et al. 2020, Nat. Commun. 11:3625, their leaky rate neurons and actor-critic
variant) keeps, per trial, a *filtered presynaptic* eligibility vector and the
postsynaptic pseudo-derivative::

    eps_t = (1 - a) eps_t-1 + a r_t-1     (N,)     eps^in_t = (1 - a) eps^in_t-1 + a u_t  (K,)
    e_ij,t = eps_i,t r'_j,t               (N, N)   (the e-prop eligibility trace of J_ij)

RFLO (Murray 2019, eLife 8:e43299) filters the product instead::

    p_ij,t = (1 - a) p_ij,t-1 + a r_i,t-1 r'_j,t          e_ij,t = p_ij,t

The *learning signal* of unit ``j`` is the readout's score sent back through fixed random
feedback weights ``B (A, N)`` (``feedback="random"``, Bellec's random e-prop; and, for the TD
critic, ``c_V B_V (N,)``, Bellec's value term), or through the readout itself, ``B =
W_out[:N]^T`` (``feedback="symmetric"``, Bellec's symmetric e-prop: the exact gradient of
the score through the readout, with ``c_V w_V[:N]`` for the value)::

    L_j,t = sum_k s_k,t B_kj + c_V B_V,j

and each weight keeps an eligibility of its own score, filtered by ``k = exp(-dt / tau_e)``
(Bellec's ``F_gamma``; ``k = 1``, a sum over the trial, for the episodic baseline)::

    z^J_t   = k z^J_t-1   + e_t (.) L_t           (N, N)
    z^in_t  = k z^in_t-1  + eps^in_t (x) (r'_t L_t)  (K, N)   (RFLO: its p^in likewise)
    z^out_t = k z^out_t-1 + h_t (x) s_t           (N + 1, A)  (exact: the readout is linear)
    z^V_t   = k z^V_t-1   + h_t                   (N + 1,)

The third factor, the RPE ``delta``, gates every weight: ``dW = eta_W delta z^W`` (``J``,
``W_in``, ``W_out`` by the actor's rates ``eta_rec``, ``eta_in``, ``eta_out``; ``w_V`` by
``eta_value``), summed over the batch's trials, each entry clipped to ``max_dw``. Three
critics (``critic``):

- ``"td"``: Bellec's actor-critic. ``delta_t = r_t + gamma V_t+1 - V_t``
  (:func:`rpe.functional.td_error`, 0 after a terminal step; at a time limit ``V_t+1``
  is taken as ``V_t``). ``V_t+1`` needs the next step's activity, so step ``t``'s update
  happens in the ``observe`` of step ``t + 1`` (or at the trial's end), with the traces of
  step ``t``.
- ``"online"``: a RewardErrorCell in online mode (:func:`rpe.functional.reward_prediction_error`):
  ``delta_t = r_t - mu``, ``mu <- (1 - baseline_alpha) mu + baseline_alpha r_t`` (the batch's
  mean reward), every step.
- ``"episodic"``: a RewardErrorCell in episodic mode (``alpha = 0``, its ``evolve`` at each
  trial's end, :func:`rpe.functional.end_episode`). At the trial's last step the RPE is the
  cell's step RPEs summed over the trial, ``delta = sum_t (r_t - mu) = R - n mu``, applied to
  the traces summed over the trial (REINFORCE with a baseline, Williams 1992; Miconi 2017's
  scheme); then ``mu`` folds the trials' mean reward per step, ``mu <- (1 - 1/W) mu + (1/W)
  R / n`` (``W = baseline_window``). With ``per_condition`` the baseline is one ``mu`` per
  trial condition, the condition read from the first observation's sign pattern (Miconi's
  per-trial-type baseline).

Choosing the critic. On a response task the reward comes only in the response window, while
exploration enters at every step. The episodic critic's traces sum every step's score, so
their variance grows with the trial's length, and a linear readout's common mode (the mean
of ``h``, ``|h|^2 ~ N``) random-walks into the tanh squash's saturation, where exploration no
longer changes the reward and learning stops. The online critic with a short ``tau_e``
(tens of ms) keeps the readout's credit local in time; ``eps`` still carries the memory of
the presynaptic past for ``J`` and ``W_in``. A task that pays the same reward at every step
(CartPole's +1) gives RPE 0 under both RewardErrorCell critics: it needs ``"td"``.

Learning happens in ``observe``, after every env step: the next action comes from the updated
weights. ``learn`` only reports metrics. Sizes: ``E`` trials, ``N`` units, ``K`` inputs (bias
included), ``A`` readouts. Units: ``dt``, ``tau_x``, ``tau_e`` in ms.

Example::

    import jax
    from agents.env_spec import make_env_spec
    from agents.eprop_rnn import eprop_rnn

    agent = eprop_rnn(make_env_spec("PerceptualDecision-v0"))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    carry = agent.begin(state, 4)
    action, carry = agent.act(state, carry, jax.numpy.zeros((4, 2)), jax.random.key(1))
    print(action.shape)  # (4, 1)
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from gymnasium import spaces

from agents.contract import Agent, AgentConfig, EnvSpec, Transition, numeric, structural
from envs.functional import env_reset, env_step
from rpe import functional as kernels

__all__ = [
    "EpropCarry",
    "EpropRNNConfig",
    "EpropRNNState",
    "eprop_eligibility",
    "eprop_rnn",
    "filtered_trace",
    "learning_signal",
    "rflo_eligibility",
    "trial_correct",
    "trial_step_ms",
]

DEFAULT_STEP_MS = 20.0  # an env without ``dt`` (CartPole's 0.02 s step)


@dataclasses.dataclass(frozen=True)
class EpropRNNConfig(AgentConfig):
    """Hyperparameters of ``eprop-rnn``."""

    n_units: int = structural(128, low=1, doc="recurrent tanh units")
    rule: str = structural("eprop", choices=("eprop", "rflo"), doc="eligibility of J and W_in")
    feedback: str = structural("random", choices=("random", "symmetric"), doc="B: fixed random or W_out^T")
    critic: str = structural("episodic", choices=("td", "online", "episodic"), doc="source of the RPE")
    per_condition: bool = structural(True, doc="episodic: one baseline per first-observation sign pattern")
    tau_x: float = numeric(300.0, low=0.0, low_open=True, doc="time constant of the units (ms)")
    tau_e: float = numeric(1000.0, low=0.0, low_open=True, doc="decay of the traces z (ms; td, online)")
    gain: float = numeric(1.0, low=0.0, doc="initial J ~ N(0, gain^2 / N)")
    input_scale: float = numeric(1.0, low=0.0, doc="initial W_in ~ U(-s, s)")
    sigma: float = numeric(1.0, low=0.0, low_open=True, doc="std of the Box policy's exploration")
    eta_rec: float = numeric(5e-5, low=0.0, doc="rate of J")
    eta_in: float = numeric(5e-5, low=0.0, doc="rate of W_in")
    eta_out: float = numeric(5e-4, low=0.0, doc="rate of W_out")
    eta_value: float = numeric(1e-4, low=0.0, doc="rate of w_V (td)")
    value_signal: float = numeric(0.0, low=0.0, doc="c_V: weight of the value's learning signal (td)")
    gamma: float = numeric(1.0, low=0.0, high=1.0, doc="discount per step (td)")
    baseline_alpha: float = numeric(0.05, low=0.0, high=1.0, doc="online baseline's EMA rate per step")
    baseline_window: float = numeric(10.0, low=1.0, doc="episodic baseline's window W, in trials")
    max_dw: float = numeric(0.05, low=0.0, low_open=True, doc="clip of each weight change per step")
    step_ms: float | None = structural(None, doc="the env step in ms; None: the env's dt, else 20")


class EpropRNNState(NamedTuple):
    """Learned weights: ``recurrent`` ``J (N, N)`` (pre by post), ``inputs`` ``W_in (K, N)``,
    ``readout`` ``W_out (N + 1, A)``, ``value`` ``w_V (N + 1,)``; fixed random feedback
    ``feedback`` ``B (A, N)`` and ``value_feedback`` ``B_V (N,)``; the RewardErrorCell's
    prediction ``baseline`` ``mu (C,)`` (``C`` conditions, 1 unless ``per_condition``); the
    numeric hyperparameters ``hp``."""

    recurrent: jax.Array
    inputs: jax.Array
    readout: jax.Array
    value: jax.Array
    feedback: jax.Array
    value_feedback: jax.Array
    baseline: jax.Array
    hp: dict


class EpropCarry(NamedTuple):
    """One batch of ``E`` trials. The population: ``x``, ``r``, ``r_prime (E, N)``, its
    readouts ``y (E, A)`` and ``v (E,)`` at the last step; the eligibility vectors ``eps (E,
    N)`` and ``eps_in (E, K)`` (e-prop) or matrices ``p (E, N, N)`` and ``p_in (E, K, N)``
    (RFLO; ``(E, 1, 1)`` placeholders under e-prop and vice versa); the filtered traces
    ``z_rec``, ``z_in``, ``z_out``, ``z_value``; the TD critic's pending step ``prev_reward``,
    ``prev_value``, ``pending (E,)``; the episodic baseline's ``accum_reward``,
    ``n_steps``, ``condition (E,)`` (int); sums for the metrics ``sum_abs_rpe``,
    ``n_rpe``, ``first_prediction (E,)``."""

    x: jax.Array
    r: jax.Array
    r_prime: jax.Array
    y: jax.Array
    v: jax.Array
    eps: jax.Array
    eps_in: jax.Array
    p: jax.Array
    p_in: jax.Array
    z_rec: jax.Array
    z_in: jax.Array
    z_out: jax.Array
    z_value: jax.Array
    prev_reward: jax.Array
    prev_value: jax.Array
    pending: jax.Array
    accum_reward: jax.Array
    n_steps: jax.Array
    condition: jax.Array
    sum_abs_rpe: jax.Array
    n_rpe: jax.Array
    first_prediction: jax.Array


def trial_step_ms(spec: EnvSpec, config: EpropRNNConfig) -> float:
    """The env step in ms: ``config.step_ms``, else the JAX twin's ``dt``, else 20 ms."""
    if config.step_ms is not None:
        return float(config.step_ms)
    dt = getattr(spec.jax_env, "dt", None)
    return float(dt) if dt is not None else DEFAULT_STEP_MS


def _check(spec: EnvSpec, config: EpropRNNConfig) -> None:
    obs = spec.observation_space
    if not isinstance(obs, spaces.Box) or len(obs.shape) != 1:
        raise ValueError(f"env: eprop-rnn needs a flat Box observation space, got {obs}")
    act = spec.action_space
    if not (isinstance(act, spaces.Discrete) or (isinstance(act, spaces.Box) and act.shape == (1,))):
        raise ValueError(f"env: eprop-rnn acts in a Discrete or a Box (1,) action space, got {act}")
    if config.step_ms is not None and not (
        isinstance(config.step_ms, int | float) and math.isfinite(config.step_ms) and config.step_ms > 0
    ):
        raise ValueError(f"step_ms: expected None or a number > 0 (ms), got {config.step_ms!r}")


# ----------------------------------------------------------------------------- local rules
def eprop_eligibility(eps_tm1, pre_tm1, dt, tau_x):
    """e-prop's eligibility vector of one unit's incoming synapses, one step::

        eps_t = (1 - dt / tau_x) eps_tm1 + (dt / tau_x) pre_tm1

    (``pre``: the presynaptic rates ``r_t-1`` for ``J``, the input ``u_t`` for ``W_in``); the
    trace of synapse ``i -> j`` is ``eps_i r'_j``. For a constant ``pre`` from ``eps_0 = 0``,
    ``eps_t = pre (1 - (1 - dt / tau_x)^t)``. Bellec et al. (2020), leaky rate neurons."""
    a = dt / tau_x
    return (1.0 - a) * eps_tm1 + a * pre_tm1


def rflo_eligibility(p_tm1, pre_tm1, r_prime_t, dt, tau_x):
    """RFLO's eligibility matrix, one step (Murray 2019)::

        p_ij,t = (1 - dt / tau_x) p_ij,t-1 + (dt / tau_x) pre_i,t-1 r'_j,t

    ``p_tm1 (..., n_pre, n_post)``, ``pre_tm1 (..., n_pre)``, ``r_prime_t (..., n_post)``."""
    a = dt / tau_x
    return (1.0 - a) * p_tm1 + a * pre_tm1[..., :, None] * r_prime_t[..., None, :]


def learning_signal(score, feedback, value_feedback, value_signal):
    """``L = s B + c_V B_V``: the readout's score ``s (..., A)`` through the fixed random
    feedback ``B (A, N)``, plus the value's term (Bellec et al. 2020)."""
    return score @ feedback + value_signal * value_feedback


def filtered_trace(z_tm1, eligibility, post, decay):
    """``z_t = decay z_tm1 + eligibility (.) post``: a weight's eligibility of its score, with
    ``eligibility (..., n_pre, n_post)`` (RFLO's ``p``) or ``(..., n_pre)`` (e-prop's ``eps``,
    then times ``post (..., n_post)`` = ``r' L`` as an outer product)."""
    if eligibility.ndim == post.ndim:  # a vector: outer product
        return decay * z_tm1 + eligibility[..., :, None] * post[..., None, :]
    return decay * z_tm1 + eligibility * post[..., None, :]


# ------------------------------------------------------------------------------- the agent
def eprop_rnn(spec: EnvSpec, config: EpropRNNConfig | None = None) -> Agent:
    """``eprop-rnn`` for ``spec``: a flat Box observation; a Discrete or Box ``(1,)`` action.

    Raises:
      ValueError: other spaces or a bad ``step_ms``.
    """
    c = config or EpropRNNConfig()
    _check(spec, c)
    dt = trial_step_ms(spec, c)
    n, n_in = c.n_units, int(spec.observation_space.shape[0])
    k_in = n_in + 1
    discrete = isinstance(spec.action_space, spaces.Discrete)
    n_out = int(spec.action_space.n) if discrete else 1
    rflo = c.rule == "rflo"
    horizon = spec.horizon
    n_conditions = 3**n_in if (c.critic == "episodic" and c.per_condition) else 1
    if n_conditions > 3**8:
        n_conditions = 1  # too many sign patterns to keep apart: one baseline
    n_baselines = horizon if c.critic == "online" else n_conditions

    def init(key, hp):
        key_j, key_in, key_b, key_bv = jax.random.split(key, 4)
        return EpropRNNState(
            recurrent=jax.random.normal(key_j, (n, n)) * hp["gain"] / jnp.sqrt(n),
            inputs=jax.random.uniform(key_in, (k_in, n), minval=-1.0, maxval=1.0) * hp["input_scale"],
            readout=jnp.zeros((n + 1, n_out), jnp.float32),
            value=jnp.zeros((n + 1,), jnp.float32),
            feedback=jax.random.normal(key_b, (n_out, n)) / jnp.sqrt(n_out),
            value_feedback=jax.random.normal(key_bv, (n,)),
            baseline=jnp.zeros((n_baselines,), jnp.float32),
            hp=dict(hp),
        )

    def begin(state, n_episodes):
        e = n_episodes
        zeros = jnp.zeros((e,), jnp.float32)
        rows = jnp.zeros((e, n), jnp.float32)
        big = (e, n, n) if rflo else (e, 1, 1)
        big_in = (e, k_in, n) if rflo else (e, 1, 1)
        return EpropCarry(
            x=rows,
            r=rows,
            r_prime=rows,
            y=jnp.zeros((e, n_out), jnp.float32),
            v=zeros,
            eps=rows,
            eps_in=jnp.zeros((e, k_in), jnp.float32),
            p=jnp.zeros(big, jnp.float32),
            p_in=jnp.zeros(big_in, jnp.float32),
            z_rec=jnp.zeros((e, n, n), jnp.float32),
            z_in=jnp.zeros((e, k_in, n), jnp.float32),
            z_out=jnp.zeros((e, n + 1, n_out), jnp.float32),
            z_value=jnp.zeros((e, n + 1), jnp.float32),
            prev_reward=zeros,
            prev_value=zeros,
            pending=zeros,
            accum_reward=zeros,
            n_steps=zeros,
            condition=jnp.full((e,), -1, jnp.int32),
            sum_abs_rpe=zeros,
            n_rpe=zeros,
            first_prediction=zeros,
        )

    def with_bias(v):
        return jnp.concatenate([v, jnp.ones_like(v[..., :1])], axis=-1)

    def advance(state, carry, obs):
        """One step of the population and its readouts; the eligibilities move with it."""
        hp = state.hp
        u = with_bias(obs.astype(jnp.float32))
        now = kernels.leaky_noise_step(
            carry.x,
            u @ state.inputs,
            carry.r @ state.recurrent,
            dt,
            hp["tau_x"],
            None,
            act_fx="tanh",
        )
        if rflo:
            p = rflo_eligibility(carry.p, carry.r, now.r_prime, dt, hp["tau_x"])
            p_in = rflo_eligibility(carry.p_in, u, now.r_prime, dt, hp["tau_x"])
            eps, eps_in = carry.eps, carry.eps_in
        else:
            p, p_in = carry.p, carry.p_in
            eps = eprop_eligibility(carry.eps, carry.r, dt, hp["tau_x"])
            eps_in = eprop_eligibility(carry.eps_in, u, dt, hp["tau_x"])
        h = with_bias(now.r)
        y, v = h @ state.readout, h @ state.value
        condition = jnp.where(carry.condition < 0, condition_of(obs), carry.condition)
        carry = carry._replace(
            x=now.x, r=now.r, r_prime=now.r_prime, y=y, v=v, eps=eps, eps_in=eps_in, p=p, p_in=p_in,
            condition=condition,
        )  # fmt: skip
        return y, carry

    def condition_of(obs):
        """The trial's condition from its first observation: the sign pattern, base 3."""
        if n_conditions == 1:
            return jnp.zeros(obs.shape[0], jnp.int32)
        digits = (jnp.sign(obs) + 1).astype(jnp.int32)  # 0, 1, 2
        return jnp.sum(digits * 3 ** jnp.arange(n_in), axis=-1)

    def act(state, carry, obs, key):
        y, carry = advance(state, carry, obs)
        if discrete:
            return jax.random.categorical(key, y), carry
        return y + state.hp["sigma"] * jax.random.normal(key, y.shape), carry

    def greedy(state, carry, obs):
        y, carry = advance(state, carry, obs)
        return (jnp.argmax(y, axis=-1) if discrete else y), carry

    def score_of(state, carry, action):
        """``d log pi(a | y) / dy``, ``(E, A)``."""
        if discrete:
            return jax.nn.one_hot(action, n_out) - jax.nn.softmax(carry.y, axis=-1)
        return (action.reshape(carry.y.shape) - carry.y) / state.hp["sigma"] ** 2

    def apply(state, gains, traces):
        """``W += clip(eta_W sum_e gain_e z^W_e, +-max_dw)`` for the four weights."""
        hp = state.hp
        z_rec, z_in, z_out, z_value = traces

        def change(eta, z):
            dw = eta * jnp.tensordot(gains, z, axes=(0, 0))
            return jnp.clip(dw, -hp["max_dw"], hp["max_dw"])

        return state._replace(
            recurrent=state.recurrent + change(hp["eta_rec"], z_rec),
            inputs=state.inputs + change(hp["eta_in"], z_in),
            readout=state.readout + change(hp["eta_out"], z_out),
            value=state.value + change(hp["eta_value"], z_value),
        )

    def observe(state, carry, tr: Transition):
        hp = state.hp
        alive = jnp.asarray(tr.alive, jnp.float32)
        reward = jnp.asarray(tr.reward, jnp.float32) * alive
        terminated = jnp.asarray(tr.terminated, jnp.float32)
        ended = alive * jnp.maximum(terminated, jnp.asarray(tr.truncated, jnp.float32))
        decay = 1.0 if c.critic == "episodic" else jnp.exp(-dt / hp["tau_e"])
        old = (carry.z_rec, carry.z_in, carry.z_out, carry.z_value)

        # This step's scores into the traces (alive steps only).
        score = score_of(state, carry, tr.action) * alive[:, None]
        if c.feedback == "symmetric":
            feedback, value_feedback = state.readout[:n].T, state.value[:n]
        else:
            feedback, value_feedback = state.feedback, state.value_feedback
        signal = learning_signal(score, feedback, value_feedback, hp["value_signal"])
        post = signal if rflo else carry.r_prime * signal  # RFLO's p holds r' already
        h = with_bias(carry.r)
        z_rec = filtered_trace(carry.z_rec, carry.p if rflo else carry.eps, post, decay)
        z_in = filtered_trace(carry.z_in, carry.p_in if rflo else carry.eps_in, post, decay)
        z_out = decay * carry.z_out + h[:, :, None] * score[:, None, :]
        z_value = decay * carry.z_value + h * alive[:, None]
        new = (z_rec, z_in, z_out, z_value)

        steps = carry.n_steps + alive
        first = jnp.where(carry.n_steps == 0, carry.v, carry.first_prediction)
        if c.critic == "td":
            # The pending step t-1 gets its TD error now that V_t is known ...
            td_prev = kernels.td_error(carry.prev_reward, hp["gamma"], carry.prev_value, carry.v)
            delta_prev = td_prev.delta * carry.pending
            # ... and a step that ends the trial gets its own at once.
            discount = hp["gamma"] * (1.0 - terminated)
            delta_end = kernels.td_error(reward, discount, carry.v, carry.v).delta * ended
            state = apply(state, delta_prev, old)
            state = apply(state, delta_end, new)
            rpe_abs = jnp.abs(delta_prev) + jnp.abs(delta_end)
            n_rpe = carry.pending + ended
            carry = carry._replace(prev_reward=reward, prev_value=carry.v, pending=alive * (1.0 - ended))
            baseline = state.baseline
        elif c.critic == "online":
            # One RewardErrorCell unit per step of the trial (the RPE of each epoch).
            at = jax.nn.one_hot(jnp.minimum(carry.n_steps, horizon - 1).astype(jnp.int32), horizon)
            at = at * alive[:, None]  # (E, T)
            mu = at @ state.baseline  # (E,)
            rpe = kernels.reward_prediction_error(reward, mu, 0.0).rpe * alive
            state = apply(state, rpe, new)
            visits = jnp.sum(at, axis=0)
            mean_reward = (at.T @ reward) / jnp.maximum(visits, 1.0)
            moved = kernels.reward_prediction_error(mean_reward, state.baseline, hp["baseline_alpha"]).mu
            baseline = jnp.where(visits > 0, moved, state.baseline)
            rpe_abs, n_rpe = jnp.abs(rpe), alive
            first = jnp.where(carry.n_steps == 0, mu, carry.first_prediction)
        else:  # episodic: the trial's summed RPE at its end, then the cell's evolve
            mu = state.baseline[carry.condition]  # (E,)
            accum = carry.accum_reward + reward
            rpe = (accum - steps * mu) * ended
            state = apply(state, rpe, new)
            one_hot = jax.nn.one_hot(carry.condition, n_conditions) * ended[:, None]  # (E, C)
            fold = kernels.end_episode(
                state.baseline,
                one_hot.T @ accum,
                one_hot.T @ steps,
                hp["baseline_window"],
                jnp.sum(one_hot, axis=0) > 0,
            )
            baseline = fold.mu
            rpe_abs, n_rpe = jnp.abs(rpe), ended
            first = jnp.where(carry.n_steps == 0, mu, carry.first_prediction)
            carry = carry._replace(accum_reward=accum)

        goes_on = (alive * (1.0 - ended))[:, None]
        carry = carry._replace(
            z_rec=z_rec * goes_on[:, :, None],
            z_in=z_in * goes_on[:, :, None],
            z_out=z_out * goes_on[:, :, None],
            z_value=z_value * goes_on,
            n_steps=steps,
            sum_abs_rpe=carry.sum_abs_rpe + rpe_abs,
            n_rpe=carry.n_rpe + n_rpe,
            first_prediction=first,
        )
        return state._replace(baseline=baseline), carry

    def learn(state, carry, traj):
        """Per trial: ``mean_abs_rpe`` (over the RPEs it received) and ``reward_prediction``
        (``V`` or ``mu`` at its first step)."""
        return state, {
            "mean_abs_rpe": carry.sum_abs_rpe / jnp.maximum(carry.n_rpe, 1.0),
            "reward_prediction": carry.first_prediction,
        }

    return Agent("eprop-rnn", c, spec, init, begin, act, greedy, observe, learn)


def trial_correct(agent: Agent, state, key: jax.Array, n_trials: int = 512) -> jax.Array:
    """The fraction of ``n_trials`` greedy trials that the task scores correct.

    Any agent on a JAX-native trial task with ``correct(state)`` (``envs.PerceptualDecision``,
    ``envs.DelayedNonMatch``, ``envs.ContextIntegration``): the trials run without autoreset
    for the spec's horizon and each is read at its end. Pure and jit-safe for a fixed
    ``n_trials``.
    """
    env, spec = agent.spec.jax_env, agent.spec
    if env is None or not hasattr(env, "correct"):
        raise TypeError(f"env: {spec.env_id} is not a JAX-native trial task with correct(state)")
    key_reset, key_steps = jax.random.split(key)
    env_states, obs = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key_reset, n_trials))

    def step(loop, key_t):
        carry, env_states, obs, done, final = loop
        action, carry = agent.greedy(state, carry, obs)
        env_states, ts = jax.vmap(lambda s, a, k: env_step(env, s, a, k, autoreset=False))(
            env_states, spec.bound(action), jax.random.split(key_t, n_trials)
        )
        ends = (ts.terminated | ts.truncated) & ~done
        final = jax.tree.map(
            lambda f, s: jnp.where(ends.reshape((-1,) + (1,) * (s.ndim - 1)), s, f), final, env_states
        )
        return (carry, env_states, ts.obs, done | ends, final), None

    loop = (agent.begin(state, n_trials), env_states, obs, jnp.zeros((n_trials,), bool), env_states)
    (_, _, _, _, final), _ = jax.lax.scan(step, loop, jax.random.split(key_steps, spec.horizon))
    return jnp.mean(jax.vmap(env.correct)(final))
