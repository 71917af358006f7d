"""Any table as text for a paper or a script: CSV, Markdown, LaTeX (booktabs) or JSON.

Every command that prints a table takes `--format`; the table (title, headers, rows of strings) is the
same one the terminal shows, so what a user reads and what a script parses never disagree.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError

TABLE_FORMATS = ("table", "csv", "md", "latex", "json")


@dataclass(frozen=True)
class TextTable:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right: tuple[bool, ...] = ()  # per column: right-aligned (numbers)


def check_format(fmt: str) -> str:
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"--format: got {fmt!r}, expected one of {', '.join(TABLE_FORMATS)}")
    return fmt


def markdown(t: TextTable) -> str:
    """A GitHub/pandoc pipe table under its title in bold."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    align = ["---:" if r else "---" for r in (t.right or (False,) * len(t.headers))]
    head = [f"**{t.title}**", ""] if t.title else []
    return "\n".join([*head, line(t.headers), "|" + "|".join(align) + "|", *map(line, t.rows)]) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def latex(t: TextTable) -> str:
    """A booktabs tabular (needs \\usepackage{booktabs}), its title as a comment above it."""
    spec = "".join("r" if r else "l" for r in (t.right or (False,) * len(t.headers)))
    lines = ([f"% {t.title}"] if t.title else []) + [r"\begin{tabular}{" + spec + "}", r"\toprule",
                                                     " & ".join(map(latex_escape, t.headers)) + r" \\", r"\midrule"]
    lines += [" & ".join(map(latex_escape, row)) + r" \\" for row in t.rows]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"


def csv_text(t: TextTable) -> str:
    """Header row, then the rows; the title is not part of the CSV (it goes to the JSON and Markdown forms)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(t.headers)
    w.writerows(t.rows)
    return buf.getvalue()


def json_text(t: TextTable) -> str:
    """One line: {"title", "columns", "rows"} (a command with several tables prints one line each)."""
    return json.dumps({"title": t.title, "columns": list(t.headers), "rows": [list(r) for r in t.rows]}) + "\n"


def render_table(t: TextTable, fmt: str) -> str:
    """`t` as csv, md, latex or json text (the terminal 'table' is drawn by the CLI)."""
    renderers = {"csv": csv_text, "md": markdown, "latex": latex, "json": json_text}
    if check_format(fmt) == "table":
        raise ConfigError("--format: 'table' is drawn on the terminal, not rendered as text")
    return renderers[fmt](t)
