"""`paretonet compress`, `paretonet approx` and `paretonet multipliers`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
    TrustCodeOpt,
    Table,
    AttackPresetOpt,
    DataDirOpt,
    EpsOpt,
    FormatOpt,
    ImagesOpt,
    LutDirOpt,
    ModelArg,
    NoRobustOpt,
    OutputOpt,
    QueriesOpt,
    SeedOpt,
    SignedOpt,
    app,
    check_format,
    check_save_paths,
    comparison_table,
    err,
    names,
    say,
    show,
    write_json,
    write_records,
)
from .robustness import warn_failed_checks

SaveVariantOpt = Annotated[Optional[Path], typer.Option("--save-model", help="Save the (last) variant's model here.")]


def _job(*, preset: str, eps: float, images: int | None, no_robust: bool, data_dir: str | None, seed: int,  # noqa: ANN202
         queries: int, lut_dirs: tuple[str, ...] = (), save: Path | None = None, variants: tuple = ()):
    from ..pipeline import CompressJob, RobustnessConfig

    return CompressJob(variants=variants, attacks=None if no_robust else RobustnessConfig(eps=eps, preset=preset, seed=seed,
                                                                                         queries=queries),
                       images=images, seed=seed, lut_dirs=lut_dirs, data_dir=data_dir, save=save)


def _show_variants(records: list, *, eps: float, save: Path | None, fmt: str, baseline: int = 0) -> None:
    """The model as trained and each variant side by side (the last column relates the last to the `baseline`-th:
    0 as trained, 1 the first variant); failed sanity checks; where the last model was saved."""
    from ..modelfile import model_paths

    first = records[0]
    show(comparison_table(f"{first.architecture} on {first.dataset}", records, baseline), fmt)
    if records[-1].architecture != first.architecture:
        say(f"architecture after channel pruning: {records[-1].architecture}", fmt)
    for r in records:
        if "robustness" in r.details:
            warn_failed_checks(f"'{r.variant or 'as trained'}', eps {eps:g}", r.details["robustness"]["sanity"])
    if save is not None:
        paths = model_paths(save)
        err.print(f"saved {paths[0]} and {paths[1]}")


@app.command("compress")
def compress_cmd(
    model: ModelArg,
    trust_code: TrustCodeOpt = False,
    bits: Annotated[Optional[int], typer.Option(help="Weight bits of every conv/linear layer (1..16).")] = None,
    act_bits: Annotated[Optional[int], typer.Option(help="Activation bits (default: same as --bits).")] = None,
    per_tensor: Annotated[bool, typer.Option("--per-tensor", help="One weight scale per tensor, not per channel.")] = False,
    qat: Annotated[int, typer.Option(help="Quantization-aware training epochs.")] = 0,
    prune: Annotated[float, typer.Option(help="Unstructured magnitude pruning ratio in [0, 1).")] = 0.0,
    prune_scope: Annotated[str, typer.Option(help="global or layer.")] = "global",
    channels: Annotated[float, typer.Option(help="Channel pruning ratio in [0, 1) (spaces that encode widths: lenet).")] = 0.0,
    finetune: Annotated[int, typer.Option(help="Fine-tuning epochs after pruning.")] = 0,
    preset: AttackPresetOpt = "fast",
    eps: EpsOpt = 0.1,
    images: ImagesOpt = None,
    queries: QueriesOpt = 5000,
    no_robust: NoRobustOpt = False,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    save: SaveVariantOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Quantize and/or prune a model; accuracy, robust accuracy, size and energy before and after."""
    check_format(fmt)
    check_save_paths(output, save)
    from ..pipeline import Variant, run_compress

    variant = Variant(bits=bits, act_bits=act_bits, per_tensor=per_tensor, qat=qat, prune=prune,
                      prune_scope=prune_scope, channels=channels, finetune=finetune)
    records = run_compress(model, _job(preset=preset, eps=eps, images=images, no_robust=no_robust, data_dir=data_dir,
                                       seed=seed, queries=queries, save=save, variants=(variant,)))
    _show_variants(records, eps=eps, save=save, fmt=fmt)
    write_records(output, records)


