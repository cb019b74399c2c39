"""Predicted links back into the graph: a trained model completes the knowledge graph.

Entities added after training (say, by extracting new documents) have text but no embedding; an
inductive model embeds them from their record (``label: description``) and ranks the known
entities for every relation, in both directions. A ``graph`` encoder also reads the edges that
the extraction gave a new entity (to entities the model knows). What comes out:

- **targets**: by default the entities added since training: those with a record in the graph
  that neither the model nor the store the training data came from knew (the data directory's
  ``store_entities.txt``, see :func:`training_entities`);
- **candidates** for each target, relation and direction, without links the graph already
  states and, with ``type_filter``, without links whose head or tail types were never seen
  with that relation (domain and range observed in the graph: :func:`relation_types`);
- **the best ``k`` per target across relations and directions** (``per_relation=True``: ``k``
  per target, relation and direction), with a probability when a :class:`Calibrator` is given
  (:mod:`kgforge.transfer.calibration`; :func:`run_calibrator` fits one lazily from a run's
  validation split) and ``min_probability`` drops the less likely ones.

Written into ``graph:predicted``, so SPARQL sees them beside the extracted facts and can tell
them apart:

- the fact ``<ent:h> <rel:r> <ent:t>`` itself, in ``graph:predicted``;
- a node ``<stmt:..> a kgf:PredictedStatement ; rdf:subject ; rdf:predicate ; rdf:object ;
  kgf:score ; kgf:rank ; kgf:model`` (and ``kgf:probability`` when calibrated), where the score
  is the model's (higher is better) and the rank its place among the target's links (1 = best).

The whole graph is written in one transaction; ``replace`` (the default) swaps it for the new
predictions, so a failed run keeps the previous ones.
"""

from __future__ import annotations

import logging
from collections import ChainMap
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from rdflib import Literal as RDFLiteral
from rdflib import URIRef
from rdflib.namespace import RDF, XSD

from kgforge.embed.data import entity_texts
from kgforge.embed.dataset import STORE_ENTITIES_FILE, type_predicates
from kgforge.embed.model import LinkPredictor
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import (
    ENT,
    ENTITIES_GRAPH,
    KGF,
    PREDICTED_GRAPH,
    REL,
    TYPE,
    resolve,
    statement_iri,
)
from kgforge.graph.store import KnowledgeGraph
from kgforge.progress import progress
from kgforge.transfer.calibration import CALIBRATION_FILE, Calibrator, Method, fit_calibrator

logger = logging.getLogger(__name__)

Direction = Literal["tails", "heads", "both"]
CHUNK = 256  # targets embedded and scored at a time (one step of the progress bar)


@dataclass(frozen=True)
class PredictedLink:
    head: str
    relation: str
    tail: str
    score: float
    rank: int
    probability: float | None = None


@dataclass
class LinkSummary:
    """What a :func:`predict_links` run looked at and what it kept or filtered."""

    targets: int = 0
    targets_from: str = ""
    relations: int = 0
    directions: str = "both"
    candidates: int = 0
    stated: int = 0
    type_filtered: int = 0
    below_probability: int = 0
    over_k: int = 0
    kept: int = 0
    calibrated: str = "no"

    def __str__(self) -> str:
        return "\n".join(
            [
                f"targets: {self.targets:,} entities ({self.targets_from})",
                f"relations: {self.relations:,}, directions: {self.directions}; "
                f"probabilities: {self.calibrated}",
                f"candidates: {self.candidates:,}; filtered: {self.stated:,} already stated, "
                f"{self.type_filtered:,} of types never seen with the relation, "
                f"{self.below_probability:,} below --min-probability, {self.over_k:,} beyond k",
                f"links kept: {self.kept:,}",
            ]
        )


class Links(list[PredictedLink]):
    """The predicted links, best first, and the :class:`LinkSummary` of the run."""

    def __init__(self, links: Sequence[PredictedLink], summary: LinkSummary) -> None:
        super().__init__(links)
        self.summary = summary


# -- targets: what is new since training --------------------------------------------------------
def new_entities(
    model: LinkPredictor, kg: KnowledgeGraph, known: Collection[str] | None = None
) -> list[str]:
    """Entities with a record in the graph that the model was not trained on, nor (``known``)
    in the store when its training data was built (:func:`training_entities`)."""
    return _unseen(model, entity_texts(kg), known)


