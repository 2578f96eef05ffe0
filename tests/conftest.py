"""Shared fixtures: one instance of every cell, built with small shapes."""

import jax
import pytest

from rpe import (
    BernoulliErrorCell,
    CategoricalErrorCell,
    GaussianErrorCell,
    LaplacianErrorCell,
    LeakyNoiseCell,
    RateCell,
    RewardErrorCell,
    TDErrorCell,
)

jax.config.update("jax_platforms", "cpu")

CELL_FACTORIES = {
    "RewardErrorCell": lambda b=2: RewardErrorCell("rw", n_units=3, alpha=0.3, batch_size=b),
    "RateCell": lambda b=2: RateCell(
        "rate", n_units=3, tau_m=5.0, prior=("gaussian", 0.5), act_fx="tanh", batch_size=b
    ),
    "LeakyNoiseCell": lambda b=2: LeakyNoiseCell(
        "leaky", n_units=3, tau_x=10.0, sigma_pre=0.2, sigma_post=0.1, batch_size=b
    ),
    "GaussianErrorCell": lambda b=2: GaussianErrorCell("gauss", n_units=3, batch_size=b, sigma=0.5),
    "LaplacianErrorCell": lambda b=2: LaplacianErrorCell("lap", n_units=3, batch_size=b, scale=2.0),
    "BernoulliErrorCell": lambda b=2: BernoulliErrorCell("bern", n_units=3, batch_size=b, input_logits=True),
    "TDErrorCell": lambda b=2: TDErrorCell("td", n_units=3, gamma=0.9, batch_size=b),
    "CategoricalErrorCell": lambda b=2: CategoricalErrorCell("cat", n_units=3, batch_size=b),
}


@pytest.fixture(params=sorted(CELL_FACTORIES))
def make_cell(request):
    """A factory ``make_cell(batch_size=2)`` for each of the six cells in turn."""
    return CELL_FACTORIES[request.param]
