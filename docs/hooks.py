"""MkDocs hook: tables generated from the code at build time, so they cannot go stale.

A page that holds one of the markers below gets the table in its place:

- ``<!-- rpe:train-options -->``: every option of ``rpe train`` (``scripts/train.py``'s parser);
- ``<!-- rpe:commands -->``: the ``rpe`` commands (``scripts.cli.COMMANDS``);
- ``<!-- rpe:agents -->``: every registered agent and its hyperparameters
  (``agents.registry.AGENTS``, what ``rpe train --list-hyperparameters`` prints).
"""

from __future__ import annotations

import argparse


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def train_options() -> str:
    from scripts import train

    rows = ["| option | default | meaning |", "|---|---|---|"]
    for action in train.build_parser()._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        flags = ", ".join(f"`{s}`" for s in action.option_strings)
        if action.metavar:
            flags += f" `{action.metavar}`"
        elif action.choices:
            flags += " `{" + ",".join(map(str, action.choices)) + "}`"
        elif action.nargs != 0:
            flags += f" `{action.dest.upper()}`"
        unset = action.default is None or action.default is False or action.default == []
        default = "" if unset else f"`{action.default}`"
        rows.append(f"| {flags} | {default} | {_cell(action.help or '')} |")
    return "\n".join(rows)


def commands() -> str:
    from scripts.cli import COMMANDS

    rows = ["| command | script | what it does |", "|---|---|---|"]
    rows += [
        f"| `rpe {name}` | `scripts/{module}.py` | {text} |" for name, (module, text) in COMMANDS.items()
    ]
    return "\n".join(rows)


def agents() -> str:
    from agents.registry import AGENTS

    parts = []
    for name, family in AGENTS.items():
        config = family.config()
        rows = [
            f"### `{name}`",
            "",
            f"{family.summary}. Config class: `{family.config.__module__}.{family.config.__name__}`.",
            "",
            "| name | kind | default | meaning |",
            "|---|---|---|---|",
        ]
        for field_name, field in family.config.__dataclass_fields__.items():
            kind = field.metadata.get("kind", "")
            doc = _cell(field.metadata.get("doc", ""))
            rows.append(f"| `{field_name}` | {kind} | `{getattr(config, field_name)!r}` | {doc} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


MARKERS = {
    "<!-- rpe:train-options -->": train_options,
    "<!-- rpe:commands -->": commands,
    "<!-- rpe:agents -->": agents,
}


def on_page_markdown(markdown: str, **kwargs) -> str:
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
