"""Per-example kernels: the mathematics of every cell and learning rule as plain functions.

Each kernel is written for ONE example, in the rlax habit: vectors of ``n_units`` (or any
shape that broadcasts elementwise), scalars for per-sample quantities such as a
log-likelihood ``L``. Batches and populations come from ``jax.vmap``; time from
``jax.lax.scan``. Every numeric hyperparameter may be a traced array (to ``vmap`` a
population over it); names that select behaviour (an activation, a prior, an integrator, a
threshold, ``input_logits``, ``signal``) are static Python values. Nothing here draws random
numbers: noise is an input, drawn by the caller. Time (``dt``, ``tau_*``) is in ms.

The cells (``rpe.*_cell``) are the stateful, batched form of these kernels: each cell's
``step`` reads its compartments, calls its kernel and writes the results back, so every
equation is written here once. The kernels of the error cells and of the neuron dynamics
are elementwise (the categorical one works along the last axis), so a cell calls them on
its ``(batch_size, n_units)`` compartments directly, which gives exactly what ``jax.vmap``
over the rows would, except that a scalar output then sums over the whole batch: ``L``
becomes the batch's log-likelihood and ``dsigma`` / ``dscale`` sum to the shape of the
cell's ``Sigma`` / ``Scale``, ``(1, 1)`` or ``(1, n_units)`` (the cells' meaning). The
rules (``rpe.hebbian``, ``rpe.three_factor``, ``rpe.node_perturbation``) ``vmap`` the
per-sample kernels over the batch and reduce the results. Agents call the kernels directly
instead of building a throwaway cell state.

=====================================  ===============================================================
kernel                                 reproduces
=====================================  ===============================================================
:func:`ema`                            the EMAs of RewardErrorCell and Miconi's running mean
:func:`reward_prediction_error`        ``RewardErrorCell.step`` (``rpe``, ``mu``)
:func:`end_episode`                    ``RewardErrorCell.end_episode`` (``evolve``)
:func:`td_error`                       ``TDErrorCell.step``
:func:`gaussian_error`                 ``GaussianErrorCell.step``
:func:`laplacian_error`                ``LaplacianErrorCell.step``
:func:`bernoulli_error`                ``BernoulliErrorCell.step``
:func:`categorical_error`              ``CategoricalErrorCell.step``
:func:`rate_cell_step`                 ``RateCell.step``
:func:`leaky_noise_step`               ``LeakyNoiseCell.step`` (noise drawn by the caller)
:func:`hebbian_update`                 one sample's term of ``hebbian`` (or the batch's sum)
:func:`eligibility_trace`              one sample's trace of ``three_factor(tau_e=...)``
:func:`three_factor_update`            one sample's term of ``three_factor``
:func:`node_perturbation_eligibility`  one sample of ``node_perturbation(...).accumulate`` (or ``_trial``)
:func:`supralinear_eligibility`        one sample of ``supralinear_node_perturbation(...).accumulate``
:func:`supralinear_eligibility_trial`  ... and of its ``accumulate_trial``
:func:`node_perturbation_update`       one sample's term of either rule's trial-end ``update``
:func:`adaptive_step`                  a synapse's update scaled by its own running size (Adam)
=====================================  ===============================================================

Example:
  >>> import jax, jax.numpy as jnp
  >>> from rpe import functional
  >>> mu, target = jnp.zeros((4, 3)), jnp.ones((4, 3))  # a batch of 4 examples, 3 units
  >>> err = jax.vmap(functional.gaussian_error, in_axes=(0, 0, None))(mu, target, 2.0)
  >>> err.L.shape, float(err.L[0]), float(err.dmu[0, 0])
  ((4,), -0.75, 0.5)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rpe.activations import get_activation
from rpe.integrators import get_integrator
from rpe.priors import get_prior
from rpe.thresholds import get_threshold

__all__ = [
    "AdaptiveStep",
    "BernoulliError",
    "CategoricalError",
    "EpisodeFold",
    "GaussianError",
    "LaplacianError",
    "LeakyNoiseStep",
    "RateStep",
    "RewardPrediction",
    "SupralinearEligibility",
    "TDError",
    "adaptive_step",
    "bernoulli_error",
    "categorical_error",
    "eligibility_trace",
    "ema",
    "end_episode",
    "gaussian_error",
    "hebbian_update",
    "laplacian_error",
    "leaky_noise_step",
    "node_perturbation_eligibility",
    "node_perturbation_update",
    "rate_cell_step",
    "reward_prediction_error",
    "supralinear_eligibility",
    "supralinear_eligibility_trial",
    "td_error",
    "three_factor_update",
]

Elementwise = Callable[[jax.Array], jax.Array]

_BERNOULLI_CLIP = 1e-4


# ----------------------------------------------------------------------------- result types
class RewardPrediction(NamedTuple):
    """Output of :func:`reward_prediction_error`: the RPE and the updated prediction."""

    rpe: jax.Array
    mu: jax.Array


class EpisodeFold(NamedTuple):
    """Output of :func:`end_episode`: the prediction and the cleared episode accumulators."""

    mu: jax.Array
    accum_reward: jax.Array
    n_ep_steps: jax.Array


class TDError(NamedTuple):
    """Output of :func:`td_error`: ``delta``, the log-likelihood ``L`` (scalar), ``dvalue``."""

    delta: jax.Array
    L: jax.Array
    dvalue: jax.Array


class GaussianError(NamedTuple):
    """Output of :func:`gaussian_error`: log-likelihood ``L`` (scalar) and gated gradients."""

    L: jax.Array
    dmu: jax.Array
    dtarget: jax.Array
    dsigma: jax.Array


class LaplacianError(NamedTuple):
    """Output of :func:`laplacian_error`: log-likelihood ``L`` (scalar) and gated gradients."""

    L: jax.Array
    dshift: jax.Array
    dtarget: jax.Array
    dscale: jax.Array


class BernoulliError(NamedTuple):
    """Output of :func:`bernoulli_error`: log-likelihood ``L`` (scalar) and gated gradients."""

    L: jax.Array
    dp: jax.Array
    dtarget: jax.Array


class CategoricalError(NamedTuple):
    """Output of :func:`categorical_error`: log-probability ``L`` (scalar) and ``dlogits``."""

    L: jax.Array
    dlogits: jax.Array


class RateStep(NamedTuple):
    """Output of :func:`rate_cell_step`: the new state ``z`` and the output ``zF``."""

    z: jax.Array
    zF: jax.Array


class LeakyNoiseStep(NamedTuple):
    """Output of :func:`leaky_noise_step`: the new state ``x``, the rate ``r`` and ``r_prime``."""

    x: jax.Array
    r: jax.Array
    r_prime: jax.Array


class AdaptiveStep(NamedTuple):
    """Output of :func:`adaptive_step`: the step ``dw`` and the new moments ``m``, ``v``."""

    dw: jax.Array
    m: jax.Array
    v: jax.Array


class SupralinearEligibility(NamedTuple):
    """Output of :func:`supralinear_eligibility`: eligibility ``(n_in, n_out)`` and ``x_bar``."""

    eligibility: jax.Array
    x_bar: jax.Array


# ------------------------------------------------------------------------ reward prediction
def ema(mu_tm1: ArrayLike, x_t: ArrayLike, alpha: ArrayLike) -> jax.Array:
    """Exponential moving average: ``mu_t = (1 - alpha) mu_tm1 + alpha x_t``.

    Args:
      mu_tm1: the average before this step, any shape.
      x_t: the new value, broadcastable with ``mu_tm1``.
      alpha: the rate in [0, 1] (scalar or broadcastable); 0 keeps ``mu_tm1``, 1 takes ``x_t``.

    Returns:
      ``mu_t``, the broadcast shape of the inputs. The online predictor of ngc-learn's
      ``RewardErrorCell`` (and, with ``alpha = 1/W``, its episodic fold), and the running
      mean ``x_bar`` of Miconi (2017).

    Example:
      >>> float(ema(2.0, 4.0, 0.25))
      2.5
    """
    return (1.0 - alpha) * mu_tm1 + alpha * x_t


def reward_prediction_error(r_t: ArrayLike, mu_tm1: ArrayLike, alpha: ArrayLike) -> RewardPrediction:
    """One step of a reward predictor: the RPE against the old prediction, then the new one.

    ::

        rpe  = r_t - mu_tm1
        mu_t = (1 - alpha) mu_tm1 + alpha r_t          (:func:`ema`)

    The step of ``RewardErrorCell`` (after ngc-learn's ``RewardErrorCell``; Schultz, Dayan &
    Montague 1997 for the RPE as a dopamine signal), without its episode accumulators
    (``accum_reward += r_t``, ``n_ep_steps += 1``, which the caller keeps if it needs
    :func:`end_episode`). ``alpha = 0`` is the cell's episodic mode
    (``use_online_predictor=False``): ``mu`` moves only at episode ends.

    Args:
      r_t: reward, ``(n_units,)`` or a scalar.
      mu_tm1: prediction before this step, same shape.
      alpha: online EMA rate in [0, 1], scalar.

    Returns:
      :class:`RewardPrediction` ``(rpe, mu)``, each of ``r_t``'s shape.

    Example:
      >>> out = reward_prediction_error(1.0, 0.0, 0.5)
      >>> float(out.rpe), float(out.mu)
      (1.0, 0.5)
    """
    return RewardPrediction(rpe=jnp.subtract(r_t, mu_tm1), mu=ema(mu_tm1, r_t, alpha))


def end_episode(
    mu: ArrayLike,
    accum_reward: ArrayLike,
    n_ep_steps: ArrayLike,
    ema_window_len: ArrayLike,
    done: ArrayLike = True,
) -> EpisodeFold:
    """Fold an episode's mean reward into the prediction (``RewardErrorCell.evolve``).

    ::

        mu <- (1 - 1/W) mu + (1/W) accum_reward / n_ep_steps      if done and n_ep_steps > 0
        accum_reward <- 0;  n_ep_steps <- 0                        if done

    ``W = ema_window_len``. An episode of no steps keeps ``mu`` (no 0/0), and an example
    whose episode has not ended (``done`` false) keeps everything. After ngc-learn's
    ``RewardErrorCell.evolve``, with the fixes of ``shared/reference/cells.md`` (run in both
    modes, no NaN after a reset, accumulators cleared).

    Args:
      mu: reward prediction, ``(n_units,)``.
      accum_reward: reward summed over the episode, ``(n_units,)``.
      n_ep_steps: steps taken in the episode, a scalar.
      ema_window_len: window ``W >= 1``, scalar.
      done: whether this example's episode ended, a scalar bool or 0/1.

    Returns:
      :class:`EpisodeFold` ``(mu, accum_reward, n_ep_steps)``, shapes as given.

    Example:
      >>> out = end_episode(jnp.ones(1), jnp.full(1, 6.0), 3.0, ema_window_len=4.0)
      >>> float(out.mu[0]), float(out.accum_reward[0]), float(out.n_ep_steps)
      (1.25, 0.0, 0.0)
    """
    mu, accum_reward, n = jnp.asarray(mu), jnp.asarray(accum_reward), jnp.asarray(n_ep_steps)
    ended = jnp.asarray(done).astype(bool)
    mean_reward = accum_reward / jnp.where(n > 0, n, 1.0)
    folded = ema(mu, mean_reward, 1.0 / ema_window_len)
    return EpisodeFold(
        mu=jnp.where(ended & (n > 0), folded, mu),
        accum_reward=jnp.where(ended, 0.0, accum_reward),
        n_ep_steps=jnp.where(ended, 0.0, n),
    )


# ----------------------------------------------------------------------------- error cells
def td_error(
    r_t: ArrayLike,
    discount_t: ArrayLike,
    v_tm1: ArrayLike,
    v_t: ArrayLike,
    modulator: ArrayLike = 1.0,
    mask: ArrayLike = 1.0,
) -> TDError:
    """The temporal-difference error of one transition (Sutton 1988), with its loss.

    ::

        delta  = r_t + discount_t v_t - v_tm1
        L      = -0.5 sum(mask delta^2)                  (a scalar, <= 0)
        dvalue = modulator mask delta                    = gated dL/dv_tm1, v_t held fixed

    ``discount_t = gamma (1 - done_t)``: zero after a terminal transition (not after a
    truncation, whose ``v_t`` still bootstraps). ``TDErrorCell.step``, whose ``done`` input
    enters through ``discount_t``. ``dvalue`` is the semi-gradient of TD(0).

    Args:
      r_t: reward of the transition, ``(n_units,)`` or a scalar.
      discount_t: discount in [0, 1], scalar or broadcastable.
      v_tm1: value of the state left, ``V(s_{t-1})``.
      v_t: value of the state reached, ``V(s_t)``.
      modulator: third factor on ``dvalue``, a scalar or broadcastable (default 1).
      mask: 0/1 entries to count in ``L`` and ``dvalue`` (default 1).

    Returns:
      :class:`TDError` ``(delta, L, dvalue)``; ``L`` is a scalar.

    Example:
      >>> out = td_error(1.0, 0.9, 0.0, 2.0)
      >>> round(float(out.delta), 4), round(float(out.L), 4)
      (2.8, -3.92)
    """
    delta = r_t + discount_t * jnp.asarray(v_t) - v_tm1
    return TDError(
        delta=delta,
        L=-0.5 * jnp.sum(mask * delta * delta),
        dvalue=modulator * mask * delta,
    )


def gaussian_error(
    mu: ArrayLike,
    target: ArrayLike,
    sigma: ArrayLike = 1.0,
    modulator: ArrayLike = 1.0,
    mask: ArrayLike = 1.0,
) -> GaussianError:
    """Gaussian log-likelihood of ``target`` under mean ``mu`` and variance ``sigma``.

    With ``e = target - mu`` and ``g = modulator * mask``::

        L       = -0.5 sum(mask e^2 / sigma)                     (a scalar, <= 0)
        dmu     = g e / sigma                                    = g dL/dmu
        dtarget = -g e / sigma                                   = g dL/dtarget
        dsigma  = sum_to_sigma(g 0.5 (e^2 / sigma^2 - 1 / sigma))

    ``dsigma`` is the derivative of the full log-likelihood ``-0.5 sum(e^2 / sigma + log
    sigma)``, gated per entry and summed to ``sigma``'s shape (a scalar for a shared
    variance). ``L`` counts entries where ``mask == 1``; ``modulator`` does not scale it.
    ``GaussianErrorCell.step`` (after ngc-learn's ``GaussianErrorCell``, with the fixes of
    ``shared/reference/cells.md``); its ``L`` is the sum of these over the batch, its
    ``dSigma`` the sum of ``dsigma``.

    Args:
      mu: prediction, ``(n_units,)``.
      target: observed value, ``(n_units,)``.
      sigma: variance ``> 0``, a scalar (shared) or ``(n_units,)``.
      modulator: third factor gating the ``d*`` outputs, scalar or ``(n_units,)``.
      mask: 0/1, scalar or ``(n_units,)``.

    Returns:
      :class:`GaussianError` ``(L, dmu, dtarget, dsigma)``: ``L`` scalar, ``dmu`` and
      ``dtarget`` ``(n_units,)``, ``dsigma`` of ``sigma``'s shape.

    Example:
      >>> out = gaussian_error(jnp.zeros(2), jnp.ones(2), 2.0)
      >>> float(out.L), float(out.dmu[0]), float(out.dsigma)
      (-0.5, 0.5, -0.25)
    """
    e = jnp.subtract(target, mu)
    gate = modulator * jnp.asarray(mask)
    dmu = gate * e / sigma
    d_sigma = gate * 0.5 * (e * e / (sigma * sigma) - 1.0 / sigma)
    return GaussianError(
        L=-0.5 * jnp.sum(mask * e * e / sigma),
        dmu=dmu,
        dtarget=-dmu,
        dsigma=_sum_to_shape(d_sigma, jnp.shape(sigma)),
    )


def laplacian_error(
    shift: ArrayLike,
    target: ArrayLike,
    scale: ArrayLike = 1.0,
    modulator: ArrayLike = 1.0,
    mask: ArrayLike = 1.0,
) -> LaplacianError:
    """Laplace log-likelihood of ``target`` under location ``shift`` and scale ``scale``.

    With ``e = target - shift`` and ``g = modulator * mask``::

        L       = -sum(mask |e|) / scale                         (a scalar, <= 0)
        dshift  = g sign(e) / scale                              = g dL/dshift
        dtarget = -g sign(e) / scale                             = g dL/dtarget
        dscale  = sum_to_scale(g (|e| / scale^2 - 1 / scale))

    ``dscale`` is the derivative of the full log-likelihood ``-sum(|e| / scale + log
    scale)``, gated per entry and summed to ``scale``'s shape. ``LaplacianErrorCell.step``
    (after ngc-learn's ``LaplacianErrorCell``, ``L`` from ``|e|`` as fixed in
    ``shared/reference/cells.md``).

    Args:
      shift: prediction (location), ``(n_units,)``.
      target: observed value, ``(n_units,)``.
      scale: scale ``> 0``, a scalar (shared) or ``(n_units,)``.
      modulator: third factor gating the ``d*`` outputs, scalar or ``(n_units,)``.
      mask: 0/1, scalar or ``(n_units,)``.

    Returns:
      :class:`LaplacianError` ``(L, dshift, dtarget, dscale)``: ``L`` scalar, ``dscale`` of
      ``scale``'s shape, the others ``(n_units,)``.

    Example:
      >>> out = laplacian_error(jnp.zeros(2), jnp.full(2, -3.0))
      >>> float(out.L), float(out.dshift[0]), float(out.dscale)
      (-6.0, -1.0, 4.0)
    """
    e = jnp.subtract(target, shift)
    gate = modulator * jnp.asarray(mask)
    abs_e = jnp.abs(e)
    dshift = gate * jnp.sign(e) / scale
    d_scale = gate * (abs_e / (scale * scale) - 1.0 / scale)
    return LaplacianError(
        L=-jnp.sum(mask * abs_e / scale),
        dshift=dshift,
        dtarget=-dshift,
        dscale=_sum_to_shape(d_scale, jnp.shape(scale)),
    )


def bernoulli_error(
    p: ArrayLike,
    target: ArrayLike,
    modulator: ArrayLike = 1.0,
    mask: ArrayLike = 1.0,
    *,
    input_logits: bool = False,
) -> BernoulliError:
    """Bernoulli log-likelihood of a 0/1 ``target`` under a probability or a logit ``p``.

    With ``q = sigmoid(p)`` (``input_logits=True``) or ``q = p``, clipped to
    ``[1e-4, 1 - 1e-4]``, and ``g = modulator * mask``::

        L       = sum(mask (target log q + (1 - target) log(1 - q)))   (a scalar, <= 0)
        dtarget = g (log q - log(1 - q))                                = g dL/dtarget
        dp      = g (target - q)                          logits:        g dL/dlogit
        dp      = g (target / q - (1 - target) / (1 - q)) probabilities: g dL/dq

    ``-L`` is the binary cross-entropy. With ``target`` the sampled action and ``modulator``
    the RPE, ``dp`` with logits is REINFORCE's ``(a - q) RPE`` (Williams 1992).
    ``BernoulliErrorCell.step`` (after ngc-learn's ``BernoulliErrorCell``, with the fixes of
    ``shared/reference/cells.md``).

    Args:
      p: probabilities in [0, 1], or logits if ``input_logits``, ``(n_units,)``.
      target: 0/1 outcome, ``(n_units,)``.
      modulator: third factor gating the ``d*`` outputs, scalar or ``(n_units,)``.
      mask: 0/1, scalar or ``(n_units,)``.
      input_logits: static: ``p`` holds logits.

    Returns:
      :class:`BernoulliError` ``(L, dp, dtarget)``; ``L`` is a scalar.

    Example:
      >>> out = bernoulli_error(0.0, 1.0, modulator=0.5, input_logits=True)
      >>> float(out.dp)  # (1 - sigmoid(0)) * 0.5
      0.25
    """
    t = jnp.asarray(target)
    q = jax.nn.sigmoid(p) if input_logits else jnp.asarray(p)
    q = jnp.clip(q, _BERNOULLI_CLIP, 1.0 - _BERNOULLI_CLIP)
    log_q, log_not_q = jnp.log(q), jnp.log1p(-q)
    raw_dp = t - q if input_logits else t / q - (1.0 - t) / (1.0 - q)
    gate = modulator * jnp.asarray(mask)
    return BernoulliError(
        L=jnp.sum(mask * (t * log_q + (1.0 - t) * log_not_q)),
        dp=gate * raw_dp,
        dtarget=gate * (log_q - log_not_q),
    )


def categorical_error(
    logits: ArrayLike,
    target: ArrayLike,
    modulator: ArrayLike = 1.0,
    mask: ArrayLike = 1.0,
) -> CategoricalError:
    """Log-probability of a one-hot ``target`` under a softmax over ``logits``.

    With ``pi = softmax(logits)`` over the last axis and ``g = modulator * mask``::

        L       = sum(mask target log pi)                (a scalar, <= 0)
        dlogits = g (target - pi)                        = g dL/dlogits  (one-hot target)

    With ``modulator`` the RPE, ``dlogits`` is REINFORCE's direction for a softmax policy
    (Williams 1992). ``CategoricalErrorCell.step``.

    Args:
      logits: action logits, ``(n_actions,)``.
      target: one-hot action taken, ``(n_actions,)``.
      modulator: third factor gating ``dlogits``, scalar or ``(n_actions,)``.
      mask: 0/1, scalar (the usual: one per sample) or ``(n_actions,)``.

    Returns:
      :class:`CategoricalError` ``(L, dlogits)``; ``L`` is a scalar.

    Example:
      >>> out = categorical_error(jnp.zeros(4), jnp.asarray([0.0, 1.0, 0.0, 0.0]))
      >>> round(float(out.L), 4), float(out.dlogits[1])  # log(1/4), 1 - 1/4
      (-1.3863, 0.75)
    """
    t = jnp.asarray(target)
    log_pi = jax.nn.log_softmax(logits, axis=-1)
    return CategoricalError(
        L=jnp.sum(mask * t * log_pi),
        dlogits=modulator * jnp.asarray(mask) * (t - jnp.exp(log_pi)),
    )


# -------------------------------------------------------------------------- neuron dynamics
def rate_cell_step(
    z: ArrayLike,
    j: ArrayLike,
    j_td: ArrayLike,
    dt: ArrayLike,
    tau_m: ArrayLike,
    *,
    gamma: ArrayLike = 0.0,
    prior: str | Elementwise = "gaussian",
    act_fx: str | tuple[Elementwise, Elementwise] = "identity",
    output_scale: ArrayLike = 1.0,
    threshold: str | Callable = "none",
    threshold_lambda: ArrayLike = 0.0,
    integration_type: str | Callable = "euler",
    resist_scale: ArrayLike = 1.0,
    omega_0: float = 30.0,
) -> RateStep:
    """One step of ``dt`` ms of a predictive-coding rate unit (``RateCell.step``).

    ::

        jm          = j f'(z_before_step) resist_scale           (held over integrator stages)
        tau_m dz/dt = -gamma phi(z) + jm + j_td
        z           <- threshold(integrate(z, dt), threshold_lambda)
        zF          = output_scale f(z)

    With ``tau_m <= 0`` the unit is stateless: ``z = j + j_td`` (no threshold). A concrete
    ``tau_m`` (a Python or NumPy number, as a cell's) picks the branch when the step is traced;
    a traced one computes both and picks per value. ``phi`` is the prior's leak
    (:mod:`rpe.priors`), ``f`` the activation (:mod:`rpe.activations`).
    After ngc-learn's ``RateCell`` (Ororbia & Kifer 2022, neural generative coding), with
    the fixes of ``shared/reference/cells.md`` (the input ``j`` is never overwritten).

    Args:
      z: state before the step, ``(n_units,)``.
      j: bottom-up pressure, ``(n_units,)``.
      j_td: top-down pressure, ``(n_units,)``.
      dt: step in ms (0 leaves ``z`` unmoved and just reads ``zF``).
      tau_m: membrane time constant in ms, scalar; ``<= 0`` means stateless.
      gamma: strength of the prior's leak.
      prior: a name in :data:`rpe.priors.PRIORS` or the leak function ``phi`` itself.
      act_fx: a name in :data:`rpe.activations.ACTIVATIONS` or a pair ``(f, df)``.
      output_scale: factor on ``f(z)``.
      threshold: a name in :data:`rpe.thresholds.THRESHOLDS` or ``threshold(z, lam)``.
      threshold_lambda: ``lam >= 0`` of the threshold.
      integration_type: a name in :data:`rpe.integrators.INTEGRATORS` or
        ``step(f, z, dt)``.
      resist_scale: factor on the modulated bottom-up input.
      omega_0: static frequency of the ``sine`` activation.

    Returns:
      :class:`RateStep` ``(z, zF)``, each ``(n_units,)``.

    Raises:
      ValueError: an unknown prior, activation, threshold or integrator name.

    Example:
      >>> out = rate_cell_step(jnp.zeros(2), jnp.ones(2), jnp.zeros(2), 1.0, 10.0, gamma=1.0)
      >>> round(float(out.z[0]), 6)  # dt / tau_m * j
      0.1
    """
    phi = prior if callable(prior) else get_prior(prior)
    f, df = act_fx if isinstance(act_fx, tuple) else get_activation(act_fx, omega_0)
    shrink = threshold if callable(threshold) else get_threshold(threshold)
    integrate = integration_type if callable(integration_type) else get_integrator(integration_type)
    z, j, j_td = jnp.asarray(z), jnp.asarray(j), jnp.asarray(j_td)

    def settle(tau):
        drive = j * df(z) * resist_scale + j_td

        def dz_ds(z):  # in units of tau_m: dz/dt = dz/ds / tau_m
            return drive - gamma * phi(z)

        # A step of dt ms is a step of dt / tau_m in s = t / tau_m: the same scheme, one
        # multiply less per stage and element.
        return shrink(integrate(dz_ds, z, dt / tau), threshold_lambda)

    if _is_concrete(tau_m):
        z = settle(tau_m) if tau_m > 0.0 else j + j_td
    else:
        stateful = jnp.asarray(tau_m) > 0.0
        z = jnp.where(stateful, settle(jnp.where(stateful, tau_m, 1.0)), j + j_td)
    return RateStep(z=z, zF=output_scale * f(z))


def leaky_noise_step(
    x: ArrayLike,
    j_input: ArrayLike,
    j_recurrent: ArrayLike,
    dt: ArrayLike,
    tau_x: ArrayLike,
    eps_pre: ArrayLike | None,
    eps_post: ArrayLike | None = None,
    *,
    sigma_pre: ArrayLike = 0.1,
    sigma_post: ArrayLike = 0.0,
    leak_scale: ArrayLike = 1.0,
    output_scale: ArrayLike = 1.0,
    act_fx: str | tuple[Elementwise, Elementwise] = "relu",
    integration_type: str | Callable = "euler",
    omega_0: float = 30.0,
) -> LeakyNoiseStep:
    """One Euler-Maruyama step of ``dt`` ms of noisy leaky rate units (``LeakyNoiseCell.step``).

    The SDE ``tau_x dx = (-leak_scale x + j_recurrent + j_input) dt + sqrt(2 tau_x) sigma_pre
    dW``, its deterministic part by the chosen integrator and its noise as Euler-Maruyama::

        x       <- integrate(x, dt) + sqrt(2 dt / tau_x) sigma_pre eps_pre
        r       =  output_scale f(x) + sigma_post eps_post
        r_prime =  output_scale f'(x)

    ``eps_pre`` and ``eps_post`` are independent standard-normal draws made by the caller
    (the cell uses :func:`rpe.noise.normal` on two keys split from its step key), so the
    kernel is a pure function of its inputs; ``None`` leaves its noise term out (what a zero
    draw gives, without the arithmetic: the cell passes it for a concrete zero ``sigma``).
    Song, Yang & Wang (2016), with ``alpha = dt / tau_x``; after ngc-learn's
    ``LeakyNoiseCell``, with the fixes of ``shared/reference/cells.md``.

    Args:
      x: state before the step, ``(n_units,)``.
      j_input: input current, ``(n_units,)``.
      j_recurrent: recurrent current, ``(n_units,)``.
      dt: step in ms.
      tau_x: time constant in ms, ``> 0``.
      eps_pre: N(0, 1) noise on the state, ``(n_units,)``, or None (or 0) for none.
      eps_post: N(0, 1) noise on the rate, ``(n_units,)``, or None (the default) for none.
      sigma_pre: std of the state noise, ``>= 0``.
      sigma_post: std of the rate noise, ``>= 0``.
      leak_scale: strength of the leak.
      output_scale: factor on ``f(x)`` and ``f'(x)``.
      act_fx: a name in :data:`rpe.activations.ACTIVATIONS` or a pair ``(f, df)``.
      integration_type: a name in :data:`rpe.integrators.INTEGRATORS` or ``step(f, x, dt)``.
      omega_0: static frequency of the ``sine`` activation.

    Returns:
      :class:`LeakyNoiseStep` ``(x, r, r_prime)``, each ``(n_units,)``.

    Raises:
      ValueError: an unknown activation or integrator name.

    Example:
      >>> out = leaky_noise_step(jnp.zeros(3), jnp.ones(3), jnp.zeros(3), 1.0, 10.0, 0.0)
      >>> round(float(out.x[0]), 6), round(float(out.r[0]), 6)  # dt / tau_x * j_input
      (0.1, 0.1)
    """
    f, df = act_fx if isinstance(act_fx, tuple) else get_activation(act_fx, omega_0)
    integrate = integration_type if callable(integration_type) else get_integrator(integration_type)
    drive = jnp.add(j_input, j_recurrent)

    def dx_dt(x):
        return (drive - leak_scale * x) / tau_x

    x = integrate(dx_dt, jnp.asarray(x), dt)
    if eps_pre is not None:
        x = x + jnp.sqrt(2.0 * dt / tau_x) * sigma_pre * eps_pre
    r = output_scale * f(x)
    if eps_post is not None:
        r = r + sigma_post * eps_post
    return LeakyNoiseStep(x=x, r=r, r_prime=output_scale * df(x))


# --------------------------------------------------------------------------- learning rules
def hebbian_update(pre: ArrayLike, post: ArrayLike, eta: ArrayLike = 1.0) -> jax.Array:
    """One sample's Hebbian weight change (Hebb 1949): ``dW = eta pre^T post``, or a batch's sum.

    ::

        dW = eta pre^T post                     one sample: pre (n_in,), post (n_out,)
        dW = eta sum_b pre_b^T post_b           a batch: pre (B, n_in), post (B, n_out)

    The batch form is the sum of the per-sample updates, computed as one matrix product
    ``eta pre^T post`` (summing ``jax.vmap`` of the one-sample form gives the same, but XLA
    does not always make a matrix product of it: ~20x slower for ``B = 16``,
    ``n_in = 1000``). :func:`rpe.hebbian` calls it on the batch (then divides by ``B`` for
    ``reduce="mean"``); so does :func:`rpe.three_factor` without a trace, with ``m post`` as
    ``post`` (see :func:`three_factor_update`).

    Args:
      pre: presynaptic activity, ``(n_in,)``, or a batch ``(B, n_in)``.
      post: postsynaptic signal, ``(n_out,)``, or a batch ``(B, n_out)``.
      eta: learning rate.

    Returns:
      ``dW``, ``(n_in, n_out)``.

    Example:
      >>> hebbian_update(jnp.asarray([1.0, 2.0]), jnp.asarray([3.0]), eta=0.5).tolist()
      [[1.5], [3.0]]
    """
    pre = jnp.asarray(pre)
    if pre.ndim == 1:
        return eta * jnp.outer(pre, post)
    return eta * (pre.T @ jnp.asarray(post))


def eligibility_trace(
    trace_tm1: ArrayLike, pre: ArrayLike, post: ArrayLike, dt: ArrayLike, tau_e: ArrayLike
) -> jax.Array:
    """One sample's eligibility trace of a three-factor rule, one step of ``dt`` ms.

    ::

        E_t = exp(-dt / tau_e) E_tm1 + pre^T post

    After Gerstner et al. (2018), "Eligibility traces and plasticity on behavioral time
    scales"; the trace of :func:`rpe.three_factor` with ``tau_e`` set.

    Args:
      trace_tm1: the trace before this step, ``(n_in, n_out)``.
      pre: presynaptic activity, ``(n_in,)``.
      post: postsynaptic signal, ``(n_out,)``.
      dt: step in ms.
      tau_e: eligibility time constant in ms, ``> 0``.

    Returns:
      ``E_t``, ``(n_in, n_out)``.

    Example:
      >>> float(eligibility_trace(jnp.ones((1, 1)), jnp.ones(1), jnp.ones(1), 0.0, 5.0)[0, 0])
      2.0
    """
    return jnp.exp(-dt / tau_e) * trace_tm1 + jnp.outer(pre, post)


def three_factor_update(eligibility: ArrayLike, modulator: ArrayLike, eta: ArrayLike = 1.0) -> jax.Array:
    """One sample's three-factor weight change: ``dW = eta m E``.

    ``E`` is an :func:`eligibility_trace` or the Hebbian term ``pre^T post``; ``m`` is the
    third factor (e.g. the RPE), a scalar or one value per postsynaptic unit ``(n_out,)``.
    :func:`rpe.three_factor` sums (or averages) these over a batch and then, only if asked,
    subtracts ``eta weight_decay W`` once. Without a trace it uses ``m E = pre^T (m post)``
    and calls the batch form of :func:`hebbian_update` with ``m post`` as ``post``: one
    matrix product for the whole batch. After Gerstner et al. (2018).

    Args:
      eligibility: ``E``, ``(n_in, n_out)``.
      modulator: ``m``, a scalar or ``(n_out,)``.
      eta: learning rate.

    Returns:
      ``dW``, ``(n_in, n_out)``.

    Example:
      >>> float(three_factor_update(jnp.ones((3, 1)), -2.0, eta=0.5)[0, 0])
      -1.0
    """
    return eta * (modulator * jnp.asarray(eligibility))


def node_perturbation_eligibility(eligibility: ArrayLike, pre: ArrayLike, xi: ArrayLike) -> jax.Array:
    """Fiete & Seung's (2006) node-perturbation eligibility: ``E += pre^T xi``, one step or a trial.

    ::

        E += pre^T xi                           one step: pre (n_in,), xi (n_out,)
        E += sum_t pre_t^T xi_t                 a trial: pre (T, n_in), xi (T, n_out)

    The trial form is the same sums as ``T`` steps, by one contraction over time. Fed the
    cubes ``pre^3`` and ``(x - x_bar)^3`` it gives Miconi's eligibility
    (:func:`supralinear_eligibility_trial`).

    Args:
      eligibility: ``E`` before this step (or trial), ``(n_in, n_out)``.
      pre: presynaptic activity, ``(n_in,)``, or its sequence over a trial ``(T, n_in)``.
      xi: perturbation injected into the postsynaptic units, ``(n_out,)`` or ``(T, n_out)``.

    Returns:
      ``E``, ``(n_in, n_out)``; one sample of ``node_perturbation(...).accumulate`` (or of
      its ``accumulate_trial``).

    Example:
      >>> node_perturbation_eligibility(jnp.zeros((1, 2)), jnp.ones(1), jnp.asarray([0.5, -1.0])).tolist()
      [[0.5, -1.0]]
    """
    pre = jnp.asarray(pre)
    if pre.ndim == 1:
        return eligibility + jnp.outer(pre, xi)
    return eligibility + jnp.einsum("tj,ti->ji", pre, xi)


def supralinear_eligibility(
    eligibility: ArrayLike, x_bar: ArrayLike, pre: ArrayLike, x: ArrayLike, alpha_x: ArrayLike
) -> SupralinearEligibility:
    """One step of Miconi's (2017, eLife 6:e20899) supralinear eligibility.

    ::

        E     <- E + (pre^T (x - x_bar))^3            (elementwise cube of the outer product)
        x_bar <- (1 - alpha_x) x_bar + alpha_x x     (:func:`ema`)

    ``x_bar`` is a running mean of the units' activity; the cube keeps the sign of the
    input-deviation correlation while favouring the rare large (perturbed) deviations.

    Args:
      eligibility: ``E`` before this step, ``(n_in, n_out)``.
      x_bar: running mean of ``x`` before this step, ``(n_out,)``.
      pre: presynaptic activity, ``(n_in,)``.
      x: the units' activity this step, ``(n_out,)``.
      alpha_x: rate of the running mean, in (0, 1].

    Returns:
      :class:`SupralinearEligibility` ``(eligibility, x_bar)``; one sample of
      ``supralinear_node_perturbation(...).accumulate``.

    Example:
      >>> e, x_bar = jnp.zeros((1, 1)), jnp.full(1, 0.5)
      >>> out = supralinear_eligibility(e, x_bar, jnp.full(1, 2.0), jnp.ones(1), alpha_x=0.5)
      >>> float(out.eligibility[0, 0]), float(out.x_bar[0])  # (2 * 0.5)^3
      (1.0, 0.75)
    """
    deviation = jnp.subtract(x, x_bar)
    contribution = jnp.outer(pre, deviation)
    return SupralinearEligibility(eligibility=eligibility + contribution**3, x_bar=ema(x_bar, x, alpha_x))


def supralinear_eligibility_trial(
    eligibility: ArrayLike, x_bar: ArrayLike, pre_seq: ArrayLike, x_seq: ArrayLike, alpha_x: ArrayLike
) -> SupralinearEligibility:
    """A whole trial of :func:`supralinear_eligibility` at once, from sequences over time.

    ::

        E += sum_t pre_t^3 (x_t - x_bar_{t-1})^3 (as an outer product per t)

    the same sums as ``T`` steps of :func:`supralinear_eligibility`, by one contraction over
    time (the cube of a product is the product of cubes: the trial form of
    :func:`node_perturbation_eligibility` fed the cubes); ``x_bar`` by a scan of :func:`ema`.
    One sample of ``supralinear_node_perturbation(...).accumulate_trial``.

    Args:
      eligibility: ``E`` before the trial, ``(n_in, n_out)``.
      x_bar: running mean before the trial, ``(n_out,)``.
      pre_seq: presynaptic activity, ``(T, n_in)``.
      x_seq: the units' activity, ``(T, n_out)``.
      alpha_x: rate of the running mean, in (0, 1].

    Returns:
      :class:`SupralinearEligibility` ``(eligibility, x_bar)`` after the trial.

    Example:
      >>> e, x_bar, ones = jnp.zeros((1, 1)), jnp.zeros(1), jnp.ones((2, 1))
      >>> out = supralinear_eligibility_trial(e, x_bar, ones, ones, alpha_x=0.5)
      >>> float(out.eligibility[0, 0]), float(out.x_bar[0])  # 1^3 + 0.5^3
      (1.125, 0.75)
    """

    def running_mean(x_bar_tm1, x_t):
        return ema(x_bar_tm1, x_t, alpha_x), x_t - x_bar_tm1

    x_bar, deviation = jax.lax.scan(running_mean, jnp.asarray(x_bar), jnp.asarray(x_seq))
    eligibility = node_perturbation_eligibility(eligibility, jnp.asarray(pre_seq) ** 3, deviation**3)
    return SupralinearEligibility(eligibility=eligibility, x_bar=x_bar)


def node_perturbation_update(
    eligibility: ArrayLike,
    performance: ArrayLike,
    baseline: ArrayLike,
    eta: ArrayLike,
    *,
    signal: str = "reward",
) -> jax.Array:
    """One sample's trial-end node-perturbation weight change.

    ::

        dW = +eta (R - R_bar) E        signal="reward" (higher is better; Fiete & Seung 2006)
        dW = -eta (R - R_bar) E        signal="error"  (lower is better; Miconi 2017)

    ``R`` is the trial's performance and ``R_bar`` its expectation (e.g. a reward
    predictor's ``mu``, :func:`reward_prediction_error`); the caller then clears ``E``.
    The rules of :mod:`rpe.node_perturbation` sum (or average) these over a batch.

    Args:
      eligibility: ``E`` accumulated over the trial, ``(n_in, n_out)``.
      performance: ``R``, a scalar or ``(n_out,)``.
      baseline: ``R_bar``, a scalar or ``(n_out,)``.
      eta: learning rate.
      signal: static: ``"reward"`` or ``"error"``.

    Returns:
      ``dW``, ``(n_in, n_out)``.

    Raises:
      ValueError: ``signal`` is neither ``"reward"`` nor ``"error"``.

    Example:
      >>> float(node_perturbation_update(jnp.ones((1, 1)), 1.0, 0.25, 2.0, signal="error")[0, 0])
      -1.5
    """
    sign = 1.0 if check_signal(signal) == "reward" else -1.0
    advantage = jnp.subtract(performance, baseline)
    return sign * eta * (advantage * jnp.asarray(eligibility))


def adaptive_step(
    update: ArrayLike,
    m_tm1: ArrayLike,
    v_tm1: ArrayLike,
    count: ArrayLike,
    eta: ArrayLike,
    beta1: ArrayLike = 0.9,
    beta2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-9,
) -> AdaptiveStep:
    """A synapse's update ``g`` rescaled by the running size of its own updates (Adam).

    ::

        m  = beta1 m_tm1 + (1 - beta1) g
        v  = beta2 v_tm1 + (1 - beta2) g^2
        dw = eta (m / (1 - beta1^count)) / (sqrt(v / (1 - beta2^count)) + eps)

    Elementwise: each synapse reads only its own history, so a local rule stays local (a
    synapse that has moved a lot moves in smaller steps, a form of metaplasticity). ``count``
    is the number of updates so far, this one included (``>= 1``). After Kingma & Ba (2015),
    as MAP propagation (Chung 2021) scales its local updates.

    Args:
      update: ``g``, the rule's raw change (any shape).
      m_tm1, v_tm1: the running first and second moments, ``g``'s shape (zeros at first).
      count: updates so far including this one, a scalar ``>= 1``.
      eta: step size: ``|dw|`` is about ``eta`` whatever the scale of ``g``.
      beta1, beta2: decay of the moments, in [0, 1).
      eps: added to the root of the second moment.

    Returns:
      :class:`AdaptiveStep` ``(dw, m, v)``.

    Example:
      >>> out = adaptive_step(jnp.asarray([4.0, -0.01]), jnp.zeros(2), jnp.zeros(2), 1, 0.1)
      >>> [round(x, 6) for x in out.dw.tolist()]  # the first step is eta sign(g)
      [0.1, -0.1]
    """
    g = jnp.asarray(update)
    m = beta1 * jnp.asarray(m_tm1) + (1.0 - beta1) * g
    v = beta2 * jnp.asarray(v_tm1) + (1.0 - beta2) * g * g
    m_hat = m / (1.0 - jnp.power(beta1, count))
    v_hat = v / (1.0 - jnp.power(beta2, count))
    return AdaptiveStep(dw=eta * m_hat / (jnp.sqrt(v_hat) + eps), m=m, v=v)


def check_signal(signal: str) -> str:
    """``signal`` if it is ``"reward"`` or ``"error"`` (what :func:`node_perturbation_update`
    accepts; the rules check it when built).

    Raises:
      ValueError: any other value, named.
    """
    if signal not in ("reward", "error"):
        raise ValueError(f"signal: expected 'reward' (higher is better) or 'error', got {signal!r}")
    return signal


# ---------------------------------------------------------------------------------- helpers
def _is_concrete(value) -> bool:
    """True for a Python or NumPy real number: known while tracing, so it may pick a branch."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _sum_to_shape(x: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Sum ``x`` down to ``shape`` (which broadcasts to ``x``'s shape): over the leading
    axes ``shape`` lacks and over the axes where ``shape`` is 1."""
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1
    )
    return jnp.sum(x, axis=axes).reshape(shape) if axes else x
