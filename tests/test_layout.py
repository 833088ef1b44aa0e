"""The package's layout: imports run one way, down a declared layer order (no cycle; function-local and
TYPE_CHECKING imports included), inside a package down its declared module order, never from the package
into benchmarks/, no cycle among the benchmarks; and every module is short."""

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


def _imports(name: str, path: Path) -> set[str]:
    """The wgan_core modules `name` imports anywhere in its body: module level, inside functions, under TYPE_CHECKING.

    An import only a type checker runs is still an arrow: a circle through one is a circle a reader follows.
    """
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
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


# The package's layers, lowest first. A module may import its own top-level package and any package of
# a lower layer, never one of its own layer or above: config -> data / models / objectives -> train ->
# study -> report as data flows, except that the config checks names against the registries (so it sits
# above them), metrics and runtime serve every run (below training), and a study writes its report at
# the end (report below study; report itself reads only run directories, never training).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("env", "fileio", "outcome", "signals", "plugins", "seeds"),  # leaves: at most errors
    ("losses", "penalties", "data"),  # the registries of objectives and data sets
    ("models",),
    ("config",),
    ("metrics",),
    ("runtime",),
    ("rundir",),
    ("training", "report"),
    ("kinds",),  # the job kinds: each trained by the one loop (training), shown by the report's registries
    ("study",),
    ("cli",),
    ("__main__", "__init__"),  # the entry points
)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_violations(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    """Every import that goes sideways or up the layer order, and every top-level package the order does not name."""
    rank = {pkg: i for i, group in enumerate(layers) for pkg in group}
    out = [f"{u}: package {_package(u)!r} is in no layer" for u in sorted(graph) if _package(u) not in rank]
    for u in sorted(graph):
        a = _package(u)
        for v in sorted(graph[u]):
            b = _package(v)
            if a != b and a in rank and b in rank and rank[b] >= rank[a]:
                out.append(f"{u} -> {v} (layer {rank[a]} imports layer {rank[b]})")
    return out


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first search meets, each as the path back to its start."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []
    cycles: list[list[str]] = []

    def dfs(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                cycles.append(stack[stack.index(v) :] + [v])
            elif v not in state:
                dfs(v)
        stack.pop()
        state[u] = 2

    for name in sorted(graph):
        if name not in state:
            dfs(name)
    return cycles


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_imports_run_down_the_layer_order():
    bad = layer_violations(GRAPH)
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_import_cycle_counting_function_local_imports():
    cycles = find_cycles(GRAPH)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_checkers_find_a_cycle_and_an_upward_import():
    """The searches themselves, on graphs made to fail: a test that could never fail would prove nothing."""
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    graph = {"wgan_core.data.toy": {"wgan_core.training.loop"}, "wgan_core.training.loop": {"wgan_core.data.toy"}}
    assert layer_violations(graph) == ["wgan_core.data.toy -> wgan_core.training.loop (layer 2 imports layer 8)"]
    assert layer_violations({"wgan_core.report.x": {"wgan_core.kinds.depth"}}) == ["wgan_core.report.x -> wgan_core.kinds.depth (layer 8 imports layer 9)"]
    assert layer_violations({"wgan_core.training.x": {"wgan_core.report.y"}}) == ["wgan_core.training.x -> wgan_core.report.y (layer 8 imports layer 8)"]
    assert layer_violations({"wgan_core.newpkg.x": set()}) == ["wgan_core.newpkg.x: package 'newpkg' is in no layer"]


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
    assert find_cycles({name: _imports(name, path) for name, path in mods.items()}) == [["wgan_core.a", "wgan_core.b", "wgan_core.a"]]


def _module_name_at(root: Path, path: Path) -> str:
    parts = ("wgan_core", *path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Inside a package, its modules' own order, lowest first (a module imports only those before it): the run contract and
# the step's statistics first, the loop last. A package not named here is held by the cycle check alone.
ORDER: dict[str, tuple[str, ...]] = {
    "training": ("protocol", "stats", "step", "evaluators", "ensemble", "trainer", "runfiles", "loop", "__init__"),
    "kinds": ("registry", "gan", "depth", "__init__"),
    "study": ("space", "presets", "identity", "claims", "units", "executors", "jobs", "run", "status", "__init__", "command"),
}


def order_violations(graph: dict[str, set[str]], order: dict[str, tuple[str, ...]] = ORDER) -> list[str]:
    """Every import inside an ordered package that goes sideways or up its module order, and every module the order omits."""
    out = []
    for pkg, names in order.items():
        rank = {n: i for i, n in enumerate(names)}
        members = {u: (u.split(".")[2] if u.count(".") >= 2 else "__init__") for u in graph if _package(u) == pkg}
        out += [f"{u}: not in the order of {pkg}" for u, m in sorted(members.items()) if m not in rank]
        for u, m in sorted(members.items()):
            for v in sorted(graph[u]):
                if v in members and m in rank and members[v] in rank and rank[members[v]] >= rank[m]:
                    out.append(f"{u} -> {v} ({pkg}: {m} is not above {members[v]})")
    return out


def test_imports_inside_a_package_run_down_its_module_order():
    bad = order_violations(GRAPH)
    assert not bad, "imports against a package's module order:\n" + "\n".join(bad)


def test_the_order_checker_finds_an_upward_import_and_a_type_checking_one(tmp_path, monkeypatch):
    assert order_violations({"wgan_core.training.step": {"wgan_core.training.trainer"}, "wgan_core.training.trainer": set()}) == [
        "wgan_core.training.step -> wgan_core.training.trainer (training: step is not above trainer)"
    ]
    pkg = tmp_path / "wgan_core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n")
    monkeypatch.setattr(sys.modules[__name__], "MODULES", {"wgan_core.a": pkg / "a.py", "wgan_core.b": pkg / "b.py"})
    assert _imports("wgan_core.a", pkg / "a.py") == {"wgan_core.b"}


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_imports() -> dict[str, set[str]]:
    """benchmarks/ modules import each other as top-level modules (the scripts put their folder on sys.path)."""
    names = {p.stem for p in BENCHMARKS.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for p in sorted(BENCHMARKS.glob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in names:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in names)
        graph[p.stem] = found - {p.stem}
    return graph


def test_benchmarks_import_no_circle_and_the_package_never_imports_them():
    cycles = find_cycles(benchmark_imports())
    assert not cycles, "import cycles among benchmarks/: " + "; ".join(" -> ".join(c) for c in cycles)
    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.ImportFrom):
            return [node.module or ""]
        return [a.name for a in node.names] if isinstance(node, ast.Import) else []

    upward = [f"{name} imports {m}" for name, path in MODULES.items() for node in ast.walk(ast.parse(path.read_text())) for m in targets(node)
              if m.split(".")[0] == "benchmarks"]  # fmt: skip
    assert not upward, upward


@pytest.mark.parametrize("path", [*sorted(MODULES.values()), *sorted(BENCHMARKS.glob("*.py"))], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_module_reads_in_one_sitting(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path} has {lines} lines (at most {MAX_LINES})"
