"""`paretonet cascade`: a small model first, the larger one only where the small one is unsure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
    AttackPresetOpt,
    DataDirOpt,
    EpsOpt,
    FormatOpt,
    ImagesOpt,
    NoRobustOpt,
    OutputOpt,
    QueriesOpt,
    SeedOpt,
    Table,
    app,
    check_format,
    format_value,
    numbers,
    say,
    show,
    write_records,
)

CURVE_POINTS = 11


@app.command("cascade")
def cascade_cmd(
    models: Annotated[list[Path], typer.Argument(help="Saved models in the order they are asked: SMALL LARGE (or more).")],
    target_accuracy_drop: Annotated[float, typer.Option(
        help="Accuracy the cascade may lose against the last model alone, on the validation split (0.01: one point).")] = 0.01,
    threshold: Annotated[Optional[float], typer.Option(
        help="Use this confidence threshold in [0, 1] instead of choosing one (0: the first model answers all; 1: the last).")] = None,
    confidence: Annotated[str, typer.Option(help="softmax (max probability) or margin (top-1 minus top-2).")] = "softmax",
    pixelate: Annotated[Optional[str], typer.Option(
        help="Comma-separated factor per model: the image it reads is averaged over factor x factor blocks (1: full).")] = None,
    cost: Annotated[str, typer.Option(help="What the chosen threshold minimizes: macs, energy_pj or input_values.")] = "macs",
    preset: AttackPresetOpt = "fast",
    eps: EpsOpt = 0.1,
    images: ImagesOpt = None,
    queries: QueriesOpt = 1000,
    no_robust: NoRobustOpt = False,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Chain models into a confidence cascade: pick the threshold on validation images, print the trade-off curve
    on the test split, and the cascade's objectives next to each model's alone (a Record each)."""
    check_format(fmt)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--threshold: got {threshold:g}, expected a number in [0, 1]")
    if not 0.0 <= target_accuracy_drop <= 1.0:
        raise ConfigError(f"--target-accuracy-drop: got {target_accuracy_drop:g}, expected a number in [0, 1]")
    factors = numbers("--pixelate", pixelate, int, "2,1") if pixelate else None
    if len(models) < 2:
        raise ConfigError(f"MODELS: got {len(models)}, a cascade needs at least two")
    _run(models, target_accuracy_drop, threshold, confidence, factors, cost, preset=preset, eps=eps, images=images,
         queries=queries, no_robust=no_robust, data_dir=data_dir, seed=seed, output=output, fmt=fmt)


