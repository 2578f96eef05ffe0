"""Action decoders: from a population's output activity to an env's action.

``decoder_for(space)`` gives a :class:`Decoder` with

- ``n_outputs``: how many output units the agent needs;
- ``sample(outputs, key)``: a pure, jit-safe draw of an action from ``outputs (batch, n_outputs)``;
- ``greedy(outputs)``: the most likely action (for evaluation);
- ``to_env(action)``: one row of actions as the env expects it (int, int8 array, float array).

===================  ===========  ==============================================================
space                n_outputs    action
===================  ===========  ==============================================================
Discrete(n)          n            softmax(outputs / temperature) sample; greedy: argmax
MultiBinary(n)       n            Bernoulli(sigmoid(outputs)) per bit; greedy: outputs > 0
Box(shape), finite   prod(shape)  low + (high - low)(tanh(outputs + noise_std eps) + 1) / 2
===================  ===========  ==============================================================

Any other space raises ``ValueError`` naming the env, the space and the supported spaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from rpe.validation import check_real

__all__ = ["SUPPORTED_SPACES", "Decoder", "decoder_for"]

SUPPORTED_SPACES = ("Discrete", "MultiBinary (1-D)", "Box with finite bounds")


class Decoder(NamedTuple):
    """See the module docstring."""

    n_outputs: int
    sample: Callable[[jax.Array, jax.Array], jax.Array]
    greedy: Callable[[jax.Array], jax.Array]
    to_env: Callable[[np.ndarray], object]


def decoder_for(
    space: gym.Space, *, env: str = "env", temperature: float = 1.0, noise_std: float = 0.1
) -> Decoder:
    """The decoder of ``space`` (``env`` names the environment in errors)."""
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    if isinstance(space, gym.spaces.Discrete):
        n, start = int(space.n), int(space.start)

        def sample(outputs, key):
            return jax.random.categorical(key, outputs / temperature, axis=-1) + start

        return Decoder(n, sample, lambda outputs: jnp.argmax(outputs, axis=-1) + start, int)
    if isinstance(space, gym.spaces.MultiBinary) and len(space.shape) == 1:
        n = int(space.shape[0])

        def sample(outputs, key):
            return jax.random.bernoulli(key, jax.nn.sigmoid(outputs)).astype(jnp.int8)

        return Decoder(
            n, sample, lambda outputs: (outputs > 0).astype(jnp.int8), lambda a: np.asarray(a, np.int8)
        )
    if (
        isinstance(space, gym.spaces.Box)
        and np.all(np.isfinite(space.low))
        and np.all(np.isfinite(space.high))
    ):
        shape = space.shape
        low = jnp.asarray(space.low, jnp.float32).reshape(-1)
        high = jnp.asarray(space.high, jnp.float32).reshape(-1)
        dtype = space.dtype

        def squash(y):
            return low + (high - low) * (jnp.tanh(y) + 1.0) / 2.0

        def sample(outputs, key):
            return squash(outputs + noise_std * jax.random.normal(key, outputs.shape))

        return Decoder(int(np.prod(shape)), sample, squash, lambda a: np.asarray(a, dtype).reshape(shape))
    raise ValueError(
        f"{env}: no action decoder for the action space {space}; supported: {', '.join(SUPPORTED_SPACES)}"
    )
