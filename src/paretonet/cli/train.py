"""`paretonet train` and `paretonet evaluate`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import (
    TrustCodeOpt,
    DataDirOpt,
    DatasetOpt,
    FormatOpt,
    ModelArg,
    OutputOpt,
    SeedOpt,
    SplitSeedOpt,
    app,
    architecture,
    check_format,
    check_save_paths,
    err,
    objective_table,
    say,
    show,
    write_records,
)

SaveOpt = Annotated[Optional[Path], typer.Option("--save-model", help="Save the model as PATH.safetensors + PATH.json.")]


@app.command("train")
def train_cmd(
    arch: Annotated[str, typer.Option(help="Named member (lenet5), genotype string, or 'space:genotype'.")] = "lenet5",
    space: Annotated[str, typer.Option(help="Search space: lenet or nb201.")] = "lenet",
    dataset: Annotated[str, typer.Option(help="digits, mnist, fashion-mnist, cifar10 or synthetic.")] = "digits",
    data_dir: DataDirOpt = None,
    epochs: Annotated[int, typer.Option(help="Training epochs (0 measures the untrained model).")] = 30,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = 64,
    optimizer: Annotated[str, typer.Option(help="adam or sgd.")] = "adam",
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-3,
    weight_decay: Annotated[float, typer.Option(help="L2 weight decay.")] = 0.0,
    schedule: Annotated[str, typer.Option(help="cosine, step or constant.")] = "cosine",
    patience: Annotated[Optional[int], typer.Option(help="Stop after this many epochs without a better validation accuracy.")] = None,
    recipe: Annotated[str, typer.Option(
        help="standard, adversarial (PGD-AT), trades, noisy (noise injection), qat (constant scales), gaussian "
             "(input noise augmentation: gaussian/sigma=0.25) or ibp (interval bounds: ibp/eps=0.15); parameters "
             "also as 'trades/beta=6/eps=0.1'.")] = "standard",
    eps: Annotated[Optional[float], typer.Option(help="adversarial / trades / ibp: Linf radius (default 0.1).")] = None,
    attack_steps: Annotated[Optional[int], typer.Option(help="adversarial / trades: PGD steps per batch (default 7).")] = None,
    beta: Annotated[Optional[float], typer.Option(help="trades: weight of the robustness term (default 6).")] = None,
    noise: Annotated[Optional[str], typer.Option(
        help="noisy: the noise model trained with, e.g. outputs:0.1 or weights:0.05+outputs:0.1 (default outputs:0.1).")] = None,
    qat_bits: Annotated[Optional[int], typer.Option(help="qat: bits of weights and activations (default 8).")] = None,
    seed: SeedOpt = 0,
    split_seed: SplitSeedOpt = 0,
    output: OutputOpt = None,
    save: SaveOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Train one architecture with a recipe and print its objectives (compress or evaluate --bits quantize it)."""
    check_format(fmt)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..data import DataConfig, load_dataset
    from ..modelfile import model_paths
    from ..pipeline import Recipe, TrainConfig, TrainJob, run_train

    given = {"eps": ("--eps", eps), "steps": ("--attack-steps", attack_steps), "beta": ("--beta", beta),
             "noise": ("--noise", noise), "bits": ("--qat-bits", qat_bits)}
    base = Recipe.parse(recipe)
    for key, (option, value) in given.items():
        if value is not None and key not in base.parameters:
            raise ConfigError(f"{option}: recipe {base.name!r} does not use it (it takes "
                              f"{', '.join(base.parameters) or 'no parameters'})")
    chosen = replace(base, **{k: v for k, (_, v) in given.items() if v is not None})
    config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                         weight_decay=weight_decay, schedule=schedule, seed=seed, patience=patience, recipe=chosen)
    a = architecture(arch, space)
    check_save_paths(output, save)
    data = load_dataset(DataConfig(name=dataset, root=data_dir, seed=split_seed))
    err.print(f"{a}  on {data.name} {data.input_shape}: {len(data.train)} train / "
              f"{len(data.val)} val / {len(data.test)} test images")
    progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err,
                        disable=not err.is_terminal)
    with progress:
        task = progress.add_task("train", total=max(1, epochs), epoch=0, info="")

        def on_epoch(s) -> None:  # noqa: ANN001
            info = f"loss {s.train_loss:.4f}" + (f"  val {s.val_accuracy:.4f}" if s.val_accuracy is not None else "")
            progress.update(task, advance=1, epoch=s.epoch, info=info)

        [rec] = run_train(TrainJob(arch=a, data=data, config=config, save=save), on_epoch=on_epoch)
    show(objective_table(f"{a.space} on {data.name}, seed {seed}", rec.objectives), fmt)
    history = rec.details["history"]
    if history:
        say(f"epochs run {rec.budgets['epochs_run']}, best validation epoch {rec.budgets['best_epoch']}, "
            f"final train loss {history[-1]['train_loss']:.4f}, {rec.details['seconds']:.1f} s", fmt)
    if save is not None:
        paths = model_paths(save)
        err.print(f"saved {paths[0]} and {paths[1]}")
    write_records(output, [rec])


@app.command("evaluate")
def evaluate_cmd(
    model: ModelArg,
    trust_code: TrustCodeOpt = False,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    bits: Annotated[Optional[int], typer.Option(
        help="Quantize weights and activations to this many bits first (post-training, calibrated on the "
             "training split) and measure that model.")] = None,
    latency: Annotated[bool, typer.Option("--latency", help="Also measure latency_ms@cpu on this machine (median of "
                                                          "repeated runs; threads and CPU capability recorded).")] = False,
    seed: SeedOpt = 0,
    split_seed: SplitSeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Measure the objectives of a saved model (any variant) on a dataset's test split."""
    check_format(fmt)
    from ..pipeline import MeasureConfig, SavedModel, run_measure

    [rec] = run_measure(SavedModel(path=model, bits=bits, dataset=dataset, data_dir=data_dir, split_seed=split_seed),
                        MeasureConfig(latency=latency, seed=seed))
    if "unpriced" in rec.details:
        say(f"note: {rec.details['unpriced']}", fmt)
    show(objective_table(f"{rec.architecture} {rec.variant or '(as trained)'} on {rec.dataset}", rec.objectives), fmt)
    write_records(output, [rec])
