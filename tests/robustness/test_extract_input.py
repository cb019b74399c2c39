"""Extraction runs over bad input (issue 12): every case checks the exit code, a one-line
located error, no traceback, and what the store holds before and after."""

from __future__ import annotations

import gzip
import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib.namespace import RDFS

from kgforge.extract.pipeline import load_pipeline
from kgforge.extract.run import extract
from kgforge.graph.namespaces import ENTITIES_GRAPH
from kgforge.graph.store import KnowledgeGraph

ENV = {**os.environ, "KGFORGE_PROGRESS": "0"}


def kgforge(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kgforge", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )


def one_line_error(proc: subprocess.CompletedProcess, *parts: str) -> str:
    """The run failed with exit 1 and one ``error:`` line containing ``parts``."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def store_quads(store: Path) -> set[str]:
    if not store.exists():
        return set()
    with KnowledgeGraph.open(store, read_only=True) as kg:
        return {" ".join(map(str, q)) for q in kg.quads()}


def doc_ids(store: Path) -> list[str]:
    with KnowledgeGraph.open(store, read_only=True) as kg:
        rows = kg.query("SELECT ?id WHERE { GRAPH ?g { ?g kgf:docId ?id } }")
        return sorted(str(r[0]) for r in rows)


def labels(store: Path) -> set[str]:
    with KnowledgeGraph.open(store, read_only=True) as kg:
        return {str(o) for _, _, o in kg.triples((None, RDFS.label, None), ENTITIES_GRAPH)}


def _incompressible_jsonl(n: int) -> bytes:
    rng = random.Random(0)
    lines = []
    for i in range(n):
        noise = " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(12))
        lines.append(
            json.dumps({"id": f"d{i:03d}", "text": f"Marie Curie met Pierre {i}. {noise}"})
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_truncated_gzip_after_committed_batches_is_a_located_error(tmp_path: Path) -> None:
    data = gzip.compress(_incompressible_jsonl(600))
    corpus = tmp_path / "news.jsonl.gz"
    corpus.write_bytes(data[: len(data) * 3 // 4])
    store = tmp_path / "store"
    line = one_line_error(
        kgforge("extract", corpus, "--store", store, "--batch-size", "64"),
        f"{corpus}:",
        "corrupt or truncated gzip file",
    )
    bad_line = int(line.split(f"{corpus}:", 1)[1].split(":", 1)[0])
    assert bad_line > 300
    committed = doc_ids(store)  # whole batches before the error stay
    assert len(committed) >= 128 and committed == [f"d{i:03d}" for i in range(len(committed))]
    # skipping the broken rest finishes the readable part; the error is counted
    summary = extract(corpus, store, on_error="skip")
    assert (summary.unchanged, summary.skipped) == (len(committed), 1)
    assert summary.errors[0].startswith(f"{corpus}:{bad_line}: corrupt or truncated gzip")
    assert doc_ids(store) == [f"d{i:03d}" for i in range(bad_line - 1)]


def test_bad_documents_are_skipped_and_counted(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt.gz").write_bytes(b"this is not gzip")
    (corpus / "b.txt").write_text("Marie Curie was born in Warsaw.", encoding="utf-8")
    (corpus / "c.jsonl").write_text(
        json.dumps({"id": "ok", "text": "Chopin moved to Paris."})
        + "\n"
        + json.dumps({"id": "bad", "text": "A lone \ud800 surrogate."})
        + "\n",
        encoding="utf-8",
    )
    (corpus / "d.txt").write_text("\u200b\u200c\u200b\n", encoding="utf-8")
    store = tmp_path / "store"
    one_line_error(kgforge("extract", corpus, "--store", store), f"{corpus / 'a.txt.gz'}: corrupt")
    assert store_quads(store) == set() or doc_ids(store) == []
    summary = extract(corpus, store, on_error="skip")
    assert (summary.new, summary.skipped) == (2, 3)
    assert (
        summary.errors[1]
        == f"{corpus / 'c.jsonl'}:2 (field 'text'): lone surrogate U+D800 in the text at character 7"
    )
    assert summary.errors[2] == f"{corpus / 'd.txt'}:1: empty document"
    assert doc_ids(store) == ["b.txt", "ok"]


def test_long_text_goes_through_in_pieces_with_document_offsets() -> None:
    pipe = load_pipeline("default")
    paragraph = (
        "Marie Curie, a Polish physicist, was born in Warsaw. Chopin moved to Paris. "
        "Apple was founded by Steve Jobs in 1976."
    )
    text = "\n\n".join(f"{paragraph} Part {i} ends here." for i in range(60))
    pipe.nlp.max_length = 2000  # spaCy refuses longer texts (E088), as at its 1,000,000 default
    (doc,) = pipe.process([text])
    assert doc.text == text
    assert len(doc.sentences) == 4 * 60
    assert all(0 <= a < b <= len(text) for a, b in doc.sentences)
    for m in doc.mentions:
        assert text[m.start : m.end] == m.text
    born = [
        st
        for st in doc.statements
        if st.predicate == "born_in"
        and (st.subject.text, st.object.text) == ("Marie Curie", "Warsaw")
    ]
    assert len(born) == 60 and born[-1].subject.start > 2000 * 3
    for st in doc.statements:
        a, b = st.sentence
        assert text[st.subject.start : st.subject.end] == st.subject.text
        assert text[st.object.start : st.object.end] == st.object.text
        assert a <= st.subject.start < st.subject.end <= b
    assert len(doc.canonical) == len(doc.mentions)
    assert all(
        doc.mentions[c].label == m.label for m, c in zip(doc.mentions, doc.canonical, strict=True)
    )


def test_byte_order_mark_and_control_characters_in_extraction(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("\ufeffMarie Curie was born in Warsaw.", encoding="utf-8")
    (corpus / "b.txt").write_text("Chopin moved to Paris\x00. He lived in Paris.", encoding="utf-8")
    store = tmp_path / "store"
    summary = extract(corpus, store, "default")
    assert summary.new == 2
    found = labels(store)
    assert {"Marie Curie", "Paris"} <= found
    assert not any("\x00" in label or "\ufeff" in label for label in found)


def test_same_document_id_from_another_corpus_is_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir(), b.mkdir()
    (a / "a.txt").write_text("Marie Curie was born in Warsaw.", encoding="utf-8")
    (b / "a.txt").write_text("Chopin moved to Paris.", encoding="utf-8")
    (a / "r.jsonl").write_text(json.dumps({"text": "Apple was founded by Steve Jobs."}) + "\n")
    (b / "r.jsonl").write_text(json.dumps({"text": "Microsoft acquired LinkedIn."}) + "\n")
    store = tmp_path / "store"
    extract(a, store)
    before = store_quads(store)
    one_line_error(
        kgforge("extract", b, "--store", store),
        f"{b / 'a.txt'}: document id 'a.txt' is already in the store from another corpus",
        str(a.resolve()),
        "--id-prefix",
    )
    assert store_quads(store) == before
    summary = extract(b, store, on_error="skip")
    assert (summary.documents, summary.skipped) == (0, 2)
    assert summary.errors[1].startswith(f"{b / 'r.jsonl'}:1: document id 'r.jsonl:1' is already")
    assert store_quads(store) == before
    # a prefix keeps both corpora; re-running either stays incremental
    assert extract(b, store, id_prefix="B/").new == 2
    assert doc_ids(store) == ["B/a.txt", "B/r.jsonl:1", "a.txt", "r.jsonl:1"]
    again = extract(a, store, prune=True)
    assert (again.unchanged, again.dropped, again.skipped) == (2, 0, 0)
    assert {"Marie Curie", "Chopin", "Steve Jobs"} <= labels(store)


@pytest.mark.parametrize("bad", ["corpus", "pipeline"])
def test_bad_corpus_or_pipeline_creates_no_store(tmp_path: Path, bad: str) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Chopin moved to Paris.", encoding="utf-8")
    store = tmp_path / "store"
    if bad == "corpus":
        proc = kgforge("extract", tmp_path / "missing", "--store", store)
        one_line_error(proc, str(tmp_path / "missing"), "does not exist")
    else:
        proc = kgforge("extract", corpus, "--store", store, "--pipeline", "nosuch")
        one_line_error(proc, "unknown pipeline 'nosuch'")
    assert not store.exists()
