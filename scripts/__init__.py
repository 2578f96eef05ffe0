"""Command-line entry points; ``rpe COMMAND`` (``scripts.cli.main``) dispatches to them."""
