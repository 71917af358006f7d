"""Names of a package that load on first use (Optuna's `_LazyImport` habit): `import paretonet` and
`paretonet --help` cost no torch, optuna or plotly until something is used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], where: dict[str, str],
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose public `name` lives in the module `where[name]` (relative
    to the package); a name loaded once is kept in the package's `namespace`."""

    def __getattr__(name: str) -> Any:  # noqa: ANN401
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name], package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*where, *(k for k in namespace if not k.startswith("_"))})

    return __getattr__, __dir__
