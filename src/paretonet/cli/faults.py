"""`paretonet noise` and `paretonet faults`: accuracy under computation noise and bit flips, and protection."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
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


def _progress():  # noqa: ANN202
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, disable=not err.is_terminal)


def _levels(option: str, text: str | None) -> tuple[float, ...]:
    return numbers(option, text) if text else (0.0,)


def _record(net, meta, data, variant, extra_objectives, budgets: dict, details: dict):  # noqa: ANN001, ANN202
    from ..evaluate import BASIC_OBJECTIVES, evaluate_objectives
    from ..records import Record, versions

    objectives = (*evaluate_objectives(net, data, BASIC_OBJECTIVES), *extra_objectives)
    return Record(meta.architecture, data.name, meta.seed, objectives, variant=str(variant),
                  budgets={"test_images": len(data.test), **budgets}, versions=versions(), details=details)


def _table(title: str, rows) -> Table:  # noqa: ANN001
    t = Table(title=title)
    for col in ("model", "mean", "std", "worst", "trials"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        t.add_row(r.label, f"{r.mean:.4f}", f"{r.std:.4f}", f"{r.worst:.4f}", str(r.trials))
    return t


@app.command("noise")
def noise_cmd(
    model: ModelArg,
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
    from ..evaluate import noise_accuracy, perturbed_name
    from ..hw import NoiseModel
    from ..pipeline import load_quantized
    from ..records import accuracy_objective
    from ..variant import CALIBRATION_IMAGES, select_images

    w_levels, o_levels = _levels("--weights", weights), _levels("--outputs", outputs)
    if len(w_levels) > 1 and len(o_levels) > 1 and len(w_levels) != len(o_levels):
        raise ConfigError(f"--weights/--outputs: got {len(w_levels)} and {len(o_levels)} levels; give one of them "
                          "a single level or both the same number")
    n = max(len(w_levels), len(o_levels))
    models = [NoiseModel(weights=w_levels[i % len(w_levels)], multiplicative=multiplicative,
                         outputs=o_levels[i % len(o_levels)], layers=names(layers)) for i in range(n)]
    if draws < 1:
        raise ConfigError(f"--draws: got {draws}, expected an integer >= 1")
    net, meta, data, variant = load_quantized(model, bits, dataset, data_dir, split_seed)
    x, y = select_images(data, images, seed)
    results = []
    with _progress() as progress:
        for nm in models:
            task = progress.add_task(nm.label, total=draws)
            results.append(noise_accuracy(net, x, y, nm, draws=draws, seed=seed,
                                          calibration=data.train.x[:CALIBRATION_IMAGES],
                                          progress=lambda d, t, task=task: progress.update(task, completed=d)))
    show(_table(f"{meta.architecture} {str(variant) or '(as trained)'}: accuracy under noise, {len(x)} images",
                results), fmt)
    objectives = [accuracy_objective(perturbed_name(nm), r.mean, r.images) for nm, r in zip(models, results)]
    write_records(output, [_record(net, meta, data, variant, objectives,
                                   {"noise_images": len(x), "noise_draws": draws, "noise_seed": seed},
                                   {"noise": [asdict(r) for r in results]})])


@app.command("faults")
def faults_cmd(
    model: ModelArg,
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
    from ..evaluate import fault_accuracy, layer_vulnerability, neuron_vulnerability, perturbed_name, top_neurons
    from ..hw import FaultModel, Protection, compute_layers, protection_cost, weight_format
    from ..pipeline import load_quantized
    from ..records import accuracy_objective
    from ..variant import select_images

    if rate is not None and count is not None:
        raise ConfigError("--rate/--count: give a rate or a count of flips, not both")
    positions = tuple(numbers("--bit-positions", bit_positions, int, "7")) if bit_positions else ()
    faults = ([FaultModel(target, count=count, bits=positions, layers=names(layers))] if count is not None else
              [FaultModel(target, rate=r, bits=positions, layers=names(layers)) for r in _levels("--rate", rate)])
    if trials < 1:
        raise ConfigError(f"--trials: got {trials}, expected an integer >= 1")
    protection_mode = None
    if protect is not None:
        protection_mode = Protection(protect).mode
        if top < 1:
            raise ConfigError(f"--top: got {top}, expected an integer >= 1")
    net, meta, data, variant = load_quantized(model, bits, dataset, data_dir, split_seed)
    for name, m in compute_layers(net).items():  # a float layer or a bit beyond the width fails before any work
        width = weight_format(m).width
        if any(b >= width for b in positions):
            raise ConfigError(f"--bit-positions: bit {max(positions)} is beyond the {width}-bit codes of layer "
                              f"{name!r} (positions 0..{width - 1})")
    x, y = select_images(data, images, seed)
    # neurons are ranked on the validation split, so protection is not chosen on the images it is scored on
    rx, ry = (data.val.x, data.val.y) if len(data.val) else (x, y)
    results, protected, costs, ranking, layer_ranking = [], [], None, [], []
    with _progress() as progress:
        for f in faults:
            task = progress.add_task(f.label, total=trials)
            results.append(fault_accuracy(net, x, y, f, trials=trials, seed=seed,
                                          progress=lambda d, t, task=task: progress.update(task, completed=d)))
        if vulnerability:
            task = progress.add_task("layers", total=None)
            layer_ranking = layer_vulnerability(net, rx, ry, faults[-1], trials=trials, seed=seed)
        if protection_mode is not None or vulnerability:
            task = progress.add_task("neurons", total=None)
            ranking = neuron_vulnerability(net, rx, ry, bits=positions, trials=rank_trials, seed=seed,
                                           progress=lambda d, t: progress.update(task, completed=d, total=t))
        if protection_mode is not None:
            protection = Protection(protection_mode, top_neurons(ranking, top))
            costs = protection_cost(net, data.input_shape, protection)
            for f in faults:
                task = progress.add_task(f"{f.label} {protection_mode}", total=trials)
                protected.append(fault_accuracy(net, x, y, f, trials=trials, seed=seed, protection=protection,
                                                progress=lambda d, t, task=task: progress.update(task, completed=d)))
    title = f"{meta.architecture} {variant}: accuracy under bit flips, {len(x)} images"
    show(_table(title, results), fmt)
    objectives = [accuracy_objective(perturbed_name(f), r.mean, r.images) for f, r in zip(faults, results)]
    details: dict = {"faults": [asdict(r) for r in results]}
    if vulnerability:
        t = Table(title=f"vulnerability on {len(rx)} {'validation' if len(data.val) else 'test'} images: layers under "
                        f"{faults[-1].label} alone, the {min(top, len(ranking))} most vulnerable neurons")
        for col in ("layer", "neuron", "accuracy drop", "loss increase"):
            t.add_column(col, justify="right")
        for v in [*layer_ranking, *ranking[:top]]:
            t.add_row(v.layer, "all" if v.channel is None else str(v.channel), f"{v.accuracy_drop:+.4f}",
                      "-" if v.channel is None else f"{v.loss_increase:+.4g}")
        show(t, fmt)
        details["layer_vulnerability"] = [asdict(v) for v in layer_ranking]
    if protection_mode is not None:
        t = Table(title=f"top {top} vulnerable neurons protected by {protection_mode}: +{costs.extra_bytes:,.0f} bytes, "
                        f"+{costs.extra_macs:,} MACs, +{costs.extra_energy_pj:.4g} pJ")
        for col in ("faults", "unprotected", "protected", "recovered", "per 1k extra MACs", "per kB extra"):
            t.add_column(col, justify="right")
        for f, r, p in zip(faults, results, protected):
            gain = p.mean - r.mean
            t.add_row(f.label, f"{r.mean:.4f}", f"{p.mean:.4f}", f"{gain:+.4f}",
                      f"{1000 * gain / costs.extra_macs:+.5f}" if costs.extra_macs else "-",
                      f"{1000 * gain / costs.extra_bytes:+.5f}" if costs.extra_bytes else "-")
        show(t, fmt)
        details.update(protection={"mode": protection_mode, "top": top, "neurons": top_neurons(ranking, top),
                                   "cost": asdict(costs), "faults": [asdict(p) for p in protected]})
    if ranking:
        details["vulnerability"] = [asdict(v) for v in ranking[: max(top, 20)]]
    write_records(output, [_record(net, meta, data, variant, objectives,
                                   {"fault_images": len(x), "fault_trials": trials, "fault_seed": seed,
                                    **({"rank_trials": rank_trials, "rank_images": len(rx)} if ranking else {})}, details)])
