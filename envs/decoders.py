"""Action decoders: from a population's output activity to an action, and back to the local
learning signal of the action taken.

``decoder_for(space)`` gives a :class:`Decoder` with

- ``n_outputs``: how many output units the agent needs;
- ``sample(outputs, key, scale=None)``: a pure, jit-safe draw of an *action array* from
  ``outputs (..., n_outputs)``;
- ``greedy(outputs)``: the most likely action array (for evaluation);
- ``post(outputs, action, scale=None)``: the output error cell's raw derivative for the
  action taken, the postsynaptic factor of a three-factor rule (``(..., n_outputs)``);
- ``bound(action)``: action arrays as the env's values (jit-safe, batched);
- ``to_env(row)``: one bounded action as a Gymnasium env takes it (int, int8 array, float array).

=====================  ===========  ================================  ====================================
space                  n_outputs    action array (sample; greedy)     ``post`` (rpe.functional)
=====================  ===========  ================================  ====================================
Discrete(2)            1            Bernoulli(sigmoid(y)); y > 0      ``a - sigmoid(y)`` (Bernoulli error)
Discrete(n), or (2)    n            softmax(y / T) draw; argmax       ``(onehot(a) - softmax(y / T)) / T``
with ``categorical``                                                  (categorical error)
MultiBinary(n)         n            Bernoulli(sigmoid(y)) per bit     ``a - sigmoid(y)`` (Bernoulli error)
Box(shape), finite     prod(shape)  ``u = y + scale eps``; ``y``      ``(u - y) / scale^2`` (Gaussian error)
=====================  ===========  ================================  ====================================

``T`` is ``temperature`` (categorical decoders only).

Discrete action arrays hold indices from 0 (``bound`` adds the space's ``start``); Box action
arrays are unbounded and ``bound`` squashes them into the bounds,
``low + (high - low) (tanh(u) + 1) / 2``, so the Gaussian's likelihood is that of the
unsquashed draw (REINFORCE stays unbiased). ``scale`` defaults to ``noise_std``; pass a traced
value to vmap over it. Any other space raises ``ValueError`` naming the env, the space and
the supported spaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from rpe import functional as kernels
from rpe.validation import check_real

__all__ = ["SUPPORTED_SPACES", "Decoder", "decoder_for"]

SUPPORTED_SPACES = ("Discrete", "MultiBinary (1-D)", "Box with finite bounds")


class Decoder(NamedTuple):
    """See the module docstring."""

    n_outputs: int
    sample: Callable[..., jax.Array]
    greedy: Callable[[jax.Array], jax.Array]
    post: Callable[..., jax.Array]
    bound: Callable[[jax.Array], jax.Array]
    to_env: Callable[[np.ndarray], object]


def _bernoulli(n: int, to_env) -> Decoder:
    def sample(y, key, scale=None):
        return jax.random.bernoulli(key, jax.nn.sigmoid(y)).astype(jnp.int32)

    def post(y, action, scale=None):
        return kernels.bernoulli_error(y, action.astype(jnp.float32).reshape(y.shape), input_logits=True).dp

    return Decoder(n, sample, lambda y: (y > 0).astype(jnp.int32), post, lambda a: a, to_env)


def decoder_for(
    space: gym.Space,
    *,
    env: str = "env",
    temperature: float = 1.0,
    noise_std: float = 0.1,
    categorical: bool = False,
) -> Decoder:
    """The decoder of ``space`` (``env`` names the environment in errors); ``categorical``:
    a softmax over two outputs for ``Discrete(2)`` too, instead of one Bernoulli unit."""
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    if isinstance(space, gym.spaces.Discrete):
        n, start = int(space.n), int(space.start)
        if n == 2 and not categorical:
            binary = _bernoulli(1, int)
            return binary._replace(
                sample=lambda y, key, scale=None: binary.sample(y, key)[..., 0],
                greedy=lambda y: binary.greedy(y)[..., 0],
                post=lambda y, a, scale=None: binary.post(y, a[..., None]),
                bound=lambda a: a + start,
            )

        def sample(y, key, scale=None):
            return jax.random.categorical(key, y / temperature, axis=-1).astype(jnp.int32)

        def post(y, action, scale=None):
            return kernels.categorical_error(y / temperature, jax.nn.one_hot(action, n)).dlogits / temperature

        greedy = lambda y: jnp.argmax(y, axis=-1).astype(jnp.int32)  # noqa: E731
        return Decoder(n, sample, greedy, post, lambda a: a + start, int)
    if isinstance(space, gym.spaces.MultiBinary) and len(space.shape) == 1:
        return _bernoulli(int(space.shape[0]), lambda a: np.asarray(a, np.int8))
    if (
        isinstance(space, gym.spaces.Box)
        and np.all(np.isfinite(space.low))
        and np.all(np.isfinite(space.high))
    ):
        shape, dtype, n = space.shape, space.dtype, int(np.prod(space.shape))
        low = jnp.asarray(space.low, jnp.float32).reshape(-1)
        high = jnp.asarray(space.high, jnp.float32).reshape(-1)

        def sample(y, key, scale=None):
            scale = noise_std if scale is None else scale
            return y + scale * jax.random.normal(key, y.shape)

        def post(y, action, scale=None):
            scale = noise_std if scale is None else scale
            return kernels.gaussian_error(y, action, sigma=jnp.asarray(scale, jnp.float32) ** 2).dmu

        def bound(u):
            return low + (high - low) * (jnp.tanh(u) + 1.0) / 2.0

        return Decoder(n, sample, lambda y: y, post, bound, lambda a: np.asarray(a, dtype).reshape(shape))
    raise ValueError(
        f"{env}: no action decoder for the action space {space}; supported: {', '.join(SUPPORTED_SPACES)}"
    )
