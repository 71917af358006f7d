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


# -- one owner per concept: Records are built by the jobs, objective names by records.names ----------------------
QUANTITY = re.compile(r"^(robust_accuracy|certified_accuracy|accuracy|latency_ms|energy\w*)(@|_\{|\{)")


def _sources(exclude: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(str(p.relative_to(PACKAGE)), p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))
            if not str(p.relative_to(PACKAGE)).startswith(exclude)]


def test_records_are_built_only_by_the_jobs_the_records_module_and_the_table_evaluator():
    import ast

    allowed = ("pipeline/", "records/", "search/_table.py")
    builders = []
    for rel, text in _sources(allowed):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Record":
                builders.append(f"{rel}:{node.lineno}")
    assert not builders, f"Record( outside the jobs: {builders}"


def test_objective_names_are_formatted_and_parsed_only_by_their_owner():
    """No f-string writes a name such as f'robust_accuracy@{...}' or f'energy_{part}_pj@...', and no string method
    takes one apart ('...'.startswith('certified_accuracy@')), outside paretonet.records.names."""
    import ast

    found = []
    for rel, text in _sources(("records/names.py",)):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = str(node.values[0].value) + ("{" if len(node.values) > 1 else "")
                if QUANTITY.match(head):
                    found.append(f"{rel}:{node.lineno} f-string {head!r}")
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("startswith", "removeprefix", "partition")
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                    and QUANTITY.match(node.args[0].value + "{")):
                found.append(f"{rel}:{node.lineno} .{node.func.attr}({node.args[0].value!r})")
    assert not found, found


def test_the_architecture_page_draws_the_layers_of_the_import_contract():
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    page = (ROOT / "docs" / "architecture.md").read_text()
    block = page[page.index("```\n") + 4:]
    drawn = [line.split("  ")[0].strip() for line in block[: block.index("```")].splitlines() if line.strip()]
    assert drawn == [" | ".join(p.strip() for p in layer.split("|")) for layer in layers]


def test_the_cli_imports_no_private_module_of_another_package():
    private = [f"{p.name}:{n}" for p in (PACKAGE / "cli").glob("*.py")
               for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"from \.\.[a-z_.]*\._[a-z]", line)]
    assert not private
