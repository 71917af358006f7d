"""Schemas of the files a user hands in (records, model metadata, hardware descriptions).

Strict types: "2" is not a format number, "no" is not a boolean; every number is finite (no NaN or
Infinity, which Python's json reads) and within a range a physical quantity can have. A violation becomes
one ConfigError line naming the file, the field, the value and what is allowed. `read_json` bounds the
nesting depth before parsing (Python's parser recurses: a 100,000-deep file would be a RecursionError).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from .errors import ConfigError

Number = StrictFloat | StrictInt
_BRANCHES = {"float", "int", "str", "bool", "none"}
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")
MAX_DEPTH = 64  # nesting of a JSON file a user hands in (paretonet's own files nest at most 6 deep)
MAX_PJ = 1e6  # an energy per bit or per operation, in pJ (or the preset's normalized unit): a DRAM bit is ~1e2
MIN_REUSE, MAX_REUSE = 1e-3, 1e9  # uses of a datum per access of a memory level (0.5: read and written per MAC)
MAX_CIRCUIT = 1e9  # a multiplier's power (mW), area (um^2) or delay (ns)
Energy = Annotated[Number, Field(ge=0, le=MAX_PJ)]
Reuse = Annotated[Number, Field(ge=MIN_REUSE, le=MAX_REUSE)]  # accesses are MACs / reuse
Circuit = Annotated[Number, Field(ge=0, le=MAX_CIRCUIT)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class ObjectiveSchema(_Strict):
    name: StrictStr = Field(min_length=1)
    value: Number  # finite: a Record is never written with NaN or Infinity
    unit: StrictStr
    direction: Literal["max", "min"]
    images: Annotated[StrictInt, Field(ge=0)] | None = None
    interval: Annotated[list[Number | None], Field(min_length=2, max_length=2)] | None = None
    images_id: StrictStr | None = None
    correct: StrictStr | None = None


class RecordSchema(_Strict):
    format: Literal[1]
    architecture: StrictStr = Field(min_length=1)
    variant: StrictStr
    dataset: StrictStr
    seed: StrictInt
    objectives: list[ObjectiveSchema]
    budgets: dict[str, Any]
    versions: dict[str, Any]
    details: dict[str, Any]


class MultiplierEntrySchema(_Strict):
    """An approximate layer's multiplier in a model's metadata; its table travels in the weights file."""
    name: StrictStr = Field(min_length=1)
    sha256: StrictStr = Field(pattern=r"^[0-9a-f]{64}$")
    signed: StrictBool = False
    power_mw: Circuit | None = None
    area_um2: Circuit | None = None
    delay_ns: Circuit | None = None
    source: StrictStr = ""


class ModelMetaSchema(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, allow_inf_nan=False)
    format: StrictInt = 1
    architecture: StrictStr = ""  # a genotype, or empty for a user's model named by entry_point
    entry_point: StrictStr = ""
    input_shape: list[Annotated[StrictInt, Field(ge=1)]] = Field(min_length=3, max_length=3)
    n_classes: StrictInt = Field(ge=2)
    dataset: StrictStr
    seed: StrictInt = 0
    variant: StrictStr = ""
    multipliers: dict[str, MultiplierEntrySchema] = {}
    metrics: dict[str, Number | None] = {}
    train_config: dict[str, Any] = {}
    paretonet_version: StrictStr = ""


class MemoryLevelSchema(_Strict):
    name: StrictStr
    pj_per_bit: Energy
    reuse_weights: Reuse = 1.0
    reuse_inputs: Reuse = 1.0
    reuse_outputs: Reuse = 1.0


class HardwareSchema(_Strict):
    name: StrictStr
    levels: list[MemoryLevelSchema] = Field(min_length=1)
    mult_pj_8x8: Energy
    add_pj_32: Energy
    fp32_mac_pj: Energy
    fp32_add_pj: Energy
    skip_zeros: StrictBool = False
    unit: StrictStr = "pJ"
    notes: StrictStr = ""


def validate(schema: type[BaseModel], data: Any, source: str) -> Any:
    """`data` checked against `schema`; the first violation as one line."""
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        # a union's branch shows in the location (levels.0.pj_per_bit.float): name the field only
        where = ".".join(str(p) for p in first["loc"] if p not in _BRANCHES) or "(top level)"
        got = first.get("input")
        shown = repr(got) if not isinstance(got, dict) else "an object"
        raise ConfigError(f"{source}: field {where}: {first['msg'].lower()} (got {shown[:80]})") from None


def _depth(text: str) -> int:
    """The deepest nesting of brackets outside strings (regular expressions and a running sum: no recursion)."""
    from itertools import accumulate

    brackets = _BRACKET.findall(_STRING.sub("", text))
    return max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0)


def _no_constant(name: str) -> Any:  # noqa: ANN401
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, source: str) -> Any:  # noqa: ANN401
    """A user's JSON text: nesting at most MAX_DEPTH, no NaN / Infinity; anything else is one ConfigError line."""
    if _depth(text) > MAX_DEPTH:
        raise ConfigError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise ConfigError(f"{source}: not valid JSON: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def read_json(path: str | Path, source: str) -> Any:  # noqa: ANN401
    """parse_json of a file; a file that cannot be read is one ConfigError line too."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{source}: cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    return parse_json(text, source)
