"""The import graph of the package has no circle: every ``mfpsn.*`` import of every module under ``mfpsn/``,
at module level and inside functions, parsed with ``ast``.

An import of ``a.b.c`` from outside package ``a.b`` is also an edge to ``a.b`` (Python runs the package's
``__init__`` first), so a package that re-exports from a layer above it is a circle too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import mfpsn

ROOT = Path(mfpsn.__file__).parent


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = ["mfpsn", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _targets(node: ast.AST, module: str, is_package: bool, mods: dict[str, Path]) -> list[str]:
    """The dotted names an import statement loads: ``from p import n`` loads the submodule ``p.n`` when there
    is one, else takes ``n`` from ``p`` itself."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            pkg = module.split(".") if is_package else module.split(".")[:-1]
            pkg = pkg[: len(pkg) - node.level + 1]
            base = ".".join(pkg + ([base] if base else []))
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
    return []


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for name in _targets(node, module, is_package, mods):
                if name not in mods:
                    continue
                parts = name.split(".")
                for i in range(2, len(parts) + 1):   # the target and each package above it
                    dep = ".".join(parts[:i])
                    inside = module == dep or module.startswith(dep + ".")
                    if dep != module and (dep == name or not inside):
                        graph[module].add(dep)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle as a path ``[a, b, …, a]``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "mfpsn.backends.dispatch" in graph["mfpsn.backends.mfpsn_layer"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_layers_functional_below_kernels_below_backends():
    graph = import_graph()
    for module, deps in graph.items():
        if module.startswith("mfpsn.functional"):
            assert not {d for d in deps if d.startswith(("mfpsn.kernels", "mfpsn.backends", "mfpsn.neurons"))}, module
        if module.startswith("mfpsn.kernels"):
            assert not {d for d in deps if d.startswith(("mfpsn.backends", "mfpsn.neurons"))}, module


def test_the_tools_sit_outside_the_library_and_the_timer_at_the_bottom():
    """Issue 11 step 8: the load test, app benchmark, AOT check and asset maker live in ``mfpsn.tools``, which no
    library module imports; the one timer (``mfpsn.timer``) imports nothing of mfpsn, so every layer can use it."""
    graph = import_graph()
    assert {"mfpsn.tools.loadtest", "mfpsn.tools.app_bench", "mfpsn.tools.aot_check",
            "mfpsn.tools.make_assets"} <= set(graph)
    for module, deps in graph.items():
        if not module.startswith("mfpsn.tools"):
            assert not {d for d in deps if d.startswith("mfpsn.tools")}, module
    assert not {d for d in graph["mfpsn.timer"] if d.startswith("mfpsn")}
    for user in ("mfpsn.backends.autoselect", "mfpsn.bench.timing", "mfpsn.bench.first_call", "mfpsn.bench.gpu_check",
                 "mfpsn.bench.train_step", "mfpsn.bench.events", "mfpsn.bench.frames", "mfpsn.tools.app_bench",
                 "mfpsn.tools.loadtest"):
        assert "mfpsn.timer" in graph[user], user


def test_a_circle_is_reported_with_its_path():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
