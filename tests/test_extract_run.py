"""Extraction runs into a store: provenance, resolution, incremental runs, resume, bad corpora."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from killed_run import commit_reporting_script
from rdflib import Literal
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS
from typer.testing import CliRunner

import kgforge
from kgforge.cli import app
from kgforge.extract.export import export_jsonl
from kgforge.extract.pipeline import ExtractionPipeline, load_pipeline
from kgforge.extract.run import STATE_GRAPH, extract
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF, document_iri, relation_iri, type_iri
from kgforge.graph.store import KnowledgeGraph

ROOT = Path(__file__).resolve().parents[1]

DOCS = {
    "curie.txt": "Marie Curie, a Polish physicist, was born in Warsaw. Curie moved to Paris in 1891.",
    "warsaw.txt": "Warsaw is the capital of Poland. Marie Curie was born in Warsaw.",
    "apple.txt": "Apple was founded by Steve Jobs in 1976. Jobs later led Pixar.",
}


@pytest.fixture(scope="module")
def pipeline() -> ExtractionPipeline:
    return load_pipeline("default")


def _corpus(root: Path, docs: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _label_iri(kg: KnowledgeGraph, label: str):
    rows = list(kg.query("SELECT ?e WHERE { GRAPH ?g { ?e rdfs:label ?l } }", l=Literal(label)))
    assert len(rows) == 1, (label, rows)
    return rows[0][0]


def test_provenance_queries_and_entity_records(
    tmp_path: Path, pipeline: ExtractionPipeline
) -> None:
    corpus = _corpus(tmp_path / "c", DOCS)
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        summary = extract(corpus, kg, pipeline)
        assert (summary.documents, summary.new, summary.skipped) == (3, 3, 0)
        curie = _label_iri(kg, "Marie Curie")
        warsaw = _label_iri(kg, "Warsaw")
        # which documents support a triple
        rows = kg.query(
            """SELECT DISTINCT ?id WHERE { ?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
                   prov:wasDerivedFrom ?d . ?d kgf:docId ?id } ORDER BY ?id""",
            s=curie,
            p=relation_iri("born_in"),
            o=warsaw,
        )
        assert [str(r[0]) for r in rows] == ["curie.txt", "warsaw.txt"]
        # everything extracted from one document: its named graph
        rows = kg.query(
            "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o FILTER(STRSTARTS(STR(?p), STR(rel:))) } }",
            g=document_iri("apple.txt"),
        )
        apple_facts = {(str(s), str(p), str(o)) for s, p, o in rows}
        jobs, apple = _label_iri(kg, "Steve Jobs"), _label_iri(kg, "Apple")
        assert (str(jobs), str(relation_iri("found")), str(apple)) in apple_facts
        assert (str(jobs), str(relation_iri("lead")), str(_label_iri(kg, "Pixar"))) in apple_facts
        # statement provenance: sentence, offsets, confidence
        row = next(
            iter(
                kg.query(
                    """SELECT ?sent ?ss ?a ?b ?c WHERE { GRAPH ?g { ?st rdf:subject ?s ;
                    rdf:predicate ?p ; kgf:sentence ?sent ; kgf:sentenceStart ?ss ;
                    kgf:objectStart ?a ; kgf:objectEnd ?b ; kgf:confidence ?c } }""",
                    g=document_iri("curie.txt"),
                    s=curie,
                    p=relation_iri("move_to"),
                )
            )
        )
        text = DOCS["curie.txt"]
        assert text[int(row.a) : int(row.b)] == "Paris"
        assert text[int(row.ss) :].startswith(str(row.sent)) and 0 < float(row.c) <= 1
        # resolution: one entity across documents, with aliases, type and description
        records = kg.graph(ENTITIES_GRAPH)
        assert (curie, RDF.type, type_iri("Person")) in records
        # "X, a physicist" is kgf:isA, not rdf:type: the entity keeps one (voted) type
        assert list(kg.triples((curie, KGF.isA, type_iri("physicist"))))
        assert not list(kg.triples((curie, RDF.type, type_iri("physicist"))))
        assert (curie, SKOS.altLabel, Literal("Curie")) in records
        description = str(records.value(curie, DCTERMS.description))
        assert (
            "Polish physicist" in description and "Marie Curie was born in Warsaw." in description
        )
        assert str(records.value(jobs, RDFS.label)) == "Steve Jobs"
        assert (jobs, SKOS.altLabel, Literal("Jobs")) in records
        assert not list(kg.triples((None, None, None), graph=STATE_GRAPH))


def test_incremental_runs_and_prune(tmp_path: Path, pipeline: ExtractionPipeline) -> None:
    corpus = _corpus(tmp_path / "c", DOCS)
    store = tmp_path / "store"
    first = extract(corpus, store, pipeline)
    assert first.new == 3
    again = extract(corpus, store, pipeline)
    assert (again.extracted, again.unchanged) == (0, 3)

    (corpus / "apple.txt").write_text("Microsoft acquired GitHub in 2018.", encoding="utf-8")
    (corpus / "warsaw.txt").unlink()
    changed = extract(corpus, store, pipeline, prune=True)
    assert (changed.changed, changed.unchanged, changed.dropped) == (1, 1, 1)
    with KnowledgeGraph.open(store) as kg:
        assert document_iri("warsaw.txt") not in kg.graphs()
        labels = {str(o) for _, _, o in kg.triples((None, RDFS.label, None), graph=ENTITIES_GRAPH)}
        # entities only the old/dropped documents mentioned are gone, new ones are there
        assert {"Microsoft", "GitHub", "Marie Curie"} <= labels
        assert not labels & {"Steve Jobs", "Pixar", "Poland"}
        curie = _label_iri(kg, "Marie Curie")
        description = str(kg.graph(ENTITIES_GRAPH).value(curie, DCTERMS.description))
        assert "Marie Curie was born in Warsaw." not in description
        docs = {str(o) for _, _, o in kg.triples((None, KGF.docId, None))}
        assert docs == {"curie.txt", "apple.txt"}


def test_export_jsonl_offsets(tmp_path: Path, pipeline: ExtractionPipeline) -> None:
    corpus = _corpus(tmp_path / "c", DOCS)
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        # the top-level API, after kgforge.extract's submodules are imported (they are here)
        summary = kgforge.extract_corpus(corpus, kg, pipeline=pipeline)
        out = tmp_path / "out.jsonl"
        assert export_jsonl(kg, out) == summary.statements
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for rec in records:
        text = DOCS[rec["doc_id"]]
        for side in ("subject", "object"):
            m = rec[side]
            assert text[m["start"] : m["end"]] == m["label"]
        assert rec["sentence"] in text
    found = {(r["subject"]["label"], r["predicate"], r["object"]["label"]) for r in records}
    assert ("Steve Jobs", "found", "Apple") in found
    typed = [r for r in records if r["predicate"] == "is_a"]
    assert typed and typed[0]["object"] == {**typed[0]["object"], "type": "Class"}
    assert {r["subject"]["type"] for r in records} <= {"Person", "Place", "Organization"}


def test_workers_give_the_same_graph(tmp_path: Path, pipeline: ExtractionPipeline) -> None:
    corpus = _corpus(tmp_path / "c", DOCS)
    quads = []
    for workers in (1, 2):
        with KnowledgeGraph.open(tmp_path / f"s{workers}") as kg:
            extract(corpus, kg, pipeline, workers=workers, batch_size=1)
            quads.append(set(kg.quads()))
    assert quads[0] == quads[1]


SPAWNED = """
import multiprocessing, sys
if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)  # macOS and Windows start workers so
    from kgforge.extract.run import extract
    extract(sys.argv[1], sys.argv[2], workers=2, batch_size=1)
