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
    row = next(line for line in links.splitlines() if "  #" in line)  # after the summary
    head, relation, tail = names(row, "(?:ent|rel)")
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


# -- targets, types, calibration and k across relations (issue 11) ------------------------------
@pytest.fixture(scope="module")
def typed_run(tmp_path_factory) -> tuple[Path, Path, LinkPredictor]:
    """A typed on-disk store (animals and groups), a dataset with a valid split built from it
    while it also held a record without facts, and a model trained on that dataset."""
    from kgforge.graph.namespaces import TYPE

    root = tmp_path_factory.mktemp("typed")
    store = root / "kg"
    with KnowledgeGraph.open(store) as kg:
        kg.add_many(list(_graph().quads()))
        for s, _, _ in list(kg.triples((None, RDFS.label, None), graph=ENTITIES_GRAPH)):
            kind = "group" if "group" in str(s) else "animal"
            kg.add((s, RDF.type, TYPE[kind]), graph=ENTITIES_GRAPH)
        for colour in COLOURS:  # animals near others of their group: more than one fact each
            for i, animal in enumerate(ANIMALS):
                for other in (ANIMALS[(i + 1) % len(ANIMALS)], ANIMALS[(i + 2) % len(ANIMALS)]):
                    near = (iri(f"{colour} {animal}"), REL.near, iri(f"{colour} {other}"))
                    kg.add(near, graph=document_iri(colour))
        _record(kg, "lonely heron", "a grey heron that belongs to no group")  # no facts
        data = KGData.from_graph(kg, valid_fraction=0.2, test_fraction=0.0)
    data.to_dir(root / "data")
    result = train(
        {
            "model": {"encoder": "frozen", "encoder_kwargs": {"hidden": 64}, "dim": 32},
            "training": {"objective": "one_vs_all", "loss": "ce", "epochs": 30, "lr": 0.01},
            "evaluation": {"every_epochs": None, "final_valid": False, "test": False},
        },
        data=root / "data",
        output=root / "run",
    )
    with KnowledgeGraph.open(store) as kg:
        _record(kg, "green owlet", "a young green owl, member of the green group")
        kg.add((iri("green owlet"), RDF.type, TYPE["animal"]), graph=ENTITIES_GRAPH)
    return store, result.output, LinkPredictor.load(result.output)


def test_default_targets_are_the_entities_added_since_training(typed_run) -> None:
    from kgforge.transfer.links import training_entities

    store, run, model = typed_run
    known = training_entities(run)
    assert known is not None and str(iri("lonely heron")) in known
    with KnowledgeGraph.open(store, read_only=True) as kg:
        assert new_entities(model, kg, known) == [str(iri("green owlet"))]
        assert str(iri("lonely heron")) in new_entities(model, kg)  # without the record
        links = predict_links(model, kg, known=known, write=False)
    assert {x.head for x in links} | {x.tail for x in links} >= {str(iri("green owlet"))}
    assert links.summary.targets == 1 and links.summary.targets_from == "added since training"


def test_k_is_per_entity_across_relations_unless_per_relation(typed_run) -> None:
    store, run, model = typed_run
    owlet = str(iri("green owlet"))
    with KnowledgeGraph.open(store, read_only=True) as kg:
        across = predict_links(model, kg, entities=[owlet], k=2, write=False, type_filter=False)
        each = predict_links(
            model, kg, entities=[owlet], k=2, write=False, type_filter=False, per_relation=True
        )
    assert len(across) == 2 and [x.rank for x in sorted(across, key=lambda x: x.rank)] == [1, 2]
    assert len(each) == 2 * 2 * len(model.relations)  # k per relation and direction
    assert {(x.head, x.tail) for x in across} <= {(x.head, x.tail) for x in each}
    assert across.summary.over_k > 0


