"""Storage backends behind ``KnowledgeGraph``, by name: ``oxigraph`` (embedded, on disk),
``memory`` (rdflib) and ``sparql`` (a remote endpoint).

``backend_resolver`` maps a name to its class (class-resolver, as PyKEEN's registries); a new
backend is a class implementing ``Backend`` with its ``Capabilities``, added to the list below.
"""

from __future__ import annotations

from pathlib import Path

from class_resolver import ClassResolver

from kgforge.graph.backends.base import (
    Add,
    AddParsed,
    Backend,
    Capabilities,
    DropGraph,
    Op,
    Remove,
    Update,
    check_binding_names,
    ops_to_sparql,
    with_values,
)
from kgforge.graph.backends.memory import MemoryBackend
from kgforge.graph.backends.oxigraph import MirroredStore, OxigraphBackend
from kgforge.graph.backends.sparql import SparqlBackend

backend_resolver: ClassResolver[Backend] = ClassResolver(
    [OxigraphBackend, MemoryBackend, SparqlBackend], base=Backend, default=OxigraphBackend
)
BACKENDS = tuple(cls.name for cls in backend_resolver)
MEMORY = ":memory:"


def infer_backend(location: str | Path) -> str:
    """The backend a location means: ``:memory:``, an http(s) URL, else a directory."""
    text = str(location)
    if text == MEMORY:
        return MemoryBackend.name
    if text.startswith(("http://", "https://")):
        return SparqlBackend.name
    return OxigraphBackend.name


__all__ = [
    "BACKENDS",
    "MEMORY",
    "Add",
    "AddParsed",
    "Backend",
    "Capabilities",
    "DropGraph",
    "MemoryBackend",
    "MirroredStore",
    "Op",
    "OxigraphBackend",
    "Remove",
    "SparqlBackend",
    "Update",
    "backend_resolver",
    "check_binding_names",
    "infer_backend",
    "ops_to_sparql",
    "with_values",
]
