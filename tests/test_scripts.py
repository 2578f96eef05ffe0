"""Scripts, smoke-tested with tiny budgets; the bandit's RPE facts checked with numbers."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parents[1] / "scripts"


def load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_bandit_learns_the_rates_and_the_reversal_gives_negative_rpes(tmp_path, capsys):
    bandit = load("bandit_rpe")
    log = bandit.main(["--trials", "1200", "--block", "300", "--alpha", "0.05", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "mean|rpe|" in printed and (tmp_path / "bandit_rpe.png").stat().st_size > 10_000
    reversal = 600
    # Before the reversal the good arm (0, rate 0.8) is predicted and chosen.
    assert abs(log["mu"][reversal - 1, 0] - 0.8) < 0.15
    assert np.mean(log["choice"][300:reversal] == 0) > 0.9
    # Once predicted, arm 0's RPE averages ~0; right after the reversal (rate now 0.2)
    # its pulls give strongly negative RPEs ...
    before = slice(reversal - 100, reversal)
    assert abs(np.mean(log["rpe"][before][log["choice"][before] == 0])) < 0.15
    after = slice(reversal, reversal + 100)
    rpe_0 = log["rpe"][after][log["choice"][after] == 0][:20]
    assert len(rpe_0) == 20 and np.mean(rpe_0) < -0.3
    # ... its prediction falls and choices follow the new good arm.
    assert log["mu"][-1, 0] < 0.5
    assert np.mean(log["choice"][-300:] == 1) > 0.9


def test_bandit_is_reproducible_by_seed(tmp_path):
    bandit = load("bandit_rpe")
    a = bandit.run(bandit.BanditConfig(trials=50, seed=3, out=str(tmp_path)))
    b = bandit.run(bandit.BanditConfig(trials=50, seed=3, out=str(tmp_path)))
    np.testing.assert_array_equal(a["choice"], b["choice"])
    np.testing.assert_array_equal(a["mu"], b["mu"])


def test_bandit_rejects_bad_arguments(tmp_path):
    bandit = load("bandit_rpe")
    with pytest.raises(SystemExit) as info:
        bandit.main(["--temperature", "0", "--out", str(tmp_path)])
    assert info.value.code == 2


def test_benchmark_cells_prints_its_table(capsys):
    bench = load("benchmark_cells")
    rows = bench.main(["--repeats", "1", "--steps", "2"])
    out = capsys.readouterr().out
    assert "shell/floor" in out and "target <= 3" in out
    cells = [r for r in rows if "cell" in r]
    assert len(cells) == 12 and all(r["scan_us"] > 0 and r["floor_us"] > 0 for r in cells)
