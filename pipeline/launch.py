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


def serve_main(idle_minutes: float = resident.IDLE_MINUTES) -> None:
    """The resident server's process (`csac warm start` starts it). It lives here, above both the server
    and the command line, so that neither imports the other. Returns only in a child that is to run a
    command: then it runs it, and the interpreter exits as an exec'd `csac` would."""
    order = resident.serve(idle_minutes, warm_up=_warm_up)
    if order is None:
        return
    from . import cli

    cli.out, cli.err = cli.consoles()  # this terminal and environment, not the server's
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = resident.status_of(exc.code)
    resident.leave(code)


def _warm_up() -> None:
    """What each command would compute again, the same, that the children can inherit: the command line's
    click commands (typer builds them at each call: 20 to 40 ms), and the variants as read and checked
    (cached by their text, pipeline/variants.py). Nothing that opens a file for writing, a database or a
    connection: those are the child's own. The consoles are made again in each child."""
    import contextlib

    import typer.main

    from . import cli
    from .resources import Resources
    from .variants import load_variants

    built, build = typer.main.get_command(cli.app), typer.main.get_command
    typer.main.get_command = lambda app: built if app is cli.app else build(app)  # used once in each child
    with contextlib.suppress(Exception):  # a broken variant is the command's to report
        load_variants(Resources.default())
