"""envs: Gymnasium wrappers that feed rewards and episode ends into rpe cells.

Empty for now: the wrappers arrive with the plasticity-and-envs milestone.
"""

__all__: list[str] = []
