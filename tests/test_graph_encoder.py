"""The graph encoder: learning, no leakage of the scored triple, sampling, PyG export, new
entities with edges."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rdflib import Literal
from rdflib.namespace import DCTERMS, RDF, RDFS
from tiny_kg import write_tiny_kg

from kgforge.embed.config import load_config
from kgforge.embed.data import KGData
from kgforge.embed.evaluate import evaluate
from kgforge.embed.graph_encoder import NeighbourhoodAggregator, context_triples
from kgforge.embed.model import LinkPredictor
from kgforge.embed.pipeline import train
from kgforge.embed.trainer import Trainer
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF, REL, document_iri
from kgforge.graph.namespaces import entity_iri as iri
from kgforge.graph.store import KnowledgeGraph
from kgforge.transfer.links import predict_links

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")
RANDOM_MRR = 0.1  # ~ a random order over the 66 tiny entities

CONFIG = {
    "model": {
        "encoder": "graph",
        "encoder_kwargs": {"hidden": 64, "fanout": 4, "isolate": 0.2, "paths": 2},
        "scorer": "complex",
        "dim": 32,
        "inverse_relations": True,
    },
    "training": {
        "objective": "one_vs_all",
        "loss": "ce",
        "epochs": 25,
        "batch_size": 64,
        "lr": 0.01,
    },
    "evaluation": {"every_epochs": None, "final_valid": False},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_kg(tmp_path_factory.mktemp("tiny_graph") / "data", heldout=2)


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    """A graph model trained with the scored triples hidden, as shipped."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KGFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        return train(CONFIG, data=tiny, output=tmp_path_factory.mktemp("graph_run"))


@pytest.fixture(scope="module")
def leaky(tiny, tmp_path_factory) -> LinkPredictor:
    """A model trained *with* each batch's positives in its graph: it learns to read the answer
    off the query edge, so it shows what a leak would do."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KGFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        config = load_config(
            CONFIG, {"model": {"encoder_kwargs": {"hidden": 64, "isolate": 0, "paths": 2}}}
        )
        trainer = Trainer(config, KGData.load_dir(tiny), tmp_path_factory.mktemp("leaky"))
        trainer.compute_loss = trainer._compute_loss  # no exclusion: the leak
        return trainer.fit()


def test_learns_the_tiny_graph_in_both_contexts(trained):
    results = (trained.output / "results.json").read_text()
    assert '"by_context"' in results
    for context in ("none", "split"):
        test = evaluate(trained.model, KGData.load_dir(trained.config.data), context=context)
        assert test["context"] == context
        assert test["both"]["mrr"] > 4 * RANDOM_MRR


def _query_rows(model: LinkPredictor, data: KGData, graph: torch.Tensor, queries: torch.Tensor):
    """Tail and head score rows of ``queries`` with ``graph`` as the context."""
    model.eval()
    with torch.no_grad(), model.neighbourhood.use_context(graph):
        model.invalidate_cache()
        tails = model.score_t(queries[:, :2], exclude=queries)
        heads = model.score_h(queries[:, 1:], exclude=queries)
    model.invalidate_cache()
    return tails, heads


@pytest.mark.parametrize("eval_fanout", [None, 2])
def test_the_scored_triple_never_reaches_its_score(leaky, tiny, eval_fanout):
    """Adding or removing the query edge from the context leaves every score of its query
    unchanged (with a capped neighbourhood too), for the trained-to-leak model."""
    data = KGData.load_dir(tiny)
    leaky.neighbourhood.eval_fanout = eval_fanout
    try:
        queries = data.test
        with_edges = context_triples(data, "test", "split")  # holds every query triple
        tails_in, heads_in = _query_rows(leaky, data, with_edges, queries)
        for i, query in enumerate(queries):
            keep = ~(with_edges == query).all(1)
            tails_out, heads_out = _query_rows(leaky, data, with_edges[keep], query[None])
            assert torch.allclose(tails_in[i], tails_out[0], atol=1e-5)
            assert torch.allclose(heads_in[i], heads_out[0], atol=1e-5)
    finally:
        leaky.neighbourhood.eval_fanout = None


def test_a_ranked_subsample_keeps_the_whole_split_as_context(trained):
    """``evaluate(..., triples=...)`` ranks the given triples with the context, candidates and
    filter of the whole split: all of them give the plain result, and triples ranked one at a
    time average to it (a thinned-out context would change their ranks)."""
    data = KGData.load_dir(trained.config.data)
    full = evaluate(trained.model, data, context="split")
    assert evaluate(trained.model, data, context="split", triples=data.test) == full
    singles = [
        evaluate(trained.model, data, context="split", triples=triple[None])["both"]["mrr"]
        for triple in data.test
    ]
    assert sum(singles) / len(singles) == pytest.approx(full["both"]["mrr"], abs=1e-9)


def test_a_model_given_the_answer_edge_scores_it_higher(leaky, tiny):
    """The check above could fail: letting the query edge into the representations (no
    ``exclude``) raises the true answer's score for the leaky model."""
    data = KGData.load_dir(tiny)
    queries = data.test
    graph = context_triples(data, "test", "split")
    leaky.eval()
    with torch.no_grad(), leaky.neighbourhood.use_context(graph):
        leaky.invalidate_cache()
        hidden = leaky.score_t(queries[:, :2], exclude=queries)
        given = leaky.score_t(queries[:, :2])  # the query edge is in both ends' neighbourhoods
    leaky.invalidate_cache()
    rows = torch.arange(len(queries))
    gain = given[rows, queries[:, 2]] - hidden[rows, queries[:, 2]]
    assert gain.mean() > 0.5 and (gain > 0).float().mean() > 0.8


