"""The search report: one self-contained HTML file (plotly's JS inlined, no network) built from a run folder.

Pairwise Pareto plots, hypervolume over evaluations, the front as a table with units, robustness and
noise curves of front members, the energy breakdown (per layer, data vs MAC) of a chosen member,
predictor feature importance, and the exact command, versions and budgets.
"""

from __future__ import annotations

import csv
import json
from html import escape
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._plots import COLORS, Axis, figure_html, parallel_figure, pareto_figure, write_page

REPORT_NAME = "report.html"
_RUN_FILES = ("run.json", "trials.csv", "front.csv", "hypervolume.csv")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _load_run(run_dir: Path) -> dict[str, Any]:
    if not run_dir.is_dir():
        raise ConfigError(f"RUN_DIR: {run_dir} is not a folder; give the --output folder of a `paretonet search`")
    missing = [n for n in _RUN_FILES if not (run_dir / n).is_file()]
    if missing:
        raise ConfigError(f"RUN_DIR: {run_dir} has no {', '.join(missing)}; is it the --output folder of a finished search?")
    try:
        run = json.loads((run_dir / "run.json").read_text())
        extra = {n: json.loads((run_dir / f"{n}.json").read_text()) if (run_dir / f"{n}.json").is_file() else None
                 for n in ("importance", "curves")}
    except json.JSONDecodeError as e:
        raise ConfigError(f"RUN_DIR: {run_dir} holds a file that is not JSON: {e}") from None
    return {"run": run, "trials": _read_csv(run_dir / "trials.csv"), "front": _read_csv(run_dir / "front.csv"),
            "hypervolume": _read_csv(run_dir / "hypervolume.csv"), **extra}


def _label(o: dict[str, str]) -> str:
    return Axis(o["name"], o.get("unit", ""), o["direction"]).label


def _pareto_plots(data: dict[str, Any]) -> str:
    axes = [Axis(o["name"], o.get("unit", ""), o["direction"]) for o in data["run"]["objectives"]]
    front_keys = {f["trial"] for f in data["front"]}
    trials = data["trials"]
    chained = [f for f in data["front"] if f["trial"].startswith("cascade")]  # search --cascades
    points = [[float(t[a.name]) for a in axes] for t in [*trials, *chained]]
    on_front = [t["trial"] in front_keys for t in [*trials, *chained]]
    labels = ([f"trial {t['trial']}<br>{escape(t['key'])}" for t in trials]
              + [f"{t['trial']}<br>{escape(t['architecture'])}" for t in chained])
    html = figure_html(pareto_figure(axes, points, on_front, labels,
                                     "Pareto front, pairwise (red: non-dominated feasible trials)"), "pareto")
    if len(axes) >= 4:
        html += figure_html(parallel_figure(axes, points, on_front, "All objectives (red: the front)"), "parallel")
    return html


