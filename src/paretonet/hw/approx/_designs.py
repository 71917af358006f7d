"""Parametric approximate multipliers, generated from their published definitions.

Each family builds the unsigned 8x8 table; `signed=1` wraps it in sign-magnitude form
(|a| x |b| by the unsigned design, sign applied after), the usual way these designs are signed.
Power: for the partial-product designs (truncation, broken array, perforation, operand
truncation) an estimate from the kept partial-product cells, kept/64 x 0.391 mW (the exact
array's AND gates and adders scale with them); None for the others, whose published power
depends on the synthesis (give a meta.json for real numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..._registry import Registry
from ...errors import ConfigError
from ._multiplier import EXACT_POWER_MW, Multiplier, operand_values

A = np.arange(256, dtype=np.int64)[:, None]
B = np.arange(256, dtype=np.int64)[None, :]


def _bits(x: np.ndarray, i: int) -> np.ndarray:
    return (x >> i) & 1


def _pp_table(keep: Callable[[int, int], bool]) -> tuple[np.ndarray, int]:
    """Sum of the kept partial products a_i b_j 2^(i+j), and how many of the 64 were kept."""
    t = np.zeros((256, 256), dtype=np.int64)
    kept = 0
    for i in range(8):
        for j in range(8):
            if keep(i, j):
                kept += 1
                t += (_bits(A, i) * _bits(B, j)) << (i + j)
    return t, kept


def _leading_one(x: np.ndarray) -> np.ndarray:
    """floor(log2 x) for x >= 1 (0 for x = 0)."""
    return np.where(x > 0, np.floor(np.log2(np.maximum(x, 1))).astype(np.int64), 0)


def _exact() -> tuple[np.ndarray, int]:
    return A * B, 64


def _truncation(k: int) -> tuple[np.ndarray, int]:
    """Column truncation: the partial products of the k least significant columns are dropped."""
    return _pp_table(lambda i, j: i + j >= k)


def _bam(h: int, v: int) -> tuple[np.ndarray, int]:
    """Broken-array multiplier (Mahdiani et al. 2010): rows below h and columns below v removed."""
    return _pp_table(lambda i, j: j >= h and i + j >= v)


def _perforation(j: int, m: int) -> tuple[np.ndarray, int]:
    """Partial-product perforation (Zervakis et al. 2016): m rows from row j are never generated."""
    if j + m > 8:
        raise ConfigError(f"perforation: rows j={j}..{j + m - 1} exceed the 8 rows (need j + m <= 8)")
    return _pp_table(lambda i, jj: not (j <= jj < j + m))


def _operand_truncation(k: int) -> tuple[np.ndarray, int]:
    """Both operands lose their k least significant bits before an exact multiply."""
    mask = ~((1 << k) - 1)
    return (A & mask) * (B & mask), (8 - k) ** 2


def _drum_operand(x: np.ndarray, k: int) -> np.ndarray:
    """DRUM (Hashemi et al. 2015): k bits from the leading one, the lowest kept bit forced to 1."""
    t = _leading_one(x)
    shift = np.maximum(t - k + 1, 0)
    kept = ((x >> shift) | 1) << shift
    return np.where(x < (1 << k), x, kept)


def _drum(k: int) -> tuple[np.ndarray, None]:
    return _drum_operand(A, k) * _drum_operand(B, k), None


def _mitchell() -> tuple[np.ndarray, None]:
    """Mitchell (1962) logarithmic: log2 a + log2 b with a linear mantissa, antilog by shift."""
    k1, k2 = _leading_one(A), _leading_one(B)
    a_frac, b_frac = A - (1 << k1), B - (1 << k2)  # mantissas scaled by 2^k1, 2^k2
    # 2^(k1+k2) (1 + x1 + x2) if x1 + x2 < 1 else 2^(k1+k2+1) (x1 + x2)
    low = (1 << (k1 + k2)) + (a_frac << k2) + (b_frac << k1)
    high = ((a_frac << k2) + (b_frac << k1)) << 1
    carry = (a_frac << k2) + (b_frac << k1) >= (1 << (k1 + k2))
    return np.where((A == 0) | (B == 0), 0, np.where(carry, high, low)), None


def _kulkarni() -> tuple[np.ndarray, None]:
    """Kulkarni et al. (2011): 2x2 blocks with 3 x 3 = 7, summed exactly into 4x4 and 8x8."""
    t = np.zeros((256, 256), dtype=np.int64)
    for i in range(4):
        for j in range(4):
            da, db = (A >> (2 * i)) & 3, (B >> (2 * j)) & 3
            block = np.where((da == 3) & (db == 3), 7, da * db)
            t += block << (2 * (i + j))
    return t, None


def _round_pow2(x: np.ndarray) -> np.ndarray:
    """RoBA rounding to the nearest power of two (ties up: 3 x 2^(p-1) rounds to 2^(p+1))."""
    p = _leading_one(x)
    up = x - (1 << p) >= np.where(p > 0, 1 << np.maximum(p - 1, 0), 1)
    return np.where(x == 0, 0, np.where(up & (x > 1), 1 << (p + 1), 1 << p))


def _roba() -> tuple[np.ndarray, None]:
    """RoBA (Zendegani et al. 2017): a_r b + a b_r - a_r b_r with a_r, b_r rounded to powers of two."""
    ar, br = _round_pow2(A), _round_pow2(B)
    return ar * B + A * br - ar * br, None


@dataclass(frozen=True)
class Design:
    build: Callable[..., tuple[np.ndarray, int | None]]
    params: tuple[tuple[str, int, int], ...]  # (name, minimum, maximum)
    examples: tuple[dict[str, int], ...]  # instances listed by `paretonet multipliers`
    reference: str


DESIGNS: Registry[Design] = Registry("multiplier design")
DESIGNS.add("exact", Design(_exact, (), ({},), "exact array multiplier"))
DESIGNS.add("trunc", Design(_truncation, (("k", 1, 15),), ({"k": 4}, {"k": 6}, {"k": 8}),
                            "column truncation"))
DESIGNS.add("bam", Design(_bam, (("h", 0, 7), ("v", 0, 15)), ({"h": 1, "v": 6}, {"h": 2, "v": 8}),
                          "broken-array multiplier, Mahdiani et al. 2010"))
DESIGNS.add("perf", Design(_perforation, (("j", 0, 7), ("m", 1, 8)), ({"j": 0, "m": 2}, {"j": 1, "m": 2}),
                           "partial-product perforation, Zervakis et al. 2016"))
DESIGNS.add("optrunc", Design(_operand_truncation, (("k", 1, 7),), ({"k": 2}, {"k": 3}), "operand truncation"))
DESIGNS.add("drum", Design(_drum, (("k", 2, 8),), ({"k": 4}, {"k": 6}), "DRUM, Hashemi et al. 2015"))
DESIGNS.add("mitchell", Design(_mitchell, (), ({},), "Mitchell logarithmic multiplier, 1962"))
DESIGNS.add("kulkarni", Design(_kulkarni, (), ({},), "Kulkarni et al. 2011, 2x2 underdesigned blocks"))
DESIGNS.add("roba", Design(_roba, (), ({},), "RoBA, Zendegani et al. 2017"))


def design_name(family: str, params: dict[str, int], signed: bool) -> str:
    parts = [f"{k}={v}" for k, v in params.items()] + (["signed=1"] if signed else [])
    return family + (":" + ",".join(parts) if parts else "")


def parse_design(spec: str) -> tuple[str, dict[str, int], bool]:
    """'drum:k=4,signed=1' -> ('drum', {'k': 4}, True); one-line errors name the bad part."""
    family, _, rest = spec.partition(":")
    design = DESIGNS.get(family)
    values: dict[str, int] = {}
    signed = False
    for part in filter(None, rest.split(",")):
        key, eq, raw = part.partition("=")
        allowed = [p[0] for p in design.params] + ["signed"]
        if not eq or key not in allowed:
            raise ConfigError(f"multiplier {spec!r}: bad parameter {part!r}; {family} takes "
                              f"{', '.join(a + '=<int>' for a in allowed)}")
        try:
            v = int(raw)
        except ValueError:
            raise ConfigError(f"multiplier {spec!r}: {key}={raw!r} is not an integer") from None
        if key == "signed":
            signed = bool(v)
        else:
            values[key] = v
    for name, lo, hi in design.params:
        if name not in values:
            raise ConfigError(f"multiplier {spec!r}: missing {name}=<int> ({lo}..{hi})")
        if not lo <= values[name] <= hi:
            raise ConfigError(f"multiplier {spec!r}: {name}={values[name]} is outside {lo}..{hi}")
    ordered = {p[0]: values[p[0]] for p in design.params}
    return family, ordered, signed


def build_design(spec: str) -> Multiplier:
    family, params, signed = parse_design(spec)
    design = DESIGNS.get(family)
    table, kept = design.build(**params)
    power = None if kept is None else kept / 64 * EXACT_POWER_MW
    source = design.reference + ("; power estimated from kept partial products" if kept is not None else "")
    if signed:
        v = operand_values(True)
        mag = np.abs(v)  # 0..128, an index of the unsigned table
        table = np.sign(v)[:, None] * np.sign(v)[None, :] * table[mag[:, None], mag[None, :]]
    return Multiplier(design_name(family, params, signed), table, signed, power, source=source)


def example_specs() -> list[str]:
    return [design_name(f, ex, False) for f in DESIGNS.names() for ex in DESIGNS.get(f).examples]
