"""The `paretonet` command: a thin typer layer over the Python API.

Any ParetonetError (and any usage error) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import ConfigError, ParetonetError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Pick image-classification CNNs on accuracy, robustness, size and energy.",
)
out = Console()
err = Console(stderr=True)

SeedOpt = Annotated[int, typer.Option(help="Seed of every random choice in this command.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the result as JSON to this file.")]
DataDirOpt = Annotated[Optional[str], typer.Option(help="Folder holding the dataset files (IDX or CIFAR-10 batches).")]


def _write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    except OSError as e:
        raise ConfigError(f"--output: cannot write {path}: {e.strerror or e}") from None
    err.print(f"wrote {path}")


def _objective_table(title: str, objectives) -> Table:  # noqa: ANN001
    t = Table(title=title)
    for col in ("objective", "value", "unit", "direction"):
        t.add_column(col, justify="right" if col == "value" else "left")
    for o in objectives:
        value = f"{o.value:.4f}" if o.unit == "fraction" else f"{o.value:.4g}" if o.unit == "pJ" else f"{o.value:,.0f}"
        t.add_row(o.name, value, o.unit, o.direction)
    return t


def _parse_shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"--input-shape: got {text!r}, expected C,H,W such as 1,8,8")
    return shape  # type: ignore[return-value]


def _architecture(text: str, space: str):  # noqa: ANN202
    """'space:genotype' as given, else a named member or bare genotype of `space` (nb201 cells start with '|')."""
    from .spaces import Architecture

    return Architecture.parse(text, space=None if ":" in text and not text.startswith("|") else space)


def _numbers(option: str, text: str, convert: type = float, example: str = "0.05,0.1") -> tuple:
    """'a,b,c' as numbers of one type; anything else is a one-line error naming the option."""
    try:
        values = tuple(convert(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        kind = "integers" if convert is int else "numbers"
        raise ConfigError(f"{option}: got {text!r}, expected comma-separated {kind} such as {example}")
    return values


def _names(text: str | None) -> tuple[str, ...]:
    """'a, b' -> ('a', 'b'); None or '' -> ()."""
    return tuple(n.strip() for n in text.split(",") if n.strip()) if text else ()


def _load_for_eval(model: Path, dataset: str | None, data_dir: str | None, split_seed: int):  # noqa: ANN202
    from .data import DataConfig, load_dataset
    from .evaluate import check_input_shape
    from .modelfile import load_model

    net, meta = load_model(model)
    data = load_dataset(DataConfig(name=dataset or meta.dataset, root=data_dir, seed=split_seed))
    check_input_shape(meta.input_shape, data)
    if data.n_classes != meta.n_classes:
        raise ConfigError(f"--dataset: {data.name!r} has {data.n_classes} classes, the model has {meta.n_classes}")
    return net, meta, data


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
    bits: Annotated[int, typer.Option(help="Bit width for the size objective.")] = 32,
    seed: SeedOpt = 0,
    split_seed: Annotated[int, typer.Option(help="Seed of the train/validation/test split.")] = 0,
    output: OutputOpt = None,
    save: Annotated[Optional[Path], typer.Option("--save-model", help="Save the model as PATH.safetensors + PATH.json.")] = None,
) -> None:
    """Train one architecture and print its objectives."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .data import DataConfig, load_dataset
    from .modelfile import ModelMeta, model_paths, save_model
    from .pipeline import train_architecture
    from .train import TrainConfig

    config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                         weight_decay=weight_decay, schedule=schedule, seed=seed, patience=patience)
    architecture = _architecture(arch, space)
    if save is not None and output is not None and output.resolve() == model_paths(save)[1].resolve():
        raise ConfigError(f"--output: {output} is where --save-model writes the model's metadata; choose another file")
    data = load_dataset(DataConfig(name=dataset, root=data_dir, seed=split_seed))
    err.print(f"{architecture}  on {data.name} {data.input_shape}: {len(data.train)} train / "
              f"{len(data.val)} val / {len(data.test)} test images")
    progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err,
                        disable=not err.is_terminal)
    with progress:
        task = progress.add_task("train", total=max(1, epochs), epoch=0, info="")

        def on_epoch(s) -> None:  # noqa: ANN001
            info = f"loss {s.train_loss:.4f}" + (f"  val {s.val_accuracy:.4f}" if s.val_accuracy is not None else "")
            progress.update(task, advance=1, epoch=s.epoch, info=info)

        trained = train_architecture(architecture, data, config, bits=bits, on_epoch=on_epoch)
    rec = trained.record
    res = trained.result
    out.print(_objective_table(f"{architecture.space} on {data.name}, seed {seed}", rec.objectives))
    if res.history:
        last = res.history[-1]
        out.print(f"epochs run {res.epochs_run}, best validation epoch {res.best_epoch}, "
                  f"final train loss {last.train_loss:.4f}, {res.seconds:.1f} s")
    if save is not None:
        meta = ModelMeta(architecture=str(architecture), input_shape=data.input_shape, n_classes=data.n_classes,
                         dataset=data.name, seed=seed, metrics={o.name: o.value for o in rec.objectives},
                         train_config=asdict(config))
        paths = save_model(save, trained.model, meta)
        err.print(f"saved {paths[0]} and {paths[1]}")
    _write_json(output, {"record": rec.to_dict(), "history": [asdict(h) for h in res.history],
                         "best_epoch": res.best_epoch, "stopped_early": res.stopped_early, "seconds": res.seconds})


