"""An 8x8 multiplier as a 256x256 table, its error metrics, and the EvoApprox / tf-approximate files.

Table convention (tf-approximate): entry [a, b] = mul(a, b), a the activation code, b the weight
code. Unsigned tables are indexed by the codes 0..255; signed tables by the two's complement byte
of -128..127 (index = code & 0xFF), so one indexing rule serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError

EXACT_POWER_MW = 0.391  # EvoApprox mul8u_1JFF, 45 nm (PDK45)
BIN_BYTES = 131_072  # 65,536 x uint16


def operand_values(signed: bool) -> np.ndarray:
    """The operand value at each table index 0..255."""
    idx = np.arange(256, dtype=np.int64)
    return np.where(idx >= 128, idx - 256, idx) if signed else idx


def exact_table(signed: bool = False) -> np.ndarray:
    v = operand_values(signed)
    return np.outer(v, v)


@dataclass(frozen=True, eq=False)
class Multiplier:
    """A 256x256 product table plus its circuit data (None where unknown)."""

    name: str
    table: np.ndarray = field(repr=False)  # int64 [256, 256]
    signed: bool = False
    power_mw: float | None = None
    area_um2: float | None = None
    delay_ns: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        t = self.table
        if not isinstance(t, np.ndarray):
            raise ConfigError(f"table of multiplier {self.name!r}: got {type(t).__name__}, expected a numpy array")
        if t.dtype.kind not in "iu":
            raise ConfigError(f"table of multiplier {self.name!r}: dtype {t.dtype}, expected an integer dtype")
        if t.shape != (256, 256):
            raise ConfigError(f"table of multiplier {self.name!r}: shape {t.shape}, expected (256, 256)")
        lo, hi = (-(2**15), 2**15 - 1) if self.signed else (0, 2**16 - 1)
        if t.min() < lo or t.max() > hi:
            kind = "signed 16-bit" if self.signed else "unsigned 16-bit"
            raise ConfigError(f"table of multiplier {self.name!r}: values {t.min()}..{t.max()} do not fit {kind}")
        table = np.ascontiguousarray(t, dtype=np.int64)
        table.setflags(write=False)
        object.__setattr__(self, "table", table)
        from ..._schema import MAX_CIRCUIT

        for field_name in ("power_mw", "area_um2", "delay_ns"):  # a circuit's numbers: finite, physical
            v = getattr(self, field_name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= MAX_CIRCUIT):
                raise ConfigError(f"{field_name} of multiplier {self.name!r}: got {v!r}, expected a number in "
                                  f"[0, {MAX_CIRCUIT:g}]")

    @property
    def relative_power(self) -> float | None:
        """Power as a fraction of the exact 8x8 multiplier's; the energy model scales E_mult by it."""
        return None if self.power_mw is None else self.power_mw / EXACT_POWER_MW

    @property
    def table_sha256(self) -> str:
        """Hash of the products and their signedness: what a saved model checks its table against."""
        import hashlib

        h = hashlib.sha256(b"signed" if self.signed else b"unsigned")
        h.update(self.table.astype("<i8").tobytes())
        return h.hexdigest()

    @property
    def is_exact(self) -> bool:
        return bool(np.array_equal(self.table, exact_table(self.signed)))

    def with_circuit(self, power_mw: float | None, area_um2: float | None, delay_ns: float | None,
                     source: str) -> Multiplier:
        return Multiplier(self.name, self.table, self.signed, power_mw, area_um2, delay_ns, source)


@dataclass(frozen=True)
class ErrorMetrics:
    """EvoApprox conventions; *_pct are percent of 2^16 (the output range of an 8x8 multiplier)."""

    mae: float
    wce: int
    mse: float
    mean_error_bias: float
    ep_pct: float  # share of input pairs with a wrong product
    mre_pct: float  # mean |error| / |exact|, over pairs with a non-zero exact product

    @property
    def mae_pct(self) -> float:
        return self.mae / 2**16 * 100

    @property
    def wce_pct(self) -> float:
        return self.wce / 2**16 * 100


def error_metrics(m: Multiplier) -> ErrorMetrics:
    exact = exact_table(m.signed)
    err = m.table - exact
    nonzero = exact != 0
    return ErrorMetrics(
        mae=float(np.abs(err).mean()),
        wce=int(np.abs(err).max()),
        mse=float((err.astype(np.float64) ** 2).mean()),
        mean_error_bias=float(err.mean()),
        ep_pct=float((err != 0).mean() * 100),
        mre_pct=float((np.abs(err[nonzero]) / np.abs(exact[nonzero])).mean() * 100),
    )


def signed_by_name(name: str) -> bool | None:
    """EvoApprox names say the signedness: mul8s_* signed, mul8u_* unsigned; None for other names."""
    low = name.lower()
    if low.startswith("mul8s_"):
        return True
    if low.startswith("mul8u_"):
        return False
    return None


def load_bin(path: str | Path, signed: bool | None = None, name: str | None = None) -> Multiplier:
    """A tf-approximate / EvoApprox .bin: 65,536 little-endian 16-bit entries, no header, [a*256 + b].

    Signedness: `signed` when given, else from the EvoApprox name (mul8s_/mul8u_), else unsigned;
    an explicit value that contradicts the name is an error, not a silent reinterpretation."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"multiplier file {str(p)!r} does not exist")
    size = p.stat().st_size
    if size != BIN_BYTES:
        raise DataError(f"multiplier file {str(p)!r}: {size} bytes, expected {BIN_BYTES} (256x256 16-bit entries)")
    by_name = signed_by_name(name or p.stem)
    if signed is not None and by_name is not None and signed != by_name:
        raise ConfigError(f"signed: got {signed} for multiplier file {str(p)!r}, whose name says "
                          f"{'signed (mul8s_)' if by_name else 'unsigned (mul8u_)'}")
    signed = by_name if signed is None else signed
    signed = bool(signed)
    table = np.fromfile(p, dtype="<i2" if signed else "<u2").reshape(256, 256)
    return Multiplier(name or p.stem, table.astype(np.int64), signed, source=str(p))


def save_bin(m: Multiplier, path: str | Path) -> Path:
    p = Path(path)
    m.table.astype("<i2" if m.signed else "<u2").tofile(p)
    return p


def read_circuit_meta(path: str | Path) -> dict[str, dict[str, float]]:
    """Circuit data by name from an EvoApproxLib meta.json (any release): power mW, area um^2, delay ns."""
    p = Path(path)
    from ..._schema import read_json

    try:
        doc = read_json(p, f"multiplier meta file {str(p)!r}")
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    out: dict[str, dict[str, float]] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("name"), str) and isinstance(node.get("params"), dict):
                prm = node["params"]
                try:
                    out[node["name"]] = {k: float(prm[src]) for k, src in
                                         (("power_mw", "pwr"), ("area_um2", "area"), ("delay_ns", "delay"))}
                except (KeyError, ValueError):
                    pass
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    if not out:
        raise DataError(f"multiplier meta file {str(p)!r}: no circuits with pwr/area/delay found")
    return out