def test_type_filter_drops_links_of_types_never_seen_with_the_relation(typed_run) -> None:
    from kgforge.graph.namespaces import TYPE
    from kgforge.transfer.links import relation_types

    store, _, model = typed_run
    owlet = str(iri("green owlet"))
    groups = {str(iri(f"{c} group")) for c in COLOURS}
    with KnowledgeGraph.open(store, read_only=True) as kg:
        signature = relation_types(kg)
        member_of = str(REL.member_of)
        assert signature.domain[member_of] == {str(TYPE["animal"])}
        assert signature.range[member_of] == {str(TYPE["group"])}
        only = {"entities": [owlet], "relations": ["rel:member_of"], "k": 8, "write": False}
        loose = predict_links(model, kg, per_relation=True, type_filter=False, **only)
        typed = predict_links(model, kg, per_relation=True, **only)
    # 4 groups only: 8 tails of (owlet, member_of, ?) include animals, and owlet as a head's
    # tail (?, member_of, owlet) is an animal, never a group: both are dropped by type
    assert any(x.tail not in groups for x in loose if x.head == owlet)
    assert any(x.tail == owlet for x in loose)
    assert typed and all(x.head == owlet and x.tail in groups for x in typed)
    assert typed.summary.type_filtered > 0
    best = max(typed, key=lambda x: x.score)
    assert best.tail == str(iri("green group"))


def test_calibrated_probabilities_are_monotone_in_the_score(typed_run, tmp_path: Path) -> None:
    import numpy as np

    from kgforge.transfer.calibration import Calibrator, calibration_scores, fit_calibrator
    from kgforge.transfer.links import run_calibrator

    store, run, model = typed_run
    data = KGData.load_dir(run.parent / "data")
    score, label = calibration_scores(model, data)
    assert len(data.valid) and len(score) == 4 * len(data.valid)  # both sides, true and wrong
    assert label.sum() == 2 * len(data.valid)
    grid = np.linspace(score.min() - 5, score.max() + 5, 200)
    for method in ("platt", "isotonic"):
        cal = fit_calibrator(model, data, method=method)
        p = cal(grid)
        assert ((p >= 0) & (p <= 1)).all() and (np.diff(p) >= -1e-12).all()
        assert p[-1] > p[0]  # the trained model scores true triples higher than wrong ones
        again = Calibrator.load(cal.save(tmp_path / f"{method}.json"))
        np.testing.assert_allclose(again(grid), p)
    fitted = run_calibrator(run, model)  # lazily, from the run's valid split, saved in the run
    assert fitted is not None and (run / "calibration.json").is_file()
    owlet = str(iri("green owlet"))
    with KnowledgeGraph.open(store, read_only=True) as kg:
        links = predict_links(model, kg, entities=[owlet], k=5, write=False, calibrator=fitted)
        probs = [x.probability for x in sorted(links, key=lambda x: -x.score)]
        assert probs == sorted(probs, reverse=True) and all(0 <= q <= 1 for q in probs)
        cut = sorted(probs)[len(probs) // 2]
        kept = predict_links(
            model, kg, entities=[owlet], k=5, write=False, calibrator=fitted, min_probability=cut
        )
        assert kept and all(x.probability >= cut for x in kept)
        assert kept.summary.below_probability == len(links) - len(kept)
        with pytest.raises(KGForgeError, match="needs calibrated scores"):
            predict_links(model, kg, entities=[owlet], write=False, min_probability=0.5)


def test_cli_predict_links_summary_then_rows(typed_run) -> None:
    from typer.testing import CliRunner

    from kgforge.cli import app

    store, run, _ = typed_run
    args = ["predict-links", str(run), str(store), "-k", "2", "--dry-run"]
    out = CliRunner().invoke(app, [*args, "--min-probability", "0.01"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "targets: 1 entities (added since training)"
    assert any(line.startswith("links kept:") for line in lines[:5])
    rows = [line for line in lines if "  #" in line]
    assert rows and all("p=" in line and "ent:green_owlet" in line for line in rows)
    assert len(rows) <= 2 and "lonely_heron" not in out.output
