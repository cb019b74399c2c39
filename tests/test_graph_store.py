"""KnowledgeGraph on every backend: embedded Oxigraph, rdflib memory, and a real `oxigraph serve`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Literal
from rdflib.namespace import RDF, RDFS

from kgforge.errors import QueryError, RDFSyntaxError, UnknownFormatError
from kgforge.graph.backends import MemoryBackend
from kgforge.graph.namespaces import KGF, REL, document_iri, entity_iri
from kgforge.graph.store import KnowledgeGraph

# rdflib's SPARQL engine calls its own deprecated Dataset.default_context/contexts internally
pytestmark = [
    pytest.mark.filterwarnings("ignore:Dataset.default_context:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Dataset.contexts:DeprecationWarning"),
]

ADA = entity_iri("Ada Lovelace", "person")
CHARLES = entity_iri("Charles Babbage", "person")
ENGINE = entity_iri("Analytical Engine", "artifact")
DOC1, DOC2 = document_iri("doc1"), document_iri("doc2")


def _fill(kg: KnowledgeGraph) -> None:
    kg.add_many(
        [
            (ADA, REL.worked_with, CHARLES),
            (CHARLES, REL.designed, ENGINE),
        ],
        graph=DOC1,
    )
    kg.add((ADA, REL.wrote_about, ENGINE, DOC2))
    kg.add((ADA, REL.worked_with, CHARLES), graph=DOC2)  # same fact from a second document
    kg.add_many(
        [
            (ADA, RDFS.label, Literal("Ada Lovelace")),
            (CHARLES, RDFS.label, Literal("Charles Babbage")),
            (ENGINE, RDFS.label, Literal("Analytical Engine", lang="en")),
            (ADA, RDF.type, KGF.Entity),
            (DOC1, RDF.type, KGF.Document),
            (DOC2, RDF.type, KGF.Document),
        ]
    )


def _state(kg: KnowledgeGraph) -> set:
    return set(kg.quads())


def test_add_count_graphs_and_union_triples(kg: KnowledgeGraph) -> None:
    _fill(kg)
    assert len(kg) == 10  # quads: the shared fact counts once per graph
    assert kg.graphs() == sorted([DOC1, DOC2], key=str)
    union = list(kg.triples((ADA, REL.worked_with, None)))
    assert union == [(ADA, REL.worked_with, CHARLES)]  # union of graphs, each triple once
    assert set(kg.triples(graph=DOC2)) == {
        (ADA, REL.wrote_about, ENGINE),
        (ADA, REL.worked_with, CHARLES),
    }
    graphs_of_fact = {g for *_, g in kg.quads((ADA, REL.worked_with, CHARLES, None))}
    assert graphs_of_fact == {DOC1, DOC2}
    assert {g for *_, g in kg.quads((ADA, RDFS.label, None, None))} == {None}  # default graph


def test_query_bindings_are_values(kg: KnowledgeGraph) -> None:
    _fill(kg)
    rows = kg.query("SELECT ?x WHERE { ?x rdfs:label ?label }", label="Charles Babbage")
    assert [row.x for row in rows] == [CHARLES]
    # a bound variable that the query does not select, and an IRI binding
    rows = kg.query("SELECT ?o WHERE { ?s rel:worked_with ?o }", s=ADA)
    assert {row.o for row in rows} == {CHARLES}
    # bindings hold before aggregation: the count is ADA's statements only
    count = kg.query("SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?s ?p ?o }", s=ADA)
    assert int(next(iter(count)).n) == 4
    # text that would break out of the query if it were pasted in is just an unknown label
    hostile = 'x" } ; DROP ALL ; SELECT * WHERE { ?a ?b "'
    assert list(kg.query("SELECT ?x WHERE { ?x rdfs:label ?label }", label=hostile)) == []
    assert len(kg) == 10
    assert kg.query("ASK { ?s rel:designed ?o }", s=CHARLES).askAnswer is True
    constructed = kg.query("CONSTRUCT { ?o rel:designed_by ?s } WHERE { ?s rel:designed ?o }")
    assert set(constructed.graph) == {(ENGINE, REL.designed_by, CHARLES)}


def test_update_with_bindings_and_remove(kg: KnowledgeGraph) -> None:
    _fill(kg)
    kg.update(
        "INSERT { GRAPH ?g { ?s rel:colleague ?o } } WHERE { GRAPH ?g { ?s rel:worked_with ?o } }",
        g=DOC1,
    )
    assert set(kg.quads((None, REL.colleague, None, None))) == {(ADA, REL.colleague, CHARLES, DOC1)}
    kg.remove((ADA, None, None), graph=DOC2)
    assert set(kg.triples(graph=DOC2)) == set()
    kg.remove((None, RDFS.label, None))
    assert list(kg.triples((None, RDFS.label, None))) == []
    assert len(kg) == 6


def test_transaction_commits_as_a_unit(kg: KnowledgeGraph) -> None:
    _fill(kg)
    with kg.transaction():
        kg.add((ENGINE, REL.invented_by, CHARLES), graph=DOC1)
        kg.remove((ADA, RDFS.label, None))
        with kg.transaction():  # nested blocks join the outer one
            # the long form: rdflib's engine ignores GRAPH ?g in the DELETE WHERE short form
            kg.update(
                "DELETE { GRAPH ?g { ?s rel:wrote_about ?o } } "
                "WHERE { GRAPH ?g { ?s rel:wrote_about ?o } }"
            )
        assert (ENGINE, REL.invented_by, CHARLES) not in set(kg.triples())  # not yet committed
    triples = set(kg.triples())
    assert (ENGINE, REL.invented_by, CHARLES) in triples
    assert (ADA, RDFS.label, Literal("Ada Lovelace")) not in triples
    assert not any(p == REL.wrote_about for _, p, _ in triples)


def test_exception_mid_batch_rolls_back(kg: KnowledgeGraph) -> None:
    _fill(kg)
    before = _state(kg)
    with pytest.raises(RuntimeError, match="injected"), kg.transaction():
        kg.add_many([(ENGINE, REL.invented_by, CHARLES)] * 3, graph=DOC1)
        kg.remove((None, None, None), graph=DOC2)
        kg.drop_graph(DOC1)
        raise RuntimeError("injected failure")
    assert _state(kg) == before


def test_failing_input_mid_add_many_writes_nothing(kg: KnowledgeGraph) -> None:
    _fill(kg)
    before = _state(kg)

    def statements():
        for i in range(100):
            if i == 50:
                raise ValueError("injected failure in the input")
            yield (entity_iri(f"e{i}"), REL.next, entity_iri(f"e{i + 1}"))

    with pytest.raises(ValueError, match="injected"):
        kg.add_many(statements(), graph=DOC1)
    assert _state(kg) == before


def test_failed_commit_leaves_store_unchanged(kg: KnowledgeGraph) -> None:
    _fill(kg)
    before = _state(kg)
    with pytest.raises(QueryError), kg.transaction():
        kg.add((ENGINE, REL.invented_by, CHARLES), graph=DOC1)
        kg.remove((ADA, None, None))
        kg.update("INSERT { ?s rel:x ?o } WHERE { ?s ?p ")  # fails when the batch commits
    assert _state(kg) == before


def test_replace_graph(kg: KnowledgeGraph) -> None:
    _fill(kg)
    assert kg.replace_graph(DOC1, [(CHARLES, REL.built, ENGINE)]) == 1
    assert set(kg.triples(graph=DOC1)) == {(CHARLES, REL.built, ENGINE)}
    assert (ADA, REL.wrote_about, ENGINE) in set(kg.triples(graph=DOC2))


@pytest.mark.parametrize("fmt", ["ttl", "nt", "nq", "trig", "jsonld"])
def test_export_load_round_trip(kg: KnowledgeGraph, tmp_path: Path, fmt: str) -> None:
    _fill(kg)
    path = kg.export(tmp_path / f"out.{fmt}", union=fmt in ("ttl", "nt"))  # ttl/nt: say "merge"
    other = KnowledgeGraph.open(":memory:")
    loaded = other.load(path)
    if fmt in ("nq", "trig", "jsonld"):  # dataset formats keep the named graphs
        assert _state(other) == _state(kg)
        assert loaded == len(kg)
    else:  # triple formats hold the union of all graphs
        assert set(other.triples()) == set(kg.triples())


def test_load_into_named_graph(kg: KnowledgeGraph, tmp_path: Path) -> None:
    path = tmp_path / "facts.ttl"
    path.write_text(
        "@prefix rel: <https://w3id.org/kgforge/relation/> .\n"
        f"<{ADA}> rel:knew <{CHARLES}> , <{ENGINE}> .\n"
    )
    assert kg.load(path, graph=DOC1) == 2
    assert set(kg.quads()) == {(ADA, REL.knew, CHARLES, DOC1), (ADA, REL.knew, ENGINE, DOC1)}


def test_malformed_file_changes_nothing(kg: KnowledgeGraph, tmp_path: Path) -> None:
    _fill(kg)
    before = _state(kg)
    bad = tmp_path / "bad.nt"
    bad.write_text(f'<{ADA}> <{REL.knew}> <{CHARLES}> .\n<{ADA}> <{RDFS.label}> "unclosed .\n')
    with pytest.raises(RDFSyntaxError) as err:
        kg.load(bad)
    assert err.value.path == str(bad) and err.value.line == 2
    assert _state(kg) == before
    with pytest.raises(UnknownFormatError, match="known formats"):
        kg.load(bad, format="yaml")


def test_load_data_in_memory_escapes_and_is_atomic(kg: KnowledgeGraph) -> None:
    """RDF text from memory (what extraction writes) keeps literals that need escaping, goes to
    the named graph given, and changes nothing when any line is malformed."""
    tricky = 'quote " backslash \\ newline \n tab \t \u00e9 \U0001f600'
    label = ox.Literal(tricky)  # its str is the escaped N-Triples form
    nq = f"<{ADA}> <{RDFS.label}> {label} <{DOC1}> .\n<{ADA}> <{REL.knew}> <{CHARLES}> .\n"
    assert kg.load_data(nq, "nq", graph=DOC2) == 2
    assert set(kg.quads()) == {
        (ADA, RDFS.label, Literal(tricky), DOC1),
        (ADA, REL.knew, CHARLES, DOC2),
    }
    before = _state(kg)
    with pytest.raises(RDFSyntaxError) as err:
        kg.load_data(f'<{ENGINE}> <{REL.knew}> <{ADA}> .\n<{ADA}> <{RDFS.label}> "open .\n', "nt")
    assert err.value.line == 2
    assert _state(kg) == before


def test_bad_query_names_the_position(kg: KnowledgeGraph) -> None:
    with pytest.raises(QueryError, match="line 2"):
        kg.query("SELECT ?s\nWHERE { ?s ?p }")


def test_stats_and_networkx(kg: KnowledgeGraph) -> None:
    _fill(kg)
    assert kg.stats() == {
        "triples": 10,
        "entities": 3,
        "relations": 3,
        "documents": 2,
        "graphs": 2,
    }
    graph = kg.to_networkx()
    assert set(graph.edges(keys=True)) == {
        (ADA, CHARLES, REL.worked_with),
        (CHARLES, ENGINE, REL.designed),
        (ADA, ENGINE, REL.wrote_about),
    }
    assert graph.nodes[ENGINE]["label"] == "Analytical Engine"
    assert set(kg.to_networkx(DOC2).edges(keys=True)) == {
        (ADA, ENGINE, REL.wrote_about),
        (ADA, CHARLES, REL.worked_with),
    }


def test_rdflib_dataset_view(kg: KnowledgeGraph) -> None:
    _fill(kg)
    assert (ADA, REL.wrote_about, ENGINE) in set(kg.graph(DOC2))
    assert (CHARLES, RDFS.label, Literal("Charles Babbage")) in kg.dataset


def test_memory_undo_log_restores_on_failure_mid_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory backend applies a batch op by op; a failure at the third op undoes the first two."""
    kg = KnowledgeGraph.open(":memory:")
    _fill(kg)
    before = _state(kg)
    original, calls = MemoryBackend._apply_one, []

    def failing(self, op, undo):  # noqa: ANN001
        calls.append(op)
        if len(calls) == 3:
            raise OSError("injected failure")
        original(self, op, undo)

    monkeypatch.setattr(MemoryBackend, "_apply_one", failing)
    with pytest.raises(OSError, match="injected"), kg.transaction():
        kg.add((ENGINE, REL.invented_by, CHARLES), graph=DOC1)
        kg.remove((ADA, None, None))
        kg.add((CHARLES, REL.knew, ADA))
    assert _state(kg) == before


def test_open_unknown_backend_and_missing_store(tmp_path: Path) -> None:
    from kgforge.errors import KGForgeError

    with pytest.raises(KGForgeError, match="unknown backend"):
        KnowledgeGraph.open(tmp_path, backend="neo4j")
    with pytest.raises(KGForgeError, match="no store"):
        KnowledgeGraph.open(tmp_path / "missing", read_only=True)
    shutil.rmtree(tmp_path)
