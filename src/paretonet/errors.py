"""One base error; the CLI turns any ParetonetError into one line on stderr and exit code 2."""

from __future__ import annotations


class ParetonetError(Exception):
    """Base class: the message names the argument, the value received and what is allowed."""


class ConfigError(ParetonetError, ValueError):
    """A configuration value is out of its allowed range."""


class DataError(ParetonetError):
    """A dataset is missing, corrupt or of the wrong shape."""


class ArchitectureError(ParetonetError, ValueError):
    """An architecture string, genotype or search space is unknown or malformed."""


class ModelFileError(ParetonetError):
    """A model file is missing, not safetensors, or inconsistent with its JSON."""


class RegistryError(ParetonetError, KeyError):
    """A plugin name is unknown or registered twice."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def check_int(name: str, value: object, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return value as int or raise ConfigError naming the argument and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: got {value!r}, expected an integer{_range(minimum, maximum)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name}: got {value}, expected an integer{_range(minimum, maximum)}")
    return value


def check_float(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return value as float or raise ConfigError naming the argument and the allowed interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"{name}: got {value!r}, expected a number{_interval(minimum, maximum, min_inclusive, max_inclusive)}")
    v = float(value)
    low_bad = minimum is not None and (v < minimum if min_inclusive else v <= minimum)
    high_bad = maximum is not None and (v > maximum if max_inclusive else v >= maximum)
    if low_bad or high_bad:
        raise ConfigError(f"{name}: got {v:g}, expected a number{_interval(minimum, maximum, min_inclusive, max_inclusive)}")
    return v


def check_choice(name: str, value: object, allowed: tuple[str, ...] | list[str]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}: got {value!r}, expected one of {', '.join(map(str, allowed))}")
    return str(value)


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in {minimum}..{maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _interval(lo: float | None, hi: float | None, lo_inc: bool, hi_inc: bool) -> str:
    if lo is None and hi is None:
        return ""
    left = ("[" if lo_inc else "(") + (f"{lo:g}" if lo is not None else "-inf")
    right = (f"{hi:g}" if hi is not None else "inf") + ("]" if hi_inc else ")")
    return f" in {left}, {right}"