def _run(models: list[Path], drop: float, threshold: float | None, confidence: str, factors, cost: str, *,  # noqa: ANN001
         preset: str, eps: float, images: int | None, queries: int, no_robust: bool, data_dir: str | None, seed: int,
         output: Path | None, fmt: str) -> None:
    from ..cascade import Cascade, cascade_objectives, choose_threshold, curve, stage_costs, stage_logits
    from ..evaluate import RobustnessConfig, evaluate_objectives, evaluate_robustness
    from ..pipeline import load_for_eval
    from ..records import Objective, Record, versions
    from ..variant import select_images

    loaded = [load_for_eval(m, None, data_dir, 0) for m in models]
    first = loaded[0][1]
    for path, (_, meta, _) in zip(models[1:], loaded[1:]):
        if (meta.dataset, tuple(meta.input_shape), meta.n_classes) != (first.dataset, tuple(first.input_shape),
                                                                       first.n_classes):
            raise ConfigError(f"MODELS: {path} is for {meta.dataset} {tuple(meta.input_shape)}, {meta.n_classes} classes; "
                              f"{models[0]} for {first.dataset} {tuple(first.input_shape)}, {first.n_classes} classes")
    data = loaded[0][2]
    nets = [net for net, _, _ in loaded]
    cascade = Cascade(nets, threshold if threshold is not None else 0.5, data.input_shape, pixelate=factors,
                      confidence=confidence).eval()
    costs = stage_costs(cascade)
    if threshold is None:
        cascade.threshold, _ = choose_threshold(cascade, data.val, costs, drop, cost)
    robustness = None if no_robust else RobustnessConfig(eps=eps, preset=preset, seed=seed, queries=queries)
    rx, ry = select_images(data, images, seed)
    records = []
    for (net, meta, _), c, f in zip(loaded, costs, cascade.factors):
        objectives = (*evaluate_objectives(net, data), Objective("input_values", c.input_values * f ** 2, "count", "min"))
        if robustness is not None:
            objectives += (evaluate_robustness(net, rx, ry, robustness).objective(),)
        records.append(Record(meta.architecture, data.name, meta.seed, objectives, variant=meta.variant,
                              budgets={"test_images": len(data.test)}, versions=versions()))
    objectives, point = cascade_objectives(cascade, data)
    budgets: dict = {"test_images": len(data.test), "threshold_chosen_on": "val" if threshold is None else "given",
                     "target_accuracy_drop": drop if threshold is None else None, "cost": cost}
    if robustness is not None:
        r = evaluate_robustness(cascade, rx, ry, robustness)
        objectives += (r.objective(),)
        budgets.update(r.budgets())
    name = (f"cascade:{confidence}>{cascade.threshold:.6g}:"
            + " -> ".join(f"{m.architecture}{f' {m.variant}' if m.variant else ''}{f' @pixelate={f}' if f > 1 else ''}"
                          for (_, m, _), f in zip(loaded, cascade.factors)))
    records.append(Record(name, data.name, first.seed, objectives, budgets=budgets, versions=versions(),
                          details={"threshold": cascade.threshold, "confidence": confidence,
                                   "pixelate": list(cascade.factors), "answered": list(point.answered),
                                   "reached": list(point.reached), "members": [str(m) for m in models]}))
    logits = stage_logits(cascade, data.test)
    grid = sorted({round(i / (CURVE_POINTS - 1), 6) for i in range(CURVE_POINTS)} | {cascade.threshold})
    t = Table(title=f"trade-off on the {len(data.test)} test images ({confidence} confidence; threshold "
                    f"{cascade.threshold:.4g} {'chosen on validation' if threshold is None else 'given'})")
    for col in ("threshold", "accuracy", *(f"answered by {k + 1}" for k in range(len(nets))), "MACs / image",
                "energy pJ / image", "input values / image"):
        t.add_column(col, justify="right")
    for p in curve(cascade, logits, data.test.y, costs, grid):
        mark = " *" if p.threshold == cascade.threshold else ""
        t.add_row(f"{p.threshold:.4g}{mark}", f"{p.accuracy:.4f}", *(f"{a:.1%}" for a in p.answered), f"{p.macs:,.0f}",
                  f"{p.energy_pj:.4g}", f"{p.input_values:,.0f}")
    show(t, fmt)
    mt = Table(title=f"the cascade and its models alone on {data.name}'s test split")
    mt.add_column("objective")
    for k in range(len(nets)):
        mt.add_column(f"model {k + 1} alone", justify="right")
    mt.add_column("cascade", justify="right")
    mt.add_column(f"cascade vs model {len(nets)}", justify="right")
    for o in objectives:
        row = [next((x for x in r.objectives if x.name == o.name), None) for r in records]
        alone = row[-2]
        change = ("-" if alone is None else f"{o.value - alone.value:+.4f}" if o.unit == "fraction"
                  else f"{o.value / alone.value:.3f}x" if alone.value else "-")
        mt.add_row(f"{o.name} ({o.unit})", *(format_value(x) if x else "-" for x in row), change)
    show(mt, fmt)
    last = records[-2]
    def fewer(value: float, alone: float) -> str:
        return f"{abs(1 - value / alone):.1%} {'fewer' if value <= alone else 'more'}"

    say(f"vs the last model alone: accuracy {point.accuracy - last.value('accuracy'):+.4f}, MACs "
        f"{fewer(point.macs, last.value('macs'))}, input values {fewer(point.input_values, last.value('input_values'))}",
        fmt)
    write_records(output, records)
