"""The dreamlab package has no import circles, direct or through a chain.

Every import is counted, at the top of a module or inside a function (an import hidden in a
function still makes a circle: it only moves the failure to run time). The graph is built from the
source with ``ast``, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dreamlab

ROOT = Path(dreamlab.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The dreamlab modules an import statement names (``from a import b``: ``a.b`` if a module)."""
    names: set[str] = set()
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        subs = {f"{base}.{alias.name}" for alias in node.names}
        # ``from pkg import module`` needs pkg.module; any other name needs pkg itself
        names = subs | ({base} if not subs <= known else set())
    return {n for n in names if n in known}


def import_graph() -> dict[str, set[str]]:
    """module -> the dreamlab modules it imports (a package's own submodules excepted)."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in ast.walk(tree):
            edges |= _imported(node, module, path.name == "__init__.py", known)
        graph[module] = edges - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    # the dream command imports the engine only inside its functions
    assert "dreamlab.dream.export" in graph["dreamlab.cli.dream"]
    assert "dreamlab.models.spec" in graph["dreamlab.models.weights"]


def test_the_cycle_finder_finds_a_chain() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# ---------------------------------------------------------------- the one-way order of layers

# Each layer may import its own and the layers above it in this list, never one below. The
# runtime's machine parts (device, threads, the memory budget, the job gate) sit under the core:
# models load onto its device and count in its budget, and the tiles take its thread settings.
# Pricing a job (runtime.job_costs) reads the engines' plans, so it sits with the engines.
# The web app is layered too: its plumbing (ui: catalogues, settings, the address, the theme) under
# the parts pages are made of (ui.parts), under the pages (ui.pages), under the navigation (ui.app).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base",
        (
            "dreamlab",
            "dreamlab.errors",
            "dreamlab.validate",
            "dreamlab.download",
            "dreamlab.images",
            "dreamlab.viz",
        ),
    ),  # fmt: skip
    ("machine", ("dreamlab.runtime",)),
    ("core", ("dreamlab.models", "dreamlab.ascent", "dreamlab.activations", "dreamlab.media")),
    (
        "engines",
        (
            "dreamlab.dream",
            "dreamlab.optvis",
            "dreamlab.convolution",
            "dreamlab.train",
            "dreamlab.runtime.job_costs",
        ),
    ),  # fmt: skip
    ("services", ("dreamlab.backend", "dreamlab.serve", "dreamlab.live", "dreamlab.benchmark")),
    ("front", ("dreamlab.cli", "dreamlab.__main__", "dreamlab.ui")),
    ("ui parts", ("dreamlab.ui.parts",)),
    ("ui pages", ("dreamlab.ui.pages",)),
    ("ui app", ("dreamlab.ui.app",)),
]


def layer_of(module: str) -> int:
    """The index in LAYERS of the longest prefix naming ``module`` (a package covers its modules)."""
    best, found = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            covers = module == prefix or module.startswith(prefix + ".")
            if covers and len(prefix) > best:
                best, found = len(prefix), index
    if found is None:
        raise KeyError(f"{module} is in no layer: add it to LAYERS (and docs/ARCHITECTURE.md)")
    return found


def test_every_module_has_a_layer() -> None:
    for module in import_graph():
        layer_of(module)


def test_imports_go_one_way_down_the_layers() -> None:
    upward = [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, targets in import_graph().items()
        for b in sorted(targets)
        if layer_of(b) > layer_of(a)
    ]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_the_fronts_are_imported_by_nobody_else() -> None:
    """The web app (ui) and the command line (cli) import the backend, never the other way, and
    neither imports the other."""
    for a, targets in import_graph().items():
        for b in targets:
            if b.startswith("dreamlab.ui"):
                assert a.startswith("dreamlab.ui"), f"{a} imports the web app ({b})"
            if b.startswith("dreamlab.cli"):
                assert a.startswith("dreamlab.cli") or a == "dreamlab.__main__", f"{a} imports {b}"


def test_the_layer_check_catches_an_upward_import() -> None:
    assert layer_of("dreamlab.models.registry") < layer_of("dreamlab.dream.engine")
    assert layer_of("dreamlab.runtime.job_costs") > layer_of("dreamlab.runtime.budget")
    assert layer_of("dreamlab.ui.query") == layer_of("dreamlab.cli.parser")
    assert layer_of("dreamlab.ui.query") < layer_of("dreamlab.ui.parts.gate")
    assert layer_of("dreamlab.ui.parts.gate") < layer_of("dreamlab.ui.pages.deepdream")
    assert layer_of("dreamlab.ui.pages.deepdream") < layer_of("dreamlab.ui.app")
