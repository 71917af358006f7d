"""`paretonet energy`: E = E_data + E_MAC per layer, per memory level and in total."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..records.names import DEFAULT_HARDWARE
from ._common import (
    TrustCodeOpt,
    DataDirOpt, DatasetOpt, FormatOpt, ModelArg, OutputOpt, SeedOpt, SplitSeedOpt, Table, app, check_format, say, show,
    write_records,
)


@app.command("energy")
def energy_cmd(
    model: ModelArg,
    trust_code: TrustCodeOpt = False,
    hardware: Annotated[str, typer.Option(
        help="Hardware: a preset (horowitz45 in pJ, eyeriss normalized to a 16-bit MAC) or a JSON/YAML file.")] = DEFAULT_HARDWARE,
    dataflow: Annotated[str, typer.Option(help="A, B, hierarchy, or all.")] = "all",
    bits: Annotated[Optional[int], typer.Option(
        help="Quantize to this many bits first (post-training, as evaluate --bits) and cost that model.")] = None,
    layers: Annotated[bool, typer.Option("--layers/--no-layers", help="Print the per-layer table.")] = True,
    zigzag: Annotated[Optional[str], typer.Option(help="Also run ZigZag with this shipped accelerator (e.g. tpu_like; extra 'zigzag').")] = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    split_seed: SplitSeedOpt = 0,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Energy per image of the model as it is (its own bit widths, zeros and multipliers): one Record."""
    check_format(fmt)
    from ..pipeline import EnergyConfig, SavedModel, run_energy

    [rec] = run_energy(SavedModel(path=model, bits=bits, dataset=dataset, data_dir=data_dir, split_seed=split_seed),
                       EnergyConfig(hardware=hardware, dataflow=dataflow, zigzag=zigzag))
    estimates, hw = rec.details["estimates"], rec.budgets["hardware"]
    t = Table(title=f"{rec.architecture} {rec.variant or '(as trained)'} on {hw['name']}, per image ({hw['unit']})")
    for col in ("dataflow", "E_MAC", "of it multiplies", "E_other ops", "E_data", "total", "data share", "by memory level"):
        t.add_column(col, justify="right" if col != "by memory level" else "left")
    for e in estimates:
        levels = ", ".join(f"{k} {v:.4g}" for k, v in e["by_level_pj"].items())
        t.add_row(e["dataflow"], f"{e['mac_pj']:.4g}", f"{e['mult_pj']:.4g}", f"{e['op_pj']:.4g}", f"{e['data_pj']:.4g}",
                  f"{e['total_pj']:.4g}", f"{e['data_fraction']:.1%}", levels)
    show(t, fmt)
    if layers:
        lt = Table(title=f"per layer, dataflow {estimates[0]['dataflow']}")
        for col in ("layer", "kind", "MACs", "E_MAC", "E_other ops", "E_data"):
            lt.add_column(col, justify="right" if col not in ("layer", "kind") else "left")
        for layer in estimates[0]["layers"]:  # every operation, fused ones included (they move no data)
            lt.add_row(layer["name"], layer["kind"], f"{layer['macs']:,}", f"{layer['mac_pj']:.4g}",
                       f"{layer['op_pj']:.4g}", f"{layer['data_pj']:.4g}")
        show(lt, fmt)
    zz = rec.details["zigzag"]
    if zz is not None:
        zt = Table(title=f"cross-check: dataflow {estimates[0]['dataflow']} vs ZigZag {zz['accelerator']} "
                         "(conv/linear layers)")
        for col in ("layer", "ours", "ZigZag", "share ours", "share ZigZag"):
            zt.add_column(col, justify="left" if col == "layer" else "right")
        ours_total = sum(v for _, v, _ in zz["rows"] if v is not None) or 1.0
        for name, mine, z_e in zz["rows"]:
            zt.add_row(name, "-" if mine is None else f"{mine:.4g}", f"{z_e:.4g}",
                       "-" if mine is None else f"{mine / ours_total:.1%}", f"{z_e / zz['total_energy']:.1%}")
        show(zt, fmt)
        say(f"ZigZag total {zz['total_energy']:.4g}, latency {zz['latency_cycles']:.4g} cycles", fmt)
    write_records(output, [rec])
