"""The sandbox's modules import each other one way only: no import cycle anywhere in `sandbox/`.

The graph is read from the source with `ast`, so every import counts wherever it is written:
at module level, inside a function, or under `if TYPE_CHECKING:` (a late import that dodges a
cycle is still a cycle). `from sandbox.x import y` is an edge to `sandbox.x.y` when that is a
module, else to `sandbox.x`. Importing `sandbox.a.b` also runs the package `sandbox.a`, so that
counts as an edge too; only the root package is left out of that rule: its `__init__` is the
public face (`from sandbox import serve`) that nothing inside the sandbox imports.

On top of that, the layers of docs/design.md: a module imports only its own layer and those
below it, and the clients (which must also work against a real Rocket.Chat) only the base. A new
module goes into one of the lists below.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import sandbox

ROOT = Path(sandbox.__file__).parent
PACKAGE = "sandbox"
# Bottom to top; a name covers the module and, for a package, everything in it.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "base",
        {
            "state",
            "errors",
            "digests",
            "validation",
            "check",
            "markdown",
            "settings_defaults",
            "versions",
        },
    ),
    (
        "behaviour",
        {
            "messaging",
            "rooms",
            "membership",
            "login",
            "accounts",
            "profile",
            "user_views",
            "streams",
            "twofactor",
            "ratelimit",
            "credentials",
            "login_attempts",
            "password_policy",
            "permissions",
            "presence",
            "presence_engine",
            "user_status",
            "status_expiry",
            "outbox",
            "notification_settings",
        },
    ),
    ("transports", {"api", "api_query", "ddp", "ddp_subscriptions", "ddp_frames", "ddp_methods"}),
    ("endpoints", {"endpoints"}),
    ("top", {"server", "bootstrap", "faults", "controls", "__main__", ""}),
]
CLIENTS = {"ddp_client", "people"}  # may import the base and each other; nothing imports them


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    """Every module and package of the sandbox, by dotted name."""
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imported_modules(module: str, path: Path, modules: set[str]) -> Iterator[str]:
    """The sandbox modules one file names in its import statements."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                prefix = ".".join(base[: len(base) - node.level + (1 if is_package else 0)])
                origin = f"{prefix}.{node.module}" if node.module else prefix
            else:
                origin = node.module or ""
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                if submodule in modules:
                    yield submodule
                elif origin in modules:
                    yield origin


def import_graph() -> dict[str, set[str]]:
    """module → the sandbox modules it imports (directly or through their packages)."""
    modules = source_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target in _imported_modules(name, path, set(modules)):
            parent = target
            while parent and parent != PACKAGE:  # importing a.b.c runs package a.b first
                if parent != name:
                    graph[name].add(parent)
                parent = parent.rpartition(".")[0]
            if target == PACKAGE:
                graph[name].add(PACKAGE)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_sandbox_modules_and_their_imports() -> None:
    """A guard for the guard: the parser finds modules and real edges (else no cycle is seen)."""
    graph = import_graph()
    assert "sandbox.server" in graph and "sandbox.state" in graph
    assert "sandbox.state" in graph["sandbox.api"]


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_sandbox_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles in sandbox/: " + "; ".join(" ↔ ".join(c) for c in found)


def layer_of(module: str) -> str | None:
    """The layer a sandbox module is listed in ("clients" for the clients), or None."""
    local = module.removeprefix(PACKAGE).removeprefix(".")
    top = local.split(".")[0]
    if top in CLIENTS:
        return "clients"
    return next((name for name, members in LAYERS if top in members), None)


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every module not in a layer, and every import that goes up (or into a client)."""
    rank = {name: position for position, (name, _) in enumerate(LAYERS)}
    found = [f"{module} is in no layer" for module in graph if layer_of(module) is None]
    for module, targets in graph.items():
        here = layer_of(module)
        for target in targets:
            there = layer_of(target)
            if here is None or there is None:
                continue
            if here == "clients":
                allowed = there in ("clients", "base")
            elif there == "clients":
                allowed = False
            else:
                allowed = rank[there] <= rank[here]
            if not allowed:
                found.append(f"{module} ({here}) imports {target} ({there})")
    return sorted(found)


def test_a_module_imports_only_its_layer_and_those_below() -> None:
    assert layer_violations(import_graph()) == []


def test_an_upward_import_or_an_unlisted_module_is_reported() -> None:
    graph = {
        "sandbox.state": {"sandbox.api"},
        "sandbox.people": {"sandbox.rooms"},
        "sandbox.rooms": {"sandbox.people"},
        "sandbox.new_module": set(),
    }
    assert layer_violations(graph) == [
        "sandbox.new_module is in no layer",
        "sandbox.people (clients) imports sandbox.rooms (behaviour)",
        "sandbox.rooms (behaviour) imports sandbox.people (clients)",
        "sandbox.state (base) imports sandbox.api (transports)",
    ]
