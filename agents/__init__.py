"""agents: neuromodulated agents built from rpe cells, and their training loops.

Every agent learns by local rules gated by a reward prediction error; none uses autodiff.
"""

from agents.td_critic import LinearTDCritic

__all__ = ["LinearTDCritic"]
