"""Predicted links back into the graph: a trained model completes the knowledge graph.

Entities added after training (say, by extracting new documents) have text but no embedding; an
inductive model embeds them from their record (``label: description``) and ranks the known
entities for every relation, in both directions. A ``graph`` encoder also reads the edges that
the extraction gave a new entity (to entities the model knows). The best ``k`` that the graph does not already
state become statements in ``graph:predicted``, so SPARQL sees them beside the extracted facts
and can tell them apart:

- the fact ``<ent:h> <rel:r> <ent:t>`` itself, in ``graph:predicted``;
- a node ``<stmt:..> a kgf:PredictedStatement ; rdf:subject ; rdf:predicate ; rdf:object ;
  kgf:score ; kgf:rank ; kgf:model``, where the score is the model's (higher is better) and the
  rank its place among the candidates for that entity and relation (1 = best).

The whole graph is written in one transaction; ``replace`` (the default) swaps it for the new
predictions, so a failed run keeps the previous ones.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rdflib import Literal as RDFLiteral
from rdflib import URIRef
from rdflib.namespace import RDF, XSD

from kgforge.embed.data import entity_texts
from kgforge.embed.model import LinkPredictor
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import (
    ENT,
    ENTITIES_GRAPH,
    KGF,
    PREDICTED_GRAPH,
    resolve,
    statement_iri,
)
from kgforge.graph.store import KnowledgeGraph

Direction = Literal["tails", "heads", "both"]


@dataclass(frozen=True)
class PredictedLink:
    head: str
    relation: str
    tail: str
    score: float
    rank: int


def new_entities(model: LinkPredictor, kg: KnowledgeGraph) -> list[str]:
    """Entities with a record in the graph that the model was not trained on."""
    return _unseen(model, entity_texts(kg))


def _unseen(model: LinkPredictor, texts: dict[str, str]) -> list[str]:
    return sorted(iri for iri in texts if iri not in model.entity_index)


def predict_links(
    model: LinkPredictor,
    kg: KnowledgeGraph,
    entities: Sequence[str] | None = None,
    relations: Sequence[str] | None = None,
    k: int = 5,
    direction: Direction = "both",
    write: bool = True,
    replace: bool = True,
    model_name: str = "",
) -> list[PredictedLink]:
    """Predict links for ``entities`` (default: :func:`new_entities`) and write them to
    ``graph:predicted`` (unless ``write`` is false); returns the predictions, best first.

    Entities unknown to the model are embedded from their text in the graph; ``relations``
    defaults to every relation the model knows. Links the graph already states (outside
    ``graph:predicted``) are skipped, so each query yields up to ``k`` new ones.

    Args:
        model: a trained model (``LinkPredictor.load(output_dir)``).
        kg: the store to read entity records from and write predictions to.
        entities: entities by IRI, ``<IRI>``, CURIE (``ent:...``) or model id (default: those
            the model has not seen in training).
        relations: relations likewise (``rel:city_in``, ``city_in``; default: all it knows).
        k: links per entity, relation and direction.
        direction: predict "tails" ``(e, r, ?)``, "heads" ``(?, r, e)`` or "both".
        write: write the links into ``graph:predicted``.
        replace: swap the whole of ``graph:predicted`` for these links (else add to it).
        model_name: recorded with each written link (its provenance).

    Returns:
        The predicted links, best first.
    """
    if k < 1:
        raise KGForgeError("k must be at least 1")
    if direction not in ("tails", "heads", "both"):
        raise KGForgeError(f"direction must be tails, heads or both, not {direction!r}")
    texts = entity_texts(kg)  # one scan of the entity records serves targets and their text
    known = ChainMap(model.entity_index, texts)  # type: ignore[arg-type]
    if entities is None:
        targets = _unseen(model, texts)
    else:  # any printed form: ent:..., <IRI>, the IRI, the model's own id
        targets = [resolve(e, known, "entity", ENT) for e in entities]
    rels = list(model.relations) if relations is None else [model.relation_id(r) for r in relations]
    if not model.encoder.inductive and any(e not in model.entity_index for e in targets):
        raise KGForgeError("this model has a lookup encoder: it cannot embed new entities")
    refs = [e if e in model.entity_index else texts[e] for e in targets]
    sides = {
        False: [_known(kg, e, False) for e in targets],
        True: [_known(kg, e, True) for e in targets],
    }
    # a graph encoder also reads the new entities' extracted edges to entities it knows
    edges = [_edges(model, e, sides[False][i], sides[True][i]) for i, e in enumerate(targets)]
    context = edges if model.neighbourhood is not None else None
    links: list[PredictedLink] = []
    for heads in {"tails": [False], "heads": [True], "both": [False, True]}[direction]:
        known = sides[heads]
        most = max((len(ids) for by_rel in known for ids in by_rel.values()), default=0)
        ranked = model.predict_batch(refs, rels, k=k + most, heads=heads, edges=context)
        for entity, by_rel, per_relation in zip(targets, known, ranked, strict=True):
            for relation, predictions in zip(rels, per_relation, strict=True):
                stated = by_rel.get(relation, set())
                fresh = [p for p in predictions if p.entity not in stated][:k]
                for rank, p in enumerate(fresh, start=1):
                    h, t = (p.entity, entity) if heads else (entity, p.entity)
                    links.append(PredictedLink(h, relation, t, p.score, rank))
    best: dict[tuple[str, str, str], PredictedLink] = {}
    for link in sorted(links, key=lambda link: -link.score):  # a pair found from both ends
        best.setdefault((link.head, link.relation, link.tail), link)
    links = list(best.values())
    if write:
        _write(kg, links, replace, model_name)
    return links


def _edges(
    model: LinkPredictor, entity: str, tails: dict[str, set[str]], heads: dict[str, set[str]]
) -> list[tuple[str, str, str]]:
    """The graph's edges of a new ``entity`` that a graph encoder can use (relation and other
    end known to the model), as ``(relation, other, "out" | "in")``; none for a known one (the
    model has its own graph)."""
    if entity in model.entity_index:
        return []
    out = []
    for by_rel, direction in ((tails, "out"), (heads, "in")):
        for relation, others in sorted(by_rel.items()):
            if relation in model.relation_index:
                out += [(relation, o, direction) for o in sorted(others) if o in model.entity_index]
    return out


def _known(kg: KnowledgeGraph, entity: str, heads: bool) -> dict[str, set[str]]:
    """The entities the graph links to ``entity`` (as tails, or as heads with ``heads``), by
    relation, outside the predictions and entity records."""
    pattern = (None, None, URIRef(entity), None) if heads else (URIRef(entity), None, None, None)
    out: dict[str, set[str]] = {}
    for s, p, o, g in kg.quads(pattern):
        if g not in (PREDICTED_GRAPH, ENTITIES_GRAPH):
            out.setdefault(str(p), set()).add(str(s if heads else o))
    return out


def _write(kg: KnowledgeGraph, links: list[PredictedLink], replace: bool, model_name: str) -> None:
    quads = []
    for link in links:
        h, r, t = URIRef(link.head), URIRef(link.relation), URIRef(link.tail)
        node = statement_iri("predicted", link.head, link.relation, link.tail)
        quads += [
            (h, r, t),
            (node, RDF.type, KGF.PredictedStatement),
            (node, RDF.subject, h),
            (node, RDF.predicate, r),
            (node, RDF.object, t),
            (node, KGF.score, RDFLiteral(link.score, datatype=XSD.double)),
            (node, KGF.rank, RDFLiteral(link.rank)),
            (node, KGF.model, RDFLiteral(model_name)),
        ]
    if replace:
        kg.replace_graph(PREDICTED_GRAPH, quads)
    else:
        kg.add_many(quads, graph=PREDICTED_GRAPH)
