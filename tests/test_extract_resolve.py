"""Entity identity: IRIs apart from types, alias and acronym merges, context splits, and the
merge decisions a store keeps for audit."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, RDFS, SKOS

from kgforge.extract.rdf import DocMeta, document_quads, merge_evidence
from kgforge.extract.resolve import (
    EntityResolver,
    acronym_of,
    entity_key_iri,
    initials,
    name_key,
)
from kgforge.extract.run import extract
from kgforge.extract.types import DocExtraction, Mention
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF, document_iri, type_iri
from kgforge.graph.store import KnowledgeGraph


def test_name_keys_drop_titles_dots_and_ignore_type() -> None:
    assert name_key("the U.S.") == name_key("US") == "us"
    assert name_key("Dr. Marie Curie") == name_key("Marie Curie") == "marie curie"
    assert name_key("General Motors") == "general motors"  # not a title
    assert acronym_of("U.S.") == "US" and acronym_of("NASA") == "NASA"
    assert acronym_of("Paris") is None
    assert initials("United States of America") == "USA"
    assert initials("United Kingdom") == "UK" and initials("Paris") is None
    assert entity_key_iri("India") == entity_key_iri("india")  # no type in the IRI


def _doc(text: str, names: list[tuple[str, str]]) -> DocExtraction:
    """One-sentence-per-line extraction with the given (name, type) mentions."""
    mentions, sentences, start = [], [], 0
    for line in text.split("\n"):
        sentences.append((start, start + len(line)))
        start += len(line) + 1
    for name, type_ in names:
        at = text.index(name)
        mentions.append(Mention(at, at + len(name), name, type_))
    mentions.sort(key=lambda m: m.start)
    return DocExtraction(text, sentences, mentions, list(range(len(mentions))), [])


def _resolve(docs: dict[str, DocExtraction], resolver: EntityResolver):
    rows = []
    for doc_id, extraction in docs.items():
        meta = DocMeta(doc_id, "h", doc_id, "c", "p", "fp")
        quads = document_quads(document_iri(doc_id), meta, extraction, resolver)
        rows += [(str(document_iri(doc_id)), e, blob) for e, blob in quads.evidence]
    return rows


def _iri_of(rows, doc_id: str, label: str):
    [iri] = [
        e
        for g, e, b in rows
        if g == str(document_iri(doc_id)) and label in [b["label"], *b["aliases"]]
    ]
    return iri


def test_type_errors_do_not_split_an_entity() -> None:
    docs = {
        "a": _doc(
            "India is a country in South Asia.", [("India", "Person"), ("South Asia", "Place")]
        ),
        "b": _doc("India won against Pakistan.", [("India", "Place"), ("Pakistan", "Place")]),
        "c": _doc("Delhi is in India.", [("Delhi", "Place"), ("India", "Place")]),
    }
    rows = _resolve(docs, EntityResolver())
    india = {_iri_of(rows, d, "India") for d in docs}
    assert len(india) == 1
    record = merge_evidence(rows)[india.pop()]
    assert record.type == ("Place", 2)  # voted over mentions: two of three say Place


GEORGIA = {
    "state": _doc(
        "Georgia is a state in the southeastern United States.\nAtlanta is the capital of Georgia.",
        [("Georgia", "Place"), ("United States", "Place"), ("Atlanta", "Place")],
    ),
    "country": _doc(
        "Georgia is a country in the Caucasus, bordered by Russia and Armenia.\n"
        "Its capital and largest city is Tbilisi.",
        [("Georgia", "Place"), ("Caucasus", "Place"), ("Russia", "Place"), ("Armenia", "Place"),
         ("Tbilisi", "Place")],
    ),
    "peach": _doc(
        "Atlanta, the capital of Georgia, is the largest city of the southeastern state.",
        [("Atlanta", "Place"), ("Georgia", "Place")],
    ),
    "wine": _doc(
        "Wine from Georgia is sold in Russia and Armenia, its neighbours in the Caucasus.",
        [("Georgia", "Place"), ("Russia", "Place"), ("Armenia", "Place"), ("Caucasus", "Place")],
    ),
}  # fmt: skip


def test_same_name_in_different_contexts_splits() -> None:
    rows = _resolve(GEORGIA, EntityResolver(split_below=0.1))
    state, country = _iri_of(rows, "state", "Georgia"), _iri_of(rows, "country", "Georgia")
    assert state != country
    assert _iri_of(rows, "peach", "Georgia") == state  # each later mention joins its sense
    assert _iri_of(rows, "wine", "Georgia") == country
    assert len({_iri_of(rows, d, "Atlanta") for d in ("state", "peach")}) == 1
    # without a threshold the name alone decides: one Georgia
    merged = _resolve(GEORGIA, EntityResolver())
    assert len({_iri_of(merged, d, "Georgia") for d in GEORGIA}) == 1


def test_disjoint_classes_and_document_topics_split() -> None:
    city = {
        "label": "Columbia",
        "types": {"Place": 1},
        "classes": ["city"],
        "topic": True,
        "contexts": ["Columbia is a city in Boone County, Missouri."],
    }
    film = {
        "label": "Columbia",
        "types": {"Place": 1},
        "classes": ["film"],
        "topic": True,
        "contexts": ["Columbia is a 1990 film directed by a Dutch director."],
    }
    mention = {"label": "Columbia", "types": {"Place": 1},
               "contexts": ["The university moved to Columbia in Missouri."]}  # fmt: skip
    resolver = EntityResolver()
    a, b = (resolver.resolve_document(d, [e])[0] for d, e in (("a", city), ("b", film)))
    assert a.iri != b.iri and b.rule == "split"
    assert resolver.resolve_document("c", [mention])[0].iri == a.iri  # the closer context
    # no classes: topics of two documents stay one entity unless the corpus says one topic
    # per document (split_topics)
    plain = [{k: v for k, v in e.items() if k != "classes"} for e in (city, film)]
    merged = EntityResolver()
    assert (
        len({merged.resolve_document(d, [e])[0].iri for d, e in zip("ab", plain, strict=True)}) == 1
    )
    topics = EntityResolver(split_topics=True)
    assert (
        len({topics.resolve_document(d, [e])[0].iri for d, e in zip("ab", plain, strict=True)}) == 2
    )
    off = EntityResolver(split_classes=False)
    assert len({off.resolve_document(d, [e])[0].iri for d, e in (("a", city), ("b", film))}) == 1


def test_acronyms_heads_and_surnames_merge() -> None:
    docs = {
        "a": _doc(
            "The United States of America is large.\nThe USA is rich.",
            [("United States of America", "Place"), ("USA", "Organization")],
        ),
        "b": _doc("Obama led the United States.", [("Obama", "Person"), ("United States", "Place")]),
        "c": _doc("The U.S. economy grew under Barack Obama.",
                  [("U.S.", "Place"), ("Barack Obama", "Person")]),
        "d": _doc("Barack Obama met Michelle Obama.\nObama spoke.",
                  [("Barack Obama", "Person"), ("Michelle Obama", "Person")]),
        "e": _doc("Washington is a state.", [("Washington", "Place")]),
        "f": _doc("George Washington was born in Virginia.", [("George Washington", "Person"),
                                                             ("Virginia", "Place")]),
    }  # fmt: skip
    resolver = EntityResolver()
    rows = _resolve(docs, resolver)
    us = {_iri_of(rows, d, n) for d, n in [("a", "United States of America"), ("a", "USA"),
                                           ("b", "United States"), ("c", "U.S")]}  # fmt: skip
    assert len(us) == 1
    # a lone surname only joins a full name known before it: the first "Obama" stays apart
    assert _iri_of(rows, "c", "Barack Obama") == _iri_of(rows, "d", "Barack Obama")
    assert _iri_of(rows, "d", "Michelle Obama") != _iri_of(rows, "d", "Barack Obama")
    # a place is never merged into a person by surname
    assert _iri_of(rows, "e", "Washington") != _iri_of(rows, "f", "George Washington")
    later = resolver.resolve_document("g", [{"label": "Michelle", "types": {"Person": 1}}])
    assert later[0].rule == "new"
    two = resolver.resolve_document("h", [{"label": "Obama", "types": {"Person": 1}}])
    assert two[0].rule in ("name", "surname")


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("split", [None])
def test_extracted_store_keeps_merge_decisions(tmp_path: Path, split) -> None:
    texts = {
        "a.txt": "The United States of America declared independence in 1776. The USA is large.",
        "b.txt": "Barack Obama was the president of the United States. The U.S. economy grew.",
        "c.txt": "The United Kingdom left the European Union. The UK held a referendum.",
        "d.txt": "India is a country in South Asia. New Delhi is the capital of India.",
        "e.txt": "Marie Curie, a physicist, won the Nobel Prize.",
    }
    corpus = tmp_path / "c"
    corpus.mkdir()
    for name, text in texts.items():
        (corpus / name).write_text(text, encoding="utf-8")
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        extract(corpus, kg, "default")
        rows = kg.query(
            "SELECT DISTINCT ?e WHERE { GRAPH graph:entities { ?e rdfs:label|skos:altLabel ?n } "
            "VALUES ?n { 'United States of America' 'USA' 'United States' 'U.S' } }"
        )
        [us] = [r[0] for r in rows]
        records = kg.graph(ENTITIES_GRAPH)
        assert (us, RDF.type, type_iri("Place")) in records
        assert float(records.value(us, KGF.typeConfidence)) > 0.5
        uk = {r[0] for r in kg.query(
            "SELECT ?e WHERE { GRAPH graph:entities { ?e rdfs:label|skos:altLabel ?n } "
            "VALUES ?n { 'United Kingdom' 'UK' } }")}  # fmt: skip
        assert len(uk) == 1
        # the decisions that merged them, with rule, score and the names involved
        audit = {
            (str(r.m), str(r.rule), str(r.x))
            for r in kg.query(
                """SELECT ?m ?rule ?x ?s WHERE { GRAPH ?g { ?d a kgf:MergeDecision ;
                   kgf:entity ?e ; kgf:mentionLabel ?m ; kgf:rule ?rule ; kgf:score ?s ;
                   kgf:matchedLabel ?x } }"""
            )
        }
        assert ("UK", "acronym", "United Kingdom") in audit
        assert ("USA", "acronym", "United States of America") in audit
        # "X, a physicist" is kgf:isA to a class, not an rdf:type of the entity
        curie = next(iter(kg.query("SELECT ?e { GRAPH ?g { ?e rdfs:label 'Marie Curie' } }")))[0]
        assert list(kg.triples((curie, KGF.isA, type_iri("physicist"))))
        assert (type_iri("physicist"), RDF.type, KGF.Class) in set(kg.triples((None, None, None)))
        assert {o for _, _, o in records.triples((curie, RDF.type, None))} == {
            KGF.Entity,
            type_iri("Person"),
        }
        assert (curie, SKOS.altLabel, Literal("physicist")) not in records
        assert str(records.value(curie, RDFS.label)) == "Marie Curie"


REFERENCE = """@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
ex:Q90 a ex:City ; rdfs:label "Paris" ;
    rdfs:comment "Paris is the capital and largest city of France, on the Seine." .
