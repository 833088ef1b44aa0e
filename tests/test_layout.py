"""The package's layout: imports run one way (no cycle, function-local imports included) and every module is short."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "wgan_core"
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = ("wgan_core", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> set[str]:
    """The wgan_core modules `name` imports anywhere in its body (module level or inside functions), TYPE_CHECKING blocks aside."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("wgan_core"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("wgan_core"):
                for a in node.names:  # `from pkg import module` imports the submodule
                    out.add(f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    out.discard(name)
    return {m for m in out if m in MODULES}


def test_no_import_cycle_counting_function_local_imports():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    # A package's own submodules may import each other through the package's __init__ re-exports
    # only one way: a cycle is any path back to the start.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def dfs(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                cycles.append(stack[stack.index(v) :] + [v])
            elif v not in state:
                dfs(v)
        stack.pop()
        state[u] = 2

    for name in sorted(graph):
        if name not in state:
            dfs(name)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_a_function_local_cycle(tmp_path, monkeypatch):
    """The checker itself: a cycle through a function-local import is found."""
    pkg = tmp_path / "wgan_core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n")
    mods = {_module_name_at(pkg, p): p for p in pkg.rglob("*.py")}
    monkeypatch.setattr(sys.modules[__name__], "MODULES", mods)
    assert _imports("wgan_core.b", pkg / "b.py") == {"wgan_core.a"}
    assert _imports("wgan_core.a", pkg / "a.py") == {"wgan_core.b"}


def _module_name_at(root: Path, path: Path) -> str:
    parts = ("wgan_core", *path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_reads_in_one_sitting(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines (at most {MAX_LINES})"