def _unseen(
    model: LinkPredictor, texts: dict[str, str], known: Collection[str] | None
) -> list[str]:
    before = known if known is not None else ()
    return sorted(iri for iri in texts if iri not in model.entity_index and iri not in before)


def run_folder(path: str | Path) -> Path | None:
    """The training run a model folder belongs to (``config.yaml`` there or one level up)."""
    path = Path(path)
    for folder in (path, path.parent):
        if (folder / "config.yaml").is_file():
            return folder
    return None


def run_data_dir(path: str | Path) -> Path | None:
    """The data directory a run trained on (its ``config.yaml``'s ``data``), if it still exists."""
    run = run_folder(path)
    if run is None:
        return None
    import yaml

    data = (yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}).get("data")
    for candidate in ([Path(data), run / data] if data else []) + [run / "data"]:
        if (candidate / "train.tsv").is_file():
            return candidate
    return None


def training_entities(path: str | Path) -> set[str] | None:
    """The entities that had a record in the store when a run's training data was built (its
    data directory's ``store_entities.txt``, written by ``kgforge dataset``); None when the run
    or that record is not found."""
    data = run_data_dir(path)
    if data is None or not (data / STORE_ENTITIES_FILE).is_file():
        return None
    lines = (data / STORE_ENTITIES_FILE).read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line}


def run_calibrator(
    path: str | Path, model: LinkPredictor, method: Method = "platt"
) -> Calibrator | None:
    """The run's calibrator: ``calibration.json`` of the run, else fitted on its data's valid
    split and saved there; None when the run has no validation triples to fit on."""
    run = run_folder(path)
    if run is None:
        return None
    saved = run / CALIBRATION_FILE
    if saved.is_file():
        cal = Calibrator.load(saved)
        if cal.method == method:
            return cal
    data_dir = run_data_dir(run)
    if data_dir is None:
        logger.warning("%s: the training data is gone: scores stay uncalibrated", run)
        return None
    from kgforge.embed.data import KGData

    data = KGData.load_dir(data_dir)
    if len(data.valid) == 0:
        logger.warning("%s: no validation triples: scores stay uncalibrated", data_dir)
        return None
    cal = fit_calibrator(model, data, method=method)
    cal.save(saved)
    return cal


# -- domain and range ---------------------------------------------------------------------------
@dataclass
class RelationTypes:
    """Classes of entities (``rdf:type type:...``, ``is_a``) and, per relation, the classes seen
    at its heads (domain) and tails (range)."""

    types: dict[str, set[str]] = field(default_factory=dict)
    domain: dict[str, set[str]] = field(default_factory=dict)
    range: dict[str, set[str]] = field(default_factory=dict)

    def fits(self, entity: str, relation: str, as_head: bool) -> bool:
        """Whether ``entity`` may be the head (or tail) of ``relation``: yes when either side is
        unknown (no classes for the entity, none observed for the relation)."""
        seen = (self.domain if as_head else self.range).get(relation)
        mine = self.types.get(entity)
        return not seen or not mine or bool(seen & mine)


def relation_types(kg: KnowledgeGraph) -> RelationTypes:
    """Entity classes and each relation's observed domain and range, in one scan of the graph
    (predictions left out)."""
    typing = type_predicates()
    rel, type_ns = str(REL), str(TYPE)
    types: dict[str, set[str]] = {}
    facts: set[tuple[str, str, str]] = set()
    for s, p, o, g in kg.quads((None, None, None, None)):
        if not isinstance(s, URIRef) or not isinstance(o, URIRef):
            continue
        if getattr(g, "identifier", g) == PREDICTED_GRAPH:
            continue
        pred = str(p)
        if pred in typing:
            if pred != str(RDF.type) or str(o).startswith(type_ns):
                types.setdefault(str(s), set()).add(str(o))
        elif pred.startswith(rel) and getattr(g, "identifier", g) != ENTITIES_GRAPH:
            facts.add((str(s), pred, str(o)))
    out = RelationTypes(types)
    for h, r, t in facts:
        out.domain.setdefault(r, set()).update(types.get(h, ()))
        out.range.setdefault(r, set()).update(types.get(t, ()))
    return out


