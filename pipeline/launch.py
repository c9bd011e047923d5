"""The `csac` entry point: the command runs in a child of the resident server when one is running
(`csac warm start`, pipeline/resident.py), else here. Only the stdlib is imported before that choice, so
that a `csac` without a server pays a stat, not an import."""

from __future__ import annotations

import sys

from . import resident


def main() -> None:
    argv = sys.argv[1:]
    if resident.may_run_warm(argv):
        ended = resident.run_warm(argv)
        if ended is not None:
            resident.exit_with(ended["exit"])
    from .cli import main as run_here

    run_here()
