"""`paretonet compare`: records from any command in one table, relative to a baseline, with the Pareto front."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import FormatOpt, Table, app, check_format, err, names, out


@app.command("compare")
def compare_cmd(
    files: Annotated[list[Path], typer.Argument(
        help="Record JSON files (any command's --output), folders of them (a search run), bench build stores.")],
    baseline: Annotated[Optional[str], typer.Option(
        help="Row number or variant string (float: the model as trained) the others are relative to.")] = None,
    front: Annotated[Optional[str], typer.Option(
        help="Objectives of the Pareto front, comma-separated (default: accuracy, energy, size).")] = None,
    where: Annotated[Optional[list[str]], typer.Option(
        help="Keep rows meeting a bound, e.g. 'energy<=0.5x' (times the baseline's) or 'accuracy>=0.95'; repeatable.")] = None,
    fmt: FormatOpt = "table",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the chosen format to this file.")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        help="Write an HTML page of plots here: pairwise fronts, parallel coordinates for 4+ objectives (SVG from the "
             "camera button).")] = None,
    allow_mixed: Annotated[bool, typer.Option("--allow-mixed", help="Compare records of different datasets.")] = False,
) -> None:
    """Put Records side by side: every objective with its unit and 95 % interval, changes against a baseline
    (accuracy differences within noise say so), the Pareto front marked with *."""
    from ..report import compare, describe, read_records, render, table_headers, table_rows, write_plot

    check_format(fmt)
    c = compare(read_records(files), baseline=baseline, front=names(front), where=where or (), allow_mixed=allow_mixed)
    if plot is not None:
        err.print(f"wrote {write_plot(c, plot)}")
    if output is not None:
        try:
            output.write_text(render(c, "md" if fmt == "table" else fmt))
        except OSError as e:
            raise ConfigError(f"--output: cannot write {output}: {e.strerror or e}") from None
        err.print(f"wrote {output}")
    if fmt != "table":
        if output is None:
            out.print(render(c, fmt), end="", markup=False, highlight=False, soft_wrap=True)
        return
    t = Table(title=describe(c))
    for h in table_headers(c):
        t.add_column(h, overflow="fold")
    for row in table_rows(c):
        t.add_row(*row)
    out.print(t)
