"""A horizontal bar chart as a self-contained SVG (no plotting dependency)."""

from __future__ import annotations

from html import escape
from pathlib import Path


def importance_svg(rows: list[tuple[str, float]], path: str | Path, title: str) -> Path:
    width, bar_h, left = 640, 18, 200
    top = max((v for _, v in rows), default=0.0) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{40 + bar_h * len(rows)}" '
             'font-family="sans-serif" font-size="11">', f'<text x="8" y="18" font-size="13">{escape(title)}</text>']
    for i, (name, v) in enumerate(rows):
        y = 30 + i * bar_h
        w = (width - left - 70) * v / top
        parts += [f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{escape(name)}</text>',
                  f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 5}" fill="#4477aa"/>',
                  f'<text x="{left + w + 4:.1f}" y="{y + 12}">{v:.3g}</text>']
    p = Path(path)
    p.write_text("\n".join(parts + ["</svg>"]) + "\n")
    return p
