"""Finding a multiplier by name: built-in designs, registered tables, and .bin files on disk.

A name resolves, in order, to: a registered multiplier; a design spec ('drum:k=4'); a path to a
.bin file; '<name>.bin' in one of the search directories (argument, or PARETONET_MULTIPLIER_DIRS,
':'-separated). Circuit data for a .bin comes from EvoApproxLib meta.json files given, or found
beside the file or one directory up (the EvoApprox layout: luts/*.bin next to *meta*.json).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..._registry import Registry
from ...errors import ConfigError, RegistryError
from ._designs import DESIGNS, build_design, example_specs
from ._multiplier import ErrorMetrics, Multiplier, error_metrics, load_bin, read_circuit_meta

MULTIPLIERS: Registry[Multiplier] = Registry("multiplier")
DIRS_ENV = "PARETONET_MULTIPLIER_DIRS"


def register_multiplier(m: Multiplier) -> Multiplier:
    MULTIPLIERS.add(m.name, m)
    return m


def search_dirs(dirs: Sequence[str | Path] = ()) -> list[Path]:
    env = [d for d in os.environ.get(DIRS_ENV, "").split(":") if d]
    return [Path(d) for d in (*dirs, *env)]


def _meta_files(bin_path: Path, meta: Sequence[str | Path]) -> list[Path]:
    if meta:
        return [Path(m) for m in meta]
    found: list[Path] = []
    for d in (bin_path.parent, bin_path.parent.parent):
        found += sorted(d.glob("*meta*.json"), reverse=True)  # newest release name sorts first (v2022 > v1.0)
    return found


def _check_meta(meta: Sequence[str | Path]) -> None:
    """Circuit-data files the user named are read now, found or not: a typo is an error, not a silent no-op."""
    for f in meta:
        if not Path(f).is_file():
            raise ConfigError(f"--meta: {str(f)!r} is not a file (an EvoApproxLib meta.json with power/area/delay)")
        read_circuit_meta(f)


def load_table_file(path: str | Path, meta: Sequence[str | Path] = (), signed: bool | None = None) -> Multiplier:
    m = load_bin(path, signed=signed)
    for f in _meta_files(Path(path), meta):
        circuits = read_circuit_meta(f)
        if m.name in circuits:
            c = circuits[m.name]
            return m.with_circuit(c["power_mw"], c["area_um2"], c["delay_ns"], f"{path}; circuit data {f.name}")
    return m


def get_multiplier(spec: str, dirs: Sequence[str | Path] = (), meta: Sequence[str | Path] = (),
                   signed: bool | None = None) -> Multiplier:
    """A multiplier by registered name, design spec, .bin path, or table name in the search dirs.

    `signed` forces the signedness of a .bin table (default: from its EvoApprox name)."""
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"multiplier: got {spec!r}, expected a name, a design such as 'drum:k=4', or a .bin file")
    if spec in MULTIPLIERS:
        return MULTIPLIERS.get(spec)
    if spec.partition(":")[0] in DESIGNS:
        return build_design(spec)
    p = Path(spec)
    if p.suffix == ".bin" or p.is_file():
        return load_table_file(p, meta, signed)
    for d in search_dirs(dirs):
        if (d / f"{spec}.bin").is_file():
            return load_table_file(d / f"{spec}.bin", meta, signed)
    where = ", ".join(str(d) for d in search_dirs(dirs)) or f"none (set --lut-dir or {DIRS_ENV})"
    raise RegistryError(f"unknown multiplier {spec!r}; designs: {', '.join(DESIGNS.names())} "
                        f"(e.g. {example_specs()[3]}); table directories searched: {where}")


@dataclass(frozen=True)
class MultiplierInfo:
    multiplier: Multiplier
    metrics: ErrorMetrics


def list_multipliers(dirs: Sequence[str | Path] = (), meta: Sequence[str | Path] = (),
                     signed: bool | None = None) -> list[MultiplierInfo]:
    """The built-in design examples, registered multipliers and every .bin in the search dirs."""
    _check_meta(meta)
    found = [build_design(s) for s in example_specs()] + [MULTIPLIERS.get(n) for n in MULTIPLIERS.names()]
    for d in search_dirs(dirs):
        if not d.is_dir():
            raise ConfigError(f"lut-dir: {str(d)!r} is not a directory")
        tables = sorted(d.glob("*.bin"))
        if not tables:
            raise ConfigError(f"lut-dir: {str(d)!r} holds no .bin multiplier tables")
        found += [load_table_file(f, meta, signed) for f in tables]
    return [MultiplierInfo(m, error_metrics(m)) for m in found]
