"""Context-dependent integration (Mante et al. 2013) as Song, Yang & Wang (2016) trained it,
as a ``FuncEnv``.

Mante, V., Sussillo, D., Shenoy, K. V. & Newsome, W. T. (2013). Context-dependent
computation by recurrent dynamics in prefrontal cortex. Nature 503:78-84. Song, H. F.,
Yang, G. R. & Wang, X.-J. (2016). Training excitatory-inhibitory recurrent neural networks
for cognitive tasks: a simple and flexible framework. PLoS Comput Biol 12:e1004792 (Fig 3;
timings from its code, ``examples/models/mante.py`` of github.com/frsong/pycog: fixation
300 ms, stimulus 750 ms, decision 300 ms, no delay; 100 and 700 ms while training).

Each trial draws a signed coherence for each of two evidence streams, motion ``c_m`` and
colour ``c_c``, independently from ``coherences``, and a context (motion or colour, equally
likely). The context says which stream counts: the output should be ``sign(c_m)`` in the
motion context and ``sign(c_c)`` in the colour context; the other stream is a distractor.

Timeline (defaults, dt = 10 ms)::

    | fixation 300 ms | stimulus 750 ms | delay 0 ms | response 300 ms |
      steps 0..29       30..104                        105..134

Inputs ``(6,)``: ``[1 + e_m, 1 - e_m, 1 + e_c, 1 - e_c, motion, colour]``. The first four
are the two streams during the stimulus (0 otherwise), each with noisy evidence
``e = c + evidence_noise * N(0, 1)`` drawn afresh at every step and independently per
stream, encoded as in :class:`envs.PerceptualDecision`. The last two are the context cue,
one-hot, on from the trial's start to the stimulus's end (Mante's cue appeared at fixation;
Song et al. showed it with the stimulus). Output: the action ``z``, ``Box(-1, 1, (1,))``.
Reward (see :mod:`envs.perceptual_decision`): minus the mean ``|z - target|`` over the
response window, paid step by step, between -2 and 0. Correct: the sign of ``z`` summed over
the window is the relevant stream's (:meth:`ContextIntegration.correct`). ``info`` carries
``new_trial``, ``performance`` and ``gt``. Song et al. (and neurogym) use a two-unit output
and coherences of 1-10% at their input scale; this keeps :class:`envs.PerceptualDecision`'s
single output and coherences.

Example::

    task = ContextIntegration()
    state, obs = env_reset(task, jax.random.key(0))    # obs (6,): fixation, cue only
    task.target(state)                                  # sign of the relevant coherence
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from envs.perceptual_decision import ResponseTask, check_coherences, period_steps
from rpe.validation import check_real

__all__ = ["COLOUR", "MOTION", "ContextIntegration", "ContextIntegrationParams", "ContextIntegrationState"]

MOTION, COLOUR = 0, 1  # the contexts, and the streams' order in ``coherence``


class ContextIntegrationParams(NamedTuple):
    """``evidence_noise``: the standard deviation of each stream's noise per step (a float,
    or an array batched under ``vmap``)."""

    evidence_noise: float = 0.5


class ContextIntegrationState(NamedTuple):
    """``time ()``: step within the trial; ``coherence (2,)``: the signed coherences of the
    motion and colour streams; ``context ()`` int32: :data:`MOTION` or :data:`COLOUR`, the
    stream that counts; ``response ()``: the actions summed over the response window."""

    time: jax.Array
    coherence: jax.Array
    context: jax.Array
    response: jax.Array


class ContextIntegration(ResponseTask):
    observation_space = spaces.Box(-np.inf, np.inf, (6,), np.float32)

    def __init__(
        self,
        coherences: tuple[float, ...] = (-0.4, -0.2, -0.1, 0.1, 0.2, 0.4),
        evidence_noise: float = 0.5,
        dt: float = 10.0,
        fixation_ms: float = 300.0,
        stimulus_ms: float = 750.0,
        delay_ms: float = 0.0,
        response_ms: float = 300.0,
    ):
        cohs = check_coherences(coherences)
        dt = check_real("dt", dt, low=0.0, low_open=True)
        self.evidence_noise = check_real("evidence_noise", evidence_noise, low=0.0)
        steps = period_steps(
            dt,
            {
                "fixation_ms": fixation_ms,
                "stimulus_ms": stimulus_ms,
                "delay_ms": delay_ms,
                "response_ms": response_ms,
            },
            required=("stimulus_ms", "response_ms"),
        )
        self.coherences = jnp.asarray(cohs)
        self.stimulus_start = steps["fixation_ms"]
        self.stimulus_end = self.stimulus_start + steps["stimulus_ms"]
        super().__init__(dt, self.stimulus_end + steps["delay_ms"], steps["response_ms"])

    def get_default_params(self, **kwargs) -> ContextIntegrationParams:
        return ContextIntegrationParams(self.evidence_noise)

    def initial(self, rng, params=None) -> ContextIntegrationState:
        key_coherence, key_context = jax.random.split(rng)
        coherence = jax.random.choice(key_coherence, self.coherences, (2,))
        context = jax.random.bernoulli(key_context).astype(jnp.int32)
        zero = jnp.zeros((), jnp.int32)
        return ContextIntegrationState(zero, coherence, context, jnp.zeros((), jnp.float32))

    def target(self, state: ContextIntegrationState) -> jax.Array:
        """The sign of the relevant stream's coherence: +1 or -1."""
        return jnp.sign(state.coherence[state.context])

    def observation(self, state, rng=None, params=None) -> jax.Array:
        noise = jax.random.normal(rng, (2,)) if rng is not None else jnp.zeros((2,))
        evidence = state.coherence + self._params(params).evidence_noise * noise
        stimulus_on = (state.time >= self.stimulus_start) & (state.time < self.stimulus_end)
        streams = stimulus_on * jnp.stack([1.0 + evidence, 1.0 - evidence], axis=1).reshape(4)
        cue = jax.nn.one_hot(state.context, 2) * (state.time < self.stimulus_end)
        return jnp.concatenate([streams, cue]).astype(jnp.float32)
