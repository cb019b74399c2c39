"""Predicted links back into the graph: a trained model completes the knowledge graph.

Entities added after training (say, by extracting new documents) have text but no embedding; an
inductive model embeds them from their record (``label: description``) and ranks the known
entities for every relation, in both directions. The best ``k`` that the graph does not already
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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rdflib import Literal as RDFLiteral
from rdflib import URIRef
from rdflib.namespace import RDF, XSD

from kgforge.embed.data import entity_texts
from kgforge.embed.model import LinkPredictor, Prediction
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF, PREDICTED_GRAPH, statement_iri
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
    return sorted(iri for iri in entity_texts(kg) if iri not in model.entity_index)


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
    """
    if k < 1:
        raise KGForgeError("k must be at least 1")
    if direction not in ("tails", "heads", "both"):
        raise KGForgeError(f"direction must be tails, heads or both, not {direction!r}")
    texts = entity_texts(kg)
    targets = new_entities(model, kg) if entities is None else list(entities)
    rels = list(model.relations) if relations is None else list(relations)
    for iri in targets:
        if iri not in model.entity_index and iri not in texts:
            raise KGForgeError(f"entity {iri}: no record with a label in the graph to embed")
    if not model.encoder.inductive and any(e not in model.entity_index for e in targets):
        raise KGForgeError("this model has a lookup encoder: it cannot embed new entities")
    links: list[PredictedLink] = []
    for entity in targets:
        ref = entity if entity in model.entity_index else texts[entity]
        for relation in rels:
            if direction in ("tails", "both"):
                known = _known(kg, (URIRef(entity), URIRef(relation), None))
                ranked = model.predict_tails(ref, relation, k=k + len(known))
                for tail, score, rank in _unknown_best(ranked, known, k):
                    links.append(PredictedLink(entity, relation, tail, score, rank))
            if direction in ("heads", "both"):
                known = _known(kg, (None, URIRef(relation), URIRef(entity)))
                ranked = model.predict_heads(relation, ref, k=k + len(known))
                for head, score, rank in _unknown_best(ranked, known, k):
                    links.append(PredictedLink(head, relation, entity, score, rank))
    best: dict[tuple[str, str, str], PredictedLink] = {}
    for link in sorted(links, key=lambda link: -link.score):  # a pair found from both ends
        best.setdefault((link.head, link.relation, link.tail), link)
    links = list(best.values())
    if write:
        _write(kg, links, replace, model_name)
    return links


def _known(kg: KnowledgeGraph, pattern: tuple[URIRef | None, ...]) -> set[str]:
    """The entities that already fill the open slot of ``pattern`` outside the predictions."""
    slot = 2 if pattern[2] is None else 0
    return {
        str(quad[slot])
        for quad in kg.quads((*pattern, None))
        if quad[3] not in (PREDICTED_GRAPH, ENTITIES_GRAPH)
    }


def _unknown_best(
    ranked: list[Prediction], known: set[str], k: int
) -> list[tuple[str, float, int]]:
    """The ``k`` best candidates the graph does not state yet, with their score and rank."""
    out: list[tuple[str, float, int]] = []
    for prediction in ranked:
        if prediction.entity not in known:
            out.append((prediction.entity, prediction.score, len(out) + 1))
        if len(out) == k:
            break
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
