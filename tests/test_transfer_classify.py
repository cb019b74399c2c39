"""Entity classification: probes on vectors where the answer is known, and predicted labels of a
graph written to their own named graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rdflib import Literal
from rdflib.namespace import DCTERMS, RDF, RDFS

from kgforge.embed.data import KGData
from kgforge.embed.model import LinkPredictor
from kgforge.embed.pipeline import train
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF, REL, TYPE, document_iri
from kgforge.graph.namespaces import entity_iri as iri
from kgforge.graph.store import KnowledgeGraph
from kgforge.transfer.classify import (
    PREDICTED_TYPES_GRAPH,
    classify_entities,
    evaluate_classifier,
    fit_classifier,
    plot_confusion,
)

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")

COLOURS = ["red", "green", "blue"]
ANIMALS = ["fox", "owl", "cat", "eel", "bat", "yak"]
TYPED = ANIMALS[:4]  # these carry rdf:type in the graph; the rest get predicted types


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian classes in 8 dimensions."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["a", "b", "c"], dtype=object), n)
    centres = {"a": 0, "b": 1, "c": 2}
    x = rng.normal(size=(3 * n, 8)) * 0.3
    x[np.arange(3 * n), [centres[v] for v in y]] += 3.0
    return x, y


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_probe_separates_known_classes(kind: str, tmp_path: Path) -> None:
    x_tr, y_tr = _blobs(30, 0)
    x_dev, y_dev = _blobs(10, 1)
    x_te, y_te = _blobs(20, 2)
    clf = fit_classifier(x_tr, y_tr, x_dev, y_dev, kind=kind)
    assert clf.dev_accuracy == 1.0 and clf.classes == ["a", "b", "c"]
    scores = evaluate_classifier(clf, x_te, y_te)
    assert scores.accuracy == scores.balanced_accuracy == scores.macro_f1 == 1.0
    assert scores.confusion.tolist() == [[20, 0, 0], [0, 20, 0], [0, 0, 20]]
    png = plot_confusion(scores, tmp_path / "cm.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_c_is_chosen_on_dev_then_refit_on_train_and_dev() -> None:
    """Labels that only the dev split explains: a refit on train + dev must learn them."""
    x_tr, y_tr = _blobs(30, 0)
    x_dev, y_dev = _blobs(10, 1)
    flipped = np.where(y_dev == "a", "b", np.where(y_dev == "b", "a", y_dev))
    clf = fit_classifier(x_tr, y_tr, x_dev, flipped, grid=[0.01, 1.0])
    assert clf.param in (0.01, 1.0) and clf.dev_accuracy == pytest.approx(1 / 3)
    imbalanced = evaluate_classifier(clf, x_dev[:15], flipped[:15], labels=["a", "b", "c"])
    assert imbalanced.labels == ["a", "b", "c"] and imbalanced.confusion.sum() == 15
    # no dev split: the middle of the grid, no dev score
    assert fit_classifier(x_tr, y_tr, grid=[0.1, 1.0, 10.0]).param == 1.0
    with pytest.raises(KGForgeError, match="two distinct labels"):
        fit_classifier(x_tr[:5], ["a"] * 5)
    with pytest.raises(KGForgeError, match="unknown classifier"):
        fit_classifier(x_tr, y_tr, kind="svm")  # type: ignore[arg-type]


def _record(kg: KnowledgeGraph, label: str, description: str, type_: str | None = None) -> None:
    e = iri(label)
    quads = [(e, RDF.type, KGF.Entity), (e, RDFS.label, Literal(label))]
    quads.append((e, DCTERMS.description, Literal(description)))
    if type_:
        quads.append((e, RDF.type, TYPE[type_]))
    kg.add_many(quads, graph=ENTITIES_GRAPH)


def _graph() -> KnowledgeGraph:
    """Animals in colour groups; four of six per colour are typed by their colour."""
    kg = KnowledgeGraph.open(":memory:")
    for colour in COLOURS:
        group = f"{colour} group"
        _record(kg, group, f"the {colour} group, a collection of {colour} things")
        for animal in ANIMALS:
            name = f"{colour} {animal}"
            typed = f"{colour}_thing" if animal in TYPED else None
            _record(kg, name, f"a {colour} {animal}, member of the {colour} group", typed)
            kg.add((iri(name), REL.member_of, iri(group)), graph=document_iri(colour))
    return kg


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[KnowledgeGraph, LinkPredictor, Path]:
    kg = _graph()
    data = KGData.from_graph(kg, valid_fraction=0.0, test_fraction=0.0)
    root = tmp_path_factory.mktemp("classify")
    result = train(
        {
            "model": {"encoder": "frozen", "encoder_kwargs": {"hidden": 64}, "dim": 32},
            "training": {"objective": "one_vs_all", "loss": "ce", "epochs": 3, "lr": 0.01},
            "evaluation": {"every_epochs": None, "final_valid": False, "test": False},
        },
        data=data.to_dir(root / "data"),
        output=root / "run",
    )
    return kg, LinkPredictor.load(result.output), result.output


def _predicted_rows(kg: KnowledgeGraph) -> set[tuple[str, str, float]]:
    rows = kg.query(
        """SELECT ?e ?type ?p WHERE {
            GRAPH <https://w3id.org/kgforge/graph/predicted-types> {
              ?e a ?type . ?st a kgf:PredictedStatement ; rdf:subject ?e ; rdf:object ?type ;
                  rdf:predicate rdf:type ; kgf:score ?p } }"""
    )
    return {(str(r.e), str(r.type), float(r.p)) for r in rows}


def test_untyped_entities_get_their_colour_in_the_predicted_graph(trained) -> None:
    kg, model, _ = trained
    _record(kg, "green owlet", "a young green owl, member of the green group")  # unseen in training
    predicted = classify_entities(model, kg, model_name="tiny")
    expected = {str(iri(f"{c} {a}")): str(TYPE[f"{c}_thing"]) for c in COLOURS for a in ANIMALS[4:]}
    expected |= {str(iri(f"{c} group")): None for c in COLOURS}  # untyped too, any guess
    expected[str(iri("green owlet"))] = str(TYPE["green_thing"])
    assert {p.entity for p in predicted} == set(expected)
    for p in predicted:
        assert 0.0 < p.probability <= 1.0
        if expected[p.entity] is not None:
            assert p.label == expected[p.entity], p
    rows = _predicted_rows(kg)
    assert {(e, t) for e, t, _ in rows} == {(p.entity, p.label) for p in predicted}
    # the extracted types stay where they were; the predicted ones live only in their graph
    typed = {
        str(s)
        for s, _, o in kg.triples((None, RDF.type, None), graph=ENTITIES_GRAPH)
        if str(o).startswith(str(TYPE))
    }
    assert len(typed) == len(COLOURS) * len(TYPED)
    assert not typed & {p.entity for p in predicted}

    # a second run does not train on the first one's predictions: same targets, graph replaced
    again = classify_entities(model, kg, min_probability=0.0, model_name="tiny")
    assert {p.entity for p in again} == set(expected)
    assert len(set(kg.triples(graph=PREDICTED_TYPES_GRAPH))) == 8 * len(again)

    # a failed run keeps the previous predictions
    before = set(kg.triples(graph=PREDICTED_TYPES_GRAPH))
    with pytest.raises(KGForgeError, match="unknown classifier"):
        classify_entities(model, kg, kind="svm")  # type: ignore[arg-type]
    assert set(kg.triples(graph=PREDICTED_TYPES_GRAPH)) == before
    with pytest.raises(KGForgeError, match="no entity with a record has a value"):
        classify_entities(model, kg, label_property=str(DCTERMS.subject))
    assert set(kg.triples(graph=PREDICTED_TYPES_GRAPH)) == before

    # a high threshold keeps only confident predictions, dry runs write nothing
    kept = classify_entities(model, kg, min_probability=0.99, write=False)
    assert all(p.probability >= 0.99 for p in kept)
    assert set(kg.triples(graph=PREDICTED_TYPES_GRAPH)) == before


def test_cli_classify_writes_predicted_types(trained, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kgforge.cli import app

    _, _, run = trained
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        kg.add_many(list(_graph().quads()))
    runner = CliRunner()
    out = runner.invoke(app, ["classify", str(tmp_path / "kg"), "--model", str(run)])
    assert out.exit_code == 0, out.output
    assert "ent:red_bat" in out.output and "type:red_thing" in out.output
    assert "written to graph:predicted-types" in out.output
    with KnowledgeGraph.open(tmp_path / "kg", read_only=True) as kg:
        rows = _predicted_rows(kg)
    assert (str(iri("blue yak")), str(TYPE["blue_thing"])) in {(e, t) for e, t, _ in rows}
    bad = runner.invoke(
        app, ["classify", str(tmp_path / "kg"), "--model", str(run), "--label-property", "ex:nope"]
    )
    assert isinstance(bad.exception, KGForgeError) and "prefix:name" in str(bad.exception)
