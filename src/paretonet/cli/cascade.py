"""`paretonet cascade`: a small model first, the larger one only where the small one is unsure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._common import (
    TrustCodeOpt,
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
    trust_code: TrustCodeOpt = False,
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
    from ..pipeline import CascadeJob, RobustnessConfig, run_cascade

    factors = numbers("--pixelate", pixelate, int, "2,1") if pixelate else None
    job = CascadeJob(target_accuracy_drop=target_accuracy_drop, threshold=threshold, confidence=confidence,
                     pixelate=factors, cost=cost, images=images, seed=seed, data_dir=data_dir, curve_points=CURVE_POINTS,
                     attacks=None if no_robust else RobustnessConfig(eps=eps, preset=preset, seed=seed, queries=queries))
    records = run_cascade(models, job)
    c = records[-1]
    t = Table(title=f"trade-off on the {c.budgets['test_images']} test images ({confidence} confidence; threshold "
                    f"{c.details['threshold']:.4g} {'chosen on validation' if threshold is None else 'given'})")
    for col in ("threshold", "accuracy", *(f"answered by {k + 1}" for k in range(len(models))), "MACs / image",
                "energy pJ / image", "input values / image"):
        t.add_column(col, justify="right")
    for p in c.details["curve"]:
        mark = " *" if p["threshold"] == c.details["threshold"] else ""
        t.add_row(f"{p['threshold']:.4g}{mark}", f"{p['accuracy']:.4f}", *(f"{a:.1%}" for a in p["answered"]),
                  f"{p['macs']:,.0f}", f"{p['energy_pj']:.4g}", f"{p['input_values']:,.0f}")
    show(t, fmt)
    mt = Table(title=f"the cascade and its models alone on {c.dataset}'s test split")
    mt.add_column("objective")
    for k in range(len(models)):
        mt.add_column(f"model {k + 1} alone", justify="right")
    mt.add_column("cascade", justify="right")
    mt.add_column(f"cascade vs model {len(models)}", justify="right")
    for o in c.objectives:
        row = [next((x for x in r.objectives if x.name == o.name), None) for r in records]
        alone = row[-2]
        change = ("-" if alone is None else f"{o.value - alone.value:+.4f}" if o.unit == "fraction"
                  else f"{o.value / alone.value:.3f}x" if alone.value else "-")
        mt.add_row(f"{o.name} ({o.unit})", *(format_value(x) if x else "-" for x in row), change)
    show(mt, fmt)
    last = records[-2]

    def fewer(value: float, alone: float) -> str:
        return f"{abs(1 - value / alone):.1%} {'fewer' if value <= alone else 'more'}"

    say(f"vs the last model alone: accuracy {c.value('accuracy') - last.value('accuracy'):+.4f}, MACs "
        f"{fewer(c.value('macs'), last.value('macs'))}, input values "
        f"{fewer(c.value('input_values'), last.value('input_values'))}", fmt)
    write_records(output, records)
