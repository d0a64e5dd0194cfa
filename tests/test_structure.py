"""The package's shape: its modules import one another without a cycle (imports inside
functions count), and every document a comment cites is in the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from transferability.caffe_env import REPO_ROOT

PACKAGE = REPO_ROOT / "python" / "transferability"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its text."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets.append(node.module)
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_among_the_packages_modules() -> None:
    graph = import_graph()
    assert len(graph) > 40 and graph["transferability.report"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_every_cited_document_is_in_the_repository() -> None:
    cited = set()
    for path in [*PACKAGE.rglob("*.py"), *(REPO_ROOT / "tests").glob("*.py"),
                 *(REPO_ROOT / "caffe_build").glob("*"), *(REPO_ROOT / "data_prep").glob("*"),
                 REPO_ROOT / "Makefile"]:
        if path.is_file():
            cited |= set(re.findall(r"[\w./-]*[A-Z_]+\.md\b", path.read_text(errors="replace")))
    assert cited, "no citation found at all"
    missing = [doc for doc in cited if not any((REPO_ROOT / d).is_file()
                                                for d in (doc, f"docs/{doc}"))]
    assert not missing, missing