def test_exclusion_equals_recomputation_without_the_edge(trained):
    """``drop_keys`` (the scored triple hidden from one entity) gives the vector of a graph
    that lacks the edge, entity by entity."""
    model = trained.model.eval()
    data = KGData.load_dir(trained.config.data)
    graph = context_triples(data, "test", "split")
    graph_module = model.neighbourhood
    with torch.no_grad():
        for query in graph[:40]:
            keys = graph_module.triple_keys(query[None]).repeat(2)
            ends = query[[0, 2]]
            with graph_module.use_context(graph):
                dropped = model.encoder(ends, drop_keys=keys)
                full = model.encoder(ends)
            with graph_module.use_context(graph[~(graph == query).all(1)]):
                recomputed = model.encoder(ends)
            assert torch.allclose(dropped, recomputed, atol=1e-6)
            assert not torch.allclose(full, recomputed, atol=1e-6)  # the edge did count


def test_training_neighbourhoods_are_capped_and_hide_the_batch(tmp_path):
    """A hub of 500 edges yields ``fanout`` sampled edges in training (different draws per
    step), all of them in evaluation with ``eval_fanout: null``, and a training batch's own
    triples are never among them."""
    n = 501
    entities = [f"e{i}" for i in range(n)]
    hub = torch.tensor([[0, i % 2, i] for i in range(1, n)])
    data = KGData(entities, ["r0", "r1"], [f"thing {i}" for i in range(n)], ["r0", "r1"], hub)
    model = LinkPredictor.from_data(
        data, encoder="graph", dim=8, encoder_kwargs={"hidden": 8, "fanout": 5}
    )
    graph = model.neighbourhood
    graph.attach_graph(data.train)
    ids = torch.tensor([0, 0, 7])
    model.train()
    torch.manual_seed(0)
    row, neighbour, _ = graph.neighbourhood(ids)
    assert torch.bincount(row, minlength=3).tolist() == [5, 5, 1]
    assert set(neighbour[row == 0].tolist()) != set(neighbour[row == 1].tolist())
    with graph.excluding(hub[:400]):
        row, neighbour, _ = graph.neighbourhood(ids)
        assert (neighbour[row < 2] > 400).all() and not (row == 2).any()
    model.eval()
    row, neighbour, _ = graph.neighbourhood(ids)
    assert torch.bincount(row, minlength=3).tolist() == [500, 500, 1]
    graph.eval_fanout = 3
    first = graph.neighbourhood(ids)[1]
    assert len(first) == 7 and torch.equal(first, graph.neighbourhood(ids)[1])  # deterministic


