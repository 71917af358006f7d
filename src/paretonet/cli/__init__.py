"""The `paretonet` command: thin typer modules, one per command group, over the Python API.

Any ParetonetError (and any usage error) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import contextvars
import sys

from .._threads import limit_openmp_spinning

limit_openmp_spinning()  # before anything imports torch: OpenMP reads it once, when it loads

import typer  # noqa: E402

from ..errors import ParetonetError  # noqa: E402
# each module registers its commands; this order is the order of `paretonet --help`
from . import train, spaces, robustness, certify, variance_map, faults, energy, device, compress, cascade, bench, search, compare  # noqa: F401, I001
from ._common import app, err  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn expected errors into one stderr line and exit code 2."""
    from typer._click.exceptions import ClickException

    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else list(argv)
    text = help_text(command, args[:-1]) if args and args[-1] == "--help" else None
    if text is not None:
        sys.stdout.write(text + "\n")
        return 0
    try:
        # a fresh context per call: --trust-code (a context variable) holds for this run only
        code = contextvars.copy_context().run(command.main, args=args, prog_name="paretonet", standalone_mode=False)
    except ParetonetError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except ClickException as e:
        err.print(f"error: {e.format_message()}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except (KeyboardInterrupt, typer.Abort):
        err.print("aborted", markup=False)
        return 130
    return code if isinstance(code, int) else 0


def help_text(command, names: list[str]) -> str | None:  # noqa: ANN001
    """`paretonet NAME... --help` as typer prints it, without parsing: typer 0.29 coerces the group's own --help flag
    through pydantic before dispatching (0.15 s of start-up). None where `names` are not (sub)commands."""
    from typer._click.core import Context
    from typer.core import TyperGroup

    ctx = Context(command, info_name="paretonet", **command.context_settings)
    for name in names:
        sub = command.commands.get(name) if isinstance(command, TyperGroup) else None
        if sub is None:
            return None
        ctx, command = Context(sub, info_name=name, parent=ctx, **sub.context_settings), sub
    return command.get_help(ctx)


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main", "run"]
