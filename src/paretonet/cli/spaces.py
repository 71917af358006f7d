"""`paretonet spaces`: search spaces, one architecture layer by layer, or a sample."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import ConfigError, check_int
from ._common import FormatOpt, OutputOpt, SeedOpt, Table, app, check_format, parse_shape, show, write_json, write_records


@app.command("spaces")
def spaces_cmd(
    space: Annotated[Optional[str], typer.Argument(help="A search space to show (lenet, nb201); none lists them all.")] = None,
    arch: Annotated[Optional[str], typer.Option(help="Show this architecture: named member or genotype string.")] = None,
    sample: Annotated[int, typer.Option(help="Draw this many random architectures.")] = 0,
    input_shape: Annotated[str, typer.Option(help="Input shape C,H,W for building and counting.")] = "1,8,8",
    classes: Annotated[int, typer.Option(help="Number of classes for building and counting.")] = 10,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """List search spaces, or show architectures with their parameter and MAC counts (one Record each)."""
    check_format(fmt)
    from ..pipeline import space_members
    from ..spaces import SPACES, Architecture, sample_architecture

    shape = parse_shape(input_shape)
    check_int("--classes", classes, minimum=2)  # even where nothing is built: a wrong option is never ignored
    if space is None:
        t = Table(title="search spaces")
        t.add_column("space")
        t.add_column("named members")
        for name in SPACES.names():
            t.add_row(name, "\n".join(f"{k} = {v}" for k, v in SPACES.get(name).named.items()))
        show(t, fmt)
        write_json(output, {"format": 1, "spaces": {n: SPACES.get(n).named for n in SPACES.names()}})
        return
    SPACES.get(space)
    if sample < 0:
        raise ConfigError(f"--sample: got {sample}, expected an integer >= 0")
    archs = [Architecture.parse(arch, space=space)] if arch else []
    archs += [sample_architecture(space, seed + i, shape) for i in range(sample)]
    if not archs:
        archs = [Architecture.parse(name, space=space) for name in SPACES.get(space).named]
    records = space_members(archs, shape, classes)  # untrained: no dataset, only the input shape and class count
    t = Table(title=f"{space} architectures for input {shape}, {classes} classes")
    for col in ("architecture", "params", "MACs"):
        t.add_column(col, justify="left" if col == "architecture" else "right", overflow="fold")
    for r in records:
        t.add_row(r.architecture, f"{r.value('params'):,.0f}", f"{r.value('macs'):,.0f}")
    show(t, fmt)
    if len(records) == 1:
        lt = Table(title="conv and linear layers (the names every --layers option takes; the module names work too)")
        for col in ("layer", "module", "kind", "output", "params", "MACs"):
            lt.add_column(col)
        for layer in records[0].details["layers"]:
            lt.add_row(layer["name"], layer["module"], layer["kind"], "x".join(map(str, layer["out_shape"])),
                       f"{layer['params']:,}", f"{layer['macs']:,}")
        show(lt, fmt)
    write_records(output, records)
