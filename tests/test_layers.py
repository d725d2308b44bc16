"""The house's shape holds: bot/ is in layer folders that import only downwards (the contracts
in pyproject.toml, checked by import-linter), no two modules import each other in a loop, and
no module or class grows past what one reader can hold."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter import cli as importlinter_cli

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 350
MAX_TOP_MODULES = 12


def test_every_import_contract_is_kept() -> None:
    """`lint-imports`: each layer imports only the ones below it; commands name services,
    never transports or SQL; only the transport imports rocketchat_async."""
    assert importlinter_cli.lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def _modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in (ROOT / "bot").rglob("*.py")
    }


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def test_no_module_of_bot_imports_another_in_a_loop() -> None:
    known = _modules()
    graph = {module: _imports(module, path, known) for module, path in known.items()}
    loops: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                loops.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert loops == []


def test_modules_and_classes_stay_small_and_the_top_of_bot_stays_short() -> None:
    too_long = []
    for module, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{module}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_long.append(f"{module}.{node.name}: {size} lines")
    assert too_long == []
    top = sorted(path.name for path in (ROOT / "bot").glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top
