"""Delayed non-match-to-sample (DNMS) as Miconi (2017) trained it, as a ``FuncEnv``.

Miconi, T. (2017). Biologically plausible learning in recurrent neural networks reproduces
neural dynamics observed during cognitive tasks. eLife 6:e20899 (Figure 1; timings from
the paper's code, ``dnms/net.cpp`` of github.com/ThomasMiconi/BiologicallyPlausibleLearningRNN:
a 1000 ms trial at dt = 1 ms, stimuli at 0 and 400 ms lasting 200 ms each, the output read
over the trial's last 200 ms).

Each trial draws two stimuli, each pattern A or B (four conditions AA, AB, BA, BB, equally
likely and independent across trials; Miconi cycled through them). Pattern ``k`` is a 1 on
input channel ``k``. The output should be +1 if the two differ (non-match) and -1 if they
are the same (match). Miconi's network had three bias neurons clamped at fixed activity;
here their role is played by a third input channel fixed at 1 (``bias_input=False`` drops it).

Timeline (defaults, dt = 10 ms; Miconi used 1 ms)::

    | stimulus 1 | delay  | stimulus 2 | delay   | response |
      0-200 ms     -400     -600         -800      -1000 ms
      steps 0..19  20..39   40..59       60..79    80..99

Inputs ``(3,)`` (``(2,)`` without the bias): ``[A, B, bias]``, with ``A``/``B`` the
stimulus on screen (0 outside the stimuli) plus ``input_noise * N(0, 1)`` per channel and
step (0 by default, as in Miconi). Output: the action ``z``, ``Box(-1, 1, (1,))``.
Reward (see :mod:`envs.perceptual_decision`): minus the mean ``|z - target|`` over the
response window, paid step by step (Miconi: the same error, as a reward at the trial's
end), between -2 and 0. Correct: the sign of ``z`` summed over the window is the target's
(:meth:`DelayedNonMatch.correct`); Miconi's "trial error < 1". ``info`` carries
``new_trial``, ``performance`` and ``gt``.

Example::

    task = DelayedNonMatch()
    state, obs = env_reset(task, jax.random.key(0))     # obs (3,): [A, B, 1]
    task.target(state)                                   # +1 (non-match) or -1 (match)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from envs.perceptual_decision import ResponseTask, period_steps
from rpe.validation import check_real

__all__ = ["DelayedNonMatch", "DelayedNonMatchParams", "DelayedNonMatchState"]


class DelayedNonMatchParams(NamedTuple):
    """``input_noise``: the standard deviation of the noise added to the two stimulus
    channels at each step (a float, or an array batched under ``vmap``)."""

    input_noise: float = 0.0


class DelayedNonMatchState(NamedTuple):
    """``time ()``: step within the trial; ``stimuli (2,)`` int32: the two stimuli's
    patterns (0: A, 1: B); ``response ()``: the actions summed over the response window."""

    time: jax.Array
    stimuli: jax.Array
    response: jax.Array


class DelayedNonMatch(ResponseTask):
    def __init__(
        self,
        dt: float = 10.0,
        stimulus_ms: float = 200.0,
        delay_ms: float = 200.0,
        response_delay_ms: float = 200.0,
        response_ms: float = 200.0,
        input_noise: float = 0.0,
        bias_input: bool = True,
    ):
        """Args (durations in ms): ``stimulus_ms`` each stimulus; ``delay_ms`` between
        them; ``response_delay_ms`` from the second's end to the response window;
        ``response_ms`` the window; ``input_noise`` the default params' noise."""
        dt = check_real("dt", dt, low=0.0, low_open=True)
        if not isinstance(bias_input, bool):
            raise TypeError(f"bias_input: expected a bool, got {bias_input!r}")
        self.input_noise = check_real("input_noise", input_noise, low=0.0)
        steps = period_steps(
            dt,
            {
                "stimulus_ms": stimulus_ms,
                "delay_ms": delay_ms,
                "response_delay_ms": response_delay_ms,
                "response_ms": response_ms,
            },
            required=("stimulus_ms", "response_ms"),
        )
        self.stimulus_steps = steps["stimulus_ms"]
        self.second_start = self.stimulus_steps + steps["delay_ms"]
        response_start = self.second_start + self.stimulus_steps + steps["response_delay_ms"]
        self.bias_input = bias_input
        n_inputs = 3 if bias_input else 2
        self.observation_space = spaces.Box(-np.inf, np.inf, (n_inputs,), np.float32)
        super().__init__(dt, response_start, steps["response_ms"])

    def get_default_params(self, **kwargs) -> DelayedNonMatchParams:
        return DelayedNonMatchParams(self.input_noise)

    def initial(self, rng, params=None) -> DelayedNonMatchState:
        stimuli = jax.random.bernoulli(rng, 0.5, (2,)).astype(jnp.int32)
        return DelayedNonMatchState(jnp.zeros((), jnp.int32), stimuli, jnp.zeros((), jnp.float32))

    def target(self, state: DelayedNonMatchState) -> jax.Array:
        """+1.0 for a non-match (the stimuli differ), -1.0 for a match."""
        return jnp.where(state.stimuli[0] != state.stimuli[1], 1.0, -1.0).astype(jnp.float32)

    def stimulus_on(self, time: jax.Array) -> jax.Array:
        """Which stimulus is on screen at step ``time``: 0, 1, or -1 for none."""
        first = time < self.stimulus_steps
        second = (time >= self.second_start) & (time < self.second_start + self.stimulus_steps)
        return jnp.where(first, 0, jnp.where(second, 1, -1))

    def observation(self, state, rng=None, params=None) -> jax.Array:
        which = self.stimulus_on(state.time)
        pattern = state.stimuli[jnp.maximum(which, 0)]
        stimulus = jax.nn.one_hot(pattern, 2) * (which >= 0)
        if rng is not None:
            stimulus = stimulus + self._params(params).input_noise * jax.random.normal(rng, (2,))
        if self.bias_input:
            stimulus = jnp.concatenate([stimulus, jnp.ones((1,))])
        return stimulus.astype(jnp.float32)
