"""The layout a newcomer reads: the README's package table is the package, modules stay small."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "paretonet"


def _public_parts() -> set[str]:
    parts = {f"paretonet.{p.stem}" for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    for init in PACKAGE.rglob("__init__.py"):
        rel = init.parent.relative_to(PACKAGE.parent)
        if rel.name != "paretonet":
            parts.add(".".join(rel.parts))
    return parts


def test_readme_package_table_matches_the_layout():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| package | what it owns |"):]
    table = table[: table.index("\n\n")]
    listed = set(re.findall(r"^\| `(paretonet[\w.]*)` \|", table, flags=re.M))
    assert listed == _public_parts()


def test_no_python_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert not long
