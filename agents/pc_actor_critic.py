"""Population actor-critic ``pc-ac``: RateCell layers that settle by their own dynamics, an
RPE on every synapse (MAP propagation, Chung 2021).

Actor and critic are each a network of two hidden ``RateCell`` populations (``n1``, ``n2``
softplus units) between Gaussian error cells, and an output error cell::

    obs x --W1--> h1 --W2--> h2 --W3--> out
    mu_l = f(h_l-1 W_l + b_l)  (l = 1, 2; f = softplus by default),   out = h2 W3 + b3

A hidden unit is a stochastic unit ``h_l ~ N(mu_l, var_l)``; the network's energy, given the
action taken ``a``, is the negative log-probability of its activity::

    E(h1, h2) = sum_l |h_l - mu_l|^2 / (2 var_l) - log p(a | out)

**Acting** (``act``): a forward pass that samples every hidden unit (``h_l = mu_l + sqrt(var_l)
eps``), then the action from the output: ``softmax(out / T)`` (Discrete; a
``CategoricalErrorCell``) or ``u = out + sqrt(var_out) eps`` squashed into a bounded Box (a
``GaussianErrorCell``). ``greedy`` uses the means and the most likely action.

**Settling** (``observe``): given the action taken, the hidden populations settle to the most
probable activity (MAP inference, which is what predictive coding does) by their own
dynamics: ``settle_steps`` Euler steps of each ``RateCell`` (``rpe.functional.rate_cell_step``,
identity activation, ``dt / tau_m = settle_rate var_l``) driven by the error cells around it::

    e_l  = (h_l - mu_l) / var_l                           (GaussianErrorCell dmu, below h_l)
    d_3  = (onehot(a) - softmax(out / T)) / T             (CategoricalErrorCell dlogits / T)
         = (u - out) / var_out                            (GaussianErrorCell dmu, Box actions)
    d_l  = e_l * f'(pot_l)                                (l = 1, 2: the error seen by W_l)
    h_l <- h_l + settle_rate var_l (-e_l + d_l+1 W_l+1^T)        = h_l - settle_rate var_l dE/dh_l

so ``E`` falls (``tests/test_pc_actor_critic.py`` checks it, and the fixed point against the
closed form of a linear network). Settling starts from the means: the sampling noise of the
act would be forgotten as ``(1 - settle_rate)^settle_steps`` anyway. The critic settles the
same way with its output nudged one unit of value upward (its output Gaussian error is
``d_3 = 1 / var_out``), so each of its units learns its share of raising ``V``.

**Learning** (every step, every synapse): the critic's ``TDErrorCell`` gives the RPE
(``rpe.functional.td_error``) and each layer's synapses follow a three-factor rule with an
eligibility trace (``rpe.functional.eligibility_trace`` with ``exp(-dt / tau_e) = gamma
lambda``; pre = the settled activity below, post = ``d_l``)::

    delta = r + gamma (1 - terminated) V(obs') - V(obs),        V = the critic's mean output
    r     = clip(reward_scale reward, +-reward_clip)  (+ the epistemic reward, below)
    Z_l  <- gamma lambda Z_l + h_l-1^T d_l                      (per episode; reset at its end)
    W_l  += adaptive_step(mean_episodes(delta Z_l), eta_l)      (rpe.functional.adaptive_step)

``adaptive_step`` is Adam, elementwise (each synapse's step scaled by its own running size),
as MAP propagation uses it. Rates per layer: ``eta``, ``eta eta_hidden_scale``, ``eta
eta_out_scale`` (MAP propagation's deeper layers learn a thousand times slower), annealed
linearly to ``eta_final_scale`` of themselves over ``anneal_steps`` updates. At a time limit
the critic bootstraps from the real next observation.

**Curiosity** (optional, ``model_hidden > 0``, for envs with finite observation bounds): a
predictive-coding world model (``agents.ngc_world_model``, as ``ac``'s) predicts the change
of the observation from the observation and the action; its energy after settling, divided
by the largest so far, times ``curiosity``, is added to the reward (active neural generative
coding, Ororbia & Mali 2022).

Without ``h`` the rule is the REINFORCE actor-critic of a linear-softmax policy; the settled
errors ``d_l`` approach what backprop would send down as ``var_l`` shrinks (Whittington &
Bogacz 2017), but every quantity a synapse reads is local: its presynaptic rate, its
postsynaptic error unit and the broadcast RPE. Defaults are MAP propagation's CartPole
settings (Chung 2021, repository ``stephen-chung-mh/map_prop``); ``agents/defaults.toml``
holds the per-env ones. Spaces: a 1-D Box observation (raw, or scaled by its finite bounds
with ``scale_obs``); Discrete or bounded Box actions.

Shapes: ``E`` episodes, ``D`` observation dims, ``A`` action outputs.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from agents.contract import Agent, AgentConfig, EnvSpec, Transition, numeric, structural
from agents.ngc_world_model import NGCWorldModel, NGCWorldModelState
from envs.decoders import decoder_for
from rpe import functional as kernels
from rpe.activations import get_activation

__all__ = [
    "Network",
    "PCActorCriticCarry",
    "PCActorCriticConfig",
    "PCActorCriticState",
    "Settled",
    "network_energy",
    "pc_actor_critic",
    "settle",
]


@dataclasses.dataclass(frozen=True)
class PCActorCriticConfig(AgentConfig):
    """Hyperparameters of ``pc-ac`` (defaults: MAP propagation's CartPole-v1 settings)."""

    gamma: float = numeric(0.98, low=0.0, high=1.0, doc="discount")
    trace_decay: float = numeric(0.95, low=0.0, high=1.0, doc="lambda of the eligibility traces")
    temperature: float = numeric(2.0, low=0.0, low_open=True, doc="softmax temperature (Discrete)")
    eta_actor: float = numeric(0.01, low=0.0, doc="actor step size, first layer")
    eta_critic: float = numeric(0.02, low=0.0, doc="critic step size, first layer")
    eta_hidden_scale: float = numeric(1e-3, low=0.0, doc="step of the second layer / the first's")
    eta_out_scale: float = numeric(1e-4, low=0.0, doc="step of the output layer / the first's")
    eta_final_scale: float = numeric(0.1, low=0.0, doc="step sizes end at this fraction")
    anneal_steps: float = numeric(50000.0, low=1.0, doc="updates over which steps anneal")
    actor_var1: float = numeric(0.03, low=0.0, low_open=True, doc="actor: variance of layer 1")
    actor_var2: float = numeric(0.1, low=0.0, low_open=True, doc="actor: variance of layer 2")
    actor_var_out: float = numeric(0.1, low=0.0, low_open=True, doc="actor: output variance (Box)")
    critic_var1: float = numeric(0.03, low=0.0, low_open=True, doc="critic: variance of layer 1")
    critic_var2: float = numeric(0.1, low=0.0, low_open=True, doc="critic: variance of layer 2")
    critic_var_out: float = numeric(0.1, low=0.0, low_open=True, doc="critic: output variance")
    settle_rate: float = numeric(0.5, low=0.0, high=1.0, low_open=True, doc="settling dt/tau per var")
    reward_clip: float = numeric(0.0, low=0.0, doc="clip rewards to +-this; 0: no clip")
    reward_scale: float = numeric(1.0, low=0.0, low_open=True, doc="factor on the task reward")
    adam_beta1: float = numeric(0.9, low=0.0, high=1.0, high_open=True, doc="first-moment decay")
    adam_beta2: float = numeric(0.999, low=0.0, high=1.0, high_open=True, doc="second-moment decay")
    hidden1: int = structural(64, low=1, doc="units of the first hidden population")
    hidden2: int = structural(32, low=1, doc="units of the second hidden population")
    settle_steps: int = structural(20, low=1, doc="settling steps per transition")
    scale_obs: bool = structural(False, doc="scale observation dims with finite bounds to [-1, 1]")
    activation: str = structural(
        "softplus", choices=("softplus", "relu", "tanh", "identity"), doc="f of the hidden units"
    )
    curiosity: float = numeric(0.0, low=0.0, doc="weight of the world model's epistemic reward")
    eta_model: float = numeric(0.02, low=0.0, doc="world-model learning rate")
    model_scale: float = numeric(10.0, low=0.0, doc="scale of the world model's target")
    model_hidden: int = structural(0, low=0, doc="world-model hidden units; 0: no world model")


class Network(NamedTuple):
    """One network's weights ``W1 (D, n1), W2 (n1, n2), W3 (n2, A)``, biases ``b1, b2, b3``
    and, for ``adaptive_step``, the moments ``m`` and ``v`` of each (same pytree)."""

    weights: tuple
    m: tuple
    v: tuple


class PCActorCriticState(NamedTuple):
    """Actor and critic :class:`Network` s, the update count, the world model (None
    without one) and the largest surprise so far, the hyperparameters ``hp``."""

    actor: Network
    critic: Network
    count: jax.Array
    model: NGCWorldModelState | None
    surprise_max: jax.Array
    hp: dict


class PCActorCriticCarry(NamedTuple):
    """Per-episode traces ``(E, ...)`` of every weight and bias of actor and critic (pytrees
    like ``Network.weights``) and running sums ``steps``, ``sum_abs_rpe``, ``first_value``."""

    actor_traces: tuple
    critic_traces: tuple
    steps: jax.Array
    sum_abs_rpe: jax.Array
    first_value: jax.Array
    sum_epistemic: jax.Array


class Settled(NamedTuple):
    """A settled network for a batch: ``h (h1, h2)``, each layer's input ``pre (x, h1, h2)``,
    postsynaptic errors ``post (d1, d2, d3)`` and the output ``out (E, A)``
    (:func:`network_energy` gives its energy)."""

    h: tuple
    pre: tuple
    post: tuple
    out: jax.Array


def _init_network(key, sizes) -> Network:
    """Glorot-uniform weights, zero biases (MAP propagation's initialisation)."""
    weights = []
    for k, (n_in, n_out) in zip(
        jax.random.split(key, len(sizes) - 1), itertools.pairwise(sizes), strict=True
    ):
        lim = np.sqrt(6.0 / (n_in + n_out))
        weights += [jax.random.uniform(k, (n_in, n_out), jnp.float32, -lim, lim), jnp.zeros((n_out,))]
    weights = tuple(weights)
    zeros = jax.tree.map(jnp.zeros_like, weights)
    return Network(weights, zeros, zeros)


SOFTPLUS = get_activation("softplus")


def _potentials(weights, x, h):
    """``pot_l = pre_l W_l + b_l`` for the three layers, with ``pre = (x, h1, h2)``."""
    w1, b1, w2, b2, w3, b3 = weights
    return x @ w1 + b1, h[0] @ w2 + b2, h[1] @ w3 + b3


def forward_means(weights, x, act=SOFTPLUS, noise=None):
    """A forward pass: the means ``(mu1, mu2)`` and the output ``(E, A)``; ``act``: ``(f, f')``
    of the hidden units. With ``noise (n1, n2)`` (each ``(E, n_l)``) every hidden unit is
    sampled, ``h_l = mu_l + noise_l``, and the next layer reads ``h_l``; without, ``h_l = mu_l``."""
    w1, b1, w2, b2, w3, b3 = weights
    mu1 = act[0](x @ w1 + b1)
    h1 = mu1 if noise is None else mu1 + noise[0]
    mu2 = act[0](h1 @ w2 + b2)
    h2 = mu2 if noise is None else mu2 + noise[1]
    return (mu1, mu2), h2 @ w3 + b3


def network_energy(weights, x, h, variances, output_energy, act=SOFTPLUS):
    """``E = sum_l |h_l - mu_l|^2 / (2 var_l) + output_energy(out)`` per example ``(E,)``:
    ``-L`` of each Gaussian error cell (``rpe.functional.gaussian_error``) plus the output's."""
    pot1, pot2, out = _potentials(weights, x, h)
    mus = (act[0](pot1), act[0](pot2))
    per_example = jax.vmap(kernels.gaussian_error, in_axes=(0, 0, None))
    hidden = sum(-per_example(mu, hl, var).L for mu, hl, var in zip(mus, h, variances, strict=True))
    return hidden + output_energy(out)


def settle(weights, x, output_error, variances, rate, steps: int, act=SOFTPLUS, h0=None) -> Settled:
    """Settle ``h1, h2`` of a batch ``x (E, D)`` to the minimum of the energy (module docstring).

    ``output_error(out) -> d3 (E, A)``: the output error cell's ``-dE/dout``; ``variances``:
    ``(var1, var2)``; ``rate``: ``dt / tau_m`` per unit of variance; ``steps``: static;
    ``act``: ``(f, f')`` of the hidden units; ``h0``: where to start (default: the means of a
    forward pass).
    Returns the :class:`Settled` network.
    """
    w2, w3 = weights[2], weights[4]

    def errors(h):
        pot1, pot2, out = _potentials(weights, x, h)
        e1 = kernels.gaussian_error(act[0](pot1), h[0], variances[0]).dmu
        e2 = kernels.gaussian_error(act[0](pot2), h[1], variances[1]).dmu
        d3 = output_error(out)
        return (e1, e2), (e1 * act[1](pot1), e2 * act[1](pot2), d3), out

    def step(_, h):
        (e1, e2), (_, d2, d3), _ = errors(h)
        top_down = (d2 @ w2.T, d3 @ w3.T)
        return tuple(
            kernels.rate_cell_step(hl, -el, td, rate * var, 1.0).z
            for hl, el, td, var in zip(h, (e1, e2), top_down, variances, strict=True)
        )

    h = forward_means(weights, x, act)[0] if h0 is None else h0
    h = jax.lax.fori_loop(0, steps, step, h)
    _, post, out = errors(h)
    return Settled(h=h, pre=(x, h[0], h[1]), post=post, out=out)


def pc_actor_critic(spec: EnvSpec, config: PCActorCriticConfig | None = None) -> Agent:
    """``pc-ac`` for ``spec``: a 1-D Box observation; Discrete or bounded Box actions."""
    c = config or PCActorCriticConfig()
    env, space, actions = spec.env_id, spec.observation_space, spec.action_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"{env}: the pc-ac agent needs a 1-D Box observation space, got {space}")
    discrete = isinstance(actions, gym.spaces.Discrete)
    decoder = decoder_for(actions, env=env, categorical=True)  # raises for unsupported spaces
    if not discrete and not isinstance(actions, gym.spaces.Box):
        raise ValueError(
            f"{env}: the pc-ac agent cannot act in the action space {actions}; "
            "supported: Discrete, Box with finite bounds"
        )
    n_out = decoder.n_outputs
    low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
    finite = np.isfinite(low) & np.isfinite(high) & (high > low)
    low, high = np.where(finite, low, -1.0), np.where(finite, high, 1.0)  # unbounded dims as they are
    centre = jnp.asarray(np.where(finite, (low + high) / 2, 0.0), jnp.float32)
    half = jnp.asarray(np.where(finite, (high - low) / 2, 1.0), jnp.float32)
    sizes = (int(space.shape[0]), c.hidden1, c.hidden2, n_out)
    act_fx = get_activation(c.activation)

    def inputs(obs):
        obs = jnp.asarray(obs, jnp.float32)
        return (obs - centre) / half if c.scale_obs else obs

    world_model = None
    if c.model_hidden:
        if not finite.all():
            raise ValueError(
                f"{env}: the pc-ac world model (model_hidden > 0) needs finite observation bounds"
            )
        world_model = NGCWorldModel(int(space.shape[0]) + n_out + 1, int(space.shape[0]), c.model_hidden)

    def init(key, hp):
        """Random actor and critic (Glorot), zero moments, no updates yet."""
        k_actor, k_critic, k_model = jax.random.split(key, 3)
        return PCActorCriticState(
            actor=_init_network(k_actor, sizes),
            critic=_init_network(k_critic, (*sizes[:-1], 1)),
            count=jnp.zeros((), jnp.float32),
            model=None if world_model is None else world_model.init(k_model),
            surprise_max=jnp.zeros((), jnp.float32),
            hp=dict(hp),
        )

    def epistemic(state, tr, alive):
        """The world model's surprise at this transition as a reward, ``curiosity L / max L``
        (as ``ac``: active neural generative coding, Ororbia & Mali 2022), and its update."""
        if world_model is None:
            return jnp.zeros_like(alive), state.model, state.surprise_max
        hp = state.hp
        action = jax.nn.one_hot(tr.action, n_out) if discrete else jnp.tanh(tr.action)
        scaled, scaled_next = (tr.obs - centre) / half, (tr.next_obs - centre) / half  # in [-1, 1]
        x = jnp.concatenate([scaled, action, jnp.ones_like(alive[:, None])], axis=1)
        y = hp["model_scale"] * (scaled_next - scaled) / 2.0
        return world_model.curiosity(
            state.model, x, y, alive, state.surprise_max, hp["curiosity"], hp["eta_model"]
        )

    def act(state, carry, obs, key):
        """Sample every hidden unit, then the action."""
        hp = state.hp
        k1, k2, k_out = jax.random.split(key, 3)
        x = inputs(obs)
        noise = (
            jnp.sqrt(hp["actor_var1"]) * jax.random.normal(k1, (x.shape[0], c.hidden1)),
            jnp.sqrt(hp["actor_var2"]) * jax.random.normal(k2, (x.shape[0], c.hidden2)),
        )
        out = forward_means(state.actor.weights, x, act_fx, noise)[1]
        if discrete:
            action = jax.random.categorical(k_out, out / hp["temperature"], axis=-1).astype(jnp.int32)
        else:
            action = decoder.sample(out, k_out, jnp.sqrt(hp["actor_var_out"]))
        return action, carry

    def greedy(state, carry, obs):
        out = forward_means(state.actor.weights, inputs(obs), act_fx)[1]
        return (jnp.argmax(out, axis=-1).astype(jnp.int32) if discrete else out), carry

    def value(weights, obs):
        return forward_means(weights, inputs(obs), act_fx)[1][:, 0]

    def begin(state, n_episodes):
        def per_episode(tree):
            return jax.tree.map(lambda w: jnp.zeros((n_episodes, *w.shape), jnp.float32), tree)

        zeros = jnp.zeros((n_episodes,), jnp.float32)
        return PCActorCriticCarry(
            per_episode(state.actor.weights), per_episode(state.critic.weights), zeros, zeros, zeros, zeros
        )

    def actor_error(hp, action):
        """The actor's output error cell: ``d3 = -dE/dout`` for the action taken."""
        if discrete:
            onehot = jax.nn.one_hot(action, n_out)
            t = hp["temperature"]
            return lambda out: kernels.categorical_error(out / t, onehot).dlogits / t
        return lambda out: kernels.gaussian_error(out, action, hp["actor_var_out"]).dmu

    def learn_network(net, traces, settled, delta, alive, count, eta, hp):
        """Traces ``Z <- gamma lambda Z + pre^T post`` per episode (``post`` alone for a
        bias), then one adaptive step of ``mean_alive(delta Z)`` per weight, at the layer's
        rate ``eta * (1, eta_hidden_scale, eta_out_scale)`` annealed by the update count."""
        decay = hp["gamma"] * hp["trace_decay"]
        tau_e = -1.0 / jnp.log(jnp.maximum(decay, 1e-30))  # exp(-dt / tau_e) = decay at dt = 1
        trace = jax.vmap(kernels.eligibility_trace, in_axes=(0, 0, 0, None, None))
        gate = delta * alive / jnp.maximum(jnp.sum(alive), 1.0)  # (E,): the mean over episodes
        anneal = (
            1.0 + (hp["eta_final_scale"] - 1.0) * jnp.minimum(count, hp["anneal_steps"]) / hp["anneal_steps"]
        )
        new_traces, weights, ms, vs = [], [], [], []
        for layer, (pre, post) in enumerate(zip(settled.pre, settled.post, strict=True)):
            rate = eta * anneal * (1.0, hp["eta_hidden_scale"], hp["eta_out_scale"])[layer]
            z_w = trace(traces[2 * layer], pre, post, 1.0, tau_e)
            z_b = decay * traces[2 * layer + 1] + post
            for i, z in ((2 * layer, z_w), (2 * layer + 1, z_b)):
                g = kernels.three_factor_update(z, gate[(...,) + (None,) * (z.ndim - 1)]).sum(0)
                out = kernels.adaptive_step(
                    g, net.m[i], net.v[i], count, rate, hp["adam_beta1"], hp["adam_beta2"]
                )
                new_traces.append(z)
                weights.append(net.weights[i] + out.dw)
                ms.append(out.m)
                vs.append(out.v)
        new = Network(tuple(weights), tuple(ms), tuple(vs))
        new = jax.tree.map(lambda a, b: jnp.where(jnp.sum(alive) > 0, a, b), new, net)
        return new, tuple(new_traces)

    def observe(state, carry, tr: Transition):
        """One online update from a batch of transitions (module docstring)."""
        hp = state.hp
        alive = jnp.asarray(tr.alive, jnp.float32)
        x = inputs(tr.obs)
        v_now = value(state.critic.weights, tr.obs)
        v_next = value(state.critic.weights, tr.next_obs)
        scaled = hp["reward_scale"] * tr.reward
        reward = jnp.where(
            hp["reward_clip"] > 0, jnp.clip(scaled, -hp["reward_clip"], hp["reward_clip"]), scaled
        )
        bonus, model, surprise_max = epistemic(state, tr, alive)
        discount = hp["gamma"] * (1.0 - tr.terminated)
        delta = kernels.td_error(reward + bonus, discount, v_now, v_next, mask=alive).dvalue
        actor = settle(
            state.actor.weights,
            x,
            actor_error(hp, tr.action),
            (hp["actor_var1"], hp["actor_var2"]),
            hp["settle_rate"],
            c.settle_steps,
            act_fx,
        )
        nudge = lambda out: jnp.full_like(out, 1.0 / hp["critic_var_out"])  # noqa: E731
        critic = settle(
            state.critic.weights,
            x,
            nudge,
            (hp["critic_var1"], hp["critic_var2"]),
            hp["settle_rate"],
            c.settle_steps,
            act_fx,
        )
        count = state.count + jnp.where(jnp.sum(alive) > 0, 1.0, 0.0)
        count_now = jnp.maximum(count, 1.0)
        new_actor, actor_traces = learn_network(
            state.actor, carry.actor_traces, actor, delta, alive, count_now, hp["eta_actor"], hp
        )
        new_critic, critic_traces = learn_network(
            state.critic, carry.critic_traces, critic, delta, alive, count_now, hp["eta_critic"], hp
        )
        goes_on = alive * (1.0 - tr.terminated) * (1.0 - tr.truncated)

        def cut(tree):
            return jax.tree.map(lambda z: z * goes_on.reshape((-1,) + (1,) * (z.ndim - 1)), tree)

        carry = PCActorCriticCarry(
            actor_traces=cut(actor_traces),
            critic_traces=cut(critic_traces),
            steps=carry.steps + alive,
            sum_abs_rpe=carry.sum_abs_rpe + jnp.abs(delta),
            first_value=jnp.where(carry.steps == 0, v_now, carry.first_value),
            sum_epistemic=carry.sum_epistemic + bonus * alive,
        )
        return PCActorCriticState(new_actor, new_critic, count, model, surprise_max, hp), carry

    def learn(state, carry, traj):
        """Per episode: ``mean_abs_rpe`` and ``reward_prediction`` (``V`` of the first state)."""
        n = jnp.maximum(carry.steps, 1.0)
        metrics = {"mean_abs_rpe": carry.sum_abs_rpe / n, "reward_prediction": carry.first_value}
        if world_model is not None:
            metrics["epistemic_reward"] = carry.sum_epistemic / n
        return state, metrics

    def activity(state, obs):
        """The mean rates of the actor's and the critic's hidden populations and ``V``."""
        x = inputs(obs)
        (a1, a2), _ = forward_means(state.actor.weights, x, act_fx)
        (c1, c2), v = forward_means(state.critic.weights, x, act_fx)
        return {"actor h1": a1, "actor h2": a2, "critic h1": c1, "critic h2": c2, "value": v[:, 0]}

    return Agent("pc-ac", c, spec, init, begin, act, greedy, observe, learn, activity=activity)
