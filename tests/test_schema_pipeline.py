"""A tiny trained schema pipeline: conforming triples with provenance in a store, the
evaluate-extraction --schema command, and the generative backend against a loopback fake."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from rdflib.namespace import RDF

from kgforge.extract.pipeline import load_pipeline
from kgforge.extract.schema.evaluate import evaluate_schema, schema_pipeline
from kgforge.graph.namespaces import KGF, relation_iri
from kgforge.graph.store import KnowledgeGraph

ONTOLOGY = {
    "id": "tiny_film",
    "title": "Tiny film ontology",
    "concepts": [{"qid": "Q11424", "label": "film"}, {"qid": "Q5", "label": "human"}],
    "relations": [
        {"pid": "P57", "label": "director", "domain": "Q11424", "range": "Q5"},
        {"pid": "P577", "label": "publication date", "domain": "Q11424", "range": ""},
    ],
}
FILMS = ["Blue Harbor", "Silent Creek", "The Glass Road", "Iron Meadow", "Paper Moons",
         "Northern Lights", "Velvet Storm", "Crimson Tide Rising", "Old Bridges", "Winter Garden",
         "Lost Orchard", "Hollow Point", "Golden Hour", "Broken Compass", "Distant Shores",
         "City of Ashes", "Stone Harvest", "Garden of Stone", "Falling Stars", "Song of Rivers"]  # fmt: skip
PEOPLE = ["Anna Kowalski", "Pedro Alvarez", "Mei Tanaka", "John Carter", "Ingrid Berg",
          "Omar Haddad", "Lucy Moreau", "Ravi Menon", "Sofia Rossi", "Daniel Weber"]  # fmt: skip
TEMPLATES = [
    ("{f} is a {y} drama film directed by {p}.", True),
    ("{f} is a film directed by {p}.", False),
    ("{f} was directed by {p} and released in {y}.", True),
]


def _examples(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        f, p, y = FILMS[i % len(FILMS)], rng.choice(PEOPLE), rng.randint(1950, 2015)
        template, dated = TEMPLATES[i % len(TEMPLATES)]
        triples = [{"sub": f, "rel": "director", "obj": p}]
        if dated:
            triples.append({"sub": f, "rel": "publication date", "obj": f"01 January {y}"})
        rows.append({"id": f"ex{i}", "sent": template.format(f=f, p=p, y=y), "triples": triples})
    return rows


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("schema")
    onto = root / "ontology.json"
    onto.write_text(json.dumps(ONTOLOGY))
    train = root / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in _examples(40, 0)))
    gold = root / "gold.jsonl"
    test = [
        {"id": "t1", "sent": "Sea of Glass is a 1988 drama film directed by Maria Lopez.",
         "triples": [{"sub": "Sea of Glass", "rel": "director", "obj": "Maria Lopez"},
                     {"sub": "Sea of Glass", "rel": "publication date", "obj": "01 January 1988"}]},
        {"id": "t2", "sent": "Night Train was directed by Karl Jensen and released in 1971.",
         "triples": [{"sub": "Night Train", "rel": "director", "obj": "Karl Jensen"},
                     {"sub": "Night Train", "rel": "publication date", "obj": "01 January 1971"}]},
    ]  # fmt: skip
    gold.write_text("".join(json.dumps(r) + "\n" for r in test))
    yaml = root / "tiny.yaml"
    yaml.write_text(
        "name: tiny_schema\nspacy: {sentences: record}\ndrop_unmapped: true\n"
        "relations:\n  - kind: schema\n    ontology: ontology.json\n    examples: train.jsonl\n"
    )
    return {"ontology": onto, "train": train, "gold": gold, "yaml": yaml, "root": root}


@pytest.mark.usefixtures("one_thread_and_private_cache")
def test_trained_pipeline_writes_conforming_triples_with_provenance(files) -> None:
    from kgforge.extract.run import extract

    corpus = files["root"] / "corpus"
    corpus.mkdir()
    text = "Sea of Glass is a 1988 drama film directed by Maria Lopez."
    (corpus / "sea.txt").write_text(text)
    pipe = load_pipeline(files["yaml"])
    with KnowledgeGraph.open(files["root"] / "store") as kg:
        extract(corpus, kg, pipe)
        rows = list(
            kg.query(
                """SELECT ?sl ?p ?ol ?a ?b ?c ?x WHERE { ?st a kgf:Statement ; rdf:subject ?s ;
                rdf:predicate ?p ; rdf:object ?o ; kgf:objectStart ?a ; kgf:objectEnd ?b ;
                kgf:confidence ?c ; kgf:extractor ?x .
                ?s rdfs:label ?sl . ?o rdfs:label ?ol }"""
            )
        )
        allowed = {str(relation_iri(n)) for n in ("director", "publication_date")}
        assert rows and all(str(r.p) in allowed for r in rows)  # only the ontology's relations
        found = {(str(r.sl), str(r.p), str(r.ol)) for r in rows}
        assert ("Sea of Glass", str(relation_iri("director")), "Maria Lopez") in found
        director = next(r for r in rows if str(r.ol) == "Maria Lopez")
        assert text[int(director.a) : int(director.b)] == "Maria Lopez"
        assert str(director.x) == "schema" and 0 < float(director.c) <= 1
        # the date is written in the examples' form, with its evidence span "1988"
        date = [r for r in rows if str(r.p) == str(relation_iri("publication_date"))]
        assert date and str(date[0].ol) == "01 January 1988"
        assert text[int(date[0].a) : int(date[0].b)] == "1988"
        assert list(kg.triples((None, RDF.type, KGF.Statement)))


@pytest.mark.usefixtures("one_thread_and_private_cache")
def test_evaluate_schema_on_gold(files) -> None:
    pipe = schema_pipeline(files["ontology"], files["train"])
    result = evaluate_schema(files["gold"], files["ontology"], pipe)
    s = result["scores"]
    assert s["sentences"] == 2 and s["onto_conf"] == 1.0
    assert s["f1"] >= 0.5  # the director triples at least
    assert all(t[1] in ("director", "publication_date") for ts in result["predictions"].values()
               for t in ts)  # fmt: skip


@pytest.mark.usefixtures("one_thread_and_private_cache")
def test_cli_evaluate_extraction_schema(files, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kgforge.cli import app

    out = tmp_path / "scores.json"
    result = CliRunner().invoke(
        app,
        ["evaluate-extraction", str(files["gold"]), "--schema", str(files["ontology"]),
         "--examples", str(files["train"]), "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "F1" in result.output and "OC" in result.output
    scores = json.loads(out.read_text())["scores"]
    assert scores["onto_conf"] == 1.0 and 0 <= scores["f1"] <= 1


class _FakeChat(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeChat.seen.append({"auth": self.headers.get("Authorization"), "body": body})
        answer = "director(Sea of Glass, Maria Lopez)\nwrote(Sea of Glass, Maria Lopez)\nnoise"
        data = json.dumps({"choices": [{"message": {"content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def test_generative_backend_plumbing(files, monkeypatch, caplog) -> None:
    server = HTTPServer(("127.0.0.1", 0), _FakeChat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("FAKE_KEY", "sk-secret-123")
    try:
        pipe = schema_pipeline(
            files["ontology"],
            files["train"],
            generative={"url": f"http://127.0.0.1:{server.server_port}/v1", "model": "fake",
                        "api_key_env": "FAKE_KEY"},
        )  # fmt: skip
        with caplog.at_level("DEBUG"):
            docs = list(
                pipe.process(["Sea of Glass is a 1988 drama film directed by Maria Lopez."])
            )
    finally:
        server.shutdown()
    triples = [(s.subject.text, s.predicate, s.object.text) for s in docs[0].statements]
    assert triples == [("Sea of Glass", "director", "Maria Lopez")]  # "wrote" is not in it
    request = _FakeChat.seen[-1]
    assert request["auth"] == "Bearer sk-secret-123"
    prompt = request["body"]["messages"][0]["content"]
    assert "director(film,human)" in prompt and "Example sentence:" in prompt
    assert "sk-secret-123" not in caplog.text


def test_schema_entry_is_validated_with_its_field(tmp_path: Path) -> None:
    from kgforge.errors import ConfigError

    cfg = tmp_path / "bad.yaml"
    cfg.write_text("relations:\n  - kind: schema\n    examples: x.jsonl\n")
    with pytest.raises(ConfigError, match="relations.0.ontology"):
        load_pipeline(cfg)
    cfg.write_text("relations:\n  - kind: schema\n    ontology: o.ttl\n    objective: recall\n")
    with pytest.raises(ConfigError, match="relations.0.objective"):
        load_pipeline(cfg)


@pytest.mark.usefixtures("one_thread_and_private_cache")
def test_pair_model_votes_for_the_relation_of_its_best_argument(files) -> None:
    pipe = schema_pipeline(files["ontology"], files["train"])
    pipe._load_trained()
    model = pipe._schema[0].backend
    assert "director" in model.pair_w  # trained on every example's candidates
    docs = [pipe.nlp("Blue Harbor was directed by Mei Tanaka."), pipe.nlp("Blue Harbor is quiet.")]
    votes = model._best_pair(model.pair_w["director"], model.featurizer(docs, cache=False))
    assert votes[0] > 0.5 > votes[1]
