"""kgforge's import graph: no cycles, and no import from a lower layer into a higher one.

Read with ``ast`` from the source: module-level, function-level and ``TYPE_CHECKING`` imports
all count (deferring an import does not change which layer depends on which).

The layers follow the data (README, "Package map"): corpus and graph import no other layer,
extract reads corpora and writes graphs, embed learns from graphs (never from extraction code),
transfer applies embeddings to graphs; the command line, the demo and the package's lazy
``__init__`` sit on top. ``errors``, ``fileio``, ``progress``, ``models``, ``yamlconfig``,
``cache``, ``spill`` and ``device`` are shared by all and import no layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "kgforge"

# layer -> the layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "corpus": {"base"},
    "graph": {"base"},
    "extract": {"base", "corpus", "graph"},
    "embed": {"base", "graph"},
    "transfer": {"base", "graph", "embed"},
    "app": {"base", "corpus", "graph", "extract", "embed", "transfer"},
}
# top-level module of kgforge -> its layer
LAYERS = {
    "corpus": "corpus",
    "graph": "graph",
    "extract": "extract",
    "embed": "embed",
    "transfer": "transfer",
    "errors": "base",
    "fileio": "base",
    "progress": "base",
    "models": "base",
    "yamlconfig": "base",
    "cache": "base",
    "spill": "base",
    "device": "base",
    "cli": "app",
    "demo": "app",
    "__main__": "app",
    "": "app",  # kgforge/__init__.py
}


def _module_name(path: Path) -> str:
    parts = ["kgforge", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The deepest kgforge module that ``import name`` runs (None outside kgforge)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, int]]:
    """(imported kgforge module, line) for every import in ``module``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from pkg import sub` imports the submodule when there is one
            names = [f"{base}.{alias.name}" for alias in node.names] if base else []
            names = [n if n in MODULES else base for n in names] or [base]
        else:
            for child in ast.iter_child_nodes(node):
                visit(child)
            return
        for name in names:
            target = _resolve(name) if name.split(".")[0] == "kgforge" else None
            if target is not None and target != module:
                found.append((target, node.lineno))

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return found


def _layer(module: str) -> str:
    top = module.split(".")[1] if "." in module else ""
    assert top in LAYERS, (
        f"{module} is in no layer: add kgforge.{top} to LAYERS in tests/test_imports.py "
        "(and to the README's package map)"
    )
    return LAYERS[top]


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_no_import_from_a_lower_layer_into_a_higher_one() -> None:
    wrong = []
    for module in MODULES:
        layer = _layer(module)
        for target, line in _imports(module):
            other = _layer(target)
            if other != layer and other not in ALLOWED[layer]:
                wrong.append(
                    f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: {layer} "
                    f"module {module} imports {other} module {target}"
                )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    for module in MODULES:
        for target, line in _imports(module):
            graph.add_edge(module, target, line=line)
    cycles = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            cycle = nx.find_cycle(graph.subgraph(component))
            cycles.append(" -> ".join(f"{a} (line {graph.edges[a, b]['line']})" for a, b in cycle))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
