"""`paretonet variance-map`: how much each neuron's output varies under noisy inputs, one or two models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._common import (
    DataDirOpt, FormatOpt, ImagesOpt, ModelArg, SeedOpt, Table, TrustCodeOpt, app, check_format, err, show, write_json,
)


@app.command("variance-map")
def variance_map_cmd(
    model: ModelArg,
    trust_code: TrustCodeOpt = False,
    compare: Annotated[Optional[Path], typer.Option(help="A second model of the same architecture, shown beside the first.")] = None,
    sigma: Annotated[float, typer.Option(help="Std of the Gaussian noise added to the input (pixels in [0, 1]).")] = 0.1,
    draws: Annotated[int, typer.Option(help="Noisy copies of each image.")] = 50,
    images: ImagesOpt = 100,
    html: Annotated[Optional[Path], typer.Option(help="Write the maps as a self-contained HTML page here.")] = None,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the maps and numbers as JSON here.")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Variance of every conv/linear output over noisy copies of test images: per-layer numbers, and the maps
    (channels x positions) as an HTML page, two models side by side with --compare."""
    from ..pipeline import variance_map_job
    from ..report import write_variance_page

    check_format(fmt)
    paths = [model] + ([compare] if compare is not None else [])
    labels, maps, n_images = variance_map_job(paths, sigma=sigma, draws=draws, images=images, seed=seed,
                                              data_dir=data_dir)
    t = Table(title=f"output variance under input noise sigma {sigma:g}: {draws} draws on each of {n_images} test images "
                    "(relative: over the mean squared clean output)")
    t.add_column("layer")
    t.add_column("output")
    for i in range(len(maps)):
        for col in ("mean", "max", "relative"):
            t.add_column(f"model {i + 1} {col}", justify="right")
    for k, lv in enumerate(maps[0]):
        t.add_row(lv.layer, "x".join(map(str, lv.shape)),
                  *(f"{getattr(m[k], a):.4g}" for m in maps for a in ("mean_variance", "max_variance", "relative_variance")))
    show(t, fmt)
    if html is not None:
        err.print(f"wrote {write_variance_page(html, labels, maps, sigma, draws, n_images)}")
    write_json(output, {"format": 1, "sigma": sigma, "draws": draws, "images": n_images, "seed": seed,
                        "models": [{"model": str(p), "label": lab, "layers": [lv.to_dict() for lv in m]}
                                   for p, lab, m in zip(paths, labels, maps)]})
