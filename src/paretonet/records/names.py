"""Objective names: the one grammar, the one place that writes and reads them.

    quantity[@method[:setting][:eps]]

- `accuracy`, `params`, `size_bytes`, `macs`, `flops`, `input_values`: no method.
- `accuracy@noise:<noise>` / `accuracy@faults:<faults>`: accuracy under input or computation noise, or bit flips;
  the setting is the noise or fault model's own label (`gaussian:0.1`, `outputs=0.1`, `weights:rate=0.001`).
- `robust_accuracy@<attack>:<eps>`, `robust_accuracy@worst:<preset>:<eps>` (the per-image worst case),
  `robust_accuracy@min:<a+b+...>:<eps>` (the minimum of per-attack accuracies, an upper bound, named apart).
- `certified_accuracy@smoothing:l2:<radius>`, `certified_accuracy@ibp:linf:<eps>`.
- `energy[_<part>]_<unit>@<hardware>:<dataflow>` (`energy_pj@horowitz45:hierarchy`, `energy_mac16@eyeriss:A`),
  `energy_mj@<device>` (a fitted device model), `latency_ms@cpu` (measured here), `latency_ms@<device>`.
- `proxy_<name>`: a zero-cost proxy or a free table column.

Unit and direction follow from the quantity; nothing else guesses them. eps is in [0, 1]; multiples of 1/255 with a
long decimal form are written `k/255`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError

DEFAULT_HARDWARE = "horowitz45"  # the hardware preset of every Record's energy
DEFAULT_DATAFLOW = "hierarchy"  # and its dataflow
# the total; multiply-accumulates of conv and linear layers; their multiplies alone (what an approximate multiplier
# scales, as the approximate-computing literature reports it); data movement
ENERGY_PARTS = ("", "mac", "mult", "data")

# quantity -> (unit, direction)
_QUANTITIES = {"accuracy": ("fraction", "max"), "robust_accuracy": ("fraction", "max"),
               "certified_accuracy": ("fraction", "max"), "params": ("count", "min"), "size_bytes": ("bytes", "min"),
               "macs": ("MACs", "min"), "flops": ("FLOPs", "min"), "input_values": ("count", "min"),
               "latency_ms": ("ms", "min"), "proxy_params": ("count", "min"), "proxy_flops": ("FLOPs", "min")}
_ENERGY_UNITS = {"pj": "pJ", "mj": "mJ", "mac16": "MAC16"}
_ENERGY = re.compile(r"^energy(?:_(mac|mult|data))?_(pj|mj|mac16)$")
_WITH_EPS = ("robust_accuracy", "certified_accuracy")
_CERTIFIED = {"smoothing": "l2", "ibp": "linf"}


def eps_label(eps: float) -> str:
    """eps as written in objective names: '0.1', or 'k/255' where the decimal form is long (1/255)."""
    text = f"{eps:g}"
    k = eps * 255
    if len(text) > 6 and abs(10 * k - round(10 * k)) < 1e-6:
        return f"{round(k, 1):g}/255"
    return text


def parse_eps(text: str, name: str, upper: float = 1.0) -> float:
    """'0.1' or 'k/255' as a number in [0, upper]; anything else is a one-line error naming the objective."""
    try:
        num, slash, den = text.partition("/")
        value = float(num) / (float(den) if slash else 1.0)
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"objective {name!r}: eps {text!r} is not a number such as 0.1 or 8/255") from None
    if not (math.isfinite(value) and 0.0 <= value <= upper):
        raise ConfigError(f"objective {name!r}: eps {text!r} is outside [0, {upper:g}]")
    return value


@dataclass(frozen=True)
class ObjectiveName:
    """A parsed objective name. `str()` writes it; `ObjectiveName.parse` reads it back (format(parse(n)) == n)."""

    quantity: str  # accuracy, robust_accuracy, energy_mac_pj, latency_ms, proxy_synflow, ...
    method: str = ""  # after '@': noise, faults, worst, min, an attack, smoothing, ibp, a hardware preset or device
    setting: str = ""  # a noise or fault label, an attack preset, a norm, a dataflow
    eps: float | None = None  # robust and certified accuracies: eps or radius

    def __str__(self) -> str:
        parts = [p for p in (self.method, self.setting) if p]
        if self.eps is not None:
            parts.append(eps_label(self.eps))
        return self.quantity + ("@" + ":".join(parts) if parts else "")

    @property
    def unit(self) -> str | None:
        """The unit the quantity is measured in; None for a free column (a proxy) whose unit its table knows."""
        if self.quantity in _QUANTITIES:
            return _QUANTITIES[self.quantity][0]
        m = _ENERGY.match(self.quantity)
        return _ENERGY_UNITS[m[2]] if m else None

    @property
    def direction(self) -> str | None:
        """'max' for accuracies, 'min' for costs; None for a free column (a proxy: say ':max' or ':min')."""
        if self.quantity in _QUANTITIES:
            return _QUANTITIES[self.quantity][1]
        return "min" if _ENERGY.match(self.quantity) else None

    @property
    def energy_part(self) -> str | None:
        """'' for total energy, 'mac' / 'mult' / 'data' for a part; None for anything else."""
        m = _ENERGY.match(self.quantity)
        return (m[1] or "") if m else None

    @property
    def is_accuracy(self) -> bool:
        return self.unit == "fraction"

    @classmethod
    def parse(cls, text: str, *, free: bool = True) -> ObjectiveName:
        """Read a name; `free`: admit names of unknown quantity without '@' (table columns such as proxies)."""
        if not isinstance(text, str) or not text or text != text.strip() or "," in text:
            raise ConfigError(f"objective: got {text!r}, expected a name such as accuracy, "
                              f"robust_accuracy@worst:fast:0.1 or energy_pj@{DEFAULT_HARDWARE}:{DEFAULT_DATAFLOW}")
        quantity, at, rest = text.partition("@")
        known = quantity in _QUANTITIES or _ENERGY.match(quantity) is not None
        if not known:
            if free and not at and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", quantity):
                return cls(quantity)
            raise ConfigError(f"objective {text!r}: unknown quantity {quantity!r}; expected one of "
                              f"{', '.join(known_quantities())}")
        if not at:
            if quantity in _WITH_EPS or quantity.startswith("energy") or quantity == "latency_ms":
                raise ConfigError(f"objective {text!r}: {quantity} needs '@' and what it was measured with "
                                  f"(e.g. {examples()[quantity if quantity in examples() else 'energy_pj']})")
            return cls(quantity)
        if not rest:
            raise ConfigError(f"objective {text!r}: nothing after '@'")
        if quantity in _WITH_EPS:
            head, sep, eps = rest.rpartition(":")
            if not sep or not head:
                raise ConfigError(f"objective {text!r}: expected {quantity}@<method>[:<setting>]:<eps>")
            method, _, setting = head.partition(":")
            # an L2 radius of randomized smoothing may exceed 1; eps of pixels in [0, 1] may not
            name = cls(quantity, method, setting, parse_eps(eps, text, math.inf if method == "smoothing" else 1.0))
            if quantity == "certified_accuracy" and _CERTIFIED.get(method) != setting:
                raise ConfigError(f"objective {text!r}: expected certified_accuracy@smoothing:l2:<radius> or "
                                  "certified_accuracy@ibp:linf:<eps>")
            if quantity == "robust_accuracy" and method in ("worst", "min") and not setting:
                raise ConfigError(f"objective {text!r}: expected robust_accuracy@{method}:<attacks>:<eps>")
        elif quantity == "accuracy":
            method, _, setting = rest.partition(":")
            if method not in ("noise", "faults") or not setting:
                raise ConfigError(f"objective {text!r}: expected accuracy@noise:<noise> or accuracy@faults:<faults>")
            name = cls(quantity, method, setting)
        elif _ENERGY.match(quantity) or quantity == "latency_ms":
            method, _, setting = rest.partition(":")
            if not method or ":" in setting:
                raise ConfigError(f"objective {text!r}: expected {quantity}@<hardware or device>[:<dataflow>]")
            name = cls(quantity, method, setting)
        else:
            raise ConfigError(f"objective {text!r}: {quantity} takes no '@'")
        if str(name) != text:
            raise ConfigError(f"objective {text!r}: write it as {str(name)!r} (the name records carry)")
        return name


def known_quantities() -> list[str]:
    return [*_QUANTITIES, "energy[_mac|_mult|_data]_<pj|mj|mac16>", "proxy_<name>"]


def examples() -> dict[str, str]:
    return {"robust_accuracy": "robust_accuracy@worst:fast:0.1", "certified_accuracy": "certified_accuracy@ibp:linf:0.1",
            "energy_pj": f"energy_pj@{DEFAULT_HARDWARE}:{DEFAULT_DATAFLOW}", "latency_ms": "latency_ms@cpu"}


# -- writers: every module names its objectives through these ---------------------------------------------------
def robust_name(attacks: str, eps: float) -> str:
    """Per-image robust accuracy against `attacks` ('pgd', or 'worst:<preset>' for the worst case)."""
    method, _, setting = attacks.partition(":")
    return str(ObjectiveName("robust_accuracy", method, setting, eps))


def min_over_attacks_name(attacks: tuple[str, ...], eps: float) -> str:
    """The minimum of per-attack accuracies: an upper bound of the per-image worst case, named apart."""
    return str(ObjectiveName("robust_accuracy", "min", "+".join(attacks), eps))


def certified_name(method: str, eps: float) -> str:
    """'certified_accuracy@smoothing:l2:<radius>' or 'certified_accuracy@ibp:linf:<eps>'."""
    return str(ObjectiveName("certified_accuracy", method, _CERTIFIED[method], eps))


def perturbed_accuracy_name(kind: str, label: str) -> str:
    """Accuracy under noise ('noise') or bit flips ('faults') that the model's label describes."""
    return str(ObjectiveName("accuracy", kind, label))


