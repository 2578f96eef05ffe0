"""Gymnasium env ids as users type them, with one-line errors instead of tracebacks.

Accepts registered ids (``CartPole-v1``), Gymnasium's ``module:EnvId`` form (imports
``module``, which registers its envs, e.g. ``neurogym:PerceptualDecisionMaking-v0``) and the
ids of our JAX-native envs (``envs.JAX_ENVS``). A missing optional dependency (Box2D for
``LunarLander-v3``, MuJoCo, a module named in the id) is a ``ValueError`` that says what to
install.
"""

from __future__ import annotations

import importlib

import gymnasium as gym

from envs.functional import make
from envs.registry import JAX_ENVS

__all__ = ["EXTRAS", "check_env_id", "make_gym_env"]

# Gymnasium's optional dependency groups -> how to install them with this project.
EXTRAS = {
    "box2d": 'pip install -e ".[box2d]"  (or pip install "gymnasium[box2d]")',
    "mujoco": 'pip install "gymnasium[mujoco]"',
    "atari": 'pip install "gymnasium[atari]"',
    "classic-control": 'pip install "gymnasium[classic-control]"',
    "toy-text": 'pip install "gymnasium[toy-text]"',
}


def _install_hint(error: Exception) -> str:
    text = str(error).lower()
    for extra, hint in EXTRAS.items():
        if extra in text or extra.replace("-", "_") in text:
            return hint
    return "install the package it names"


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec | None:
    """The Gymnasium spec of ``env_id`` (importing ``module`` for ``module:EnvId``), or None
    for a JAX-native env that Gymnasium does not register.

    Raises:
      ValueError: an unknown id, or a module that cannot be imported, in one line.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env: expected a Gymnasium env id such as 'CartPole-v1', got {env_id!r}")
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(
                f"env: {env_id} needs the module {module!r}, which cannot be imported ({error}); "
                f"pip install {module.split('.')[0]}"
            ) from None
    try:
        return gym.spec(name)
    except gym.error.Error as error:
        if name in JAX_ENVS and not module:
            return None
        if isinstance(error, gym.error.DeprecatedEnv):
            raise ValueError(f"env: {str(error).splitlines()[0]}") from None
        raise ValueError(
            f"env: unknown env {env_id!r}; any registered Gymnasium id (e.g. CartPole-v1, "
            f"Acrobot-v1), module:EnvId, or one of {sorted(JAX_ENVS)}"
        ) from None


def make_gym_env(env_id: str, **kwargs) -> gym.Env:
    """``gymnasium.make`` with the errors of :func:`check_env_id` and a one-line error naming
    what to install when the env needs an optional dependency."""
    spec = check_env_id(env_id)
    if spec is None:
        return make(env_id, **kwargs)
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as error:
        raise ValueError(f"env: {env_id} needs an optional dependency: {_install_hint(error)}") from None
    except ImportError as error:
        raise ValueError(f"env: {env_id} cannot be made ({error}); {_install_hint(error)}") from None
