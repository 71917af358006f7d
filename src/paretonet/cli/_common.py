"""What every command shares: the app, consoles, option types, parsers, tables and writing results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich import table as rich_table

from ..errors import ConfigError

if TYPE_CHECKING:  # records load numpy: not on the way to --help
    from ..records import Objective, Record

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: no rich tables that cut option names with "…" off a terminal
    # not a terminal (a pipe, a file): help lines as long as they are, so no command's summary is cut with "..."
    context_settings={} if sys.stdout.isatty() else {"terminal_width": 10_000, "max_content_width": 10_000},
    help="Pick image-classification CNNs on accuracy, robustness, size and energy.",
)
# Not a terminal (a pipe, a file, CI): so wide that no table is ever cut or wrapped.
out = Console(width=None if sys.stdout.isatty() else 10_000)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 10_000)

class Table(rich_table.Table):
    """A rich table at least as wide as its title, so a title never breaks in the middle of a word where
    the output is wide (a file or a pipe); every column folds rather than cutting a value with '…'."""

    def __init__(self, *args, title: str | None = None, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, title=title, min_width=len(title) if title else None, **kwargs)

    def add_column(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        kwargs.setdefault("overflow", "fold")
        super().add_column(*args, **kwargs)


def text_table(t: rich_table.Table):  # noqa: ANN201
    """The rich table as plain strings (cells are plain text here: no markup to strip)."""
    from ..report import TextTable

    def plain(cell: object) -> str:
        return cell.plain if hasattr(cell, "plain") else str(cell)

    cells = [[plain(c) for c in col.cells] for col in t.columns]
    return TextTable(plain(t.title) if t.title else "", tuple(plain(col.header) for col in t.columns),
                     tuple(tuple(col[i] for col in cells) for i in range(t.row_count)),
                     tuple(col.justify == "right" for col in t.columns))


def check_format(fmt: str) -> None:
    """--format names a table format (every table command checks it first, before any work)."""
    from ..report import check_format as check

    check(fmt)


def show(t: rich_table.Table, fmt: str = "table") -> None:
    """Print a table as the terminal table or as --format text (csv, md, latex, json); several tables of one
    command follow each other (csv and md: a blank line between; json: one line each)."""
    from ..report import render_table

    if fmt == "table":
        out.print(t)
        return
    text = render_table(text_table(t), fmt)
    out.print(text + ("\n" if fmt in ("csv", "md", "latex") else ""), end="", markup=False, highlight=False,
              soft_wrap=True)


def say(text: str, fmt: str = "table") -> None:
    """A line beside the tables: on stdout with the terminal table, on stderr when stdout holds --format text."""
    (out if fmt == "table" else err).print(text, markup=False, highlight=False, soft_wrap=True)


# -- options used by several commands ------------------------------------------------------------
FormatOpt = Annotated[str, typer.Option(
    "--format", help="How tables are printed: table (terminal), csv, md, latex or json (one line per table).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of every random choice in this command.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the result as JSON to this file.")]
DataDirOpt = Annotated[Optional[str], typer.Option(help="Folder holding the dataset files (IDX or CIFAR-10 batches).")]
DatasetOpt = Annotated[Optional[str], typer.Option(help="Dataset to evaluate on (default: the model's own).")]
SplitSeedOpt = Annotated[int, typer.Option(help="Seed of the train/validation/test split.")]
ModelArg = Annotated[Path, typer.Argument(
    help="PATH.safetensors + PATH.json: saved by paretonet (--save-model), or your own weights with a JSON naming "
         "entry_point 'package.module:factory'; or an .onnx file (a JSON beside it names the dataset).")]


def _trust_code(trusted: bool) -> bool:
    from ..modelfile import trust_code_for_this_run

    if trusted:
        trust_code_for_this_run()
    return trusted


TrustCodeOpt = Annotated[bool, typer.Option(
    "--trust-code", callback=_trust_code,
    help="Let a model's entry point import Python code that came with it (a module beside the model file, not "
         "installed in this environment). Only for models from someone you trust: that code runs as you.")]
AttackPresetOpt = Annotated[str, typer.Option(
    "--attack-preset", "--preset", help="Attack preset: fast (FGSM+PGD), standard (AutoAttack's APGD-CE+APGD-T+FAB-T+Square) or full.")]
EpsOpt = Annotated[float, typer.Option(help="Perturbation size in [0, 1] (pixels in [0, 1]).")]
ImagesOpt = Annotated[Optional[int], typer.Option(help="Test images attacked, a seeded sample (default: all).")]
QueriesOpt = Annotated[int, typer.Option(help="Square attack queries per image.")]
NoRobustOpt = Annotated[bool, typer.Option("--no-robust", help="Skip robust accuracy.")]
LutDirOpt = Annotated[Optional[list[str]], typer.Option(
    "--lut-dir", help="Folder of EvoApprox/tf-approximate .bin tables (repeatable; also PARETONET_MULTIPLIER_DIRS).")]
SignedOpt = Annotated[Optional[bool], typer.Option(
    "--signed/--unsigned", help="Signedness of .bin tables (default: from the EvoApprox name, mul8s_/mul8u_).")]


# -- parsers: anything malformed is one line naming the option ------------------------------------
def numbers(option: str, text: str, convert: type = float, example: str = "0.05,0.1") -> tuple:
    """'a,b,c' as numbers of one type."""
    try:
        values = tuple(convert(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        kind = "integers" if convert is int else "numbers"
        raise ConfigError(f"{option}: got {text!r}, expected comma-separated {kind} such as {example}")
    return values


def names(text: str | None) -> tuple[str, ...]:
    """'a, b' -> ('a', 'b'); None or '' -> ()."""
    return tuple(n.strip() for n in text.split(",") if n.strip()) if text else ()


def parse_shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"--input-shape: got {text!r}, expected C,H,W such as 1,8,8")
    return shape  # type: ignore[return-value]


def architecture(text: str, space: str):  # noqa: ANN201
    """'space:genotype' as given, else a named member or bare genotype of `space` (nb201 cells start with '|')."""
    from ..analytic import parse_architecture
    from ..spaces import Architecture

    return Architecture.parse(parse_architecture(text, space))


# -- output ---------------------------------------------------------------------------------------
def check_save_paths(output: Path | None, save: Path | None) -> None:
    """--output and --save-model must not name the same JSON: the Record would overwrite the model's metadata."""
    from ..modelfile import model_paths

    if save is not None and output is not None and output.resolve() == model_paths(save)[1].resolve():
        raise ConfigError(f"--output: {output} is where --save-model writes the model's metadata; choose another file")


