"""The contract every cell keeps: pure steps under jit, vmap and scan; the object shell;
help(); and clear errors for bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rpe import (
    BernoulliErrorCell,
    GaussianErrorCell,
    LaplacianErrorCell,
    LeakyNoiseCell,
    RateCell,
    RewardErrorCell,
)


def random_inputs(cell, state, seed=0):
    """Set every input compartment of ``state`` to random values of its shape."""
    rng = np.random.default_rng(seed)
    help_inputs = type(cell).help()["compartments"]["inputs"]
    values = {}
    for name in help_inputs:
        shape = getattr(state, name).shape
        if name in ("mask",):
            values[name] = (rng.uniform(size=shape) > 0.3).astype(np.float32)
        elif name in ("Sigma", "Scale"):
            values[name] = rng.uniform(0.5, 2.0, size=shape).astype(np.float32)
        elif name == "p" and not getattr(cell, "input_logits", True):
            values[name] = rng.uniform(0.1, 0.9, size=shape).astype(np.float32)
        else:
            values[name] = rng.normal(size=shape).astype(np.float32)
    return cell.set(state, **values)


def assert_trees_close(a, b, **kw):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


def test_jit_equals_no_jit(make_cell):
    cell = make_cell()
    state = random_inputs(cell, cell.init_state())
    key = jax.random.key(3)
    eager = cell.step(state, 0.5, key)
    jitted = jax.jit(cell.step)(state, 0.5, key)
    assert_trees_close(eager, jitted, rtol=1e-5, atol=1e-6)


def test_second_call_does_not_recompile(make_cell):
    cell = make_cell()
    traces = []

    def counted(state, dt, key):
        traces.append(1)
        return cell.step(state, dt, key)

    f = jax.jit(counted)
    s1 = random_inputs(cell, cell.init_state(), seed=1)
    s2 = random_inputs(cell, cell.init_state(), seed=2)
    f(s1, 1.0, jax.random.key(0))
    f(s2, 0.5, jax.random.key(1))
    assert len(traces) == 1


def test_shell_step_is_compiled_once(make_cell):
    cell = make_cell()
    for dt in (1.0, 0.5, 0.25):
        cell.advance_state(dt=dt)
    assert cell._step_jit._cache_size() == 1


def test_vmap_over_a_leading_population_axis(make_cell):
    cell = make_cell()
    states = [random_inputs(cell, cell.init_state(), seed=s) for s in range(4)]
    keys = jax.random.split(jax.random.key(0), 4)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    batched = jax.vmap(lambda s, k: cell.step(s, 1.0, k))(stacked, keys)
    for i, s in enumerate(states):
        one = cell.step(s, 1.0, keys[i])
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], batched), one, rtol=1e-5, atol=1e-6)


def test_scan_equals_a_python_loop(make_cell):
    cell = make_cell()
    state = random_inputs(cell, cell.init_state())
    keys = jax.random.split(jax.random.key(0), 5)

    def body(s, k):
        s = cell.step(s, 0.5, k)
        return s, s

    final, _ = jax.lax.scan(body, state, keys)
    looped = state
    for k in keys:
        looped = cell.step(looped, 0.5, k)
    assert_trees_close(final, looped, rtol=1e-5, atol=1e-6)


def test_vmap_over_hyperparameter_values():
    cell = RewardErrorCell("r", 1, alpha=0.5)
    state = cell.set(cell.init_state(1), reward=jnp.ones((1, 1)))
    params = cell.params._replace(alpha=jnp.asarray([0.1, 0.5, 1.0]))
    in_axes = (cell.params._replace(alpha=0, ema_window_len=None),)
    out = jax.vmap(lambda p: cell.step(state, params=p), in_axes=in_axes)(params)
    np.testing.assert_allclose(out.mu[:, 0, 0], [0.1, 0.5, 1.0], rtol=1e-6)


def test_reset_restores_every_compartment(make_cell):
    cell = make_cell()
    fresh = cell.state
    cell.state = random_inputs(cell, cell.state)
    cell.advance_state(dt=1.0)
    cell.reset()
    assert_trees_close(cell.state, fresh)


def test_batched_reset_changes_the_batch_size(make_cell):
    cell = make_cell(2)
    cell.batched_reset(5)
    assert cell.batch_size == 5
    for name, value in zip(cell.compartments, cell.state, strict=True):
        if value.ndim == 2 and name not in ("Sigma", "dSigma", "Scale", "dScale"):
            assert value.shape[0] == 5, name
    cell.advance_state(dt=1.0)
    with pytest.raises(ValueError, match="batch_size"):
        cell.batched_reset(0)


def test_help_describes_every_compartment(make_cell):
    cell = make_cell()
    info = type(cell).help()
    assert set(info) == {"cell_type", "compartments", "dynamics", "hyperparameters"}
    assert info["cell_type"] == type(cell).__name__
    assert set(info["compartments"]) == {"inputs", "states", "outputs"}
    listed = set().union(*[set(v) for v in info["compartments"].values()])
    assert listed == set(cell.compartments)
    assert info["dynamics"] and "n_units" in info["hyperparameters"]


def test_set_refuses_a_wrong_shape_naming_compartment_and_shapes(make_cell):
    cell = make_cell(2)
    first_input = next(iter(type(cell).help()["compartments"]["inputs"]))
    with pytest.raises(ValueError, match=rf"'{first_input}'.*\(2, 3\).*\(7,\)"):
        getattr(cell, first_input).set(np.zeros(7))
    with pytest.raises(ValueError, match="unknown compartment"):
        cell.set(cell.state, no_such=1.0)


def test_modulator_accepts_only_full_or_per_sample_shapes():
    cell = GaussianErrorCell("g", 3, batch_size=2)
    cell.modulator.set(np.ones((2, 1)))
    with pytest.raises(ValueError, match="modulator"):
        cell.modulator.set(np.ones((1, 3)))
    with pytest.raises(ValueError, match="Sigma"):
        cell.Sigma.set(np.ones((2, 3)))


def test_compartment_view_api():
    cell = RewardErrorCell("r", 2, alpha=0.5)
    cell.reward.set([[1.0, 2.0]])
    assert cell.reward.shape == (1, 2)
    np.testing.assert_allclose(cell.reward.value, [[1.0, 2.0]])
    assert "reward" in repr(cell.reward)


BAD_CONSTRUCTORS = [
    (lambda: RateCell("z", 2, 1.0, act_fx="swish"), ValueError, "act_fx"),
    (lambda: RateCell("z", 2, 1.0, prior=("student", 0.1)), ValueError, "prior"),
    (lambda: RateCell("z", 2, 1.0, prior="gaussian"), TypeError, "prior"),
    (lambda: RateCell("z", 2, 1.0, integration_type="rk45"), ValueError, "integration_type"),
    (lambda: RateCell("z", 2, 1.0, threshold=("hard", 0.1)), ValueError, "threshold"),
    (lambda: RateCell("z", 2, 1.0, threshold=("soft_threshold", -0.1)), ValueError, "threshold"),
    (lambda: LeakyNoiseCell("x", 2, 1.0, act_fx="swish"), ValueError, "act_fx"),
    (lambda: LeakyNoiseCell("x", 2, 1.0, integration_type="rk45"), ValueError, "integration_type"),
    (lambda: LeakyNoiseCell("x", 2, 0.0), ValueError, "tau_x"),
    (lambda: LeakyNoiseCell("x", 2, 1.0, sigma_pre=-0.1), ValueError, "sigma_pre"),
    (lambda: LeakyNoiseCell("x", 2, 1.0, sigma_post=-0.1), ValueError, "sigma_post"),
    (lambda: LeakyNoiseCell("x", 2, 1.0, key="seed"), TypeError, "key"),
    (lambda: RewardErrorCell("r", 0, 0.5), ValueError, "n_units"),
    (lambda: RewardErrorCell("r", 2.5, 0.5), TypeError, "n_units"),
    (lambda: RewardErrorCell("r", 1, 0.5, batch_size=0), ValueError, "batch_size"),
    (lambda: RewardErrorCell("r", 1, 0.0), ValueError, "alpha"),
    (lambda: RewardErrorCell("r", 1, 1.5), ValueError, "alpha"),
    (lambda: RewardErrorCell("r", 1, float("nan")), ValueError, "alpha"),
    (lambda: RewardErrorCell("r", 1, 0.5, ema_window_len=0.5), ValueError, "ema_window_len"),
    (lambda: RewardErrorCell("r", 1, 0.5, use_online_predictor="yes"), TypeError, "use_online_predictor"),
    (lambda: RewardErrorCell("", 1, 0.5), TypeError, "name"),
    (lambda: GaussianErrorCell("g", 2, sigma=-1.0), ValueError, "sigma"),
    (lambda: GaussianErrorCell("g", 2, sigma=0.0), ValueError, "sigma"),
    (lambda: LaplacianErrorCell("l", 2, scale=-1.0), ValueError, "scale"),
    (lambda: BernoulliErrorCell("b", 2, input_logits=1), TypeError, "input_logits"),
    (lambda: BernoulliErrorCell("b", -2), ValueError, "n_units"),
]


@pytest.mark.parametrize(("build", "error", "argument"), BAD_CONSTRUCTORS)
def test_bad_constructor_arguments_name_the_argument(build, error, argument):
    with pytest.raises(error, match=argument):
        build()


def test_bad_dt_is_refused_by_the_shell():
    cell = RateCell("z", 2, 1.0)
    for dt in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="dt"):
            cell.advance_state(dt=dt)


def test_state_setter_checks_the_type():
    cell = RateCell("z", 2, 1.0)
    with pytest.raises(TypeError, match="state"):
        cell.state = {"z": 1.0}
