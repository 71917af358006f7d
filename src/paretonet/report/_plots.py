"""The plots the search report and `compare` share: pairwise Pareto scatter plots, parallel coordinates for
four or more objectives, and one self-contained HTML page (plotly's JS inlined, no network).

The camera button of every plot saves it as SVG (plotly draws it in the browser: no image server needed),
so a figure for a paper comes out of the same page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import combinations
from pathlib import Path
from typing import Any

from ..errors import ConfigError

FRONT_COLOR, OTHER_COLOR = "#d62728", "#b0b0b0"
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")  # one per member
_STYLE = """body{font-family:sans-serif;margin:24px;max-width:1400px}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px}td.num{text-align:right}td.arch{font-family:monospace;font-size:12px}
pre{background:#f4f4f4;padding:8px;white-space:pre-wrap}h2{margin-top:32px}"""


@dataclass(frozen=True)
class Axis:
    name: str
    unit: str
    direction: str  # max or min

    @property
    def label(self) -> str:
        return f"{self.name} ({self.unit}, {self.direction})" if self.unit else f"{self.name} ({self.direction})"


def figure_html(fig: Any, div_id: str) -> str:  # noqa: ANN401
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "svg", "filename": div_id}}
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=config)


def pareto_figure(axes: Sequence[Axis], points: Sequence[Sequence[float]], on_front: Sequence[bool],
                  labels: Sequence[str], title: str) -> Any:  # noqa: ANN401
    """Every pair of objectives as a scatter plot; front points red and larger, the others grey. `labels` are
    the hover texts (HTML: escape what came from a user)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pairs = list(combinations(range(len(axes)), 2))
    cols = min(3, len(pairs))
    rows = (len(pairs) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.08, vertical_spacing=0.12)
    for k, (i, j) in enumerate(pairs):
        r, c = k // cols + 1, k % cols + 1
        for group, color, name in ((False, OTHER_COLOR, "others"), (True, FRONT_COLOR, "front")):
            idx = [n for n in range(len(points)) if on_front[n] == group]
            fig.add_trace(go.Scatter(
                x=[points[n][i] for n in idx], y=[points[n][j] for n in idx], mode="markers",
                marker={"color": color, "size": 7 if group else 5}, name=name, showlegend=k == 0, legendgroup=name,
                text=[labels[n] for n in idx], hoverinfo="text+x+y"), row=r, col=c)
        fig.update_xaxes(title_text=axes[i].label, row=r, col=c)
        fig.update_yaxes(title_text=axes[j].label, row=r, col=c)
    fig.update_layout(height=380 * rows, title=title)
    return fig


def parallel_figure(axes: Sequence[Axis], points: Sequence[Sequence[float]], on_front: Sequence[bool],
                    title: str) -> Any:  # noqa: ANN401
    """One line per row across all objectives (for four or more, where pairs stop showing the trade-off)."""
    import plotly.graph_objects as go

    dims = [{"label": a.label, "values": [p[i] for p in points]} for i, a in enumerate(axes)]
    line = {"color": [1 if f else 0 for f in on_front], "colorscale": [[0, OTHER_COLOR], [1, FRONT_COLOR]],
            "cmin": 0, "cmax": 1}
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line))
    fig.update_layout(height=420, title=title)
    return fig


def write_page(path: str | Path, title: str, sections: Sequence[str], option: str) -> Path:
    """One self-contained HTML page (plotly's JS inlined) at `path`; a path that cannot be written is an
    error naming `option`."""
    from plotly.offline import get_plotlyjs

    html = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            + "".join(sections) + "</body></html>")
    p = Path(path)
    try:
        p.write_text(html, encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{option}: cannot write {p}: {e.strerror or e}") from None
    return p
