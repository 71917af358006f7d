"""`paretonet device fit` and `paretonet device predict`: device cost models calibrated from measurements."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from ._common import FormatOpt, OutputOpt, SeedOpt, Table, app, check_format, out, parse_shape, say, show, write_records

device_app = typer.Typer(no_args_is_help=True, help="Device models: a device's latency or energy fitted from measured networks.")
app.add_typer(device_app, name="device")

HW_NAS_BENCH = "hw_devices_cifar100.csv"
ShapeOpt = Annotated[str, typer.Option(help="Input (channels,height,width) the networks are built for.")]
ClassesOpt = Annotated[int, typer.Option(help="Classes of the networks' classifier.")]


@device_app.command("fit")
def fit_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="The device model file to write (JSON).")],
    column: Annotated[Optional[str], typer.Option(help=f"A column of HW-NAS-Bench's measurements (../shared/nb201/{HW_NAS_BENCH}): edgegpu_latency, edgegpu_energy, raspi4_latency, edgetpu_latency, pixel3_latency, fpga_latency, fpga_energy.")] = None,
    csv: Annotated[Optional[Path], typer.Option(help="Your own CSV: an 'architecture' column and a cost column (--cost).")] = None,
    cost: Annotated[Optional[str], typer.Option(help="The cost column of --csv.")] = None,
    name: Annotated[Optional[str], typer.Option(help="The device's name in objectives (latency_ms@NAME); default: the column's device.")] = None,
    quantity: Annotated[Optional[str], typer.Option(help="latency (ms) or energy (mJ); default: from the column name.")] = None,
    model: Annotated[str, typer.Option(help="auto (best cross-validated), linear, kernels or encoding.")] = "auto",
    train: Annotated[int, typer.Option(help="Fit on a seeded sample of this many measured networks (0: all).")] = 0,
    input_shape: ShapeOpt = "3,32,32",
    classes: ClassesOpt = 10,
    seed: SeedOpt = 0,
    fmt: FormatOpt = "table",
) -> None:
    """Fit a device model on measured networks and save it; prints the cross-validated scores."""
    check_format(fmt)
    from ..analytic import fit_device, read_calibration
    from ..bench import default_shared_nb201
    from ..hw import QUANTITIES, DeviceData

    if (column is None) == (csv is None):
        raise ConfigError("--column / --csv: give exactly one (a HW-NAS-Bench column, or your own CSV with --cost)")
    if quantity is not None and quantity not in QUANTITIES:  # options first, before any file is read
        raise ConfigError(f"--quantity: got {quantity!r}, expected one of {', '.join(QUANTITIES)}")
    if train < 0:
        raise ConfigError(f"--train: got {train}, expected 0 (all) or a positive number of networks")
    if column is not None:
        data = read_calibration(default_shared_nb201() / HW_NAS_BENCH, column, missing=-1.0)  # -1: not measured
        device, _, kind = column.rpartition("_")
    else:
        if cost is None:
            raise ConfigError("--cost: --csv needs the name of its cost column")
        data = read_calibration(csv, cost)
        device, kind = (name or Path(csv).stem), (quantity or "latency")
    quantity = quantity or kind
    if 0 < train < len(data.costs):
        import numpy as np

        keep = np.sort(np.random.default_rng(seed).choice(len(data.costs), train, replace=False))
        data = DeviceData(tuple(data.architectures[i] for i in keep), data.costs[keep], f"{data.source} (sample of {train}, seed {seed})")
    fitted = fit_device(name or device, quantity, data, model, seed=seed, input_shape=parse_shape(input_shape), n_classes=classes)
    fitted.save(output)
    t = Table(title=f"{fitted.objective}: {fitted.data['rows']} networks from {fitted.data['source']} "
                    f"(sha256 {fitted.data['sha256'][:12]}), 5-fold cross-validation")
    for col in ("model", "Kendall tau", f"RMSE ({fitted.unit})", "within +-10 %", "chosen"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for m, s in fitted.cv.items():
        t.add_row(m, f"{s['kendall_tau']:.3f}", f"{s['rmse']:.4g}", f"{s['within_10pct']:.1%}", "yes" if m == fitted.model else "")
    show(t, fmt)
    say(f"wrote {output} (model {fitted.model}); use it as the objective {fitted.objective}", fmt)


@device_app.command("predict")
def predict_cmd(
    device_file: Annotated[Path, typer.Argument(help="A device model file written by `paretonet device fit`.")],
    architectures: Annotated[list[str], typer.Argument(help="Architectures: 'nb201:|...|', 'lenet:...', a NASLib tuple.")],
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """The device model's cost of each architecture, as Records."""
    check_format(fmt)
    from ..analytic import device_costs, parse_architecture
    from ..hw import DeviceModel
    from ..records import Objective, Record, versions

    fitted = DeviceModel.load(device_file)
    archs = [parse_architecture(a) for a in architectures]
    values = device_costs(fitted, archs)
    t = Table(title=f"{fitted.objective} (model {fitted.model}, fitted on {fitted.data.get('source')})")
    t.add_column("architecture")
    t.add_column(f"{fitted.quantity} ({fitted.unit})", justify="right")
    records = []
    for a, v in zip(archs, values):
        t.add_row(a, f"{v:.4g}")
        records.append(Record(a, "", 0, (Objective(fitted.objective, float(v), fitted.unit, "min"),),
                              budgets={"device_model": str(device_file), "fitted_on": fitted.data},
                              versions=versions(), details={"model": fitted.model, "input_shape": list(fitted.input_shape)}))
    show(t, fmt)
    write_records(output, records)


@device_app.command("measure")
def measure_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="Calibration CSV to write: architecture, latency_ms.")],
    space: Annotated[str, typer.Option(help="Search space to sample networks from.")] = "nb201",
    n: Annotated[int, typer.Option(help="Networks to measure (a seeded sample of the space).")] = 50,
    input_shape: ShapeOpt = "3,32,32",
    classes: ClassesOpt = 10,
    min_run_time: Annotated[float, typer.Option(help="Seconds of timed runs per network (median reported).")] = 0.2,
    seed: SeedOpt = 0,
) -> None:
    """Measure latency_ms@cpu of sampled networks on this machine: calibration data for `device fit --csv`."""
    import csv as csv_module

    from ..hw import measure_cpu_latency
    from ..spaces import sample_architecture

    if n < 1:
        raise ConfigError(f"--n: got {n}, expected at least 1")
    shape = parse_shape(input_shape)
    rows, first = [], None
    for i in range(n):
        arch = sample_architecture(space, seed + i, shape)
        lat = measure_cpu_latency(arch.build(shape, classes), shape, min_run_time_s=min_run_time)
        first = first or lat
        rows.append((str(arch), lat.median_ms))
        out.print(f"[{i + 1}/{n}] {lat.median_ms:.4g} ms  {arch}", highlight=False, soft_wrap=True)
    with output.open("w", newline="") as f:
        w = csv_module.writer(f)
        w.writerow(["architecture", "latency_ms"])
        w.writerows(rows)
    out.print(f"wrote {output}: {n} networks, {first.threads} threads, CPU capability {first.cpu_capability}")
