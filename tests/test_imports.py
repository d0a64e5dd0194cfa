"""The package's own import graph: acyclic, counting the imports inside functions too."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from transferability.caffe_env import REPO_ROOT

PACKAGE = REPO_ROOT / "python" / "transferability"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name
                            and not name.startswith(f"{t}.")}  # a package's own __init__
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    assert "transferability.factors.features" in graph  # the walk found the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def _imports(path: Path) -> set[str]:
    """Every module a file imports, inside functions too (relative imports left out)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_the_plan_package_needs_only_the_standard_library() -> None:
    """The Makefile runs plan/makerules.py with the system python3, before the venv exists; and a
    reader of the plan needs to know no other module of the project."""
    graph = _graph()
    seen, todo = set(), [m for m in graph if m.startswith("transferability.plan")]
    assert "transferability.plan.makerules" in todo
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph[name]
    own = {m for m in seen if not m.startswith("transferability.plan")}
    assert own <= {"transferability", "transferability.errors"}, own
    outside = set()
    for path in PACKAGE.rglob("*.py"):
        if _module(path) in seen:
            outside |= {name for name in _imports(path) if not name.startswith("transferability")
                        and name.split(".")[0] not in sys.stdlib_module_names}
    assert not outside, outside
