"""CLI commands for approximate multipliers: `paretonet multipliers` and `paretonet approx`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .cli import DataDirOpt, OutputOpt, SeedOpt, _compare_variants, _names, _write_json, app, out

LutDirOpt = Annotated[Optional[list[str]], typer.Option(
    "--lut-dir", help="Folder of EvoApprox/tf-approximate .bin tables (repeatable; also PARETONET_MULTIPLIER_DIRS).")]


@app.command("multipliers")
def multipliers_cmd(
    lut_dir: LutDirOpt = None,
    meta: Annotated[Optional[list[str]], typer.Option(help="EvoApproxLib meta.json with power/area/delay.")] = None,
    output: OutputOpt = None,
) -> None:
    """List multipliers: built-in designs and tables found, with error metrics and relative power."""
    from .hw.approx import list_multipliers

    infos = list_multipliers(lut_dir or (), meta or ())
    t = Table(title="8x8 multipliers (errors in % of 2^16 as EvoApprox; power relative to the exact 0.391 mW)")
    t.add_column("name", no_wrap=True)
    for col in ("signed", "MAE %", "WCE %", "MRE %", "EP %", "bias", "power"):
        t.add_column(col, justify="right")
    rows = []
    for i in infos:
        m, e = i.multiplier, i.metrics
        power = "-" if m.relative_power is None else f"{m.relative_power:.3f}"
        t.add_row(m.name, "yes" if m.signed else "no", f"{e.mae_pct:.4f}", f"{e.wce_pct:.3f}", f"{e.mre_pct:.3f}",
                  f"{e.ep_pct:.2f}", f"{e.mean_error_bias:.1f}", power)
        rows.append({"name": m.name, "signed": m.signed, "power_mw": m.power_mw, "area_um2": m.area_um2,
                     "delay_ns": m.delay_ns, "relative_power": m.relative_power, "source": m.source,
                     "mae": e.mae, "mae_pct": e.mae_pct, "wce": e.wce, "wce_pct": e.wce_pct, "mse": e.mse,
                     "mre_pct": e.mre_pct, "ep_pct": e.ep_pct, "mean_error_bias": e.mean_error_bias})
    out.print(t)
    _write_json(output, {"multipliers": rows})


@app.command("approx")
def approx_cmd(
    model: Annotated[Path, typer.Argument(help="Model saved by `paretonet train --save-model`.")],
    multiplier: Annotated[str, typer.Option(help="Built-in design (e.g. drum:k=6), table name in --lut-dir, or .bin file.")],
    layers: Annotated[Optional[str], typer.Option(help="Comma-separated layers to approximate (default: all).")] = None,
    exact_layers: Annotated[Optional[str], typer.Option(help="Comma-separated layers kept float.")] = None,
    retrain: Annotated[int, typer.Option(help="Straight-through retraining epochs.")] = 0,
    lut_dir: LutDirOpt = None,
    preset: Annotated[str, typer.Option(help="Attack preset for robust accuracy (BPDA, transfer and Square on the approximate model).")] = "fast",
    eps: Annotated[float, typer.Option(help="Perturbation size for robust accuracy.")] = 0.1,
    images: Annotated[Optional[int], typer.Option(help="Test images for robust accuracy (default: all).")] = None,
    queries: Annotated[int, typer.Option(help="Square attack queries per image.")] = 1000,
    no_robust: Annotated[bool, typer.Option("--no-robust", help="Skip robust accuracy.")] = False,
    sensitivity: Annotated[bool, typer.Option("--sensitivity", help="Only the accuracy drop when each layer alone is approximated.")] = False,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
) -> None:
    """Accuracy, robust accuracy, size and energy: as trained, 8-bit exact, and with the multiplier."""
    from .hw.approx import get_multiplier
    from .variant import Variant

    dirs = tuple(lut_dir or ())
    mult = get_multiplier(multiplier, dirs=dirs)  # fails early, before any model work
    if sensitivity:
        _sensitivity(model, mult, data_dir, output)
        return
    chosen, exact = _names(layers), _names(exact_layers)
    variants = [Variant(multiplier="exact", approx_layers=chosen, exact_layers=exact),
                Variant(multiplier=multiplier, approx_layers=chosen, exact_layers=exact, retrain=retrain)]
    if mult.relative_power is None:
        out.print(f"note: {mult.name} has no circuit power data; its energy is counted as the exact multiplier's")
    _compare_variants(model, variants, preset=preset, eps=eps, images=images, no_robust=no_robust,
                      data_dir=data_dir, seed=seed, output=output, lut_dirs=dirs, queries=queries)


def _sensitivity(model: Path, mult, data_dir: str | None, output: Path | None) -> None:  # noqa: ANN001
    from .cli import _load_for_eval
    from .hw.approx import layer_sensitivity

    net, meta, data = _load_for_eval(model, None, data_dir, 0)
    base, rows = layer_sensitivity(net, data, [mult])
    t = Table(title=f"{meta.architecture}: {mult.name} in one layer at a time (float accuracy {base:.4f})")
    for col in ("layer", "accuracy", "drop"):
        t.add_column(col, justify="left" if col == "layer" else "right")
    for r in rows:
        t.add_row(r.layer, f"{r.accuracy:.4f}", f"{r.drop:+.4f}")
    out.print(t)
    _write_json(output, {"multiplier": mult.name, "float_accuracy": base,
                         "layers": [{"layer": r.layer, "accuracy": r.accuracy, "drop": r.drop} for r in rows]})