def write_json(path: Path | None, payload: Any) -> None:
    if path is None:
        return
    try:
        text = json.dumps(payload, indent=2, sort_keys=True, allow_nan=False)
    except ValueError:  # NaN or Infinity: not JSON, and not a number anyone should read back
        raise ConfigError(f"--output: refusing to write {path}: the result holds a number that is not finite") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    except OSError as e:
        raise ConfigError(f"--output: cannot write {path}: {e.strerror or e}") from None
    err.print(f"wrote {path}")


def write_records(path: Path | None, records: list[Record]) -> None:
    """A command's result: one Record's JSON form, or a list of them."""
    write_json(path, records[0].to_dict() if len(records) == 1 else [r.to_dict() for r in records])


def format_value(o: Objective) -> str:
    if o.unit == "fraction":
        return f"{o.value:.4f}"
    if o.unit in ("bytes", "count", "MACs"):
        return f"{o.value:,.0f}"
    return f"{o.value:.4g}"


def objective_table(title: str, objectives: tuple[Objective, ...] | list[Objective]) -> Table:
    t = Table(title=title)
    for col in ("objective", "value", "unit", "direction"):
        t.add_column(col, justify="right" if col == "value" else "left")
    for o in objectives:
        t.add_row(o.name, format_value(o), o.unit, o.direction)
    return t


def comparison_table(title: str, records: list[Record], baseline: int = 0) -> Table:
    """Objectives of several records side by side; the last column relates the last to records[baseline]."""
    t = Table(title=title)
    t.add_column("objective")
    for r in records:
        t.add_column(r.variant or "as trained", justify="right")
    first, last = records[baseline].variant or "as trained", records[-1].variant or "as trained"
    t.add_column(f"{last} vs {first}", justify="right")
    order = list(dict.fromkeys(o.name for r in records for o in r.objectives))
    for name in order:
        row = [next((o for o in r.objectives if o.name == name), None) for r in records]
        b, a = row[baseline], row[-1]
        unit = next(o.unit for o in row if o is not None)
        if b is None or a is None:
            change = "-"
        elif unit == "fraction":
            change = f"{a.value - b.value:+.4f}"
        else:
            change = f"{a.value / b.value:.3f}x" if b.value else "-"
        t.add_row(f"{name} ({unit})", *(format_value(o) if o else "-" for o in row), change)
    return t