def _hypervolume_plot(data: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    hv = data["hypervolume"]
    fig = go.Figure(go.Scatter(x=[int(r["evaluations"]) for r in hv], y=[float(r["hypervolume"]) for r in hv],
                               mode="lines+markers"))
    ref = data["run"]["normalization"]["reference_point"]
    fig.update_layout(height=360, title=f"Hypervolume over evaluations (normalized space, reference point {ref})",
                      xaxis_title="completed trials", yaxis_title="hypervolume")
    return figure_html(fig, "hypervolume")


def _front_table(data: dict[str, Any]) -> str:
    objs = data["run"]["objectives"]
    head = "".join(f"<th>{escape(_label(o))}</th>" for o in objs)
    body = []
    for f in data["front"]:
        cells = "".join(f"<td class=num>{float(f[o['name']]):.6g}</td>" for o in objs)
        body.append(f"<tr><td>{escape(f['trial'])}</td><td class=arch>{escape(f['architecture'])}</td>"
                    f"<td>{escape(f['variant'] or '(float, as trained)')}</td>{cells}<td>{escape(f['model'])}</td></tr>")
    return (f"<table id=front><tr><th>trial</th><th>architecture</th><th>variant</th>{head}<th>model file</th></tr>"
            + "".join(body) + "</table>")


def _curves(data: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    curves = data["curves"]
    if not curves:
        return "<p>No robustness or noise curves: the table evaluator has no models to attack.</p>"
    rob, noise = go.Figure(), go.Figure()
    for k, c in enumerate(curves):
        name = f"{c['architecture'].split(':', 1)[-1][:40]} {c['variant']}"
        color = COLORS[k % len(COLORS)]
        rob.add_trace(go.Scatter(x=[0.0] + [e for e, _ in c["robust"]], y=[c["clean"]] + [a for _, a in c["robust"]],
                                 mode="lines+markers", name=name, line={"color": color}))
        if c.get("certified"):  # interval bounds: a lower bound under the attacks' upper one
            rob.add_trace(go.Scatter(x=[0.0] + [e for e, _ in c["certified"]],
                                     y=[c["clean"]] + [a for _, a in c["certified"]], mode="lines+markers",
                                     name=f"{name} certified (IBP)", line={"color": color, "dash": "dot"}))
        noise.add_trace(go.Scatter(x=[lv for lv, _, _ in c["noise"]], y=[m for _, m, _ in c["noise"]],
                                   error_y={"type": "data", "array": [s for _, _, s in c["noise"]]},
                                   mode="lines+markers", name=name))
    n, attacks = curves[0]["images"], curves[0]["attacks"]
    rob.update_layout(height=380, title=f"Worst-case robust accuracy ({attacks}, {n} images) of front members; "
                                        "dotted: certified by interval bounds (float members)",
                      xaxis_title="eps (Linf, pixels in [0, 1])", yaxis_title="accuracy")
    noise.update_layout(height=380, title=f"Accuracy under Gaussian noise (mean and std of 3 draws, {n} images)",
                        xaxis_title="noise std", yaxis_title="accuracy")
    return figure_html(rob, "robustness") + figure_html(noise, "noise")


def _energy(run_dir: Path, data: dict[str, Any], member: int | None) -> str:
    import plotly.graph_objects as go

    from ..hw import variant_energy
    from ..modelfile import load_model

    front = [f for f in data["front"] if f.get("model")]
    if not front:
        return "<p>No energy breakdown: the front has no model files (the table evaluator).</p>"
    chosen = front[0] if member is None else next((f for f in front if int(f["trial"]) == member), None)
    if chosen is None:
        raise ConfigError(f"--member: trial {member} is not on the front; the front holds trials "
                          f"{', '.join(f['trial'] for f in front)}")
    model, meta = load_model(run_dir / chosen["model"])
    e = variant_energy(model, meta.input_shape)  # the records' preset and dataflow
    names = [layer.name for layer in e.layers]
    fig = go.Figure([go.Bar(name="data movement", x=names, y=[layer.data_pj for layer in e.layers]),
                     go.Bar(name="MAC", x=names, y=[layer.mac_pj for layer in e.layers]),
                     go.Bar(name="other arithmetic", x=names, y=[layer.op_pj for layer in e.layers])])
    fig.update_layout(barmode="stack", height=380, yaxis_title="pJ per image",
                      title=f"Energy per layer of trial {chosen['trial']} ({escape(chosen['variant'] or 'float')}), "
                            f"horowitz45, dataflow {e.dataflow}: {e.total_pj:.4g} pJ, of which data {e.data_pj:.4g} pJ")
    return figure_html(fig, "energy")


def _importance(data: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    imp = data["importance"]
    if not imp:
        return "<p>No feature importance: the search ran without the predictor (or with too few evaluations).</p>"
    parts = []
    for k, (objective, ranked) in enumerate(imp.items()):
        fig = go.Figure(go.Bar(x=[g for _, g in ranked][::-1], y=[n for n, _ in ranked][::-1], orientation="h"))
        fig.update_layout(height=60 + 22 * len(ranked), title=f"Surrogate feature importance (total gain): {objective}",
                          margin={"l": 180})
        parts.append(figure_html(fig, f"importance{k}"))
    return "".join(parts)


def write_report(run_dir: str | Path, member: int | None = None, output: str | Path | None = None) -> Path:
    """Write the report of the search in `run_dir` (to run_dir/report.html by default); returns its path."""
    run_dir = Path(run_dir)
    data = _load_run(run_dir)
    run = data["run"]
    path = Path(output) if output is not None else run_dir / REPORT_NAME
    summary = (f"{run['completed']} completed trials, {run['front']} on the front, hypervolume {run['hypervolume']:.4f} "
               f"(normalized: accuracies as fractions, costs divided by {run['normalization']['scale']}; "
               f"reference point {run['normalization']['reference_point']})")
    sections = [
        f"<h1>paretonet search</h1><p>{escape(summary)}</p>",
        "<h2>Pareto front</h2>", _pareto_plots(data), _front_table(data),
        "<h2>Hypervolume</h2>", _hypervolume_plot(data),
        "<h2>Robustness and noise of front members</h2>", _curves(data),
        "<h2>Energy breakdown</h2>", _energy(run_dir, data, member),
        "<h2>Predictor</h2>", _importance(data),
        "<h2>Command, versions and budgets</h2>",
        f"<pre>{escape(run['command'])}</pre><pre>{escape(json.dumps({k: run[k] for k in ('versions', 'evaluator', 'search', 'constraints')}, indent=1))}</pre>",
    ]
    return write_page(path, "paretonet search report", sections, "--output")


from ._tables import TABLE_FORMATS, TextTable, check_format, render_table  # noqa: E402
from ._variance import write_variance_page  # noqa: E402
from ._compare import (  # noqa: E402
    FORMATS, Comparison, NoiseTest, compare, describe, difference_interval, mcnemar_p, noise_test, read_records, render,
    table_headers, table_rows, within_noise, write_plot,
)

__all__ = ["FORMATS", "REPORT_NAME", "TABLE_FORMATS", "TextTable", "check_format", "render_table", "Comparison", "NoiseTest", "compare", "describe", "difference_interval", "mcnemar_p",
           "noise_test", "read_records", "render", "table_headers", "table_rows", "within_noise", "write_plot", "write_report",
           "write_variance_page"]