def _candidate_masks(
    model: LinkPredictor, signature: RelationTypes, relations: list[str], heads: bool
) -> list[torch.Tensor | None]:
    """Per relation, which of the model's entities may be the predicted end (True: allowed)."""
    members: dict[str, list[int]] = {}
    untyped = torch.ones(model.num_entities, dtype=torch.bool)
    for i, entity in enumerate(model.entities):
        for c in signature.types.get(entity, ()):
            members.setdefault(c, []).append(i)
            untyped[i] = False
    masks: list[torch.Tensor | None] = []
    for r in relations:
        seen = (signature.domain if heads else signature.range).get(r)
        if not seen:
            masks.append(None)
            continue
        mask = untyped.clone()
        for c in seen:
            mask[members.get(c, [])] = True
        masks.append(mask)
    return masks


# -- predicting ---------------------------------------------------------------------------------
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
    known: Collection[str] | None = None,
    calibrator: Calibrator | None = None,
    min_probability: float = 0.0,
    type_filter: bool = True,
    per_relation: bool = False,
) -> Links:
    """Predict links for ``entities`` (default: :func:`new_entities`) and write them to
    ``graph:predicted`` (unless ``write`` is false); returns them best first, with a summary.

    Args:
        model: a trained model (``LinkPredictor.load(output_dir)``).
        kg: the store to read entity records from and write predictions to.
        entities: entities by IRI, ``<IRI>``, CURIE (``ent:...``) or model id (default: those
            added since training: neither the model's nor in ``known``).
        relations: relations likewise (``rel:city_in``, ``city_in``; default: all it knows).
        k: links per target entity, across relations and directions (per relation and
            direction with ``per_relation``).
        direction: predict "tails" ``(e, r, ?)``, "heads" ``(?, r, e)`` or "both".
        write: write the links into ``graph:predicted``.
        replace: swap the whole of ``graph:predicted`` for these links (else add to it).
        model_name: recorded with each written link (its provenance).
        known: entities the store held when the training data was built
            (:func:`training_entities`); they are not new.
        calibrator: turns scores into probabilities (:func:`run_calibrator`).
        min_probability: drop links less probable than this (needs ``calibrator``).
        type_filter: drop links whose head or tail classes were never seen with the relation.
        per_relation: ``k`` per target, relation and direction.

    Returns:
        :class:`Links`: the predicted links, best first, and ``.summary``.
    """
    if k < 1:
        raise KGForgeError("k must be at least 1")
    if direction not in ("tails", "heads", "both"):
        raise KGForgeError(f"direction must be tails, heads or both, not {direction!r}")
    if not 0.0 <= min_probability <= 1.0:
        raise KGForgeError(f"min_probability must be in [0, 1], not {min_probability}")
    if min_probability > 0 and calibrator is None:
        raise KGForgeError("min_probability needs calibrated scores (a calibrator)")
    texts = entity_texts(kg)  # one scan of the entity records serves targets and their text
    summary = LinkSummary(directions=direction, calibrated=_describe(calibrator))
    if entities is None:
        targets = _unseen(model, texts, known)
        summary.targets_from = (
            "added since training" if known is not None else "unseen by the model"
        )
    else:  # any printed form: ent:..., <IRI>, the IRI, the model's own id
        names = ChainMap(model.entity_index, texts)  # type: ignore[arg-type]
        targets = [resolve(e, names, "entity", ENT) for e in entities]
        summary.targets_from = "given"
    rels = list(model.relations) if relations is None else [model.relation_id(r) for r in relations]
    summary.targets, summary.relations = len(targets), len(rels)
    if not model.encoder.inductive and any(e not in model.entity_index for e in targets):
        raise KGForgeError("this model has a lookup encoder: it cannot embed new entities")
    signature = relation_types(kg) if type_filter else None
    sides = {"tails": [False], "heads": [True], "both": [False, True]}[direction]
    masks = {
        heads: _candidate_masks(model, signature, rels, heads) if signature else [None] * len(rels)
        for heads in sides
    }
    found: list[PredictedLink] = []
    chunks = [targets[i : i + CHUNK] for i in range(0, len(targets), CHUNK)]
    for chunk in progress(chunks, desc="predicting links", unit="batch", disable=len(chunks) < 2):
        found += _predict_chunk(model, kg, texts, chunk, rels, k, sides, masks, signature, summary)
    links = _select(found, k, per_relation, summary)
    if calibrator is not None:
        probability = calibrator([link.score for link in links])
        links = [
            PredictedLink(x.head, x.relation, x.tail, x.score, x.rank, float(p))
            for x, p in zip(links, probability.tolist(), strict=True)
        ]
        kept = [x for x in links if x.probability >= min_probability]  # type: ignore[operator]
        summary.below_probability = len(links) - len(kept)
        links = kept
    summary.kept = len(links)
    if write:
        _write(kg, links, replace, model_name)
    return Links(links, summary)


