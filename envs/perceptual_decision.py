"""Trial tasks answered in a response window (:class:`ResponseTask`), and a perceptual
decision task (random-dots style, :class:`PerceptualDecision`) built on it, in steps of ``dt`` ms.

**Response tasks.** One trial is one episode of ``trial_steps`` steps; it terminates at its
last step (the time limit, ``max_episode_steps = trial_steps + 1``, never binds). The
action ``z`` (``Box(-1, 1, (1,))``) counts only in the response window, the last
``trial_steps - response_start`` steps, where it should sit at the trial's ``target`` (+1
or -1). Each step in the window pays ``-|clip(z, -1, 1) - target| / n_response``, so the
trial's return is minus the mean absolute error over the window (between -2 and 0); other
steps pay 0. A trial is *correct* when the sign of ``z`` summed over the window matches the
target (:meth:`ResponseTask.correct`); for ``|z| <= 1`` that is Miconi's (2017) criterion,
mean error below 1. Each transition reports neurogym's keys (:meth:`ResponseTask.transition_info`,
the ``info`` of the Gymnasium form ``envs.make(id)``): ``new_trial`` (True on the trial's
last step), ``performance`` (1.0 or 0.0 on the last step: correct or not; 0.0 before) and
``gt`` (the correct action at this step: the target in the response window, 0 elsewhere).

**Perceptual decision.** Each trial draws a signed coherence ``c`` from ``coherences``. The
observation is two input channels, ``[1 + e_t, 1 - e_t]`` during the stimulus and
``[0, 0]`` after it, with noisy evidence ``e_t = c + evidence_noise * N(0, 1)`` drawn afresh
at every step; ``target = sign(c)``. ``params`` (:class:`PerceptualDecisionParams`) holds
``evidence_noise``, so ``jax.vmap`` can run envs with different noise.

Timeline (defaults, dt = 2 ms)::

    | stimulus 100 ms | delay 100 ms | response 100 ms |
      steps 0..49       50..99          100..149

After the tasks trained in Miconi (2017, eLife 6:e20899) and Song, Yang & Wang (2016).

Example::

    task = PerceptualDecision()
    state, obs = env_reset(task, jax.random.key(0))            # obs (2,)
    state, ts = env_step(task, state, jnp.asarray([0.5]), jax.random.key(1))
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

from rpe.validation import check_real

__all__ = [
    "PerceptualDecision",
    "PerceptualDecisionParams",
    "PerceptualDecisionState",
    "ResponseTask",
    "check_coherences",
    "period_steps",
]


def check_coherences(coherences) -> np.ndarray:
    """``coherences`` as a float32 array: a non-empty list of finite, non-zero signed
    coherences (a zero coherence has no correct answer).

    Raises:
      ValueError: anything else, naming ``coherences``.
    """
    cohs = np.asarray(coherences, np.float32)
    if cohs.ndim != 1 or cohs.size == 0 or not np.all(np.isfinite(cohs)) or np.any(cohs == 0):
        raise ValueError(f"coherences: expected a non-empty list of finite non-zero values, got {coherences}")
    return cohs


def period_steps(dt: float, periods: dict[str, float], required: tuple[str, ...]) -> dict[str, int]:
    """Each period's length in steps of ``dt`` ms (rounded), by the name of its argument.

    Args:
      dt: the step, ms (already checked positive).
      periods: argument name (e.g. ``"stimulus_ms"``) -> duration, ms.
      required: the names that must last at least one step (the others may be 0).

    Raises:
      ValueError: a negative or non-finite duration, or a required one shorter than a step.
    """
    steps = {}
    for name, ms in periods.items():
        n = round(check_real(name, ms, low=0.0) / dt)
        if n < 1 and name in required:
            raise ValueError(f"{name}: must last at least one step of dt={dt} ms, got {ms}")
        steps[name] = n
    return steps


class ResponseTask(FuncEnv):
    """What the trial tasks answered in a response window share (see the module docstring).

    A subclass checks ``dt`` and its periods, calls ``super().__init__(dt, response_start,
    response_steps)`` once its default params can be made, and defines ``initial``,
    ``observation`` and :meth:`target`. Its state is a NamedTuple with ``time ()`` (the
    step within the trial) and ``response ()`` (the actions summed over the response window
    so far); its params a NamedTuple (``None`` in every method means the defaults).
    """

    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, dt: float, response_start: int, response_steps: int):
        self.dt = dt
        self.response_start = response_start
        self.trial_steps = response_start + response_steps
        super().__init__()
        self.max_episode_steps = self.trial_steps + 1  # the trial terminates first

    def _params(self, params):
        return self.default_params if params is None else params

    def in_response(self, time: jax.Array) -> jax.Array:
        """Whether step ``time`` lies in the response window."""
        return (time >= self.response_start) & (time < self.trial_steps)

    def target(self, state) -> jax.Array:
        """The correct response of the trial in ``state``: +1.0 or -1.0."""
        raise NotImplementedError

    def correct(self, state) -> jax.Array:
        """Whether the summed response has the target's sign (read it before the autoreset)."""
        return jnp.sign(state.response) == self.target(state)

    def transition(self, state, action, rng=None, params=None):
        z = jnp.reshape(jnp.asarray(action, jnp.float32), ())
        response = state.response + jnp.where(self.in_response(state.time), z, 0.0)
        return state._replace(time=state.time + 1, response=response)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        z = jnp.reshape(jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0), ())
        n_response = self.trial_steps - self.response_start
        error = jnp.abs(z - self.target(state)) / n_response
        return jnp.where(self.in_response(state.time), -error, 0.0).astype(jnp.float32)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        return state.time >= self.trial_steps

    def transition_info(self, state, action, next_state, params=None) -> dict:
        """neurogym's keys for the step ``state -> next_state``; pure, jit-safe.

        ``new_trial ()`` bool: this step ends the trial; ``performance ()`` float32: 1.0 if
        the trial ended correct, else 0.0 (always 0.0 before its last step); ``gt ()``
        float32: the correct action at this step (the target in the window, 0 elsewhere).
        """
        new_trial = self.terminal(next_state)
        performance = (new_trial & self.correct(next_state)).astype(jnp.float32)
        gt = jnp.where(self.in_response(state.time), self.target(state), 0.0).astype(jnp.float32)
        return {"new_trial": new_trial, "performance": performance, "gt": gt}