def energy_name(hardware: str, unit: str, dataflow: str = "", part: str = "") -> str:
    """'energy_pj@horowitz45:hierarchy', 'energy_mac_pj@...' for a part, 'energy_mj@<device>' for a device model."""
    return str(ObjectiveName(f"energy_{part + '_' if part else ''}{unit.lower()}", hardware, dataflow))


def device_name(quantity: str, unit: str, device: str) -> str:
    """A fitted device model's objective: 'latency_ms@pixel3', 'energy_mj@jetson'."""
    return str(ObjectiveName(f"{quantity}_{unit.lower()}", device))


def input_noise_name(kind: str, level: float) -> str:
    return perturbed_accuracy_name("noise", f"{kind}:{level:g}")


def energy_key(part: str = "") -> str:
    """The short name (and registry key) of the Records' energy or one of its parts: energy, energy_mac, ..."""
    return f"energy_{part}" if part else "energy"


DEFAULT_ENERGY = energy_name(DEFAULT_HARDWARE, "pJ", DEFAULT_DATAFLOW)
# short names a user may type (search --objectives, compare --where / --columns), each standing for the objective the
# registry key of the same name measures; a short name also matches the one column of that quantity a table has
ALIASES = {"size": "size_bytes", **{energy_key(p): energy_name(DEFAULT_HARDWARE, "pJ", DEFAULT_DATAFLOW, p)
                                    for p in ENERGY_PARTS}}


def resolve(name: str, names: Sequence[str], what: str) -> str:
    """An objective by its full name, or by a short name: an alias (energy, energy_mac, size) or a quantity
    (robust_accuracy), matching one of `names` (the alias's own full name where several match)."""
    if name in names:
        return name
    full = ALIASES.get(name)
    quantity = ObjectiveName.parse(full).quantity if full else name
    found = [n for n in names if n == quantity or n.startswith(quantity + "@")]
    if len(found) == 1:
        return found[0]
    if full in found:
        return full
    hint = f"it matches {', '.join(found)}" if found else f"there are {', '.join(names)}"
    raise ConfigError(f"{what}: unknown objective {name!r}; {hint}")
