"""The documentation site: every tutorial runs (at a small budget), the pages' Python blocks
run, and ``mkdocs build --strict`` passes (a warning, a broken link or a missing reference
fails it).

A tutorial is a script ``docs/tutorials/NAME.py`` with ``main(argv)`` taking ``--quick`` (tiny
budgets) and ``--out DIR`` (default ``docs/tutorials/figures``: a full run writes the figures
and the output the pages show). Code blocks fenced exactly as ```` ```python ```` on a page are
run; a block shown but not run (the ngc-learn version of a model, a multi-host setup) is
fenced ```` ```py title="..." ````.
"""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted(p.stem for p in (DOCS / "tutorials").glob("*.py"))


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"tutorial_{name}", DOCS / "tutorials" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_tutorial_has_a_page_and_its_figures():
    pages = "\n".join(p.read_text() for p in (DOCS / "tutorials").glob("*.md"))
    for name in TUTORIALS:
        assert f'--8<-- "docs/tutorials/{name}.py' in pages, f"no page includes docs/tutorials/{name}.py"
    for figure in re.findall(r"\]\((figures/[^)]+)\)", pages):
        assert (DOCS / "tutorials" / figure).is_file(), f"{figure}: run its tutorial in full to make it"


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_runs(name, tmp_path):
    text = load(name).main(["--quick", "--out", str(tmp_path)])
    assert text.strip()
    assert (tmp_path / f"{name}.txt").read_text().strip() == text.strip()
    assert list(tmp_path.glob("*.png")), f"{name} wrote no figure"


def test_python_blocks_on_the_pages_run():
    blocks = [
        (page, block)
        for page in sorted(DOCS.rglob("*.md"))
        for block in re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)
        if not block.lstrip().startswith("--8<--")  # a tutorial's code: its own test runs it
    ]
    assert len(blocks) >= 4
    for page, block in blocks:
        exec(compile(block, str(page.relative_to(ROOT)), "exec"), {})


def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The options table is generated from the parser: every option of rpe train is on its page.
    from scripts import train

    page = (site / "reference" / "train" / "index.html").read_text()
    for action in train.build_parser()._actions:
        for option in [] if action.dest == "help" else action.option_strings:
            assert option in page, f"rpe train {option} is not on reference/train"