ex:Q830149 a ex:City ; rdfs:label "Paris" ;
    rdfs:comment "Paris is a small city in Lamar County, Texas, in the United States." .
ex:Q7186 rdfs:label "Marie Curie" ; skos:altLabel "Maria Sklodowska" ;
    rdfs:comment "Marie Curie was a Polish and French physicist and chemist." .
ex:City rdfs:label "city" .
"""

LINK_DOCS = {
    "curie.txt": "Marie Curie, a physicist, moved to Paris, the capital of France, in 1891.",
    "texas.txt": "Paris is a small city in Lamar County, Texas. Its courthouse is old.",
    "pierre.txt": "Pierre Curie was born in Paris, the largest city of France.",
}


def _corpus(root: Path, docs: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _entity_in(kg: KnowledgeGraph, doc: str, label: str):
    rows = kg.query("SELECT ?e ?ev WHERE { GRAPH ?g { ?e kgf:mentions ?ev } }", g=document_iri(doc))
    import json

    [iri] = [r.e for r in rows if json.loads(str(r.ev))["label"] == label]
    return iri


def test_link_to_a_reference_graph(tmp_path: Path) -> None:
    from rdflib import URIRef

    reference = tmp_path / "ref.ttl"
    reference.write_text(REFERENCE, encoding="utf-8")
    corpus = _corpus(tmp_path / "c", LINK_DOCS)
    ex = "http://example.org/"
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        extract(corpus, kg, "default", link_to=reference)
        assert _entity_in(kg, "curie.txt", "Marie Curie") == URIRef(ex + "Q7186")
        # same name, two reference entities: ranked by context similarity
        assert _entity_in(kg, "curie.txt", "Paris") == URIRef(ex + "Q90")
        assert _entity_in(kg, "pierre.txt", "Paris") == URIRef(ex + "Q90")
        assert _entity_in(kg, "texas.txt", "Paris") == URIRef(ex + "Q830149")
        # not in the reference graph: a new entity
        assert str(_entity_in(kg, "pierre.txt", "Pierre Curie")).startswith(
            str(KGF).split("ns#")[0]
        )
        links = {
            (str(r.m), str(r.e), float(r.s))
            for r in kg.query(
                """SELECT ?m ?e ?s WHERE { GRAPH ?g { ?d a kgf:MergeDecision ; kgf:rule "link" ;
                   kgf:entity ?e ; kgf:mentionLabel ?m ; kgf:score ?s } }"""
            )
        }
        assert ("Marie Curie", ex + "Q7186") in {(m, e) for m, e, _ in links}
        assert all(0 <= s <= 1 for _, _, s in links)
        # linked entities get records (and facts) under the reference IRI
        records = kg.graph(ENTITIES_GRAPH)
        assert str(records.value(URIRef(ex + "Q7186"), RDFS.label)) == "Marie Curie"
    # a NIL threshold above every context similarity links nothing
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        (ROOT / "pipelines" / "default.yaml").read_text(encoding="utf-8")
        + "  link_min_score: 0.95\n",
        encoding="utf-8",
    )
    with KnowledgeGraph.open(tmp_path / "store2") as kg:
        extract(corpus, kg, strict, link_to=reference)
        assert not str(_entity_in(kg, "curie.txt", "Marie Curie")).startswith(ex)


GEORGIA_DOCS = {
    "state.txt": "Georgia is a state in the southeastern United States. Atlanta is the capital of Georgia.",
    "country.txt": "Georgia is a country in the Caucasus, bordered by Russia and Armenia. Its capital is Tbilisi.",
    "peach.txt": "Atlanta, the capital of Georgia, is the largest city in the southeastern United States.",
    "wine.txt": "Wine from Georgia is sold in Russia and Armenia, its neighbours in the Caucasus.",
}  # fmt: skip


def test_resolve_again_without_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kgforge.extract.pipeline import ExtractionPipeline, load_pipeline
    from kgforge.extract.run import resolve_store

    corpus = _corpus(tmp_path / "c", GEORGIA_DOCS)
    default = (ROOT / "pipelines" / "default.yaml").read_text(encoding="utf-8")
    split, merge = tmp_path / "split.yaml", tmp_path / "merge.yaml"
    split.write_text(default + "  split_below: 0.2\n", encoding="utf-8")
    merge.write_text(default + "  split_classes: false\n  split_topics: false\n", encoding="utf-8")
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        extract(corpus, kg, merge)
        assert len({_entity_in(kg, d, "Georgia") for d in GEORGIA_DOCS}) == 1
        statements = (None, RDF.type, KGF.Statement)
        before = {d: len(list(kg.triples(statements, graph=document_iri(d)))) for d in GEORGIA_DOCS}

        def no_parsing(*args, **kwargs):
            raise AssertionError("resolve_store must not parse documents")

        monkeypatch.setattr(ExtractionPipeline, "_process_pieces", no_parsing)
        assert resolve_store(kg, load_pipeline(split)) >= 1
        georgia = {d: _entity_in(kg, d, "Georgia") for d in GEORGIA_DOCS}
        assert georgia["state.txt"] == georgia["peach.txt"] != georgia["country.txt"]
        assert georgia["country.txt"] == georgia["wine.txt"]
        # facts and records follow the new IRIs; the split is recorded
        labels = [o for s, _, o in kg.triples((None, RDFS.label, None), graph=ENTITIES_GRAPH)]
        assert labels.count(Literal("Georgia")) == 2
        for d in GEORGIA_DOCS:
            subjects = {s for s, _, _ in kg.triples((None, RDF.subject, None), document_iri(d))}
            objects = {o for _, _, o in kg.triples((None, RDF.object, None), document_iri(d))}
            assert not ({georgia[o] for o in GEORGIA_DOCS} - {georgia[d]}) & (subjects | objects)
        rules = {str(o) for _, _, o in kg.triples((None, KGF.rule, None))}
        assert "split" in rules
        after = {d: len(list(kg.triples(statements, graph=document_iri(d)))) for d in GEORGIA_DOCS}
        assert after == before  # nothing lost, nothing parsed
        # every document records the settings it was resolved with; pipelineHash still names
        # the pipeline that parsed it
        resolved = {
            (str(r.p), str(r.h), str(r.fp))
            for r in kg.query(
                "SELECT ?p ?h ?fp { GRAPH ?g { ?g kgf:resolvedWith ?p ; kgf:resolutionHash ?h ;"
                " kgf:pipelineHash ?fp } }"
            )
        }
        split_pipe = load_pipeline(split)
        assert split_pipe.resolution_fingerprint() != load_pipeline(merge).resolution_fingerprint()
        fp = load_pipeline(merge).fingerprint()
        assert resolved == {(split_pipe.name, split_pipe.resolution_fingerprint(), fp)}
        # and back: with no context split one Georgia again
        assert resolve_store(kg, load_pipeline(merge)) >= 1
        assert len({_entity_in(kg, d, "Georgia") for d in GEORGIA_DOCS}) == 1


def test_topics_split_and_a_changed_document_keeps_its_entity(tmp_path: Path) -> None:
    docs = {
        "a_state.txt": "Georgia is a U.S. state. Atlanta is its capital and largest city.",
        "b_country.txt": "Georgia is a nation in the Caucasus. Tbilisi is its capital.",
        "c_peach.txt": "The peach orchards of Georgia supply Atlanta.",
    }
    corpus = _corpus(tmp_path / "c", docs)  # read in name order: the state comes first
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        extract(corpus, kg, "default")  # split_topics: true in the default pipeline
        state, country = (
            _entity_in(kg, "a_state.txt", "Georgia"),
            _entity_in(kg, "b_country.txt", "Georgia"),
        )
        assert state != country
        assert _entity_in(kg, "c_peach.txt", "Georgia") == state  # Atlanta: the closer context
        (corpus / "a_state.txt").write_text(
            docs["a_state.txt"] + " It grows peaches.", encoding="utf-8"
        )
        assert extract(corpus, kg, "default").changed == 1
        # its own earlier version is not another document's topic: the entity stays
        assert _entity_in(kg, "a_state.txt", "Georgia") == state
        assert _entity_in(kg, "b_country.txt", "Georgia") == country


def test_cli_extract_link_to_and_resolve(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kgforge.cli import app

    reference = tmp_path / "ref.ttl"
    reference.write_text(REFERENCE, encoding="utf-8")
    corpus = _corpus(tmp_path / "c", LINK_DOCS)
    store = str(tmp_path / "store")
    runner = CliRunner()
    result = runner.invoke(
        app, ["extract", str(corpus), "--store", store, "--link-to", str(reference)]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["resolve", store, "--pipeline", "default"])
    assert result.exit_code == 0, result.output
    assert "document graphs rewritten" in result.output
    with KnowledgeGraph.open(store) as kg:  # resolved again without the reference: no links
        assert not list(kg.query('ASK { GRAPH ?g { ?d kgf:rule "link" } }'))[0]
    fresh = tmp_path / "fresh"
    missing = runner.invoke(app, ["extract", str(corpus), "--store", str(fresh), "--link-to", "no"])
    assert missing.exit_code == 1 and "--link-to no" in str(missing.exception)
    assert not fresh.exists()  # a typo creates no store


def test_context_vectors_split_a_name_by_its_contexts() -> None:
    from kgforge.extract.context import ContextVectors

    def entity(text: str) -> dict:
        return {"label": "King Lear", "types": {"Work": 1}, "contexts": [text]}

    play = entity("King Lear is a tragedy written by William Shakespeare.")
    film = entity("King Lear is a 1987 film directed by Jean-Luc Godard.")
    again = entity("Shakespeare wrote King Lear in 1606; it was first performed at court.")
    resolver = EntityResolver(split_below=0.2, context=ContextVectors(), context_weight=0.5)
    docs = zip("abc", (play, film, again), strict=True)
    a, b, c = (resolver.resolve_document(d, [e])[0] for d, e in docs)
    assert b.rule == "split" and b.iri != a.iri and b.score < 0.2  # the score is recorded
    assert c.iri == a.iri and c.score >= 0.2  # the same play in a like context joins it


def test_a_context_vector_is_the_mean_of_its_sentences_pieces_less_the_name() -> None:
    """The cached per-sentence sums give what summing the pieces of each mention gives: the
    normalised mean of the content pieces of its sentences, the name's pieces left out (also
    when a sentence repeats, and None when only the name is left)."""
    import numpy as np

    from kgforge.extract.context import ContextVectors

    cv = ContextVectors()
    one = "King Lear is a tragedy written by William Shakespeare."
    two = "Lear divides his kingdom between two of his daughters."
    for contexts in ([one], [one, two], [two, one, one]):
        got = cv.vector(contexts, ["King Lear"])
        own = set(cv._ids("King Lear").tolist())
        ids = [i for s in contexts for i in cv._ids(s).tolist() if i not in own]
        want = cv.matrix[ids].sum(axis=0)
        np.testing.assert_allclose(got, want / np.linalg.norm(want), atol=1e-5)
    assert cv.vector(["King Lear."], ["King Lear"]) is None
    assert cv.vector([], ["King Lear"]) is None


def test_entity_record_stays_small_and_keeps_the_description() -> None:
    """An entity record keeps the description's sentences only (the first ten by document
    graph, then sentence), not every context of every mention: the same lines as merging all
    the rows, in any order of the rows, at a bounded size."""
    import random

    from kgforge.extract.rdf import MAX_DESCRIPTION_SENTENCES, EntityRecord
    from kgforge.graph.namespaces import ENT, ENTITIES_GRAPH

    rows = [
        (f"urn:doc:{d:03d}", {"label": "Paris", "type": "Place", "types": {"Place": 1},
                              "aliases": [], "contexts": [f"Sentence {(d * 7) % 40}.", "Same."]})
        for d in range(200)
    ]  # fmt: skip
    entity = ENT["paris"]
    expected = [s for _, s in sorted((g, c) for g, b in rows for c in b["contexts"])]
    description = " ".join(list(dict.fromkeys(expected))[:MAX_DESCRIPTION_SENTENCES])
    for seed in range(3):
        random.Random(seed).shuffle(rows)
        record = EntityRecord()
        for graph, blob in rows:
            record.add(graph, blob)
            assert len(record.contexts) <= 2 * MAX_DESCRIPTION_SENTENCES
        (line,) = [x for x in record.lines(entity, ENTITIES_GRAPH) if "description" in x]
        assert f'"{description}"' in line


def test_a_name_is_compared_with_its_latest_senses_only() -> None:
    """``max_senses``: a name with many senses (topics of many documents) is compared with its
    latest ones, so the work per mention stays bounded; a reference entity is always compared."""
    topics = [f"Columbia is a {kind} of note." for kind in ("river", "city", "film", "ship")]

    def run(max_senses):
        resolver = EntityResolver(split_topics=True, max_senses=max_senses)
        compared: list[int] = []
        sim = resolver._sim
        resolver._sim = lambda bag, iri: compared.append(1) or sim(bag, iri)  # type: ignore[method-assign]
        iris = [
            resolver.resolve_document(
                str(i),
                [{"label": "Columbia", "types": {"Place": 1}, "topic": True, "contexts": [t]}],
            )[0].iri
            for i, t in enumerate(topics)
        ]
        compared.clear()
        river = {"label": "Columbia", "types": {"Place": 1},
                 "contexts": ["The Columbia is a river of note."]}  # fmt: skip
        return iris, resolver.resolve_document("m", [river])[0].iri, len(compared)

    iris, joined, n = run(None)
    assert len(set(iris)) == 4 and joined == iris[0] and n == 4  # the river, compared with all
    iris, joined, n = run(2)
    assert joined in iris[2:] and n == 2  # only the two latest senses are candidates
    resolver = EntityResolver(max_senses=1)
    ref = URIRef("http://example.org/ref/Columbia_River")
    resolver.known(ref, ["Columbia"], {"Place": 1}, Counter({"river": 1}), reference=True)
    for i in range(3):
        resolver._register(URIRef(f"urn:e{i}"), ["Columbia"], {"Place": 1}, Counter())
    assert resolver._latest(resolver._by_key, "columbia") == [ref, URIRef("urn:e2")]
