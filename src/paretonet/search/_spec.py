"""What a search optimizes: objectives by their Record names with a direction, and constraints on them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError
from ..records.names import ObjectiveName, resolve

_CONSTRAINT = re.compile(r"^\s*([^<>=\s]+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class ObjectiveSpec:
    name: str
    direction: str  # "max" or "min"

    @property
    def sign(self) -> float:
        """Multiplies a value into minimization form."""
        return -1.0 if self.direction == "max" else 1.0


@dataclass(frozen=True)
class Constraint:
    name: str
    op: str  # "<=" or ">="
    bound: float

    def violation(self, value: float) -> float:
        """How far `value` is outside the bound (0 when it satisfies it): Optuna's constraint convention."""
        return max(0.0, value - self.bound) if self.op == "<=" else max(0.0, self.bound - value)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.bound:g}"


def canonical(name: str, available: list[str] | None, what: str) -> str:
    """The full name of an objective typed in full or short (energy, size): the name its Records carry."""
    parsed = str(ObjectiveName.parse(name))  # a malformed name says what is wrong with it
    if available is None:
        return parsed
    try:
        return resolve(name, available, what)
    except ConfigError:
        raise ConfigError(f"{what}: unknown objective {name!r}; this evaluator has {', '.join(sorted(available))}") from None


def parse_objective(text: str, available: list[str] | None = None) -> ObjectiveSpec:
    """'accuracy', 'energy' (the Records' energy), 'proxy_flops', 'my_metric:max'; an unknown name lists the known
    ones. The direction is the quantity's (accuracies max, costs min); a free column (a proxy) needs one."""
    name, direction = text.strip(), ""
    for d in ("max", "min"):
        if name.endswith(":" + d):
            name, direction = name[: -len(d) - 1], d
    name = canonical(name, available, "objectives")
    implied = ObjectiveName.parse(name).direction
    if implied and direction and direction != implied:
        raise ConfigError(f"objectives: {name!r} is a {'maximized' if implied == 'max' else 'minimized'} quantity; "
                          f"drop ':{direction}'")
    direction = direction or implied
    if not direction:
        raise ConfigError(f"objectives: {name!r} has no known direction; write {name}:max or {name}:min")
    return ObjectiveSpec(name, direction)


def perturbed_names(texts: list[str] | tuple[str, ...]) -> list[str]:
    """The accuracy-under-noise / faults and certified-accuracy objectives among `texts` (objectives with an
    optional ':max', or constraints), checked and canonical: a train evaluator measures any of them."""
    from ..evaluate import (is_certified_objective, is_input_noise_objective, is_perturbed_objective, parse_certified,
                            parse_perturbed, perturbed_name)

    found = []
    for text in texts:
        m = _CONSTRAINT.match(text)
        name = m[1] if m else text.strip().removesuffix(":max")
        if is_perturbed_objective(name):
            canonical = perturbed_name(parse_perturbed(name))
            if canonical != name:
                raise ConfigError(f"objectives: write {name!r} as {canonical!r} (the name records carry)")
            found.append(name)
        elif is_certified_objective(name):
            parse_certified(name)
            found.append(name)
        elif is_input_noise_objective(name):
            found.append(name)
    return found


def parse_objectives(texts: list[str] | tuple[str, ...], available: list[str] | None = None) -> tuple[ObjectiveSpec, ...]:
    specs = tuple(parse_objective(t, available) for t in texts)
    if len(specs) < 2:
        raise ConfigError(f"objectives: got {len(specs)}, a multi-objective search needs at least two")
    if len({s.name for s in specs}) != len(specs):
        raise ConfigError(f"objectives: {', '.join(s.name for s in specs)} names one objective twice")
    return specs


def parse_constraint(text: str, available: list[str] | None = None) -> Constraint:
    """'energy_pj@eyeriss:A<=2e6' or 'accuracy>=0.9'."""
    m = _CONSTRAINT.match(text)
    if m is None:
        raise ConfigError(f"constraints: got {text!r}, expected <objective><=<number> or <objective>>=<number>")
    name, op, bound = canonical(m[1], available, "constraints"), m[2], m[3]
    try:
        return Constraint(name, op, float(bound))
    except ValueError:
        raise ConfigError(f"constraints: {bound!r} in {text!r} is not a number") from None
