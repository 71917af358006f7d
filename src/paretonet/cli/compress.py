"""`paretonet compress`, `paretonet approx` and `paretonet multipliers`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
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


def _compare(model: Path, variants: list, *, preset: str, eps: float, images: int | None, no_robust: bool,  # noqa: ANN001
             data_dir: str | None, seed: int, queries: int, output: Path | None, save: Path | None,
             fmt: str = "table", lut_dirs: tuple[str, ...] = (), baseline: int = 0) -> None:
    """The model as trained and each variant: a side-by-side table, a Record each; the last one may be saved. The
    table's last column relates the last to the `baseline`-th (0: as trained; 1: the first variant)."""
    from ..evaluate import RobustnessConfig
    from ..modelfile import architecture_of, save_model
    from ..pipeline import load_for_eval
    from ..train import TrainConfig
    from ..variant import Variant, compare_variants, select_images

    check_save_paths(output, save)
    robustness = None if no_robust else RobustnessConfig(eps=eps, preset=preset, seed=seed, queries=queries)
    net, meta, data = load_for_eval(model, None, data_dir, 0)
    base = Variant.parse(meta.variant)
    if not base.is_base:
        raise ConfigError(f"model: {model} is already the variant {meta.variant!r}; start from the float model")
    variants = [replace(v, recipe=base.recipe) for v in variants]  # fine-tuning follows the model's training recipe
    cfg = TrainConfig.from_dict({**meta.train_config, "seed": seed}) if meta.train_config else TrainConfig(seed=seed)
    records, vm = compare_variants(net, architecture_of(meta), data, meta.seed, variants, robustness,
                                   select_images(data, images, seed), cfg, lut_dirs, base)
    show(comparison_table(f"{meta.architecture} on {data.name}", records, baseline), fmt)
    if str(vm.architecture) != meta.architecture:
        say(f"architecture after channel pruning: {vm.architecture}", fmt)
    for r in records:
        if "robustness" in r.details:
            warn_failed_checks(f"'{r.variant or 'as trained'}', eps {eps:g}", r.details["robustness"]["sanity"])
    if save is not None:
        paths = save_model(save, vm.model, replace(meta, architecture=str(vm.architecture), variant=str(vm.variant),
                                                   metrics={o.name: o.value for o in records[-1].objectives}))
        err.print(f"saved {paths[0]} and {paths[1]}")
    write_records(output, records)


@app.command("compress")
def compress_cmd(
    model: ModelArg,
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
    from ..variant import Variant

    variant = Variant(bits=bits, act_bits=act_bits, per_tensor=per_tensor, qat=qat, prune=prune,
                      prune_scope=prune_scope, channels=channels, finetune=finetune)
    _compare(model, [variant], preset=preset, eps=eps, images=images, no_robust=no_robust, data_dir=data_dir,
             seed=seed, queries=queries, output=output, save=save, fmt=fmt)


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
    from ..hw.approx import list_multipliers

    infos = list_multipliers(lut_dir or (), meta or (), signed)
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
                     "table_sha256": m.table_sha256, "mae": e.mae, "mae_pct": e.mae_pct, "wce": e.wce,
                     "wce_pct": e.wce_pct, "mse": e.mse, "mre_pct": e.mre_pct, "ep_pct": e.ep_pct,
                     "mean_error_bias": e.mean_error_bias})
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
) -> None:
    """Accuracy, robust accuracy, size and energy: as trained, 8-bit exact, and with the multiplier. Each layer is
    approximate, exact 8-bit or float: --layers (default all) approximate, --exact-layers and the rest exact 8-bit,
    --float-layers float."""
    from ..hw.approx import get_multiplier
    from ..variant import Variant

    check_format(fmt)
    check_save_paths(output, save)  # before --assign's measurements
    dirs = tuple(lut_dir or ())
    mults = [get_multiplier(m, dirs=dirs, signed=signed) for m in multiplier]  # fail early, before any model work
    if assign:
        if choose_on not in ("val", "test"):
            raise ConfigError(f"--choose-on: got {choose_on!r}, expected val or test")
        _assign(model, multiplier, budget, choose_on, dirs, preset=preset, eps=eps, images=images, no_robust=no_robust,
                data_dir=data_dir, seed=seed, queries=queries, output=output, save=save, fmt=fmt)
        return
    if len(multiplier) > 1:
        raise ConfigError(f"--multiplier: got {len(multiplier)}, one unless --assign chooses among them")
    multiplier, mult = multiplier[0], mults[0]
    if sensitivity:
        _sensitivity(model, multiplier, mult, preset=preset, eps=eps, images=images, no_robust=no_robust,
                     queries=queries, data_dir=data_dir, seed=seed, output=output, fmt=fmt)
        return
    chosen, exact, floats = names(layers), names(exact_layers), names(float_layers)
    variants = [Variant(multiplier="exact", float_layers=floats),
                Variant(multiplier=multiplier, approx_layers=chosen, exact_layers=exact, float_layers=floats,
                        retrain=retrain)]
    if mult.relative_power is None:
        say(f"note: {mult.name} has no circuit power data; its energy is counted as the exact multiplier's", fmt)
    _compare(model, variants, preset=preset, eps=eps, images=images, no_robust=no_robust, data_dir=data_dir,
             seed=seed, queries=queries, output=output, save=save, fmt=fmt, lut_dirs=dirs,
             baseline=1)  # an approximate multiplier against the exact one, as the literature compares them


