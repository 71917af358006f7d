"""`paretonet noise` and `paretonet faults`: accuracy under computation noise and bit flips, and protection."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
    TrustCodeOpt,
    Table,
    DataDirOpt,
    DatasetOpt,
    FormatOpt,
    ModelArg,
    OutputOpt,
    SeedOpt,
    SplitSeedOpt,
    app,
    check_format,
    err,
    names,
    numbers,
    show,
    write_records,
)

LayersOpt = Annotated[Optional[str], typer.Option(
    "--layers", help="Comma-separated layers: conv1, fc1, classifier ... or module names (default: every conv/linear).")]
ImagesOpt = Annotated[Optional[int], typer.Option(help="Test images, a seeded sample (default: all).")]


class _Stages:
    """A progress bar per stage of a job on a terminal (silent elsewhere)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=err, disable=not err.is_terminal)
        self.tasks: dict[str, object] = {}

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[label], completed=done, total=total)


def _levels(option: str, text: str | None) -> tuple[float, ...]:
    return numbers(option, text) if text else (0.0,)


def _table(title: str, rows: list[dict]) -> Table:
    t = Table(title=title)
    for col in ("model", "mean", "std", "worst", "trials"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        t.add_row(r["label"], f"{r['mean']:.4f}", f"{r['std']:.4f}", f"{r['worst']:.4f}", str(r["trials"]))
    return t


@app.command("noise")
def noise_cmd(
    model: ModelArg,
    trust_code: TrustCodeOpt = False,
    weights: Annotated[Optional[str], typer.Option(
        help="Weight noise std, relative to each layer's max |w| (comma-separated for a curve).")] = None,
    multiplicative: Annotated[bool, typer.Option("--multiplicative", help="Weight noise relative to each weight.")] = False,
    outputs: Annotated[Optional[str], typer.Option(
        help="MAC-output noise std, relative to each layer's output range (comma-separated for a curve).")] = None,
    layers: LayersOpt = None,
    draws: Annotated[int, typer.Option(help="Noise draws per level (a fresh draw per forward pass).")] = 20,
    bits: Annotated[Optional[int], typer.Option(help="Quantize a float model to this many bits first.")] = None,
    images: ImagesOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    split_seed: SplitSeedOpt = 0,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Accuracy under Gaussian computation noise (analog accelerators): mean, std and worst over draws."""
    check_format(fmt)
    from ..pipeline import NoiseJob, NoiseModel, SavedModel, run_noise

    w_levels, o_levels = _levels("--weights", weights), _levels("--outputs", outputs)
    if len(w_levels) > 1 and len(o_levels) > 1 and len(w_levels) != len(o_levels):
        raise ConfigError(f"--weights/--outputs: got {len(w_levels)} and {len(o_levels)} levels; give one of them "
                          "a single level or both the same number")
    n = max(len(w_levels), len(o_levels))
    models = tuple(NoiseModel(weights=w_levels[i % len(w_levels)], multiplicative=multiplicative,
                              outputs=o_levels[i % len(o_levels)], layers=names(layers)) for i in range(n))
    job = NoiseJob(models=models, draws=draws, images=images, seed=seed)
    stages = _Stages()
    with stages.progress:
        [rec] = run_noise(SavedModel(path=model, bits=bits, dataset=dataset, data_dir=data_dir, split_seed=split_seed), job,
                          progress=stages)
    show(_table(f"{rec.architecture} {rec.variant or '(as trained)'}: accuracy under noise, "
                f"{rec.budgets['noise_images']} images", rec.details["noise"]), fmt)
    write_records(output, [rec])


@app.command("faults")
def faults_cmd(
    model: ModelArg,
    trust_code: TrustCodeOpt = False,
    rate: Annotated[Optional[str], typer.Option(help="Probability that a stored bit flips (comma-separated for a curve).")] = None,
    count: Annotated[Optional[int], typer.Option(help="A fixed number of flipped weight bits instead of a rate.")] = None,
    target: Annotated[str, typer.Option(help="weights, activations or both.")] = "weights",
    bit_positions: Annotated[Optional[str], typer.Option(
        "--bit-positions", help="Bits that may flip, e.g. 7 for the sign / most significant bit of 8-bit codes.")] = None,
    layers: LayersOpt = None,
    trials: Annotated[int, typer.Option(help="Seeded fault trials per rate.")] = 100,
    protect: Annotated[Optional[str], typer.Option(help="Protect the most vulnerable neurons: tmr or split.")] = None,
    top: Annotated[int, typer.Option(help="Neurons protected (ranked by their vulnerability factor).")] = 10,
    rank_trials: Annotated[int, typer.Option(help="Trials per neuron when ranking vulnerability.")] = 4,
    vulnerability: Annotated[bool, typer.Option(
        "--vulnerability", help="Also rank layers (each faulted alone) and neurons by vulnerability.")] = False,
    bits: Annotated[Optional[int], typer.Option(
        help="Quantize a float model to this many bits first (a float model is faulted as float32 words).")] = None,
    images: ImagesOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    split_seed: SplitSeedOpt = 0,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Accuracy under bit flips in stored weight codes and activation codes: mean, std and worst over trials;
    optionally with the top-k vulnerable neurons protected by TMR or neuron splitting, and what that costs."""
    check_format(fmt)
    from ..pipeline import FaultJob, FaultModel, SavedModel, run_faults

    if rate is not None and count is not None:
        raise ConfigError("--rate/--count: give a rate or a count of flips, not both")
    positions = tuple(numbers("--bit-positions", bit_positions, int, "7")) if bit_positions else ()
    faults = ((FaultModel(target, count=count, bits=positions, layers=names(layers)),) if count is not None else
              tuple(FaultModel(target, rate=r, bits=positions, layers=names(layers)) for r in _levels("--rate", rate)))
    job = FaultJob(faults=faults, trials=trials, protect=protect, top=top, rank_trials=rank_trials,
                   vulnerability=vulnerability, images=images, seed=seed)
    stages = _Stages()
    with stages.progress:
        [rec] = run_faults(SavedModel(path=model, bits=bits, dataset=dataset, data_dir=data_dir, split_seed=split_seed),
                           job, progress=stages)
    d = rec.details
    show(_table(f"{rec.architecture} {rec.variant}: accuracy under bit flips, {rec.budgets['fault_images']} images",
                d["faults"]), fmt)
    ranking = d.get("vulnerability", [])
    if vulnerability:
        t = Table(title=f"vulnerability on {d['rank_images']} {d['ranked_on']} images: layers under "
                        f"{d['labels'][-1]} alone, the {min(top, len(ranking))} most vulnerable neurons")
        for col in ("layer", "neuron", "accuracy drop", "loss increase"):
            t.add_column(col, justify="right")
        for v in [*d["layer_vulnerability"], *ranking[:top]]:
            t.add_row(v["layer"], "all" if v["channel"] is None else str(v["channel"]), f"{v['accuracy_drop']:+.4f}",
                      "-" if v["channel"] is None else f"{v['loss_increase']:+.4g}")
        show(t, fmt)
    if "protection" in d:
        p, costs = d["protection"], d["protection"]["cost"]
        t = Table(title=f"top {top} vulnerable neurons protected by {p['mode']}: +{costs['extra_bytes']:,.0f} bytes, "
                        f"+{costs['extra_macs']:,} MACs, +{costs['extra_energy_pj']:.4g} pJ")
        for col in ("faults", "unprotected", "protected", "recovered", "per 1k extra MACs", "per kB extra"):
            t.add_column(col, justify="right")
        for label, r, q in zip(d["labels"], d["faults"], p["faults"]):
            gain = q["mean"] - r["mean"]
            t.add_row(label, f"{r['mean']:.4f}", f"{q['mean']:.4f}", f"{gain:+.4f}",
                      f"{1000 * gain / costs['extra_macs']:+.5f}" if costs["extra_macs"] else "-",
                      f"{1000 * gain / costs['extra_bytes']:+.5f}" if costs["extra_bytes"] else "-")
        show(t, fmt)
    write_records(output, [rec])
