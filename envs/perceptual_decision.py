"""A perceptual decision task (random-dots style) as a ``FuncEnv``, in steps of ``dt`` ms.

Each trial draws a signed coherence ``c`` from ``coherences``. The observation is two input
channels, ``[1 + e_t, 1 - e_t]`` during the stimulus and ``[0, 0]`` after it, with noisy
evidence ``e_t = c + evidence_noise * N(0, 1)`` drawn afresh at every step. After a delay
comes the response window, where the action ``z`` (``Box(-1, 1, (1,))``) should sit at
``target = sign(c)``. Each step in the window pays ``-|z - target| / n_response``, so the
trial's return is minus the mean absolute error over the window (between -2 and 0). A
trial is *correct* when the sign of ``z`` summed over the window matches the target
(:meth:`PerceptualDecision.correct`). Trials terminate after ``trial_steps`` steps.

Timeline (defaults, dt = 2 ms)::

    | stimulus 100 ms | delay 100 ms | response 100 ms |
      steps 0..49       50..99          100..149

After the tasks trained in Miconi (2017, eLife 6:e20899) and Song, Yang & Wang (2016).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

from rpe.validation import check_real

__all__ = ["PerceptualDecision", "PerceptualDecisionState"]


class PerceptualDecisionState(NamedTuple):
    """``time ()``: step within the trial; ``coherence ()``: the trial's signed coherence;
    ``response ()``: the actions summed over the response window so far."""

    time: jax.Array
    coherence: jax.Array
    response: jax.Array


class PerceptualDecision(FuncEnv):
    observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(
        self,
        coherences: tuple[float, ...] = (-0.4, -0.2, -0.1, 0.1, 0.2, 0.4),
        evidence_noise: float = 0.5,
        dt: float = 2.0,
        stimulus_ms: float = 100.0,
        delay_ms: float = 100.0,
        response_ms: float = 100.0,
    ):
        cohs = np.asarray(coherences, np.float32)
        if cohs.ndim != 1 or cohs.size == 0 or not np.all(np.isfinite(cohs)) or np.any(cohs == 0):
            raise ValueError(
                f"coherences: expected a non-empty list of finite non-zero values, got {coherences}"
            )
        self.dt = check_real("dt", dt, low=0.0, low_open=True)
        self.evidence_noise = check_real("evidence_noise", evidence_noise, low=0.0)
        steps = {}
        for name, ms in (("stimulus_ms", stimulus_ms), ("delay_ms", delay_ms), ("response_ms", response_ms)):
            n = round(check_real(name, ms, low=0.0) / self.dt)
            if n < 1 and name != "delay_ms":
                raise ValueError(f"{name}: must last at least one step of dt={self.dt} ms, got {ms}")
            steps[name] = n
        self.stimulus_steps = steps["stimulus_ms"]
        self.response_start = self.stimulus_steps + steps["delay_ms"]
        self.trial_steps = self.response_start + steps["response_ms"]
        self.coherences = jnp.asarray(cohs)
        super().__init__()
        self.max_episode_steps = self.trial_steps + 1  # the trial terminates first

    def initial(self, rng, params=None) -> PerceptualDecisionState:
        c = jax.random.choice(rng, self.coherences)
        return PerceptualDecisionState(jnp.zeros((), jnp.int32), c, jnp.zeros((), jnp.float32))

    def in_response(self, time: jax.Array) -> jax.Array:
        """Whether step ``time`` lies in the response window."""
        return (time >= self.response_start) & (time < self.trial_steps)

    def target(self, state: PerceptualDecisionState) -> jax.Array:
        """The correct response, ``sign(coherence)``: +1 or -1."""
        return jnp.sign(state.coherence)

    def correct(self, state: PerceptualDecisionState) -> jax.Array:
        """Whether the summed response has the target's sign (read it before the autoreset)."""
        return jnp.sign(state.response) == self.target(state)

    def transition(self, state, action, rng=None, params=None) -> PerceptualDecisionState:
        z = jnp.reshape(jnp.asarray(action, jnp.float32), ())
        response = state.response + jnp.where(self.in_response(state.time), z, 0.0)
        return PerceptualDecisionState(state.time + 1, state.coherence, response)

    def observation(self, state, rng=None, params=None) -> jax.Array:
        noise = jax.random.normal(rng, ()) if rng is not None else 0.0
        evidence = state.coherence + self.evidence_noise * noise
        on = (state.time < self.stimulus_steps).astype(jnp.float32)
        return on * jnp.stack([1.0 + evidence, 1.0 - evidence]).astype(jnp.float32)

    def reward(self, state, action, next_state, rng=None, params=None) -> jax.Array:
        z = jnp.reshape(jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0), ())
        n_response = self.trial_steps - self.response_start
        error = jnp.abs(z - self.target(state)) / n_response
        return jnp.where(self.in_response(state.time), -error, 0.0).astype(jnp.float32)

    def terminal(self, state, rng=None, params=None) -> jax.Array:
        return state.time >= self.trial_steps
