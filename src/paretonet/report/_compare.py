"""Records from any command side by side: one table, values relative to a baseline row, the Pareto front
over chosen objectives, constraints, and the table as CSV, Markdown, LaTeX or JSON.

A difference of two accuracies is "within noise" when a test at the 5 % level finds no difference. Two
accuracies measured on the same images (same fingerprint) with per-image outcomes get the paired test,
McNemar's exact test on the images one model gets right and the other wrong; otherwise the 95 % interval of
the difference of two independent proportions (Newcombe's hybrid score interval, from each side's Wilson
interval) must contain zero. The unpaired interval ignores that both models find the same images hard, so
it calls more differences noise than the paired test.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..records import Objective, Record, outcomes, records_from_json
from ..records.names import resolve
from ._tables import TABLE_FORMATS, TextTable, check_format, render_table

FORMATS = TABLE_FORMATS
_WHERE = re.compile(r"^\s*([^<>=\s]+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*(x?)\s*$")


# -- reading --------------------------------------------------------------------------------------
def _records_of_json(path: Path, strict: bool) -> list[Record]:
    from .._schema import read_json

    try:
        payload = read_json(path, f"FILES: {path}")
    except ConfigError:
        if strict:
            raise
        return []
    looks = isinstance(payload, dict) and "objectives" in payload or (
        isinstance(payload, list) and payload and all(isinstance(d, dict) and "objectives" in d for d in payload))
    if not looks:
        if strict:
            raise ConfigError(f"FILES: {path} holds no Records (expected the JSON a paretonet command writes with "
                              "--output)")
        return []
    return records_from_json(payload, str(path))


def read_records(paths: Sequence[str | Path]) -> list[Record]:
    """Records from files (a Record's JSON or a list of them; a bench build store) and folders (every JSON
    file in them that holds Records, e.g. a search run's front.json). A named file that is none: an error."""
    from ..bench import BenchStore

    out: list[Record] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*.json")):
                out += _records_of_json(f, strict=False)
        elif p.is_file() and p.read_bytes()[:16] == b"SQLite format 3\x00":
            store = BenchStore(p, must_exist=True)
            try:
                out += store.records()
            finally:
                store.close()
        elif p.is_file():
            out += _records_of_json(p, strict=True)
        else:
            raise ConfigError(f"FILES: {p} does not exist")
    if not out:
        raise ConfigError(f"FILES: no Records in {', '.join(map(str, paths))}")
    return out


# -- intervals --------------------------------------------------------------------------------------
def difference_interval(a: Objective, b: Objective) -> tuple[float, float] | None:
    """95 % interval of a - b for two accuracies with Wilson intervals (Newcombe 1998, method 10)."""
    if a.interval is None or b.interval is None:
        return None
    (l1, u1), (l2, u2) = a.interval, b.interval
    d = a.value - b.value
    return (d - math.sqrt((a.value - l1) ** 2 + (u2 - b.value) ** 2),
            d + math.sqrt((u1 - a.value) ** 2 + (b.value - l2) ** 2))


def mcnemar_p(a: np.ndarray, b: np.ndarray) -> float:
    """Exact two-sided McNemar test of paired per-image outcomes: under no difference, the images exactly one
    model gets right split between the two as Binomial(n, 1/2)."""
    from scipy.stats import binomtest

    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    return 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


@dataclass(frozen=True)
class NoiseTest:
    within: bool  # no difference at the 5 % level
    test: str  # "mcnemar" (paired, same images) or "newcombe" (two independent proportions)
    p_value: float | None  # McNemar's p; the interval test has none

    def __str__(self) -> str:
        return f"McNemar p={self.p_value:.2g}" if self.test == "mcnemar" else "Newcombe 95 % interval"


def noise_test(a: Objective, b: Objective) -> NoiseTest | None:
    """Whether two accuracies differ beyond sampling noise: paired where both carry outcomes on the same images."""
    if a.images_id is not None and a.images_id == b.images_id:
        oa, ob = outcomes(a), outcomes(b)
        if oa is not None and ob is not None and len(oa) == len(ob):
            p = mcnemar_p(oa, ob)
            return NoiseTest(p >= 0.05, "mcnemar", p)
    iv = difference_interval(a, b)
    return None if iv is None else NoiseTest(iv[0] <= 0.0 <= iv[1], "newcombe", None)


def within_noise(a: Objective, b: Objective) -> bool | None:
    t = noise_test(a, b)
    return None if t is None else t.within


# -- the comparison -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Constraint:
    name: str
    op: str
    bound: float
    relative: bool  # bound times the baseline's value

    def holds(self, value: float, base: float | None) -> bool:
        bound = self.bound * base if self.relative and base is not None else self.bound
        return value <= bound if self.op == "<=" else value >= bound


@dataclass(frozen=True)
class Comparison:
    records: tuple[Record, ...]
    names: tuple[str, ...]  # objective columns, in first-seen order
    baseline: int | None  # row index of the baseline record
    front_objectives: tuple[str, ...]
    on_front: tuple[bool, ...]

    def objective(self, row: int, name: str) -> Objective | None:
        return next((o for o in self.records[row].objectives if o.name == name), None)

    def unit(self, name: str) -> str:
        return next(o.unit for r in self.records for o in r.objectives if o.name == name)

    def relative(self, row: int, name: str) -> tuple[str, NoiseTest | None]:
        """The value against the baseline ('+0.0120' points for fractions, '0.52x' otherwise) and the test of
        whether an accuracy difference is within noise; ('', None) without a baseline or a value."""
        if self.baseline is None:
            return "", None
        o, b = self.objective(row, name), self.objective(self.baseline, name)
        if o is None or b is None or not (math.isfinite(o.value) and math.isfinite(b.value)):
            return "", None
        if o.unit == "fraction":
            return f"{o.value - b.value:+.4f}", noise_test(o, b)
        return (f"{o.value / b.value:.3g}x" if b.value else "-"), None


def parse_where(text: str, names: Sequence[str]) -> Constraint:
    """'energy<=0.5x' (relative to the baseline), 'accuracy>=0.95', 'size_bytes<=60000'."""
    m = _WHERE.match(text)
    if m is None:
        raise ConfigError(f"--where: got {text!r}, expected <objective><=<number>[x] or <objective>>=<number>[x]")
    try:
        bound = float(m[3])
    except ValueError:
        raise ConfigError(f"--where: {m[3]!r} in {text!r} is not a number") from None
    return Constraint(resolve(m[1], names, "--where"), m[2], bound, m[4] == "x")


def _baseline(records: Sequence[Record], baseline: str | None) -> int | None:
    if baseline is None:
        return None
    if baseline.isdigit():
        if int(baseline) >= len(records):
            raise ConfigError(f"--baseline: row {baseline} does not exist; there are {len(records)} records (0..)")
        return int(baseline)
    rows = [i for i, r in enumerate(records) if r.variant == ("" if baseline in ("float", "as-trained") else baseline)]
    if not rows:
        raise ConfigError(f"--baseline: no record has the variant {baseline!r}; give a row number or one of "
                          f"{', '.join(sorted({r.variant or 'float' for r in records}))}")
    return rows[0]


def compare(records: Sequence[Record], *, baseline: str | None = None, front: Sequence[str] = (),
            where: Sequence[str] = (), allow_mixed: bool = False) -> Comparison:
    """The records that meet `where`, with the Pareto front over `front` (default: accuracy, energy and
    size where every record has them) marked; `baseline` is a row number or a variant string."""
    datasets = sorted({r.dataset for r in records})
    if len(datasets) > 1 and not allow_mixed:
        raise ConfigError(f"FILES: records of different datasets ({', '.join(datasets)}); numbers of different test "
                          "sets do not compare: pass --allow-mixed to put them side by side anyway")
    names = tuple(dict.fromkeys(o.name for r in records for o in r.objectives))
    b = _baseline(records, baseline)
    constraints = [parse_where(w, names) for w in where]
    if any(c.relative for c in constraints) and b is None:
        raise ConfigError("--where: a relative bound (0.5x) needs --baseline")
    base_values = {o.name: o.value for o in records[b].objectives} if b is not None else {}
    keep = [i for i, r in enumerate(records)
            if all((v := {o.name: o.value for o in r.objectives}.get(c.name)) is not None
                   and c.holds(v, base_values.get(c.name)) for c in constraints)]
    kept = tuple(records[i] for i in keep)
    new_b = keep.index(b) if b is not None and b in keep else None
    names = tuple(dict.fromkeys(o.name for r in kept for o in r.objectives))
    common = [n for n in names if all(any(o.name == n for o in r.objectives) for r in kept)]
    if front:
        chosen = tuple(resolve(n, names or ("(no rows left)",), "--front") for n in front)
    else:
        chosen = tuple(n for n in (resolve_or_none("accuracy", common), resolve_or_none("energy", common),
                                   resolve_or_none("size", common)) if n)
    return Comparison(kept, names, new_b, chosen, _front_mask(kept, chosen))


def resolve_or_none(name: str, names: Sequence[str]) -> str | None:
    try:
        return resolve(name, names, "")
    except ConfigError:
        return None


def _front_mask(records: Sequence[Record], names: Sequence[str]) -> tuple[bool, ...]:
    """Non-dominated rows over `names` (each in its direction); a row missing one of them is not on it."""
    if len(names) < 2 or not records:
        return tuple(False for _ in records)
    rows, values = [], []
    for i, r in enumerate(records):
        by = {o.name: o for o in r.objectives}
        if all(n in by and math.isfinite(by[n].value) for n in names):
            rows.append(i)
            values.append([by[n].value * (-1 if by[n].direction == "max" else 1) for n in names])
    v = np.array(values)
    mask = [False] * len(records)
    for k, i in enumerate(rows):
        dominated = np.any(np.all(v <= v[k], axis=1) & np.any(v < v[k], axis=1))
        mask[i] = not bool(dominated)
    return tuple(mask)


# -- output ---------------------------------------------------------------------------------------
def _value(o: Objective | None) -> str:
    if o is None or not math.isfinite(o.value):
        return "-"
    if o.unit == "fraction":
        return f"{o.value:.4f}"
    if o.unit in ("bytes", "count", "MACs"):
        return f"{o.value:,.0f}"
    return f"{o.value:.4g}"


def _cell(c: Comparison, row: int, name: str) -> str:
    o = c.objective(row, name)
    text = _value(o)
    if o is not None and o.interval is not None and math.isfinite(o.value):
        text += f" ±{(o.interval[1] - o.interval[0]) / 2:.3f}"
    rel, noise = c.relative(row, name)
    if rel and row != c.baseline:
        verdict = ("" if noise is None else ", within noise" if noise.within else "")
        paired = f", {noise}" if noise is not None and noise.test == "mcnemar" else ""
        text += f" ({rel}{verdict}{paired})"
    return text


def _row_name(r: Record) -> str:
    return f"{r.architecture} {r.variant or '(float)'}"


def table_headers(c: Comparison) -> list[str]:
    """Objective columns with their unit; accuracies with ± half their 95 % interval; a change in parentheses is
    against the baseline row (points for fractions, a ratio otherwise)."""
    return ["row", "front", "architecture", "variant", "seed",
            *(f"{n} ({c.unit(n)}{' ±95 %' if c.unit(n) == 'fraction' else ''})" for n in c.names)]


def describe(c: Comparison) -> str:
    """One line saying what the table holds: records, the front's objectives, the baseline."""
    front = f"front (*) over {', '.join(c.front_objectives)}" if c.front_objectives else "no front: give --front"
    base = (f"; in parentheses the change against row {c.baseline} (points for fractions, a ratio otherwise)"
            if c.baseline is not None else "")
    return f"{len(c.records)} records on {', '.join(sorted({r.dataset for r in c.records}))}; {front}{base}"


def table_rows(c: Comparison) -> list[list[str]]:
    return [[str(i), "*" if c.on_front[i] else "", r.architecture, r.variant or "(float)", str(r.seed),
             *(_cell(c, i, n) for n in c.names)] for i, r in enumerate(c.records)]


def to_json(c: Comparison) -> list[dict]:
    out = []
    for i, r in enumerate(c.records):
        d = {"row": i, "on_front": c.on_front[i], **r.to_dict()}
        if c.baseline is not None:
            d["vs_baseline"] = {n: _vs_baseline(*c.relative(i, n)) for n in c.names if c.relative(i, n)[0]}
        out.append(d)
    return out


def _vs_baseline(change: str, t: NoiseTest | None) -> dict:
    if t is None:
        return {"change": change, "within_noise": None}
    return {"change": change, "within_noise": t.within, "test": t.test, "p_value": t.p_value}


def to_csv(c: Comparison) -> str:
    """Plain numbers: each objective's value, its interval, and its change against the baseline."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ["row", "on_front", "architecture", "variant", "dataset", "seed"]
    for n in c.names:
        cols += [n, f"{n} low", f"{n} high", f"{n} images"] if c.unit(n) == "fraction" else [n]
        cols += [f"{n} vs baseline", f"{n} within noise", f"{n} test"] if c.baseline is not None else []
    w.writerow(cols)
    for i, r in enumerate(c.records):
        line: list = [i, c.on_front[i], r.architecture, r.variant, r.dataset, r.seed]
        for n in c.names:
            o = c.objective(i, n)
            line.append("" if o is None else repr(o.value))
            if c.unit(n) == "fraction":
                iv = o.interval if o is not None and o.interval else ("", "")
                line += [iv[0], iv[1], "" if o is None or o.images is None else o.images]
            if c.baseline is not None:
                rel, noise = c.relative(i, n)
                line += [rel, "", ""] if noise is None else [rel, noise.within, str(noise)]
        w.writerow(line)
    return buf.getvalue()


def text_table(c: Comparison) -> TextTable:
    """The comparison as the table every --format renders (row, front, names left; objectives right)."""
    h = table_headers(c)
    return TextTable("", tuple(h), tuple(map(tuple, table_rows(c))), tuple(i >= 5 for i in range(len(h))))


def render(c: Comparison, fmt: str) -> str:
    """The comparison as text: csv, md, latex or json ('table' is the Markdown table: the CLI draws its own)."""
    check_format(fmt)
    if fmt == "csv":
        return to_csv(c)
    if fmt == "json":
        return json.dumps(to_json(c), indent=1) + "\n"
    return render_table(text_table(c), "md" if fmt == "table" else fmt)


def write_plot(c: Comparison, path: str | Path) -> Path:
    """The comparison as one HTML page: pairwise fronts over the front's objectives (parallel coordinates too
    for four or more), and the table; every plot saves as SVG from its camera button."""
    from html import escape

    from ._plots import Axis, figure_html, parallel_figure, pareto_figure, write_page

    if len(c.front_objectives) < 2:
        raise ConfigError("--plot: needs at least two objectives to plot: give --front with two or more")
    axes = [Axis(n, c.unit(n), next(o.direction for r in c.records for o in r.objectives if o.name == n))
            for n in c.front_objectives]
    rows = [i for i in range(len(c.records)) if all(c.objective(i, a.name) is not None for a in axes)]
    points = [[c.objective(i, a.name).value for a in axes] for i in rows]
    on_front = [c.on_front[i] for i in rows]
    labels = [f"row {i}<br>{escape(_row_name(c.records[i]))}" for i in rows]
    sections = [f"<h1>paretonet compare</h1><p>{escape(describe(c))}</p>",
                figure_html(pareto_figure(axes, points, on_front, labels, "Pairwise (red: the front)"), "pairwise")]
    if len(axes) >= 4:
        sections.append(figure_html(parallel_figure(axes, points, on_front, "All plotted objectives (red: the front)"),
                                    "parallel"))
    head = "".join(f"<th>{escape(h)}</th>" for h in table_headers(c))
    body = "".join("<tr>" + "".join(f"<td>{escape(x)}</td>" for x in row) + "</tr>" for row in table_rows(c))
    sections.append(f"<table><tr>{head}</tr>{body}</table>")
    return write_page(path, "paretonet compare", sections, "--plot")
