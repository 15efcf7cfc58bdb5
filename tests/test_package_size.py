"""Size limits of the lean core (issue 16, items 1 and 10), read from the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "speechbrain_m4t_adapters"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_package_is_at_most_10000_lines():
    total = sum(_lines(p) for p in MODULES)
    biggest = sorted(MODULES, key=_lines)[-3:]
    assert len(MODULES) > 40 and total <= 10_000, (total, [(p.name, _lines(p)) for p in biggest])


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - first + 1 > 80:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not long, long


def test_lobe_has_at_most_20_methods_in_500_lines():
    path = PACKAGE / "model" / "lobe.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lobe = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SeamlessM4T")
    methods = [n.name for n in lobe.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert 5 <= len(methods) <= 20, methods
    assert _lines(path) <= 500
