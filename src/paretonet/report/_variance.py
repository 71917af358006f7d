"""The variance-map page: one heat map per layer (channels x positions) for each model, side by side on one
colour scale per layer, and the per-layer numbers; self-contained like the search report."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._plots import figure_html, write_page


def _heatmaps(layer: str, maps: Sequence[Any], titles: Sequence[str], k: int) -> str:  # noqa: ANN401
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    top = max(float(m.variance.max()) for m in maps) or 1.0
    fig = make_subplots(rows=1, cols=len(maps), subplot_titles=[escape(t) for t in titles], horizontal_spacing=0.06)
    for c, m in enumerate(maps, 1):
        fig.add_trace(go.Heatmap(z=m.variance, zmin=0.0, zmax=top, colorscale="Viridis", showscale=c == len(maps),
                                 colorbar={"title": "variance"}), row=1, col=c)
        fig.update_xaxes(title_text="position", row=1, col=c)
        fig.update_yaxes(title_text="channel", row=1, col=c)
    fig.update_layout(height=320, title=f"{layer}: output {' x '.join(map(str, maps[0].shape))}")
    return figure_html(fig, f"variance{k}")


def write_variance_page(path: str | Path, models: Sequence[str], maps: Sequence[Sequence[Any]], sigma: float,
                        draws: int, images: int) -> Path:
    """`maps[i]` is model i's list of LayerVariance (the same layers in the same order)."""
    if len({len(m) for m in maps}) != 1:
        raise ConfigError("--compare: the models have different layers; variance maps compare models of one architecture")
    rows = []
    for k in range(len(maps[0])):
        cells = "".join(f"<td class=num>{m[k].mean_variance:.4g}</td><td class=num>{m[k].max_variance:.4g}</td>"
                        f"<td class=num>{m[k].relative_variance:.4g}</td>" for m in maps)
        rows.append(f"<tr><td>{escape(maps[0][k].layer)}</td>{cells}</tr>")
    head = "".join(f"<th>{escape(n)}: mean</th><th>max</th><th>relative</th>" for n in models)
    sections = [f"<h1>paretonet variance maps</h1><p>{escape(f'Gaussian input noise sigma {sigma:g}, {draws} draws per image, mean over {images} test images; relative: mean variance over mean squared clean output.')}</p>",
                f"<table><tr><th>layer</th>{head}</tr>{''.join(rows)}</table>"]
    sections += [_heatmaps(maps[0][k].layer, [m[k] for m in maps], models, k) for k in range(len(maps[0]))]
    return write_page(path, "paretonet variance maps", sections, "--html")
