"""The sandbox stays a house of small rooms: no module over 600 lines, no class over 350."""

from __future__ import annotations

import ast
from pathlib import Path

import sandbox

ROOT = Path(sandbox.__file__).parent
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 350


def test_no_sandbox_module_is_over_600_lines() -> None:
    sizes = {path: len(path.read_text().splitlines()) for path in ROOT.rglob("*.py")}
    too_long = {
        str(path.relative_to(ROOT)): n for path, n in sizes.items() if n > MAX_MODULE_LINES
    }
    assert len(sizes) > 20  # the walk found the package
    assert too_long == {}


def test_no_sandbox_class_is_over_350_lines() -> None:
    too_long = {}
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    too_long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert too_long == {}
