"""Schemas of the files a user hands in (records, model metadata, hardware descriptions).

Strict types: "2" is not a format number, "no" is not a boolean. A violation becomes one
ConfigError line naming the file, the field, the value and what is allowed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from .errors import ConfigError

Number = StrictFloat | StrictInt
_BRANCHES = {"float", "int", "str", "bool", "none"}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ObjectiveSchema(_Strict):
    name: StrictStr = Field(min_length=1)
    value: Number | None  # None: a non-finite value written as JSON null
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


class ModelMetaSchema(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    format: StrictInt = 1
    architecture: StrictStr = ""  # a genotype, or empty for a user's model named by entry_point
    entry_point: StrictStr = ""
    input_shape: list[Annotated[StrictInt, Field(ge=1)]] = Field(min_length=3, max_length=3)
    n_classes: StrictInt = Field(ge=2)
    dataset: StrictStr
    seed: StrictInt = 0
    variant: StrictStr = ""
    multipliers: dict[str, dict[str, Any]] = {}
    metrics: dict[str, Number | None] = {}
    train_config: dict[str, Any] = {}
    paretonet_version: StrictStr = ""


class MemoryLevelSchema(_Strict):
    name: StrictStr
    pj_per_bit: Number = Field(ge=0)
    reuse_weights: Number = Field(default=1.0, gt=0)
    reuse_inputs: Number = Field(default=1.0, gt=0)
    reuse_outputs: Number = Field(default=1.0, gt=0)


class HardwareSchema(_Strict):
    name: StrictStr
    levels: list[MemoryLevelSchema] = Field(min_length=1)
    mult_pj_8x8: Number = Field(ge=0)
    add_pj_32: Number = Field(ge=0)
    fp32_mac_pj: Number = Field(ge=0)
    fp32_add_pj: Number = Field(ge=0)
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