def _assign(model: Path, specs: list[str], budget: float, split: str, dirs: tuple[str, ...],  # noqa: ANN003
            **compare) -> None:
    from ..hw.approx import get_multiplier
    from ..pipeline import load_for_eval
    from ..variant import Variant, greedy_assignment

    net, meta, data = load_for_eval(model, None, compare["data_dir"], 0)
    if not Variant.parse(meta.variant).is_base:
        raise ConfigError(f"model: {model} is already the variant {meta.variant!r}; start from the float model")
    g = greedy_assignment(net, data, specs, budget, lut_dirs=dirs, split=split)
    for spec in specs:
        if get_multiplier(spec, dirs=dirs).relative_power is None:
            say(f"note: {spec} has no circuit power data: it saves no energy in the model and is not chosen",
                compare["fmt"])
    t = Table(title=f"greedy assignment on the {g.split} split: exact 8-bit {g.base_accuracy:.4f}, budget {budget:g}; "
                    "least sensitive first, each step measures the whole model")
    for col in ("layer", "multiplier", "accuracy", "kept"):
        t.add_column(col, justify="left" if col in ("layer", "multiplier") else "right")
    for s in g.steps:
        t.add_row(s.layer, s.multiplier, f"{s.accuracy:.4f}", "yes" if s.accepted else "no")
    show(t, compare["fmt"])
    say(f"chosen: {g.variant} ({g.split} accuracy {g.accuracy:.4f})", compare["fmt"])
    _compare(model, [Variant(multiplier="exact"), g.variant], lut_dirs=dirs, baseline=1, **compare)


def _sensitivity(model: Path, spec: str, mult, *, preset: str, eps: float, images: int | None,  # noqa: ANN001
                 no_robust: bool, queries: int, data_dir: str | None, seed: int, output: Path | None, fmt: str) -> None:
    from ..evaluate import RobustnessConfig
    from ..pipeline import load_for_eval
    from ..records import Record, versions
    from ..variant import Variant, layer_sensitivity, select_images

    net, meta, data = load_for_eval(model, None, data_dir, 0)
    robustness = None if no_robust else RobustnessConfig(eps=eps, preset=preset, seed=seed, queries=queries)
    robust_images = None if no_robust else select_images(data, images, seed)
    base, rows = layer_sensitivity(net, data, [mult], robustness=robustness, robust_images=robust_images)
    robust = base.robust_accuracy is not None
    title = (f"{meta.architecture}: {mult.name} in one layer at a time, the others exact 8-bit (exact 8-bit accuracy "
             f"{base.accuracy:.4f}" + (f", robust {base.robust_accuracy:.4f} on {len(robust_images[0])} images, "
                                       f"{base.objectives[1].name}" if robust else "") + ")")
    t = Table(title=title)
    cols = ["layer", "accuracy", "change vs exact 8-bit"]
    cols += ["robust accuracy", "robust change vs exact 8-bit"] if robust else []
    for col in (*cols, "MAC energy saved vs exact 8-bit (pJ)"):
        t.add_column(col, justify="left" if col == "layer" else "right")
    budgets = {"test_images": len(data.test), **({"robust_images": len(robust_images[0]), "eps": eps, "preset": preset,
                                                  "square_queries": queries} if robust else {})}
    records = [Record(meta.architecture, data.name, meta.seed, base.objectives,
                      variant=str(Variant(multiplier="exact")), budgets=budgets, versions=versions())]
    for r in rows:
        cells = [r.layer, f"{r.accuracy:.4f}", f"{r.change:+.4f}"]
        cells += [f"{r.measured.robust_accuracy:.4f}", f"{r.robust_change:+.4f}"] if robust else []
        t.add_row(*cells, f"{r.energy_mac_saved_pj:.4g}")
        details = {"accuracy_change": r.change, "energy_mac_saved_pj": r.energy_mac_saved_pj}
        if robust:
            details["robust_accuracy_change"] = r.robust_change
        records.append(Record(meta.architecture, data.name, meta.seed, r.measured.objectives,
                              variant=str(Variant(multipliers=(f"{r.layer}@{spec}",))), budgets=budgets,
                              versions=versions(), details=details))
    show(t, fmt)
    write_records(output, records)