def _chain(length: int, **encoder_kwargs) -> tuple[LinkPredictor, NeighbourhoodAggregator]:
    """A graph model over the chain ``a -r0-> b -r0-> ...`` of ``length`` entities (its own
    graph attached), and its aggregator; ``encoder_kwargs`` on top of small test settings."""
    names = [chr(ord("a") + i) for i in range(length)]
    edges = torch.tensor([[i, 0, i + 1] for i in range(length - 1)])
    data = KGData(names, ["r0"], [f"thing {n}" for n in names], ["r0"], edges)
    kwargs = {"hidden": 8, "fanout": 5, "paths": 2, **encoder_kwargs}
    model = LinkPredictor.from_data(data, encoder="graph", dim=8, encoder_kwargs=kwargs)
    model.neighbourhood.attach_graph(data.train)
    return model, model.neighbourhood


def test_text_steps_hide_every_edge_and_path_for_the_whole_step():
    """A training step drawn text-only (probability ``text_steps``) gives no entity an edge and
    no query a path score; the other steps, and evaluation, keep the graph."""
    model, graph = _chain(3, text_steps=0.5)
    ids, query = torch.tensor([0, 1, 2]), torch.tensor([0])
    model.train()
    torch.manual_seed(0)
    text_only = []
    for _ in range(200):
        with graph.excluding(torch.tensor([[0, 0, 2]])):  # not an edge: hides nothing
            edges = len(graph.neighbourhood(ids)[0])
            paths = model.path_scores(query, torch.tensor([0]), None)
            assert (edges == 0) == (paths is None)
            text_only.append(edges == 0)
    assert 70 < sum(text_only) < 130  # about half of the steps
    assert len(graph.neighbourhood(ids)[0]) == 4  # outside a step: every edge, both sides
    model.eval()
    with graph.excluding(torch.tensor([[0, 0, 2]])):
        assert len(graph.neighbourhood(ids)[0]) == 4
    with pytest.raises(KGForgeError, match="text_steps"):
        _chain(3, text_steps=1.0)


def test_new_ends_hide_every_edge_of_one_end_of_each_positive():
    """With ``new_ends`` a training positive's head or tail stands in for a new entity for the
    step: no edge that touches it is seen, from it or from its neighbours, and it starts no
    path; the other entities keep theirs, and evaluation keeps the whole graph."""
    model, graph = _chain(4, new_ends=1.0)
    ids = torch.arange(4)
    model.train()
    torch.manual_seed(0)
    seen = set()
    for _ in range(100):
        with graph.excluding(torch.tensor([[0, 0, 2]])):  # not an edge: hides nothing itself
            row, neighbour, _ = graph.neighbourhood(ids)
            centres = set(ids[row].tolist())
            assert centres in ({1, 2, 3}, {0, 1})  # a is new, or c is (and d loses its edge)
            new = 0 if centres == {1, 2, 3} else 2
            assert new not in neighbour.tolist()
            assert len(row) == (2 if new == 2 else 4)  # a: only a-b hidden; c: b-c and c-d
            paths = model.path_scores(torch.tensor([new]), torch.tensor([0]), None)
            assert paths is not None and not paths.any()
            seen.add(new)
    assert seen == {0, 2}  # either end, at random
    model.eval()
    with graph.excluding(torch.tensor([[0, 0, 2]])):
        assert len(graph.neighbourhood(ids)[0]) == 6
    with pytest.raises(KGForgeError, match="new_ends"):
        _chain(4, new_ends=1.5)


def test_to_pyg_exports_the_graph_for_pyg_layers(tiny):
    from torch_geometric.nn import RGCNConv

    data = KGData.load_dir(tiny)
    graph = data.to_pyg()
    assert graph.num_nodes == data.num_entities
    assert graph.edge_index.shape == (2, len(data.train))
    assert torch.equal(graph.edge_index[0], data.train[:, 0])
    assert torch.equal(graph.edge_type, data.train[:, 1])
    assert graph.x is None
    both = data.to_pyg(["train", "test"], features=torch.ones(data.num_entities, 3))
    assert both.edge_index.shape[1] == len(data.train) + len(data.test)
    out = RGCNConv(3, 4, data.num_relations)(both.x, both.edge_index, both.edge_type)
    assert out.shape == (data.num_entities, 4)
    with_text = data.to_pyg(features=True)
    assert with_text.x.shape == (data.num_entities, 384)
    with pytest.raises(ValueError, match="rows"):
        data.to_pyg(features=torch.ones(2, 3))


