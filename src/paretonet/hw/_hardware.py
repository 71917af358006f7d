"""Hardware descriptions for the energy model: memory levels, MAC energy, zero skipping.

Presets:
- horowitz45: Horowitz (ISSCC 2014), 45 nm, absolute pJ. int8 mult 0.2 pJ, int32 add 0.1 pJ,
  fp32 mult 3.7 + add 0.9 pJ; 64-bit reads: DRAM 1.3-2.6 nJ (1.95 taken), 1 MB SRAM 100 pJ,
  32 KB SRAM 20 pJ, 8 KB SRAM 10 pJ (as DRAM / global buffer / array / register file).
- eyeriss: Eyeriss (ISCA 2016) normalized to one 16-bit MAC = 1 per 16-bit access:
  register file 1, array 2, global buffer 6, DRAM 200. A 16x16 MAC splits 0.8 mult / 0.2 add.

A user file (JSON or YAML) has the same fields; see Hardware.from_dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._registry import Registry
from ..errors import ConfigError


@dataclass(frozen=True)
class MemoryLevel:
    name: str
    pj_per_bit: float
    # accesses per datum at this level are MACs / reuse (at least one per datum); outermost level: compulsory only
    reuse_weights: float = 1.0
    reuse_inputs: float = 1.0
    reuse_outputs: float = 1.0


@dataclass(frozen=True)
class Hardware:
    name: str
    levels: tuple[MemoryLevel, ...]  # outermost (main memory) first
    mult_pj_8x8: float  # one 8x8-bit integer multiply; scales with the product of operand widths
    add_pj_32: float  # one 32-bit accumulate; scales with the accumulator width
    fp32_mac_pj: float  # one fp32 multiply-add, for float models
    fp32_add_pj: float  # one fp32 add (pooling, activations of float models)
    skip_zeros: bool = False  # zero weights cost no MAC and are not moved
    unit: str = "pJ"
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.levels:
            raise ConfigError(f"hardware {self.name!r}: levels: got none, expected at least one memory level")
        from .._schema import MAX_PJ, MAX_REUSE, MIN_REUSE

        def check(where: str, v: object, low: float, high: float) -> None:  # NaN fails both comparisons
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
                raise ConfigError(f"hardware {self.name!r}: {where}: got {v!r}, expected a number in [{low:g}, {high:g}]")

        for lv in self.levels:
            check(f"level {lv.name!r} pj_per_bit", lv.pj_per_bit, 0.0, MAX_PJ)
            for attr in ("reuse_weights", "reuse_inputs", "reuse_outputs"):
                check(f"level {lv.name!r} {attr}", getattr(lv, attr), MIN_REUSE, MAX_REUSE)
        for attr in ("mult_pj_8x8", "add_pj_32", "fp32_mac_pj", "fp32_add_pj"):
            check(attr, getattr(self, attr), 0.0, MAX_PJ)

    @classmethod
    def from_dict(cls, d: Any, source: str = "hardware") -> "Hardware":
        """From a user's mapping, checked field by field (strict types: "no" is not a boolean)."""
        from .._schema import HardwareSchema, validate

        h = validate(HardwareSchema, d, source)
        levels = tuple(MemoryLevel(**lv.model_dump()) for lv in h.levels)
        return cls(**{**h.model_dump(), "levels": levels})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["levels"] = [asdict(lv) for lv in self.levels]
        return d


def _four_levels(dram: float, global_buffer: float, array: float, register_file: float) -> tuple[MemoryLevel, ...]:
    """DRAM / global buffer / array / register file (pJ per bit) with the presets' shared reuse factors."""
    return (
        MemoryLevel("dram", dram),
        MemoryLevel("global_buffer", global_buffer, reuse_weights=16, reuse_inputs=16, reuse_outputs=16),
        MemoryLevel("array", array, reuse_weights=4, reuse_inputs=4, reuse_outputs=4),
        MemoryLevel("register_file", register_file, reuse_weights=1, reuse_inputs=1, reuse_outputs=0.5),
    )


HOROWITZ45 = Hardware(
    name="horowitz45",
    levels=_four_levels(1950 / 64, 100 / 64, 20 / 64, 10 / 64),  # 64-bit accesses: DRAM, 1 MB, 32 KB, 8 KB SRAM
    mult_pj_8x8=0.2,
    add_pj_32=0.1,
    fp32_mac_pj=3.7 + 0.9,
    fp32_add_pj=0.9,
    notes="Horowitz ISSCC 2014, 45 nm",
)

EYERISS = Hardware(
    name="eyeriss",
    levels=_four_levels(200 / 16, 6 / 16, 2 / 16, 1 / 16),  # per 16-bit access, normalized to one MAC
    mult_pj_8x8=0.8 * 64 / 256,
    add_pj_32=0.2,
    fp32_mac_pj=0.8 * 1024 / 256 + 0.4,
    fp32_add_pj=0.4,
    unit="MAC16",
    notes="Eyeriss ISCA 2016, normalized to one 16-bit MAC",
)

HARDWARE_PRESETS: Registry[Hardware] = Registry("hardware preset")
for _preset in (HOROWITZ45, EYERISS):
    HARDWARE_PRESETS.add(_preset.name, _preset)


def hardware(name_or_file: str | Hardware) -> Hardware:
    """A registered preset by name, or a JSON / YAML hardware file."""
    if isinstance(name_or_file, Hardware):
        return name_or_file
    if name_or_file in HARDWARE_PRESETS:
        return HARDWARE_PRESETS.get(name_or_file)
    path = Path(name_or_file)
    if not path.is_file():
        raise ConfigError(f"hardware: got {name_or_file!r}, expected a preset ({', '.join(HARDWARE_PRESETS.names())}) "
                          "or a JSON/YAML file")
    try:
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            from .._schema import parse_json

            data = parse_json(text, f"hardware file {path}")
    except Exception as e:  # any read or parse error of the user's file
        raise ConfigError(f"hardware file {path}: cannot parse: {str(e).splitlines()[0]}") from None
    return Hardware.from_dict(data, source=f"hardware file {path}")
