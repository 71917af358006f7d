"""The `paretonet` command: thin typer modules, one per command group, over the Python API.

Any ParetonetError (and any usage error) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from ..errors import ParetonetError
# each module registers its commands; this order is the order of `paretonet --help`
from . import train, spaces, robustness, certify, variance_map, faults, energy, device, compress, cascade, bench, search, compare  # noqa: F401, I001
from ._common import app, err


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn expected errors into one stderr line and exit code 2."""
    from typer._click.exceptions import ClickException

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="paretonet", standalone_mode=False)
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


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main", "run"]