def test_a_new_entity_given_its_edges_is_encoded_as_in_the_context_graph(trained):
    """Text + edges through the inference API give the vector that message passing over a
    context graph holding those edges gives (the same entity, both ways)."""
    model = trained.model.eval()
    data = KGData.load_dir(trained.config.data)
    graph = context_triples(data, "test", "split")
    for e in data.split_entities("test")[:4].tolist():
        edges = [
            (data.relations[r], data.entities[t], "out") for h, r, t in graph.tolist() if h == e
        ]
        edges += [
            (data.relations[r], data.entities[h], "in") for h, r, t in graph.tolist() if t == e
        ]
        assert edges
        by_api = model.embed_texts([data.entity_text[e]], edges=[edges])
        with torch.no_grad(), model.neighbourhood.use_context(graph):
            in_graph = model.entity_repr(torch.tensor([e]))
        assert torch.allclose(by_api, in_graph, atol=1e-5)
        assert not torch.allclose(by_api, model.embed_texts([data.entity_text[e]]), atol=1e-3)


def test_edges_need_a_graph_encoder(tiny):
    data = KGData.load_dir(tiny)
    model = LinkPredictor.from_data(data, encoder="frozen", dim=8)
    with pytest.raises(KGForgeError, match="graph encoder"):
        model.predict_tails("a red fox", "member_of", edges=[("related_to", "e1", "out")])


@pytest.mark.parametrize("variant", ["", "_textonly"])
def test_graph_config_shape_is_shared_by_the_shipped_pipelines(variant):
    """One config shape for both data sets: the same model and evaluation settings; only the
    data, the output, whether self-loops may be predicted and the training budget differ."""
    root = Path(__file__).resolve().parents[1] / "pipelines"
    wn = load_config(root / f"wn18rr_ind_graph{variant}.yaml").model_dump()
    fb = load_config(root / f"fb15k237_ind_graph{variant}.yaml").model_dump()
    assert wn["model"]["encoder"] == fb["model"]["encoder"] == "graph"
    for config in (wn, fb):
        config["model"].pop("allow_self")
    assert wn["model"] == fb["model"] and wn["evaluation"] == fb["evaluation"]
    budget = {"epochs", "max_steps"}
    assert {k: v for k, v in wn["training"].items() if k not in budget} == {
        k: v for k, v in fb["training"].items() if k not in budget
    }


@pytest.mark.parametrize("data", ["wn18rr", "fb15k237"])
def test_textonly_configs_differ_from_the_graph_configs_in_new_ends_and_early_stopping(data):
    """``*_ind_graph_textonly.yaml`` is ``*_ind_graph.yaml`` trained for new entities without
    edges: ``new_ends``, ``text_steps`` and the early-stopping protocol (and the FB15k-237-ind
    budget) only."""
    root = Path(__file__).resolve().parents[1] / "pipelines"
    both = load_config(root / f"{data}_ind_graph.yaml").model_dump()
    text = load_config(root / f"{data}_ind_graph_textonly.yaml").model_dump()
    assert both["model"]["encoder_kwargs"].get("new_ends", 0) == 0
    assert text["model"]["encoder_kwargs"].pop("new_ends") == 1.0
    assert (
        both["model"]["encoder_kwargs"]["text_steps"],
        text["model"]["encoder_kwargs"]["text_steps"],
    ) == (0.0, 0.5)
    text["model"]["encoder_kwargs"]["text_steps"] = 0.0
    assert text["model"] == both["model"]
    assert (both["evaluation"]["context"], text["evaluation"]["context"]) == ("split", "none")
    text["evaluation"]["context"] = "split"
    assert text["evaluation"] == both["evaluation"]
    budget = {"epochs", "max_steps"}
    assert {k: v for k, v in text["training"].items() if k not in budget} == {
        k: v for k, v in both["training"].items() if k not in budget
    }


COLOURS, ANIMALS = ["red", "green", "blue", "yellow"], ["fox", "owl", "cat", "eel", "bat", "yak"]