@app.command("multipliers")
def multipliers_cmd(
    lut_dir: LutDirOpt = None,
    meta: Annotated[Optional[list[str]], typer.Option(help="EvoApproxLib meta.json with power/area/delay.")] = None,
    signed: SignedOpt = None,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """List multipliers: built-in designs and tables found, with error metrics and relative power."""
    check_format(fmt)
    from ..pipeline import multiplier_list

    rows = multiplier_list(lut_dir or (), meta or (), signed)
    t = Table(title="8x8 multipliers (errors in % of 2^16 as EvoApprox; power relative to the exact 0.391 mW)")
    t.add_column("name", no_wrap=True)
    for col in ("signed", "MAE %", "WCE %", "MRE %", "EP %", "bias", "power"):
        t.add_column(col, justify="right")
    for m in rows:
        power = "-" if m["relative_power"] is None else f"{m['relative_power']:.3f}"
        t.add_row(m["name"], "yes" if m["signed"] else "no", f"{m['mae_pct']:.4f}", f"{m['wce_pct']:.3f}",
                  f"{m['mre_pct']:.3f}", f"{m['ep_pct']:.2f}", f"{m['mean_error_bias']:.1f}", power)
    show(t, fmt)
    write_json(output, {"format": 1, "multipliers": rows})  # multipliers, not models: no Record


@app.command("approx")
def approx_cmd(
    model: ModelArg,
    multiplier: Annotated[list[str], typer.Option(
        help="Built-in design (e.g. drum:k=6), table name in --lut-dir, or .bin file; repeat with --assign.")],
    layers: Annotated[Optional[str], typer.Option(help="Comma-separated layers to approximate: conv1, fc1, classifier ... or module names (default: all).")] = None,
    exact_layers: Annotated[Optional[str], typer.Option(
        help="Comma-separated layers in exact 8-bit (names as --layers); so is every layer --layers leaves out.")] = None,
    float_layers: Annotated[Optional[str], typer.Option(help="Comma-separated layers kept float (names as --layers).")] = None,
    retrain: Annotated[int, typer.Option(help="Straight-through retraining epochs.")] = 0,
    lut_dir: LutDirOpt = None,
    signed: SignedOpt = None,
    preset: AttackPresetOpt = "fast",
    eps: EpsOpt = 0.1,
    images: ImagesOpt = None,
    queries: QueriesOpt = 1000,
    no_robust: NoRobustOpt = False,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity", help="Only each layer alone approximated: accuracy and robust-accuracy change, MAC energy saved.")] = False,
    assign: Annotated[bool, typer.Option(
        "--assign", help="Choose a multiplier per layer from the --multiplier list, greedily, within --budget.")] = False,
    budget: Annotated[float, typer.Option(help="--assign: accuracy the assignment may lose against exact 8-bit "
                                               "(0.01 is one point).")] = 0.01,
    choose_on: Annotated[str, typer.Option(help="--assign: the split the choices are measured on, val or test.")] = "val",
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    save: SaveVariantOpt = None,
    fmt: FormatOpt = "table",
    trust_code: TrustCodeOpt = False,
) -> None:
    """Accuracy, robust accuracy, size and energy: as trained, 8-bit exact, and with the multiplier. Each layer is
    approximate, exact 8-bit or float: --layers (default all) approximate, --exact-layers and the rest exact 8-bit,
    --float-layers float."""
    from ..pipeline import AssignJob, Variant, multipliers_without_power, run_assign, run_compress, run_sensitivity

    check_format(fmt)
    check_save_paths(output, save)  # before --assign's measurements
    dirs = tuple(lut_dir or ())
    unpowered = multipliers_without_power(multiplier, dirs, signed)  # fail early, before any model work
    job = _job(preset=preset, eps=eps, images=images, no_robust=no_robust, data_dir=data_dir, seed=seed, queries=queries,
               lut_dirs=dirs, save=save)
    if assign:
        records = run_assign(model, AssignJob(multipliers=tuple(multiplier), budget=budget, split=choose_on, measure=job))
        _show_assignment(records[-1].details["assignment"], fmt)
        _show_variants(records, eps=eps, save=save, fmt=fmt, baseline=1)
        write_records(output, records)
        return
    if len(multiplier) > 1:
        raise ConfigError(f"--multiplier: got {len(multiplier)}, one unless --assign chooses among them")
    if sensitivity:
        records = run_sensitivity(model, multiplier[0], job, signed)
        _show_sensitivity(records, fmt)
        write_records(output, records)
        return
    chosen, exact, floats = names(layers), names(exact_layers), names(float_layers)
    variants = (Variant(multiplier="exact", float_layers=floats),
                Variant(multiplier=multiplier[0], approx_layers=chosen, exact_layers=exact, float_layers=floats,
                        retrain=retrain))
    if unpowered:
        say(f"note: {unpowered[0]} has no circuit power data; its energy is counted as the exact multiplier's", fmt)
    records = run_compress(model, replace(job, variants=variants))
    # an approximate multiplier against the exact one, as the literature compares them
    _show_variants(records, eps=eps, save=save, fmt=fmt, baseline=1)
    write_records(output, records)


def _show_assignment(g: dict, fmt: str) -> None:
    for spec in g["without_power"]:
        say(f"note: {spec} has no circuit power data: it saves no energy in the model and is not chosen", fmt)
    t = Table(title=f"greedy assignment on the {g['split']} split: exact 8-bit {g['base_accuracy']:.4f}, budget "
                    f"{g['budget']:g}; least sensitive first, each step measures the whole model")
    for col in ("layer", "multiplier", "accuracy", "kept"):
        t.add_column(col, justify="left" if col in ("layer", "multiplier") else "right")
    for s in g["steps"]:
        t.add_row(s["layer"], s["multiplier"], f"{s['accuracy']:.4f}", "yes" if s["accepted"] else "no")
    show(t, fmt)
    say(f"chosen: {g['variant']} ({g['split']} accuracy {g['accuracy']:.4f})", fmt)


def _show_sensitivity(records: list, fmt: str) -> None:
    base, rows = records[0], records[1:]
    robust = "robust_accuracy_change" in (rows[0].details if rows else {})
    robust_name = base.objectives[1].name if len(base.objectives) > 1 else ""
    title = (f"{base.architecture}: {base.details['multiplier']} in one layer at a time, the others exact 8-bit (exact "
             f"8-bit accuracy {base.objectives[0].value:.4f}" + (
                 f", robust {base.objectives[1].value:.4f} on {base.budgets['robust_images']} images, {robust_name}"
                 if robust else "") + ")")
    t = Table(title=title)
    cols = ["layer", "accuracy", "change vs exact 8-bit"]
    cols += ["robust accuracy", "robust change vs exact 8-bit"] if robust else []
    for col in (*cols, "MAC energy saved vs exact 8-bit (pJ)"):
        t.add_column(col, justify="left" if col == "layer" else "right")
    for r in rows:
        d = r.details
        cells = [d["layer"], f"{r.objectives[0].value:.4f}", f"{d['accuracy_change']:+.4f}"]
        cells += [f"{r.objectives[1].value:.4f}", f"{d['robust_accuracy_change']:+.4f}"] if robust else []
        t.add_row(*cells, f"{d['energy_mac_saved_pj']:.4g}")
    show(t, fmt)
