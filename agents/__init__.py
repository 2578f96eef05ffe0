"""agents: neuromodulated agents built from rpe cells, and their training loops.

Empty for now: the agents arrive after the envs milestone.
"""

__all__: list[str] = []