@app.command("evaluate")
def evaluate_cmd(
    model: Annotated[Path, typer.Argument(help="Model saved by `paretonet train --save-model` (.safetensors + .json).")],
    dataset: Annotated[Optional[str], typer.Option(help="Dataset to evaluate on (default: the model's own).")] = None,
    data_dir: DataDirOpt = None,
    bits: Annotated[int, typer.Option(help="Bit width for the size objective.")] = 32,
    seed: SeedOpt = 0,
    split_seed: Annotated[int, typer.Option(help="Seed of the train/validation/test split.")] = 0,
    output: OutputOpt = None,
) -> None:
    """Measure the objectives of a saved model on a dataset's test split."""
    from .evaluate import evaluate_objectives
    from .records import Record, versions

    net, meta, data = _load_for_eval(model, dataset, data_dir, split_seed)
    objectives = evaluate_objectives(net, data, bits=bits)
    rec = Record(meta.architecture, data.name, meta.seed, objectives, variant="" if bits == 32 else f"bits={bits}",
                 budgets={"test_images": len(data.test), "split_seed": split_seed, "eval_seed": seed}, versions=versions())
    out.print(_objective_table(f"{meta.architecture} on {data.name}", objectives))
    _write_json(output, {"record": rec.to_dict()})


@app.command("spaces")
def spaces_cmd(
    space: Annotated[Optional[str], typer.Argument(help="A search space to show (lenet, nb201); none lists them all.")] = None,
    arch: Annotated[Optional[str], typer.Option(help="Show this architecture: named member or genotype string.")] = None,
    sample: Annotated[int, typer.Option(help="Draw this many random architectures.")] = 0,
    input_shape: Annotated[str, typer.Option(help="Input shape C,H,W for building and counting.")] = "1,8,8",
    classes: Annotated[int, typer.Option(help="Number of classes for building and counting.")] = 10,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
) -> None:
    """List search spaces, show one architecture layer by layer, or sample architectures."""
    from .hw import count_macs, count_params, profile_layers
    from .spaces import SPACES, Architecture, build_model, sample_architecture

    shape = _parse_shape(input_shape)
    if space is None:
        t = Table(title="search spaces")
        t.add_column("space")
        t.add_column("named members")
        for name in SPACES.names():
            t.add_row(name, "\n".join(f"{k} = {v}" for k, v in SPACES.get(name).named.items()))
        out.print(t)
        _write_json(output, {"spaces": {n: SPACES.get(n).named for n in SPACES.names()}})
        return
    SPACES.get(space)
    if sample < 0:
        raise ConfigError(f"--sample: got {sample}, expected an integer >= 0")
    archs = [Architecture.parse(arch, space=space)] if arch else []
    archs += [sample_architecture(space, seed + i, shape) for i in range(sample)]
    if not archs:
        archs = [Architecture.parse(name, space=space) for name in SPACES.get(space).named]
    rows = []
    for a in archs:
        model = build_model(a, shape, classes)
        macs = count_macs(model, shape)
        rows.append({"architecture": str(a), "params": count_params(model), "macs": macs.total_macs,
                     "layers": [{"name": p.name, "kind": p.kind, "out_shape": list(p.out_shape), "params": p.params,
                                 "macs": p.macs} for p in profile_layers(model, shape) if p.kind in ("conv", "linear")]})
    t = Table(title=f"{space} architectures for input {shape}, {classes} classes")
    for col in ("architecture", "params", "MACs"):
        t.add_column(col, justify="left" if col == "architecture" else "right", overflow="fold")
    for r in rows:
        t.add_row(r["architecture"], f"{r['params']:,}", f"{r['macs']:,}")
    out.print(t)
    if len(rows) == 1:
        lt = Table(title="conv and linear layers")
        for col in ("layer", "kind", "output", "params", "MACs"):
            lt.add_column(col)
        for layer in rows[0]["layers"]:
            lt.add_row(layer["name"], layer["kind"], "x".join(map(str, layer["out_shape"])), f"{layer['params']:,}", f"{layer['macs']:,}")
        out.print(lt)
    _write_json(output, {"architectures": rows})