"""


@pytest.mark.slow
def test_spawned_workers_give_the_same_graph(tmp_path: Path) -> None:
    """Workers started with ``spawn`` (not fork) get the pipeline by pickling; same graph."""
    corpus = _corpus(tmp_path / "c", DOCS)
    script = tmp_path / "spawned.py"
    script.write_text(SPAWNED, encoding="utf-8")
    subprocess.run([sys.executable, script, corpus, tmp_path / "spawned"], check=True)
    extract(corpus, tmp_path / "single", workers=1)
    with (
        KnowledgeGraph.open(tmp_path / "spawned", read_only=True) as spawned,
        KnowledgeGraph.open(tmp_path / "single", read_only=True) as single,
    ):
        assert set(spawned.quads()) == set(single.quads())
        assert len(single) > 50


def test_cli_extract_and_bad_corpora(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b'{"id": "a", "text": "Microsoft acquired GitHub."}\n{"id": "b", "text": \n'
        b'{"id": "c", "body": "x"}\n{"id": "d", "text": "caf\xe9"}\n'
    )
    runner = CliRunner()
    store = str(tmp_path / "store")
    result = runner.invoke(app, ["extract", str(bad), "--store", store, "-q"])
    assert result.exit_code != 0
    assert f"{bad}:2" in str(result.exception)
    result = runner.invoke(app, ["extract", str(bad), "--store", store, "-q", "--on-error", "skip"])
    assert result.exit_code == 0, result.output
    assert "1 extracted" in result.output and "3 skipped" in result.output
    assert f"{bad}:3 (field 'text')" in result.output and f"{bad}:4" in result.output
    # the one good record's statement comes back through `kgforge export --format jsonl`
    result = runner.invoke(app, ["export", store, "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["subject"]["label"], r["predicate"], r["object"]["label"]) for r in records] == [
        ("Microsoft", "acquire", "GitHub")
    ]
    assert records[0]["doc_id"] == "a" and records[0]["object"]["start"] == 19


RESUME_SCRIPT = commit_reporting_script(
    'run.extract(sys.argv[1], sys.argv[2], "default", batch_size=2)'
)


def test_resume_after_kill(tmp_path: Path) -> None:
    sentences = [
        "Marie Curie, a Polish physicist, was born in Warsaw.",
        "Apple was founded by Steve Jobs in 1976.",
        "Microsoft acquired GitHub in 2018.",
        "Paris is the capital of France.",
        "Ada Lovelace worked with Charles Babbage in London.",
    ]
    docs = {f"d{i:02d}.txt": " ".join(sentences[(i + k) % 5] for k in range(3)) for i in range(40)}
    corpus = _corpus(tmp_path / "c", docs)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-c", RESUME_SCRIPT, str(corpus), str(killed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    commits = 0
    for line in proc.stdout:
        if line.startswith("committed"):
            commits += 1
            if commits == 3:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with KnowledgeGraph.open(killed) as kg:
        partial = {str(o) for _, _, o in kg.triples((None, KGF.docId, None))}
    assert 6 <= len(partial) < 40
    resumed = extract(corpus, killed, "default")
    assert resumed.unchanged == len(partial) and resumed.new == 40 - len(partial)
    extract(corpus, clean, "default")
    with KnowledgeGraph.open(killed) as a, KnowledgeGraph.open(clean) as b:
        qa, qb = list(a.quads()), list(b.quads())
    assert len(qa) == len(set(qa))
    assert set(qa) == set(qb)


def test_embedding_merge(tmp_path: Path) -> None:
    cfg = tmp_path / "merge.yaml"
    cfg.write_text(
        "type_mapping: {PERSON: Person, ORG: Organization}\ndrop_unmapped: true\n"
        "relations: [{kind: patterns}]\nresolution: {embedding: {threshold: 0.8}}\n"
    )
    docs = {
        "a.txt": "Steve Jobs founded Apple in 1976.",
        "b.txt": "Steven Jobs founded NeXT in 1985.",
        "c.txt": "Bill Gates founded Microsoft in 1975.",
    }
    corpus = _corpus(tmp_path / "c", docs)
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        extract(corpus, kg, load_pipeline(cfg))
        rows = kg.query(
            "SELECT DISTINCT ?e WHERE { GRAPH ?g { ?e rdfs:label|skos:altLabel ?l } }",
            l=Literal("Steve Jobs"),
        )
        [jobs] = [r[0] for r in rows]
        founded = {
            str(kg.graph(ENTITIES_GRAPH).value(o, RDFS.label))
            for _, _, o in kg.triples((jobs, relation_iri("found"), None))
        }
        assert founded == {"Apple", "NeXT"}
        names = {str(o) for _, p, o in kg.triples((jobs, None, None), graph=ENTITIES_GRAPH)}
        assert {"Steve Jobs", "Steven Jobs"} <= names
        assert str(_label_iri(kg, "Bill Gates")) != str(jobs)


def test_store_flushed_during_a_run_gives_the_same_graph(
    tmp_path: Path, pipeline: ExtractionPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run flushes the store's write buffers every ``_FLUSH_BYTES`` written (what keeps its
    memory flat on a long corpus); the graph is the one a run without flushes writes."""
    from kgforge.extract import run

    corpus = _corpus(tmp_path / "c", DOCS)
    with KnowledgeGraph.open(tmp_path / "plain") as kg:
        extract(corpus, kg, pipeline, batch_size=1)
        plain = set(kg.quads())
    flushes = []
    flush = KnowledgeGraph.flush
    monkeypatch.setattr(run, "_FLUSH_BYTES", 1)
    monkeypatch.setattr(KnowledgeGraph, "flush", lambda kg: flushes.append(1) or flush(kg))
    with KnowledgeGraph.open(tmp_path / "flushed") as kg:
        extract(corpus, kg, pipeline, batch_size=1)
        assert set(kg.quads()) == plain
    assert len(flushes) >= len(DOCS)  # after every document batch, and after the records


