"""Entity retrieval over a graph's entity records: BM25, dense vectors and their fusion."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Literal
from rdflib.namespace import DCTERMS, RDFS
from typer.testing import CliRunner

from kgforge.cli import app
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import ENTITIES_GRAPH, entity_iri
from kgforge.graph.store import KnowledgeGraph
from kgforge.transfer.retrieval import EntityIndex

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")

RECORDS = {
    "Marie Curie": "Polish-born physicist and chemist, twice a Nobel laureate",
    "Pierre Curie": "French physicist, husband of Marie",
    "Warsaw": "capital and largest city of Poland",
    "Paris": "capital of France",
    "Apple Inc.": "technology company founded by Steve Jobs",
    "Steve Jobs": "American businessman, co-founder of Apple",
}


def _fill(kg: KnowledgeGraph) -> None:
    for label, description in RECORDS.items():
        e = entity_iri(label)
        kg.add_many(
            [(e, RDFS.label, Literal(label)), (e, DCTERMS.description, Literal(description))],
            graph=ENTITIES_GRAPH,
        )


@pytest.fixture(scope="module")
def index() -> EntityIndex:
    kg = KnowledgeGraph.open(":memory:")
    _fill(kg)
    return EntityIndex.from_graph(kg)


def _labels(hits) -> list[str]:  # noqa: ANN001
    return [hit.text.split(":")[0] for hit in hits]


def test_each_mode_finds_what_it_is_good_at(index: EntityIndex) -> None:
    assert _labels(index.search("capital of Poland", k=1, mode="bm25")) == ["Warsaw"]
    assert _labels(index.search("a scientist from Poland", k=1, mode="dense")) == ["Marie Curie"]
    assert "Marie Curie" not in _labels(index.search("a scientist from Poland", mode="bm25"))
    makers = _labels(index.search("who started the iPhone maker", k=2, mode="dense"))
    assert set(makers) & {"Apple Inc.", "Steve Jobs"}
    assert set(_labels(index.search("Curie", k=2))) == {"Marie Curie", "Pierre Curie"}
    hits = index.search("capital of Poland", k=6)
    assert _labels(hits)[0] == "Warsaw" and len(hits) == 6
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].entity == str(entity_iri("Warsaw"))


def test_bad_requests_fail_clearly(index: EntityIndex) -> None:
    with pytest.raises(KGForgeError, match="unknown search mode 'fuzzy'"):
        index.search("x", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(KGForgeError, match="k must be at least 1"):
        index.search("x", k=0)
    with pytest.raises(KGForgeError, match="no vectors"):
        EntityIndex(["a"], ["alpha"], dense=False).search("alpha", mode="dense")
    with pytest.raises(KGForgeError, match="nothing to index"):
        EntityIndex.from_graph(KnowledgeGraph.open(":memory:"))


def test_cli_search(tmp_path: Path) -> None:
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        _fill(kg)
    out = CliRunner().invoke(app, ["search", str(tmp_path / "kg"), "capital of Poland", "-k", "2"])
    assert out.exit_code == 0, out.output
    lines = [line for line in out.output.splitlines() if "ent:" in line]
    assert len(lines) == 2 and "ent:warsaw" in lines[0]


def test_search_index_is_kept_beside_the_store_and_rebuilt_when_it_changed(tmp_path: Path):
    """The first search builds STORE.search; later ones load it (same answers, no rebuild)
    until an entity record changes, which makes the next one rebuild it."""
    from kgforge.transfer.retrieval import index_folder

    store = tmp_path / "kg"
    with KnowledgeGraph.open(store) as kg:
        _fill(kg)
    runner = CliRunner()

    def search(query: str) -> str:
        out = runner.invoke(app, ["search", str(store), query, "--mode", "bm25", "-k", "1"])
        assert out.exit_code == 0, out.output
        return out.output

    assert "ent:warsaw" in search("largest city of Poland")
    with KnowledgeGraph.open(store, read_only=True) as kg:
        folder = index_folder(kg)
    assert folder == tmp_path / "kg.search" and (folder / "index.json").is_file()
    built = (folder / "index.json").stat().st_mtime_ns
    assert "ent:warsaw" in search("largest city of Poland")
    assert (folder / "index.json").stat().st_mtime_ns == built  # loaded, not rebuilt
    with KnowledgeGraph.open(store, read_only=True) as kg:
        loaded = EntityIndex.for_store(kg, dense=False)
    assert [h.entity for h in loaded.search("Nobel laureate", mode="bm25")] == [
        str(entity_iri("Marie Curie"))
    ]

    with KnowledgeGraph.open(store) as kg:  # a new record: the saved index is stale
        e = entity_iri("Krakow")
        kg.add_many(
            [
                (e, RDFS.label, Literal("Krakow")),
                (e, DCTERMS.description, Literal("old royal capital")),
            ],
            graph=ENTITIES_GRAPH,
        )
    assert "ent:krakow" in search("old royal capital")
    assert (folder / "index.json").stat().st_mtime_ns != built
    assert not list(tmp_path.glob(".kg.search.*"))  # no temporary folders left
    with KnowledgeGraph.open(":memory:") as kg:
        _fill(kg)
        assert index_folder(kg) is None


def test_saved_dense_index_gives_the_same_hits(tmp_path: Path):
    store = tmp_path / "kg"
    with KnowledgeGraph.open(store) as kg:
        _fill(kg)
        built = EntityIndex.for_store(kg)
        loaded = EntityIndex.for_store(kg)  # from STORE.search this time
    assert loaded.vectors is not None and (tmp_path / "kg.search" / "vectors.npy").is_file()
    for mode in ("dense", "hybrid"):
        want = [(h.entity, round(h.score, 5)) for h in built.search("a scientist", k=3, mode=mode)]
        got = [(h.entity, round(h.score, 5)) for h in loaded.search("a scientist", k=3, mode=mode)]
        assert got == want


def test_a_fresh_saved_index_answers_without_opening_the_store(tmp_path: Path, monkeypatch):
    """The CLI's later searches load STORE.search without opening the store (its start-up is
    most of a call); once the store is written, ``saved`` refuses the stale index."""
    store = tmp_path / "kg"
    with KnowledgeGraph.open(store) as kg:
        _fill(kg)
    args = ["search", str(store), "largest city of Poland", "--mode", "bm25", "-k", "1"]
    assert CliRunner().invoke(app, args).exit_code == 0  # builds the index

    def no_open(*a, **k):
        raise AssertionError("the store was opened")

    with monkeypatch.context() as m:
        m.setattr(KnowledgeGraph, "open", no_open)
        out = CliRunner().invoke(app, args)
        assert out.exit_code == 0, out.output
        assert "ent:warsaw" in out.output
    assert EntityIndex.saved(store, dense=False) is not None
    assert EntityIndex.saved(store) is None  # no vectors saved: a dense search builds them
    with KnowledgeGraph.open(store) as kg:
        kg.add_many([(entity_iri("Krakow"), RDFS.label, Literal("Krakow"))], graph=ENTITIES_GRAPH)
    assert EntityIndex.saved(store, dense=False) is None