@app.command("robustness")
def robustness_cmd(
    model: Annotated[Path, typer.Argument(help="Model saved by `paretonet train --save-model`.")],
    preset: Annotated[str, typer.Option(help="fast (FGSM+PGD), standard (APGD-CE+APGD-DLR+Square) or full.")] = "standard",
    attacks: Annotated[Optional[str], typer.Option(help="Comma-separated attacks instead of a preset.")] = None,
    eps: Annotated[str, typer.Option(help="Perturbation size(s) in [0, 1], comma-separated for a curve.")] = "0.1",
    norm: Annotated[str, typer.Option(help="Linf or L2.")] = "Linf",
    steps: Annotated[Optional[int], typer.Option(help="Iterations of PGD/APGD (default 20/100).")] = None,
    restarts: Annotated[int, typer.Option(help="Random restarts of PGD/APGD/Square.")] = 1,
    queries: Annotated[int, typer.Option(help="Square's query budget.")] = 5000,
    noise: Annotated[Optional[list[str]], typer.Option(help="Noise curve, e.g. gaussian:0.1,0.2 (repeatable).")] = None,
    draws: Annotated[int, typer.Option(help="Noise draws per level.")] = 5,
    images: Annotated[Optional[int], typer.Option(help="Test images to use (default: the whole test split).")] = None,
    no_sanity: Annotated[bool, typer.Option("--no-sanity", help="Skip the sanity checks.")] = False,
    dataset: Annotated[Optional[str], typer.Option(help="Dataset (default: the model's own).")] = None,
    data_dir: DataDirOpt = None,
    split_seed: Annotated[int, typer.Option(help="Seed of the train/validation/test split.")] = 0,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
) -> None:
    """Worst-case adversarial robustness, sanity checks and noise curves of a saved model."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .evaluate import RobustnessConfig, noise_robustness, parse_noise_spec, robustness_curve
    from .pipeline import select_images

    eps_values = _numbers("--eps", eps)
    attack_names = tuple(a.strip() for a in attacks.split(",") if a.strip()) if attacks else None
    cfg = RobustnessConfig(eps=eps_values[0], norm=norm, preset=preset, attacks=attack_names, steps=steps,
                           restarts=restarts, queries=queries, seed=seed, sanity=not no_sanity)
    noise_specs = [parse_noise_spec(n) for n in noise or []]
    net, meta, data = _load_for_eval(model, dataset, data_dir, split_seed)
    x, y = select_images(data, images, seed)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                        disable=not err.is_terminal)
    with progress:
        task = progress.add_task("attacks", total=None)

        def on_progress(name: str, done: int, total: int) -> None:
            progress.update(task, description=name, completed=done, total=total)

        curve = robustness_curve(net, x, y, eps_values, cfg, progress=on_progress)
    t = Table(title=f"{meta.architecture}: worst case over {cfg.label}, {len(x)} images, {curve[0].gradient_mode}")
    for col in ("eps", "clean", "robust", *[a.name for a in curve[0].attacks]):
        t.add_column(col, justify="right")
    for r in curve:
        t.add_row(f"{r.eps:g}", f"{r.clean_accuracy:.4f}", f"{r.robust_accuracy:.4f}", *[str(a.images_broken) for a in r.attacks])
    out.print(t)
    out.print("(attack columns: images each attack broke that every earlier attack left standing)")
    st = Table(title=f"sanity checks at eps {curve[0].eps:g}")
    for col in ("check", "result", "value", "threshold"):
        st.add_column(col)
    for c in curve[0].sanity:
        st.add_row(c.name, "pass" if c.passed else "FAIL", f"{c.value:.4g}", f"{c.threshold:.4g}")
    if curve[0].sanity:
        out.print(st)
    if any(r.gradient_masking_suspected for r in curve):
        err.print("warning: gradient masking suspected (see the failed checks); "
                  + ("robust accuracy above used BPDA, transfer and Square" if curve[0].gradient_mode != "white-box"
                     else "white-box numbers may overstate robustness"))
    noise_points = []
    for kind, levels in noise_specs:
        noise_points += noise_robustness(net, x, y, kind, levels, draws=draws, seed=seed)
    if noise_points:
        nt = Table(title=f"accuracy under noise ({draws} draws per level)")
        for col in ("noise", "level", "mean", "std"):
            nt.add_column(col, justify="right")
        for p in noise_points:
            nt.add_row(p.kind, f"{p.level:g}", f"{p.mean_accuracy:.4f}", f"{p.std_accuracy:.4f}")
        out.print(nt)
    _write_json(output, {"architecture": meta.architecture, "dataset": data.name, "images": len(x), "seed": seed,
                         "robustness": [asdict(r) for r in curve],
                         "objectives": [asdict(r.objective()) for r in curve],
                         "noise": [asdict(p) for p in noise_points]})


@app.command("variance")
def variance_cmd(
    arch: Annotated[list[str], typer.Option(help="Architecture (repeat for two to count ranking flips).")],
    space: Annotated[str, typer.Option(help="Search space of bare architecture strings.")] = "lenet",
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = "digits",
    data_dir: DataDirOpt = None,
    seeds: Annotated[int, typer.Option(help="Number of training seeds (0..k-1).")] = 5,
    epochs: Annotated[int, typer.Option(help="Training epochs per seed.")] = 15,
    preset: Annotated[str, typer.Option(help="Attack preset.")] = "fast",
    eps: Annotated[float, typer.Option(help="Perturbation size.")] = 0.1,
    images: Annotated[Optional[int], typer.Option(help="Test images (default: all).")] = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
) -> None:
    """Clean and robust accuracy over training seeds: mean, std, min, max, 95 % interval, ranking flips."""
    from .data import DataConfig, load_dataset
    from .evaluate import RobustnessConfig, ranking_flips
    from .pipeline import seed_variance
    from .train import TrainConfig

    if seeds < 1:
        raise ConfigError(f"--seeds: got {seeds}, expected an integer >= 1")
    if len(arch) > 2:
        raise ConfigError(f"--arch: got {len(arch)} architectures, expected one or two")
    archs = [_architecture(a, space) for a in arch]
    data = load_dataset(DataConfig(name=dataset, root=data_dir))
    cfg = RobustnessConfig(eps=eps, preset=preset, seed=seed, sanity=False)
    results = []
    for a in archs:
        results.append(seed_variance(a, data, TrainConfig(epochs=epochs), tuple(range(seeds)), cfg, images=images,
                                     on_seed=lambda s, a=a: err.print(f"{a}: seed {s} done")))
    t = Table(title=f"{seeds} seeds, {results[0].n_images} images, robust = worst case {results[0].robustness}")
    for col in ("architecture", "metric", "mean", "std", "min", "max", "95% interval"):
        t.add_column(col, overflow="fold")
    for r in results:
        for metric, s in (("clean", r.clean), ("robust", r.robust)):
            t.add_row(r.architecture, metric, f"{s.mean:.4f}", f"{s.std:.4f}", f"{s.min:.4f}", f"{s.max:.4f}",
                      f"[{s.ci95_low:.4f}, {s.ci95_high:.4f}]")
    out.print(t)
    payload: dict[str, Any] = {"variance": [asdict(r) for r in results]}
    if len(results) == 2:
        flips = ranking_flips(*results)
        out.print(f"better on average: {flips.better_on_average}; ranking flips on {flips.paired_flip_rate:.0%} of seeds, "
                  f"{flips.cross_flip_rate:.0%} of cross-seed pairs")
        payload["ranking_flips"] = asdict(flips)
    _write_json(output, payload)


@app.command("energy")
def energy_cmd(
    model: Annotated[Path, typer.Argument(help="Model saved by `paretonet train --save-model`.")],
    preset: Annotated[str, typer.Option(help="Hardware preset: horowitz45 (pJ) or eyeriss (normalized to a 16-bit MAC).")] = "horowitz45",
    hardware_file: Annotated[Optional[Path], typer.Option("--hardware", help="Hardware description (JSON or YAML) instead of a preset.")] = None,
    dataflow: Annotated[str, typer.Option(help="A, B, hierarchy, or all.")] = "all",
    bits: Annotated[int, typer.Option(help="Integer bit width of weights and activations (32 = float32).")] = 32,
    layers: Annotated[bool, typer.Option("--layers/--no-layers", help="Print the per-layer table.")] = True,
    zigzag: Annotated[Optional[str], typer.Option(help="Also run ZigZag with this shipped accelerator (e.g. tpu_like; extra 'zigzag').")] = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
) -> None:
    """Energy per image, E = E_data + E_MAC, per layer, per memory level and in total."""
    from .hw import DATAFLOWS, FLOAT32, LayerBits, hardware, model_energy
    from .modelfile import load_model

    hw = hardware(str(hardware_file) if hardware_file is not None else preset)
    flows = DATAFLOWS if dataflow == "all" else (dataflow,)
    layer_bits = FLOAT32 if bits == 32 else LayerBits.integer(bits)
    net, meta = load_model(model)
    estimates = [model_energy(net, meta.input_shape, hw, f, bits=layer_bits) for f in flows]
    unit = hw.unit
    t = Table(title=f"{meta.architecture} on {hw.name}, {'float32' if bits == 32 else f'{bits}-bit'}, per image ({unit})")
    for col in ("dataflow", "E_MAC", "E_data", "total", "data share", "by memory level"):
        t.add_column(col, justify="right" if col != "by memory level" else "left")
    for e in estimates:
        levels = ", ".join(f"{k} {v:.4g}" for k, v in e.by_level().items())
        t.add_row(e.dataflow, f"{e.mac_pj:.4g}", f"{e.data_pj:.4g}", f"{e.total_pj:.4g}", f"{e.data_fraction:.1%}", levels)
    out.print(t)
    if layers:
        lt = Table(title=f"per layer, dataflow {estimates[0].dataflow}")
        for col in ("layer", "kind", "MACs", "E_MAC", "E_data"):
            lt.add_column(col, justify="right" if col not in ("layer", "kind") else "left")
        for layer in estimates[0].layers:
            lt.add_row(layer.name, layer.kind, f"{layer.macs:,}", f"{layer.mac_pj:.4g}", f"{layer.data_pj:.4g}")
        out.print(lt)
    zz = None
    if zigzag is not None:
        from .hw._zigzag import zigzag_energy

        zz = zigzag_energy(net, meta.input_shape, zigzag)
        ours = [layer for layer in estimates[0].layers if layer.macs]
        zt = Table(title=f"cross-check: dataflow {estimates[0].dataflow} vs ZigZag {zz.accelerator} (conv/linear layers)")
        for col in ("layer", "ours", "ZigZag", "share ours", "share ZigZag"):
            zt.add_column(col, justify="left" if col == "layer" else "right")
        ours_total = sum(layer.total_pj for layer in ours) or 1.0
        for k, (name, z_e) in enumerate(zz.layers):
            mine = ours[k] if len(ours) == len(zz.layers) else None
            zt.add_row(mine.name if mine else name, f"{mine.total_pj:.4g}" if mine else "-", f"{z_e:.4g}",
                       f"{mine.total_pj / ours_total:.1%}" if mine else "-", f"{z_e / zz.total_energy:.1%}")
        out.print(zt)
        out.print(f"ZigZag total {zz.total_energy:.4g}, latency {zz.latency_cycles:.4g} cycles")
    _write_json(output, {"architecture": meta.architecture, "hardware": hw.to_dict(), "bits": bits,
                         "zigzag": asdict(zz) if zz is not None else None,
                         "estimates": [{"dataflow": e.dataflow, "unit": e.unit, "mac_pj": e.mac_pj, "data_pj": e.data_pj,
                                        "total_pj": e.total_pj, "by_level_pj": e.by_level(),
                                        "layers": [asdict(layer) for layer in e.layers]} for e in estimates]})


@app.command("compress")
def compress_cmd(
    model: Annotated[Path, typer.Argument(help="Model saved by `paretonet train --save-model`.")],
    bits: Annotated[Optional[int], typer.Option(help="Weight bits of every conv/linear layer (1..16).")] = None,
    act_bits: Annotated[Optional[int], typer.Option(help="Activation bits (default: same as --bits).")] = None,
    per_tensor: Annotated[bool, typer.Option("--per-tensor", help="One weight scale per tensor, not per channel.")] = False,
    qat: Annotated[int, typer.Option(help="Quantization-aware training epochs.")] = 0,
    prune: Annotated[float, typer.Option(help="Unstructured magnitude pruning ratio in [0, 1).")] = 0.0,
    prune_scope: Annotated[str, typer.Option(help="global or layer.")] = "global",
    channels: Annotated[float, typer.Option(help="Channel pruning ratio in [0, 1) (lenet space).")] = 0.0,
    finetune: Annotated[int, typer.Option(help="Fine-tuning epochs after pruning.")] = 0,
    preset: Annotated[str, typer.Option(help="Attack preset for robust accuracy.")] = "fast",
    eps: Annotated[float, typer.Option(help="Perturbation size for robust accuracy.")] = 0.1,
    images: Annotated[Optional[int], typer.Option(help="Test images for robust accuracy (default: all).")] = None,
    no_robust: Annotated[bool, typer.Option("--no-robust", help="Skip robust accuracy.")] = False,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    save: Annotated[Optional[Path], typer.Option("--save-model", help="Save a pruned (not quantized) model here.")] = None,
) -> None:
    """Quantize and/or prune a model; print accuracy, robust accuracy, size and energy before and after."""
    from .variant import Variant

    variant = Variant(bits=bits, act_bits=act_bits, per_tensor=per_tensor, qat=qat, prune=prune,
                      prune_scope=prune_scope, channels=channels, finetune=finetune)
    if save is not None and variant.bits is not None:
        raise ConfigError("--save-model: quantized models are not saved yet (save the pruned float model without --bits)")
    _compare_variants(model, [variant], preset=preset, eps=eps, images=images, no_robust=no_robust,
                      data_dir=data_dir, seed=seed, output=output, save=save)


def _compare_variants(model: Path, variants: list, *, preset: str, eps: float, images: int | None, no_robust: bool,  # noqa: ANN001
                      data_dir: str | None, seed: int, output: Path | None, save: Path | None = None,
                      lut_dirs: tuple[str, ...] = (), queries: int = 5000) -> None:
    """Objectives of the model as trained and of each variant, side by side; the last one may be saved."""
    from .evaluate import RobustnessConfig
    from .modelfile import ModelMeta, save_model
    from .pipeline import select_images
    from .spaces import Architecture
    from .train import TrainConfig
    from .variant import Variant, VariantModel, apply_variant, variant_record

    robustness = None if no_robust else RobustnessConfig(eps=eps, preset=preset, seed=seed, sanity=False,
                                                         queries=queries)
    net, meta, data = _load_for_eval(model, None, data_dir, 0)
    arch = Architecture.parse(meta.architecture)
    xy = select_images(data, images, seed)
    cfg = TrainConfig(**{**meta.train_config, "seed": seed}) if meta.train_config else TrainConfig(seed=seed)
    records = [variant_record(VariantModel(net, arch, Variant()), data, meta.seed, robustness, xy)]
    vm = None
    for variant in variants:
        vm = apply_variant(net, arch, data, variant, cfg, lut_dirs)
        records.append(variant_record(vm, data, meta.seed, robustness, xy))
    t = Table(title=f"{meta.architecture}: " + " | ".join(f"'{r.variant}'" for r in records))
    t.add_column("objective")
    for r in records:
        t.add_column(r.variant or "as trained", justify="right")
    t.add_column("change (last)", justify="right")
    for rows in zip(*(r.objectives for r in records)):
        b, a = rows[0], rows[-1]
        fmt = "{:.4f}" if b.unit == "fraction" else "{:.4g}"
        change = f"{a.value - b.value:+.4f}" if b.unit == "fraction" else f"{a.value / b.value:.3f}x" if b.value else "-"
        t.add_row(f"{b.name} ({b.unit})", *(fmt.format(o.value) for o in rows), change)
    out.print(t)
    if str(vm.architecture) != meta.architecture:
        out.print(f"architecture after channel pruning: {vm.architecture}")
    if save is not None:
        paths = save_model(save, vm.model, ModelMeta(architecture=str(vm.architecture), input_shape=meta.input_shape,
                                                     n_classes=meta.n_classes, dataset=meta.dataset, seed=meta.seed,
                                                     metrics={o.name: o.value for o in records[-1].objectives},
                                                     train_config=meta.train_config))
        err.print(f"saved {paths[0]} and {paths[1]}")
    payload = {"before": records[0].to_dict(), "after": records[-1].to_dict()}
    if len(records) > 2:
        payload["variants"] = [r.to_dict() for r in records[1:]]
    _write_json(output, payload)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn expected errors into one stderr line and exit code 2."""
    from typer._click.exceptions import ClickException

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="paretonet", standalone_mode=False)
    except ParetonetError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except ClickException as e:
        err.print(f"error: {e.format_message()}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except (KeyboardInterrupt, typer.Abort):
        err.print("aborted", markup=False)
        return 130
    return code if isinstance(code, int) else 0


def run() -> None:
    sys.exit(main())


from . import cli_approx as _cli_approx  # noqa: E402,F401  registers `multipliers` and `approx`
from . import cli_bench as _cli_bench  # noqa: E402,F401  registers `bench` and `predict`


if __name__ == "__main__":  # `python -m paretonet.cli`: run the imported module, where every command is registered
    from paretonet.cli import run as _run

    _run()