MORE_DOCS = {
    "usa.txt": "The United States of America declared war in 1917. Woodrow Wilson led the USA.",
    "us.txt": "The USA entered the war. Marie Curie visited the United States in 1921.",
    "pixar.txt": "Pixar was bought by Disney. Steve Jobs sold Pixar to Disney in 2006.",
    "paris.txt": "Paris is the capital of France. Pierre Curie was born in Paris.",
}


def test_entities_on_disk_give_the_same_graph(
    tmp_path: Path, pipeline: ExtractionPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one entity in memory the resolver's senses, name indexes and a fresh store's
    records wait on disk (what bounds memory on a large corpus); the graph, of a fresh run and
    of a second run into the same store, is the one an all-in-memory run writes."""
    from kgforge.extract import run

    first = _corpus(tmp_path / "c1", DOCS)
    second = _corpus(tmp_path / "c2", MORE_DOCS)
    graphs = []
    spilled: list[tuple[int, int]] = []
    rebuild = run.ExtractionRun.rebuild_entities

    def counting(self, records=None):
        spilled.append((self.resolver.senses.on_disk, getattr(records, "on_disk", 0)))
        return rebuild(self, records)

    monkeypatch.setattr(run.ExtractionRun, "rebuild_entities", counting)
    for name, limit in (("all", None), ("one", 1)):
        with KnowledgeGraph.open(tmp_path / name) as kg:
            extract(first, kg, pipeline, batch_size=1, entities_in_memory=limit)
            extract(second, kg, pipeline, batch_size=1, entities_in_memory=limit)
            graphs.append(set(kg.quads()))
    assert graphs[0] == graphs[1]
    assert spilled[:2] == [(0, 0), (0, 0)]
    senses, records = spilled[2]
    assert senses > 3 and records > 3  # the fresh run: senses and records on disk
    assert spilled[3][0] > 3  # the second run: the stored entities registered, on disk
    with KnowledgeGraph.open(tmp_path / "one") as kg:  # merges across documents still happen
        _label_iri(kg, "Marie Curie")  # one entity: in curie.txt, warsaw.txt and us.txt
        usa = {
            str(r[0])
            for r in kg.query(
                "SELECT DISTINCT ?e WHERE { GRAPH ?g { ?e rdfs:label ?l } FILTER(?l IN ('USA', 'United States of America', 'United States')) }"
            )
        }
        assert len(usa) == 1, usa
