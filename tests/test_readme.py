"""The README's Python examples run as written, and its Quick start is the CI command."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_python_examples_run():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)


def test_ci_runs_the_readme_test_command():
    text = (ROOT / "README.md").read_text()
    quick = re.search(r"## Quick start\n+```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert len(quick) == 2
    ci = (ROOT / ".ci" / "run").read_text()
    assert quick[1] in ci
