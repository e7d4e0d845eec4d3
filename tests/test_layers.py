"""The layer rules of docs/ARCHITECTURE.md, read from the source of every module in app/."""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass

APP = pathlib.Path(__file__).resolve().parent.parent / "app"

# Lower ranks are imported by higher ones, never the other way round (docs/ARCHITECTURE.md).
RANKS: dict[str, int] = {
    **dict.fromkeys(
        ["settings", "errors", "request_json", "kv", "queue", "slots", "ratelimit", "bus"], 0
    ),
    "embedded": 0,
    **dict.fromkeys(["models", "analytics", "security"], 1),
    **dict.fromkeys(["db", "outbox", "runtime", "storage", "mail", "rendering"], 2),
    "ai": 3,
    "resolvers": 4,
    "workflows": 5,
    **dict.fromkeys(["schema", "jobs"], 6),
    **dict.fromkeys(["asgi", "cli", "__main__", "demo", "seed"], 7),
}
PEERS_APART = {frozenset({"schema", "jobs"})}  # the GraphQL layer and the worker
IO_LIBRARIES = {"pymongo", "bson", "beanie", "redis", "httpx", "httpx2", "openai", "socket"}
# Imports inside functions are allowed only to defer a heavy import or for the GraphQL
# types that refer to each other (Strawberry resolves those lazily).
DEFERRED_OK = {"cli", "db", "schema"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "app.resolvers.run"
    target: str  # what it imports, e.g. "app.models.run" or "numpy"
    line: int
    deferred: bool  # inside a function

    @property
    def layer(self) -> str:
        return self.module.split(".")[1]

    @property
    def target_layer(self) -> str | None:
        parts = self.target.split(".")
        return parts[1] if parts[0] == "app" and len(parts) > 1 else None


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: pathlib.Path) -> Iterator[Import]:
    module = module_name(path)
    yield from _walk(ast.parse(path.read_text()).body, module, deferred=False)


def _walk(nodes: list[ast.stmt], module: str, deferred: bool) -> Iterator[Import]:
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue  # for the type checker only
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, deferred)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                yield Import(
                    module, target if _is_module(target) else node.module, node.lineno, deferred
                )
        is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                stmts = [c for c in children if isinstance(c, ast.stmt | ast.ExceptHandler)]
                yield from _walk(_flatten(stmts), module, deferred or is_function)


def _flatten(nodes: list) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for node in nodes:
        out.extend(node.body if isinstance(node, ast.ExceptHandler) else [node])
    return out


def _is_module(dotted: str) -> bool:
    if not dotted.startswith("app."):
        return False
    path = APP.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


ALL = [i for path in sorted(APP.rglob("*.py")) for i in imports_of(path)]


def test_every_module_belongs_to_a_known_layer():
    assert {i.layer for i in ALL} <= set(RANKS)


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in ALL
        if i.target_layer is not None and RANKS[i.target_layer] > RANKS[i.layer]
    ]
    assert upward == []


def test_the_graphql_layer_and_the_worker_do_not_import_each_other():
    crossing = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in ALL
        if frozenset({i.layer, i.target_layer}) in PEERS_APART
    ]
    assert crossing == []


def test_only_the_graphql_layer_and_entry_points_use_strawberry():
    users = {i.layer for i in ALL if i.target.split(".")[0] == "strawberry"}
    assert users <= {"schema", "asgi", "cli"}


def test_analytics_does_no_io_and_needs_no_other_layer():
    found = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in ALL
        if i.layer == "analytics"
        and (
            i.target.split(".")[0] in IO_LIBRARIES
            or (i.target_layer is not None and i.target_layer != "analytics")
        )
    ]
    assert found == []


def test_imports_inside_functions_only_defer_heavy_modules_or_lazy_types():
    deferred = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in ALL
        if i.deferred and i.target_layer is not None and i.layer not in DEFERRED_OK
    ]
    assert deferred == []


def test_module_level_imports_have_no_cycle():
    graph: dict[str, set[str]] = {}
    for i in ALL:
        if not i.deferred and i.target.startswith("app."):
            graph.setdefault(i.module, set()).update(_loaded_by(i.module, i.target))
    assert list(_cycles(graph)) == []


def _loaded_by(module: str, target: str) -> set[str]:
    """What importing `target` runs: the module and each package around it (their
    __init__), but not the importer's own packages, which are already being loaded."""
    parts = target.split(".")
    packages = {".".join(parts[:n]) for n in range(2, len(parts))}
    return {target} | {p for p in packages if not module.startswith(p + ".")}


def _cycles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                yield from visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                yield sorted(group)

    for node in list(graph):
        if node not in index:
            yield from visit(node)


def test_every_job_that_use_cases_queue_by_name_exists():
    from app.jobs import FUNCTIONS
    from app.resolvers.run import EXECUTE

    assert EXECUTE in {function.__name__ for function in FUNCTIONS}


def test_every_workflow_is_registered_under_its_spec():
    from app.workflows.registry import WORKFLOWS

    assert all(name == workflow.spec.name for name, workflow in WORKFLOWS.items())
