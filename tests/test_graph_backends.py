"""Contract of every registered backend: its name resolves to it, and its capability flags match
the methods it has (``KnowledgeGraph`` trusts the flags instead of checking classes)."""

from __future__ import annotations

import pytest

from kgforge.errors import KGForgeError
from kgforge.graph.backends import BACKENDS, Backend, backend_resolver
from kgforge.graph.store import KnowledgeGraph

FLAG_METHODS = {
    "bulk_load": "extend_ox",
    "native_export": "export",
    "stream_results": "write_results",
}


@pytest.mark.parametrize("cls", list(backend_resolver), ids=lambda cls: cls.name)
def test_registered_backend_contract(cls: type) -> None:
    assert backend_resolver.lookup(cls.name) is cls
    assert cls.name in BACKENDS and cls.title
    for method in ("open", "query", "apply", "quads", "graphs", "__len__", "close"):
        assert callable(getattr(cls, method, None)), method
    for flag, method in FLAG_METHODS.items():
        assert getattr(cls.capabilities, flag) == callable(getattr(cls, method, None)), flag
    assert isinstance(cls.options, frozenset)


def test_memory_backend_satisfies_the_protocol() -> None:
    kg = KnowledgeGraph.open(":memory:")
    assert isinstance(kg._backend, Backend)


def test_options_of_another_backend_are_refused() -> None:
    with pytest.raises(KGForgeError, match="deadline applies to a remote SPARQL endpoint"):
        KnowledgeGraph.open(":memory:", deadline=3)
    with pytest.raises(TypeError, match="unexpected option 'nope'"):
        KnowledgeGraph.open(":memory:", nope=1)
