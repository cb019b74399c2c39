"""Predicted links written back into the graph, for entities added after training."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Literal
from rdflib.namespace import DCTERMS, RDF, RDFS

from kgforge.embed.data import KGData
from kgforge.embed.model import LinkPredictor
from kgforge.embed.pipeline import train
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF, PREDICTED_GRAPH, REL, document_iri
from kgforge.graph.namespaces import entity_iri as iri
from kgforge.graph.store import KnowledgeGraph
from kgforge.transfer.links import new_entities, predict_links

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")

COLOURS = ["red", "green", "blue", "yellow"]
ANIMALS = ["fox", "owl", "cat", "eel", "bat", "yak"]


def _record(kg: KnowledgeGraph, label: str, description: str) -> None:
    e = iri(label)
    kg.add_many(
        [(e, RDF.type, KGF.Entity), (e, RDFS.label, Literal(label))]
        + [(e, DCTERMS.description, Literal(description))],
        graph=ENTITIES_GRAPH,
    )


def _graph() -> KnowledgeGraph:
    """Animals that belong to colour groups; records say which group, facts link them."""
    kg = KnowledgeGraph.open(":memory:")
    for colour in COLOURS:
        group = f"{colour} group"
        _record(kg, group, f"the {colour} group, a collection of {colour} things")
        for animal in ANIMALS:
            name = f"{colour} {animal}"
            _record(kg, name, f"a {colour} {animal}, member of the {colour} group")
            kg.add((iri(name), REL.member_of, iri(group)), graph=document_iri(colour))
    return kg


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[KnowledgeGraph, LinkPredictor]:
    kg = _graph()
    data = KGData.from_graph(kg, valid_fraction=0.0, test_fraction=0.0)
    root = tmp_path_factory.mktemp("links")
    result = train(
        {
            "model": {"encoder": "frozen", "encoder_kwargs": {"hidden": 64}, "dim": 32},
            "training": {"objective": "one_vs_all", "loss": "ce", "epochs": 30, "lr": 0.01},
            "evaluation": {"every_epochs": None, "final_valid": False, "test": False},
        },
        data=data.to_dir(root / "data"),
        output=root / "run",
    )
    return kg, LinkPredictor.load(result.output)


def test_new_entities_get_links_in_the_predicted_graph(trained) -> None:
    kg, model = trained
    _record(kg, "green owlet", "a young green owl, member of the green group")
    _record(kg, "blue calf", "a young blue yak, member of the blue group")
    assert new_entities(model, kg) == sorted([str(iri("green owlet")), str(iri("blue calf"))])

    links = predict_links(model, kg, relations=[str(REL.member_of)], k=2, direction="tails")
    assert [link.score for link in links] == sorted((link.score for link in links), reverse=True)
    best = {link.head: link.tail for link in links if link.rank == 1}
    assert best == {
        str(iri("green owlet")): str(iri("green group")),
        str(iri("blue calf")): str(iri("blue group")),
    }

    rows = kg.query(
        """SELECT ?new ?group ?score ?rank WHERE {
            GRAPH <https://w3id.org/kgforge/graph/predicted> { ?new rel:member_of ?group }
            ?st a kgf:PredictedStatement ; rdf:subject ?new ; rdf:object ?group ;
                kgf:score ?score ; kgf:rank ?rank }"""
    )
    assert len(rows) == len(links) == 4
    assert {(str(r.new), str(r.group)) for r in rows if int(r.rank) == 1} == set(best.items())

    # a second run replaces the predictions; what the graph states is never predicted
    fox = str(iri("red fox"))
    stated = {(str(h), str(t)) for h, _, t in kg.triples((iri("red fox"), REL.member_of, None))}
    assert stated == {(fox, str(iri("red group")))}
    again = predict_links(model, kg, entities=[fox], relations=[str(REL.member_of)], k=3)
    assert 3 <= len(again) <= 6  # 3 tails and 3 heads, a self-link found from both ends once
    assert not {(link.head, link.tail) for link in again} & stated
    assert len(set(kg.triples(graph=PREDICTED_GRAPH))) == 8 * len(again)
    assert not {str(s) for s, _, _ in kg.triples(graph=PREDICTED_GRAPH)} & set(best)


def test_bad_requests_fail_clearly(trained, tmp_path: Path) -> None:
    kg, model = trained
    with pytest.raises(KGForgeError, match="unknown entity .https://example.org/nobody."):
        predict_links(model, kg, entities=["https://example.org/nobody"], write=False)
    with pytest.raises(KGForgeError, match="k must be at least 1"):
        predict_links(model, kg, k=0, write=False)
    data = KGData.from_graph(_graph(), valid_fraction=0.0, test_fraction=0.0)
    lookup = train(
        {
            "model": {"encoder": "lookup", "dim": 8},
            "training": {"epochs": 1},
            "evaluation": {"every_epochs": None, "final_valid": False, "test": False},
        },
        data=data.to_dir(tmp_path / "data"),
        output=tmp_path / "run",
    )
    _record(kg, "red kit", "a young red fox, member of the red group")
    with pytest.raises(KGForgeError, match="lookup encoder: it cannot embed new entities"):
        predict_links(LinkPredictor.load(lookup.output), kg, write=False)


def test_cli_dataset_train_predict_links(tmp_path: Path) -> None:
    """The command-line loop: store -> data directory -> model -> links back in the store."""
    from typer.testing import CliRunner

    from kgforge.cli import app

    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        kg.add_many(list(_graph().quads()))
    runner = CliRunner()
    out = runner.invoke(app, ["dataset", str(tmp_path / "kg"), "-o", str(tmp_path / "data")])
    assert out.exit_code == 0, out.output
    assert KGData.load_dir(tmp_path / "data").num_entities == len(COLOURS) * (len(ANIMALS) + 1)
    result = train(
        {
            "model": {"encoder": "frozen", "encoder_kwargs": {"hidden": 32}, "dim": 16},
            "training": {"epochs": 2},
            "evaluation": {"every_epochs": None, "final_valid": False, "test": False},
        },
        data=tmp_path / "data",
        output=tmp_path / "run",
    )
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        _record(kg, "yellow kit", "a young yellow fox, member of the yellow group")
    args = ["predict-links", str(result.output), str(tmp_path / "kg"), "-k", "2"]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "not written (--dry-run)" in dry.output and "ent:yellow_kit" in dry.output
    with KnowledgeGraph.open(tmp_path / "kg", read_only=True) as kg:
        assert not list(kg.triples(graph=PREDICTED_GRAPH))
    wet = runner.invoke(app, args)
    assert wet.exit_code == 0, wet.output
    with KnowledgeGraph.open(tmp_path / "kg", read_only=True) as kg:
        heads_or_tails = {str(x) for s, _, o in kg.triples(graph=PREDICTED_GRAPH) for x in (s, o)}
    assert str(iri("yellow kit")) in heads_or_tails


def test_every_printed_name_is_accepted_by_the_other_commands(trained, tmp_path: Path) -> None:
    """What search, query, predict-links and classify print (ent:, rel:, type:, graph:, doc:)
    goes back in as --entity, --relation, --graph, --label-property and SPARQL."""
    import re

    from typer.testing import CliRunner

    from kgforge.cli import app
    from kgforge.graph.namespaces import TYPE

    _, model = trained
    run_dir = tmp_path / "model"
    model.save(run_dir)
    store = str(tmp_path / "kg")
    with KnowledgeGraph.open(store) as kg:
        kg.add_many(list(_graph().quads()))
        for s, _, _ in list(kg.triples((None, RDFS.label, None), graph=ENTITIES_GRAPH)):
            kind = "group" if "group" in str(s) else "animal"
            kg.add((s, RDF.type, TYPE[kind]), graph=ENTITIES_GRAPH)
        _record(kg, "green owlet", "a young green owl, member of the green group")
    runner = CliRunner()

    def cli(*args: str) -> str:
        out = runner.invoke(app, list(args))
        assert out.exit_code == 0, out.output
        return out.output

    def names(text: str, prefix: str) -> list[str]:
        return re.findall(rf"(?<![\w:<]){prefix}:[\w-]+", text)

    owlet = names(cli("search", store, "young green owlet", "--mode", "bm25", "-k", "1"), "ent")
    assert owlet == [f"ent:{str(iri('green owlet')).rsplit('/', 1)[1]}"]
    rows = cli("query", store, f"SELECT ?g ?p ?o WHERE {{ GRAPH ?g {{ {owlet[0]} ?p ?o }} }}")
    assert "graph:entities" in names(rows, "graph")
    fox = names(cli("query", store, "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 1 OFFSET 0"), "ent")
    facts = cli(
        "query",
        store,
        "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o FILTER(?p = rel:member_of) } } LIMIT 1",
    )
    member_of, document = names(facts, "rel")[0], names(facts, "doc")[0]
    assert member_of == "rel:member_of" and fox

    links = cli(
        "predict-links",
        str(run_dir),
        store,
        "--entity",
        owlet[0],
        "--relation",
        member_of,
        "--direction",
        "tails",
        "-k",
        "1",
        "--dry-run",
    )
    head, relation, tail = names(links.splitlines()[0], "(?:ent|rel)")
    assert (head, relation) == (owlet[0], member_of) and tail == "ent:" + str(
        iri("green group")
    ).rsplit("/", 1)[1]
    for entity in (
        tail,
        f"<{iri('green group')}>",
        str(iri("green group")),
    ):  # printed tail back in
        again = cli(
            "predict-links", str(run_dir), store, "--entity", entity, "-k", "1", "--dry-run"
        )
        assert tail in again

    for graph in ("graph:entities", document):
        assert cli("export", store, "--graph", graph, "--format", "nt").strip()
    labels = cli(
        "classify", store, "--model", str(run_dir), "--label-property", "rdf:type", "--dry-run"
    )
    kinds = set(names(labels, "type"))
    assert kinds and kinds <= {"type:animal", "type:group"}
    for kind in kinds:
        assert names(cli("query", store, f"SELECT ?e WHERE {{ ?e a {kind} }} LIMIT 1"), "ent")

    bad = runner.invoke(
        app, ["predict-links", str(run_dir), store, "--entity", owlet[0] + "x", "--dry-run"]
    )
    assert "did you mean " + owlet[0] in str(bad.exception)
    bad = runner.invoke(
        app, ["predict-links", str(run_dir), store, "--relation", "rel:member", "--dry-run"]
    )
    assert "unknown relation 'rel:member'" in str(bad.exception)
    assert "rel:member_of" in str(bad.exception)
