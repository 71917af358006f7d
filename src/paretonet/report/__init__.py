"""The search report: one self-contained HTML file (plotly's JS inlined, no network) built from a run folder.

Pairwise Pareto plots, hypervolume over evaluations, the front as a table with units, robustness and
noise curves of front members, the energy breakdown (per layer, data vs MAC) of a chosen member,
predictor feature importance, and the exact command, versions and budgets.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..records.run_folder import RunFolder
from ._plots import COLORS, Axis, figure_html, parallel_figure, pareto_figure, write_page

REPORT_NAME = "report.html"


def _load_run(run_dir: Path) -> dict[str, Any]:
    folder = RunFolder(run_dir)
    folder.check_finished()
    return {"run": folder.run(), "trials": folder.trials(), "front": folder.front_rows(),
            "hypervolume": folder.hypervolume(), "importance": folder.importance(), "curves": folder.curves(),
            "records": folder.front_records(), "least_violating": folder.least_violating()}


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


def _least_violating(data: dict[str, Any]) -> str:
    """When no trial meets the constraints: the trials closest to meeting them, marked as such."""
    rows = data["least_violating"]
    if not rows:
        return ""
    objs = data["run"]["objectives"]
    head = "".join(f"<th>{escape(_label(o))}</th>" for o in objs)
    body = "".join(f"<tr class=violating><td>{escape(r['trial'])}</td><td class=arch>{escape(r['architecture'])}</td>"
                   f"<td>{escape(r['variant'] or '(float, as trained)')}</td>"
                   + "".join(f"<td class=num>{float(r[o['name']]):.6g}</td>" for o in objs)
                   + f"<td class=num>{float(r['violation']):.4g}</td></tr>" for r in rows)
    constraints = ", ".join(data["run"].get("constraints", []))
    return (f"<p id=infeasible><strong>No trial meets the constraints ({escape(constraints)}).</strong> The "
            f"{len(rows)} least-violating trials (violation: each constraint's excess over its bound, relative to the "
            "bound, summed) are not a front: none of them is feasible.</p>"
            f"<table id=least-violating><tr><th>trial</th><th>architecture</th><th>variant</th>{head}"
            "<th>violation</th></tr>" + body + "</table>")


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


def _energy(data: dict[str, Any], member: int | None) -> str:
    """The energy per layer a front member's Record holds (measured with its objectives; nothing is estimated here)."""
    import plotly.graph_objects as go

    on_front = [f["trial"] for f in data["front"]]
    if member is not None and str(member) not in on_front:
        raise ConfigError(f"--member: trial {member} is not on the front; the front holds trials {', '.join(on_front)}")
    front = [(f, r) for f, r in zip(data["front"], data["records"]) if "energy" in r.details]
    if not front:
        return ("<p>No energy breakdown: no front member's Record holds one (the table evaluator, or a run folder "
                "written before Records carried their energy per layer).</p>")
    chosen = front[0] if member is None else next(((f, r) for f, r in front if f["trial"] == str(member)), None)
    if chosen is None:
        raise ConfigError(f"--member: trial {member} is not on the front; the front holds trials "
                          f"{', '.join(f['trial'] for f, _ in front)}")
    row, e = chosen[0], chosen[1].details["energy"]
    layers = e["layers"]
    names = [x["name"] for x in layers]
    fig = go.Figure([go.Bar(name="data movement", x=names, y=[x["data_pj"] for x in layers]),
                     go.Bar(name="MAC", x=names, y=[x["mac_pj"] for x in layers]),
                     go.Bar(name="other arithmetic", x=names, y=[x["op_pj"] for x in layers])])
    fig.update_layout(barmode="stack", height=380, yaxis_title="pJ per image",
                      title=f"Energy per layer of trial {row['trial']} ({escape(row['variant'] or 'float')}), "
                            f"{e['hardware']}, dataflow {e['dataflow']}: {e['total_pj']:.4g} pJ, of which data "
                            f"{e['data_pj']:.4g} pJ")
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
        "<h2>Pareto front</h2>", _least_violating(data), _pareto_plots(data), _front_table(data),
        "<h2>Hypervolume</h2>", _hypervolume_plot(data),
        "<h2>Robustness and noise of front members</h2>", _curves(data),
        "<h2>Energy breakdown</h2>", _energy(data, member),
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
