"""`paretonet device fit` and `paretonet device predict`: device cost models calibrated from measurements."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._common import FormatOpt, OutputOpt, SeedOpt, Table, app, check_format, out, parse_shape, say, show, write_records

device_app = typer.Typer(no_args_is_help=True, help="Device models: a device's latency or energy fitted from measured networks.")
app.add_typer(device_app, name="device")

HW_NAS_BENCH = "hw_devices_cifar100.csv"  # the file `--column` reads (bench.fit_device_model)
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
    from ..bench import DeviceFitJob, fit_device_model

    fitted = fit_device_model(DeviceFitJob(column=column, csv=csv, cost=cost, name=name, quantity=quantity, model=model,
                                           train=train, input_shape=parse_shape(input_shape), n_classes=classes,
                                           seed=seed))
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
    from ..pipeline import device_predictions

    records = device_predictions(device_file, architectures)
    fitted = records[0].details["fitted_model"]
    t = Table(title=f"{fitted['objective']} (model {records[0].details['model']}, fitted on "
                    f"{records[0].budgets['fitted_on'].get('source')})")
    t.add_column("architecture")
    t.add_column(f"{fitted['quantity']} ({fitted['unit']})", justify="right")
    for r in records:
        t.add_row(r.architecture, f"{r.objectives[0].value:.4g}")
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

    from ..pipeline import cpu_latencies

    def shown(i: int, ms: float, arch: str) -> None:
        out.print(f"[{i + 1}/{n}] {ms:.4g} ms  {arch}", highlight=False, soft_wrap=True)

    rows, first = cpu_latencies(space, n, parse_shape(input_shape), classes, min_run_time, seed, shown)
    with output.open("w", newline="") as f:
        w = csv_module.writer(f)
        w.writerow(["architecture", "latency_ms"])
        w.writerows(rows)
    out.print(f"wrote {output}: {n} networks, {first.threads} threads, CPU capability {first.cpu_capability}")
