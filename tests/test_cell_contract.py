"""The cell contract's traps: inherited compartments, where the batch size comes from,
``params`` honoured by every cell, one ``advance_state`` signature, and the shell's checks
(a bad value is refused naming its compartment and never reaches the state)."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rpe
from rpe import Cell, Compartment, GaussianErrorCell, RateCell, RewardErrorCell
from rpe.error_cell import ErrorCell

EXPORTED_CELLS = sorted(
    (obj for name in rpe.__all__ if isinstance(obj := getattr(rpe, name), type) and issubclass(obj, Cell)),
    key=lambda cls: cls.__name__,
)
CELLS = [cls for cls in EXPORTED_CELLS if cls is not Cell]


# ------------------------------------------------------------------ compartments
class Base(Cell):
    a = Compartment("inputs", "a")
    b = Compartment("outputs", "b")


class Child(Base):
    c = Compartment("states", "c")


class Hides(Child):
    b = None  # no longer a compartment here


def test_a_subclass_keeps_its_parents_compartments_first():
    assert list(Child.compartments) == ["a", "b", "c"]
    assert Child.State._fields == ("a", "b", "c")
    assert Child.help()["compartments"] == {"inputs": {"a": "a"}, "states": {"c": "c"}, "outputs": {"b": "b"}}
    assert list(Base.compartments) == ["a", "b"]  # the parent is unchanged
    assert list(Hides.compartments) == ["a", "c"]


def test_modulator_and_mask_are_declared_once_for_every_error_cell():
    error_cells = [cls for cls in CELLS if issubclass(cls, ErrorCell)]
    assert len(error_cells) == 5
    for cls in error_cells:
        assert cls.compartments["modulator"] is ErrorCell.modulator, cls.__name__
        assert cls.compartments["mask"] is ErrorCell.mask, cls.__name__
        assert "modulator" not in vars(cls) and "mask" not in vars(cls), cls.__name__
        assert list(cls.compartments)[:2] == ["modulator", "mask"]


# ------------------------------------------------------------------- batch size
class GainFirst(Cell):
    """A cell whose first compartments have no batch axis: a (1, 1) gain and a scalar."""

    gain = Compartment("inputs", "gain, (1, 1)")
    total = Compartment("outputs", "sum of x, a scalar ()")
    x = Compartment("inputs", "x, (batch_size, n_units)")

    def __init__(self, name, n_units, batch_size=1):
        self.params = ()
        super().__init__(name, n_units, batch_size)

    def init_state(self, batch_size=None, params=None):
        b = self.batch_size if batch_size is None else batch_size
        return self.State(
            gain=jnp.ones((1, 1)), total=jnp.zeros(()), x=jnp.zeros((b, self.n_units), jnp.float32)
        )

    def step(self, state, dt=1.0, key=None, params=None):
        return state._replace(total=jnp.sum(state.gain * state.x))


def test_the_batch_size_comes_from_a_compartment_with_a_batch_axis():
    cell = GainFirst("g", 3, batch_size=4)
    assert cell.batch_size == 4
    cell.reset()
    assert cell.state.x.shape == (4, 3)
    cell.state = cell.init_state(7)
    assert cell.batch_size == 7
    cell.reset()
    assert cell.state.x.shape == (7, 3) and cell.state.gain.shape == (1, 1)
    cell.batched_reset(2)
    cell.x.set(np.full((2, 3), 2.0))
    cell.advance_state()
    assert float(cell.total.get()) == 12.0


# ----------------------------------------------------------------------- params
# Constructor arguments by name (not by cell) that make every numeric hyperparameter
# matter: a prior with a leak, a soft threshold, output noise.
RICH_ARGUMENTS = {
    "alpha": 0.3,
    "tau_m": 5.0,
    "tau_x": 4.0,
    "prior": ("gaussian", 0.5),
    "threshold": ("soft_threshold", 0.05),
    "act_fx": "tanh",
    "sigma_pre": 0.2,
    "sigma_post": 0.1,
    "gamma": 0.9,
}
# Params fields that are the number of a (name, number) constructor argument.
PAIR_FIELDS = {"gamma": "prior", "threshold_lambda": "threshold"}
B, N = 2, 3


def build(cls, **overrides):
    signature = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in RICH_ARGUMENTS.items() if k in signature}
    for field, value in overrides.items():
        if field in signature:
            kwargs[field] = value
        else:
            pair = PAIR_FIELDS[field]
            kwargs[pair] = (kwargs[pair][0], value)
    return cls("c", N, batch_size=B, **kwargs)


def numeric_fields():
    return [(cls, field) for cls in CELLS for field in cls.Params._fields]


def run_pure_core(cell, params):
    """init_state -> set every per-entry input -> two steps -> end_episode (if any)."""
    state = cell.init_state(B, params)
    rng = np.random.default_rng(0)
    inputs = {
        name: rng.uniform(0.1, 0.9, size=(B, N)).astype(np.float32)
        for name in type(cell).help()["compartments"]["inputs"]
        if getattr(state, name).shape == (B, N)
    }
    state = cell.set(state, **inputs)
    key = jax.random.key(0)
    for _ in range(2):
        state = cell.step(state, 0.5, key, params)
    if hasattr(cell, "end_episode"):
        state = cell.end_episode(state, params=params)
    return state


def test_every_exported_cell_is_covered():
    names = {cls.__name__ for cls in CELLS}
    assert {
        "RateCell",
        "LeakyNoiseCell",
        "GaussianErrorCell",
        "LaplacianErrorCell",
        "RewardErrorCell",
    } <= names
    assert len(numeric_fields()) >= 14


@pytest.mark.parametrize(("cls", "field"), numeric_fields(), ids=lambda x: getattr(x, "__name__", x))
def test_a_vmapped_hyperparameter_equals_a_cell_built_with_it(cls, field):
    base = build(cls)
    default = getattr(base.params, field)
    values = [0.5 * default, default]
    in_axes = (base.params._replace(**{f: (0 if f == field else None) for f in base.params._fields}),)
    stacked = base.params._replace(**{field: jnp.asarray(values)})
    swept = jax.vmap(lambda p: run_pure_core(base, p), in_axes=in_axes)(stacked)
    built = [run_pure_core(build(cls, **{field: v}), None) for v in values]
    for i, reference in enumerate(built):
        for name, got, want in zip(reference._fields, swept, reference, strict=True):
            np.testing.assert_allclose(got[i], want, rtol=2e-5, atol=1e-6, err_msg=f"{cls.__name__}.{name}")
    # ... and the hyperparameter matters: the two cells differ somewhere.
    assert any(not np.allclose(a, b) for a, b in zip(*built, strict=True)), (
        f"{cls.__name__}.{field} has no effect"
    )


def test_gaussian_sigma_sets_where_sigma_starts_and_so_the_error():
    cell = GaussianErrorCell("g", 1, sigma=1.0)
    sigmas = jnp.asarray([0.5, 2.0])

    def error(sigma):
        params = cell.params._replace(sigma=sigma)
        state = cell.set(cell.init_state(1, params), target=jnp.full((1, 1), 3.0))
        return cell.step(state, params=params)

    out = jax.vmap(error)(sigmas)
    np.testing.assert_allclose(out.Sigma[:, 0, 0], [0.5, 2.0])
    np.testing.assert_allclose(out.dmu[:, 0, 0], [3.0 / 0.5, 3.0 / 2.0], rtol=1e-6)
    np.testing.assert_allclose(out.L, [-0.5 * 9 / 0.5, -0.5 * 9 / 2.0], rtol=1e-6)


# ------------------------------------------------------------- advance_state
def test_every_cell_advances_with_the_same_signature():
    for cls in CELLS:
        assert list(inspect.signature(cls.advance_state).parameters) == ["self", "dt"], cls.__name__


# ------------------------------------------------------------------ the shell
@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_a_non_finite_reward_is_refused_and_never_reaches_the_state():
    cell = RewardErrorCell("r", 2, alpha=0.5)
    cell.reward.set(np.asarray([[1.0, 2.0]]))
    for bad in (np.asarray([[np.nan, 1.0]]), jnp.asarray([[1.0, jnp.inf]]), [[-np.inf, 0.0]]):
        with pytest.raises(ValueError, match=r"'reward' must be finite"):
            cell.reward.set(bad)
    np.testing.assert_array_equal(cell.reward.get(), [[1.0, 2.0]])
    cell.advance_state()
    # By hand, from mu = 0: rpe = r, mu = 0.5 r.
    np.testing.assert_allclose(cell.rpe.get(), [[1.0, 2.0]])
    np.testing.assert_allclose(cell.mu.get(), [[0.5, 1.0]])
    # A float64 reward too large for float32 becomes inf: refused as well ...
    with pytest.raises(ValueError, match="reward"):
        cell.reward.set(np.full((1, 2), 1e300))
    # ... while the largest finite ones (whose squares overflow) are accepted.
    cell.reward.set(np.full((1, 2), 3e38, np.float32))
    np.testing.assert_array_equal(cell.reward.get(), np.full((1, 2), 3e38, np.float32))


def test_set_keeps_its_own_copy_of_a_numpy_value():
    cell = RewardErrorCell("r", 1, alpha=0.5)
    buffer = np.ones((1, 1), np.float32)
    cell.reward.set(buffer)
    buffer[0, 0] = np.nan  # written after the check: must not reach the step
    cell.advance_state()
    assert float(cell.rpe.get()[0, 0]) == 1.0
    assert float(cell.accum_reward.get()[0, 0]) == 1.0


def test_a_wrong_shape_is_refused_and_the_last_good_value_kept():
    cell = RateCell("z", 2, tau_m=10.0, batch_size=2)
    cell.j.set(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"'j'.*\(2, 2\).*\(2, 1\)"):
        cell.j.set(np.ones((2, 1)))
    cell.advance_state()
    np.testing.assert_allclose(cell.z.get(), np.full((2, 2), 0.1), rtol=1e-6)  # dt / tau_m * j


def test_get_sees_values_set_since_the_last_step_as_jax_arrays():
    cell = GaussianErrorCell("g", 2, batch_size=2)
    cell.mu.set(np.asarray([[1.0, 2.0], [3.0, 4.0]]))
    cell.modulator.set(np.asarray([[2.0], [3.0]]))  # per sample, broadcast across units
    mu, modulator = cell.mu.get(), cell.modulator.get()
    assert isinstance(mu, jax.Array) and mu.dtype == jnp.float32
    np.testing.assert_array_equal(mu, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(modulator, [[2.0, 2.0], [3.0, 3.0]])
    cell.advance_state()
    np.testing.assert_allclose(cell.dmu.get(), [[-2.0, -4.0], [-9.0, -12.0]])  # modulator (0 - mu)
    np.testing.assert_array_equal(cell.modulator.get(), [[2.0, 2.0], [3.0, 3.0]])  # persists
    np.testing.assert_array_equal(cell.mu.get(), [[1.0, 2.0], [3.0, 4.0]])  # inputs stay


def test_set_moves_no_data_to_the_device():
    cell = RewardErrorCell("r", 3, alpha=0.5)
    with jax.transfer_guard("disallow"):
        cell.reward.set(np.ones((1, 3)))  # checked on the host, kept for the next step
    cell.advance_state()
    np.testing.assert_allclose(cell.rpe.get(), np.ones((1, 3)))


def test_a_value_set_once_stays_in_force_for_later_steps():
    cell = RewardErrorCell("r", 1, alpha=0.5)
    cell.reward.set(np.full((1, 1), 2.0))
    mu = 0.0
    for _ in range(4):  # a plain Python loop of the same recursion
        cell.advance_state()
        mu = 0.5 * mu + 0.5 * 2.0
    assert float(cell.mu.get()[0, 0]) == pytest.approx(mu)
    assert float(cell.n_ep_steps.get()[0, 0]) == 4.0
    assert float(cell.accum_reward.get()[0, 0]) == 8.0


def test_the_state_setter_and_getter_see_the_same_values():
    cell = RateCell("z", 2, tau_m=10.0)
    cell.j.set(np.full((1, 2), 3.0))
    state = cell.state  # values set since the last step included, as JAX arrays
    assert all(isinstance(leaf, jax.Array) for leaf in state)
    np.testing.assert_array_equal(state.j, np.full((1, 2), 3.0))
    cell.state = state._replace(z=jnp.ones((1, 2)))
    cell.advance_state(dt=2.0)
    np.testing.assert_allclose(cell.z.get(), np.full((1, 2), 1.0 + 2.0 / 10.0 * 3.0), rtol=1e-6)


def test_dt_as_a_zero_d_array_is_checked_like_a_number():
    import jax.numpy as jnp
    import numpy as np
    import pytest

    from rpe import RateCell

    cell = RateCell("z", 2, tau_m=10.0)
    cell.j.set(np.ones((1, 2), np.float32))
    cell.advance_state(np.float32(5.0))  # z = 0 + 5/10 * 1
    np.testing.assert_allclose(cell.z.get(), 0.5, rtol=1e-6)
    cell.advance_state(jnp.asarray(5.0))
    np.testing.assert_allclose(cell.z.get(), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"dt: expected a value in \(0, inf\], got -1.0"):
        cell.advance_state(jnp.asarray(-1.0))


# ------------------------------------------------- the shell's checks, every cell
def input_names(cls):
    return list(cls.help()["compartments"]["inputs"])


def shell_inputs(cell, seed=0):
    """Random values for every per-entry input of ``cell`` (probabilities in (0, 1))."""
    rng = np.random.default_rng(seed)
    state = cell.state
    return {
        name: rng.uniform(0.1, 0.9, size=(B, N)).astype(np.float32)
        for name in input_names(type(cell))
        if getattr(state, name).shape == (B, N)
    }


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_the_shell_equals_the_pure_step(cls):
    cell = build(cls)
    key = cell.key
    inputs = shell_inputs(cell)
    for i, (name, value) in enumerate(inputs.items()):  # NumPy and JAX values alike
        getattr(cell, name).set(value if i % 2 else jnp.asarray(value))
    state = cell.set(cell.init_state(B), **inputs)
    for dt in (1.0, 0.5, 0.5):
        cell.advance_state(dt)
        key_step = None
        if key is not None:
            key, key_step = jax.random.split(key)
        state = cell.step(state, dt, key_step)
    for name, got, want in zip(state._fields, cell.state, state, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=f"{cls.__name__}.{name}")


FINITE = [(cls, name) for cls in CELLS for name, c in cls.compartments.items() if c.finite]


def test_the_reward_inputs_are_declared_finite():
    assert {(cls.__name__, name) for cls, name in FINITE} == {
        ("RewardErrorCell", "reward"),
        ("TDErrorCell", "reward"),
    }


@pytest.mark.parametrize(("cls", "name"), FINITE, ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("kind", ["numpy", "jax", "list"])
def test_a_non_finite_value_is_refused_naming_its_compartment(cls, name, bad, kind):
    cell = build(cls)
    good = np.full((B, N), 0.5, np.float32)
    getattr(cell, name).set(good)
    value = np.full((B, N), 0.25, np.float32)
    value[-1, -1] = bad
    value = {"numpy": value, "jax": jnp.asarray(value), "list": value.tolist()}[kind]
    with pytest.raises(ValueError, match=rf"{cls.__name__} 'c': compartment '{name}' must be finite"):
        getattr(cell, name).set(value)
    with pytest.raises(ValueError, match=rf"compartment '{name}' must be finite"):
        cell.set(cell.init_state(B), **{name: value})
    np.testing.assert_array_equal(getattr(cell, name).get(), good)  # the state is untouched
    cell.advance_state()
    assert all(bool(jnp.isfinite(leaf).all()) for leaf in cell.state)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_a_wrong_shape_is_refused_naming_its_compartment(cls):
    cell = build(cls)
    for name in input_names(cls):
        before = getattr(cell, name).get()
        for shape in [(B + 1, N), (B, N + 1), (N,), ()]:
            with pytest.raises(ValueError, match=rf"compartment '{name}' expects shape"):
                getattr(cell, name).set(np.ones(shape, np.float32))
            with pytest.raises(ValueError, match=rf"compartment '{name}' expects shape"):
                cell.set(cell.init_state(B), **{name: jnp.ones(shape)})
        np.testing.assert_array_equal(getattr(cell, name).get(), before)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_an_unknown_compartment_is_refused_naming_it(cls):
    cell = build(cls)
    with pytest.raises(ValueError, match=r"unknown compartment 'rewrd'; expected one of \["):
        cell.set(cell.init_state(B), rewrd=np.ones((B, N)))
    with pytest.raises(AttributeError, match="rewrd"):
        cell.rewrd.set(np.ones((B, N)))


def test_a_numpy_value_travels_with_one_step_and_then_lives_on_the_device():
    cell = RateCell("z", 2, tau_m=10.0)
    cell.j.set(np.ones((1, 2)))
    cell.advance_state()  # j goes to the device as part of this call ...
    cell.advance_state()  # ... and is moved there for good before this one
    with jax.transfer_guard("disallow"):
        cell.advance_state()
    assert isinstance(cell.j.get(), jax.Array)
    np.testing.assert_allclose(cell.z.get(), np.full((1, 2), 0.3), rtol=1e-6)  # no leak: 3 dt/tau_m j


def test_a_swept_prior_strength_of_zero_equals_a_cell_built_with_it():
    base = build(RateCell)
    in_axes = (base.params._replace(**{f: (0 if f == "gamma" else None) for f in base.params._fields}),)
    stacked = base.params._replace(gamma=jnp.asarray([0.0, 0.5]))
    swept = jax.vmap(lambda p: run_pure_core(base, p), in_axes=in_axes)(stacked)
    for i, gamma in enumerate([0.0, 0.5]):
        built = run_pure_core(build(RateCell, gamma=gamma), None)
        for name, got, want in zip(built._fields, swept, built, strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-7, err_msg=name)