class PerceptualDecisionParams(NamedTuple):
    """``evidence_noise``: the standard deviation of the evidence's noise per step (a float,
    or an array batched under ``vmap``)."""

    evidence_noise: float = 0.5


class PerceptualDecisionState(NamedTuple):
    """``time ()``: step within the trial; ``coherence ()``: the trial's signed coherence;
    ``response ()``: the actions summed over the response window so far."""

    time: jax.Array
    coherence: jax.Array
    response: jax.Array


class PerceptualDecision(ResponseTask):
    observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)

    def __init__(
        self,
        coherences: tuple[float, ...] = (-0.4, -0.2, -0.1, 0.1, 0.2, 0.4),
        evidence_noise: float = 0.5,
        dt: float = 2.0,
        stimulus_ms: float = 100.0,
        delay_ms: float = 100.0,
        response_ms: float = 100.0,
    ):
        cohs = check_coherences(coherences)
        dt = check_real("dt", dt, low=0.0, low_open=True)
        self.evidence_noise = check_real("evidence_noise", evidence_noise, low=0.0)
        steps = period_steps(
            dt,
            {"stimulus_ms": stimulus_ms, "delay_ms": delay_ms, "response_ms": response_ms},
            required=("stimulus_ms", "response_ms"),
        )
        self.stimulus_steps = steps["stimulus_ms"]
        self.coherences = jnp.asarray(cohs)
        super().__init__(dt, self.stimulus_steps + steps["delay_ms"], steps["response_ms"])

    def get_default_params(self, **kwargs) -> PerceptualDecisionParams:
        return PerceptualDecisionParams(self.evidence_noise)

    def initial(self, rng, params=None) -> PerceptualDecisionState:
        c = jax.random.choice(rng, self.coherences)
        return PerceptualDecisionState(jnp.zeros((), jnp.int32), c, jnp.zeros((), jnp.float32))

    def target(self, state: PerceptualDecisionState) -> jax.Array:
        """The correct response, ``sign(coherence)``: +1 or -1."""
        return jnp.sign(state.coherence)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        noise = jax.random.normal(rng, ()) if rng is not None else 0.0
        evidence = state.coherence + self._params(params).evidence_noise * noise
        on = (state.time < self.stimulus_steps).astype(jnp.float32)
        return on * jnp.stack([1.0 + evidence, 1.0 - evidence]).astype(jnp.float32)