def _predict_chunk(
    model: LinkPredictor,
    kg: KnowledgeGraph,
    texts: dict[str, str],
    targets: list[str],
    rels: list[str],
    k: int,
    sides: list[bool],
    masks: dict[bool, list[torch.Tensor | None]],
    signature: RelationTypes | None,
    summary: LinkSummary,
) -> list[tuple[str, bool, PredictedLink]]:
    """``(target, heads, link)`` for the best ``k`` fresh candidates of every query."""
    refs = [e if e in model.entity_index else texts[e] for e in targets]
    stated = {heads: [_known(kg, e, heads) for e in targets] for heads in (False, True)}
    # a graph encoder also reads the new entities' extracted edges to entities it knows
    edges = [_edges(model, e, stated[False][i], stated[True][i]) for i, e in enumerate(targets)]
    context = edges if model.neighbourhood is not None else None
    out: list[tuple[str, bool, PredictedLink]] = []
    for heads in sides:
        most = max((len(ids) for by_rel in stated[heads] for ids in by_rel.values()), default=0)
        ranked = model.predict_batch(
            refs, rels, k=k + most, heads=heads, edges=context, allowed=masks[heads]
        )
        for entity, by_rel, per_relation in zip(targets, stated[heads], ranked, strict=True):
            for relation, predictions, mask in zip(rels, per_relation, masks[heads], strict=True):
                summary.candidates += model.num_entities
                # the target is the tail of (?, r, e) with heads, else the head of (e, r, ?)
                if signature is not None and not signature.fits(entity, relation, not heads):
                    summary.type_filtered += model.num_entities
                    continue
                if mask is not None:
                    summary.type_filtered += int((~mask).sum())
                told = by_rel.get(relation, set())
                fresh = [p for p in predictions if p.entity not in told]
                summary.stated += len(predictions) - len(fresh)
                for p in fresh[:k]:
                    h, t = (p.entity, entity) if heads else (entity, p.entity)
                    out.append((entity, heads, PredictedLink(h, relation, t, p.score, 0)))
    return out


def _select(
    found: list[tuple[str, bool, PredictedLink]], k: int, per_relation: bool, summary: LinkSummary
) -> list[PredictedLink]:
    """One link per (h, r, t) (a pair of targets finds it from both ends), the best ``k`` per
    target (and relation and direction with ``per_relation``), ranked; best first overall."""
    best: dict[tuple[str, str, str], tuple[str, bool, PredictedLink]] = {}
    for item in sorted(found, key=lambda x: -x[2].score):
        link = item[2]
        best.setdefault((link.head, link.relation, link.tail), item)
    groups: dict[tuple, list[PredictedLink]] = {}
    for target, heads, link in best.values():  # in score order
        key = (target, link.relation, heads) if per_relation else (target,)
        groups.setdefault(key, []).append(link)
    out = []
    for members in groups.values():
        for rank, link in enumerate(members[:k], start=1):
            out.append(PredictedLink(link.head, link.relation, link.tail, link.score, rank))
        summary.over_k += max(0, len(members) - k)
    return sorted(out, key=lambda x: (-x.score, x.rank))


def _describe(calibrator: Calibrator | None) -> str:
    if calibrator is None:
        return "no (raw scores)"
    n = calibrator.fitted_on
    return f"{calibrator.method}, fitted on {n.get('positives', '?')} {n.get('split', '')} triples"


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
        if link.probability is not None:
            quads.append((node, KGF.probability, RDFLiteral(link.probability, datatype=XSD.double)))
    if replace:
        kg.replace_graph(PREDICTED_GRAPH, quads)
    else:
        kg.add_many(quads, graph=PREDICTED_GRAPH)