@pytest.fixture(scope="module")
def colour_graph(tmp_path_factory):
    """Animals in colour groups, in a ring of ``near`` links per colour; half of them have text
    that names no colour."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KGFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        kg = KnowledgeGraph.open(":memory:")
        for c, colour in enumerate(COLOURS):
            _record(kg, f"{colour} group", f"the {colour} group")
            names = [f"{colour} {a}" for a in ANIMALS]
            for i, name in enumerate(names):
                text = f"a {colour} {ANIMALS[i]}" if i < 3 else f"an animal, number {c * 10 + i}"
                _record(kg, name, text)
                facts = [(iri(name), REL.member_of, iri(f"{colour} group"))]
                facts += [(iri(name), REL.near, iri(o)) for o in (names[i - 1], names[i - 5])]
                kg.add_many(facts, graph=document_iri(colour))
        data = KGData.from_graph(kg, valid_fraction=0.0, test_fraction=0.0)
        root = tmp_path_factory.mktemp("colours")
        config = {
            **CONFIG,
            "training": {**CONFIG["training"], "epochs": 10},
            "evaluation": {"every_epochs": None, "final_valid": False, "test": False},
        }
        result = train(config, data=data.to_dir(root / "data"), output=root / "run")
        return kg, result.model


def _record(kg: KnowledgeGraph, label: str, description: str) -> None:
    e = iri(label)
    kg.add_many(
        [(e, RDF.type, KGF.Entity), (e, RDFS.label, Literal(label))]
        + [(e, DCTERMS.description, Literal(description))],
        graph=ENTITIES_GRAPH,
    )


def test_new_entity_with_edges(colour_graph, tmp_path):
    """A new entity's known edges change its vector and predictions; a known entity given no
    extra edges is predicted as before; bad edges are located errors; the model and its graph
    survive save/load."""
    _, model = colour_graph
    member_of, near = str(REL.member_of), str(REL.near)
    text = "an animal, number 99"
    alone = model.predict_tails(text, member_of, k=4)
    for colour in COLOURS:
        edges = [(near, str(iri(f"{colour} {a}")), "out") for a in ANIMALS[:3]]
        linked = model.predict_tails(text, member_of, k=4, edges=edges)
        assert [p.score for p in linked] != [p.score for p in alone]
    known = str(iri("red fox"))
    plain = model.predict_tails(known, member_of, k=5)
    via_edges = model.predict_tails(known, member_of, k=5, edges=[])  # its own graph edges
    assert [p.entity for p in via_edges] == [p.entity for p in plain]
    assert [p.score for p in via_edges] == pytest.approx([p.score for p in plain], abs=1e-4)
    with pytest.raises(KGForgeError, match="direction"):
        model.predict_tails(text, member_of, edges=[(near, known, "up")])
    with pytest.raises(KGForgeError, match="not an entity"):
        model.predict_tails(text, member_of, edges=[(near, "nobody", "in")])
    again = LinkPredictor.load(model.save(tmp_path / "saved"))
    assert torch.equal(again.neighbourhood.edges, model.neighbourhood.edges)
    edges = [(near, str(iri("blue owl")), "in")]
    assert again.predict_tails(text, member_of, edges=edges) == model.predict_tails(
        text, member_of, edges=edges
    )


def test_predict_links_reads_a_new_entitys_extracted_edges(colour_graph):
    """``predict_links`` gives a graph model the edges that extraction gave a new entity (to
    entities the model knows): its links are the ones the entity's text and edges predict."""
    kg, model = colour_graph
    member_of, near = str(REL.member_of), str(REL.near)
    expected = {}
    for k, colour in enumerate(COLOURS):
        name, description = f"newcomer {k}", f"an animal, number {90 + k}"
        _record(kg, name, description)
        text = f"{name}: {description}"  # the record as text encoders read it
        facts = [(iri(name), REL.near, iri(f"{colour} {a}")) for a in ANIMALS[:3]]
        facts.append((iri(f"{colour} yak"), REL.near, iri(name)))
        kg.add_many(facts, graph=document_iri("new"))
        edges = [(near, str(iri(f"{colour} {a}")), "out") for a in ANIMALS[:3]]
        edges.append((near, str(iri(f"{colour} yak")), "in"))
        best = model.predict_tails(text, member_of, k=1, edges=edges)[0]
        assert best.score != model.predict_tails(text, member_of, k=1)[0].score
        expected[str(iri(name))] = (best.entity, pytest.approx(best.score, abs=1e-4))
    links = predict_links(model, kg, relations=[member_of], k=1, direction="tails")
    assert {link.head: (link.tail, link.score) for link in links} == expected
