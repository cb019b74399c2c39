"""Canonical relations: predicate variants grouped into one predicate, the phrase kept as a label.

Dependency patterns name a relation by the words that state it, so one relation comes out
under several names (``held_at`` / ``hold_at`` / ``held_in``, ``city_in`` / ``town_in`` /
``city_of``). A predicate's canonical name is found in three steps, first match wins:

1. ``mapping``: the pipeline config's ``{surface: canonical}`` (the user's word is final);
2. its **lemma key**: the head word lemmatised by spaCy ("held" -> "hold"), the prepositions
   through ``prepositions`` (e.g. ``{at: in}``); predicates with one key are one relation;
3. optional **embedding similarity** (``embedding: {threshold: 0.8}``): the key's phrase
   ("held in") embedded with a sentence-transformers model joins the most similar earlier
   cluster when the cosine similarity is at least the threshold and the two can be one relation:
   both or neither end in a preposition (``star`` and ``star_in`` point opposite ways), and they
   share the head word or the preposition (``wife`` and ``husband`` are not one relation).

A cluster is named by the first predicate seen in it: results depend on the order of the
documents (the same corpus gives the same names, with any number of worker processes: this runs
in the main process), and a run into a store first takes the mapping already stored there
(``seed``), so later runs keep the names. Each statement keeps the phrase it was found by as its
``surface``; the mapping is written to the store's ``graph:relations`` (``kgforge.extract.run``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np
from rdflib.namespace import RDF, RDFS, SKOS

from kgforge.extract.config import CanonicalConfig
from kgforge.extract.rdf import iri, literal
from kgforge.extract.types import IS_A, DocExtraction
from kgforge.graph.namespaces import KGF, RELATIONS_GRAPH, relation_iri
from kgforge.models import default_text_model, load_sentence_model

_PREPOSITIONS = frozenset({
    "about", "across", "after", "against", "along", "among", "around", "as", "at", "before",
    "behind", "between", "by", "during", "for", "from", "in", "inside", "into", "near", "of",
    "on", "onto", "outside", "over", "since", "through", "throughout", "to", "toward",
    "towards", "under", "until", "upon", "with", "within", "without",
})  # fmt: skip


class PredicateCanonicalizer:
    """Map predicates to canonical ones and remember every (surface, canonical) pair.

    Args:
        config: the pipeline's ``canonical`` section.
        lemmatize: a word's lemma (the pipeline's spaCy lemmatizer).

    Example:
        >>> c = PredicateCanonicalizer(CanonicalConfig(), {"held": "hold"}.get)
        >>> c.canonical("held_at"), c.canonical("hold_at")
        ('held_at', 'held_at')
    """

    def __init__(self, config: CanonicalConfig, lemmatize: Callable[[str], str | None]) -> None:
        self.config = config
        self._lemmatize = lemmatize
        self._of_key: dict[str, str] = {}  # lemma key -> canonical
        self._of_surface: dict[str, str] = {}  # surface -> canonical
        self._clusters: list[tuple[str, np.ndarray]] = []  # (canonical, unit vector)
        self._model: Any = None
        self._vectors: dict[str, np.ndarray] = {}  # lemma key -> unit vector

    def seed(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Start from known ``(surface, canonical)`` pairs (a store's mapping)."""
        for surface, canonical in sorted(pairs):
            if surface in self.config.mapping:
                continue
            self._of_surface[surface] = canonical
            self._of_key.setdefault(self.key(surface), canonical)
            if canonical == surface and self.config.embedding is not None:
                self._clusters.append((canonical, self._encode(self.key(canonical))))

    def key(self, predicate: str) -> str:
        """The lemma key: head word lemmatised, prepositions mapped ("held_at" -> "hold_in"
        with ``prepositions: {at: in}``)."""
        words = predicate.split("_")
        preps = self.config.prepositions
        head = words[0] if words[0] in _PREPOSITIONS else (self._lemmatize(words[0]) or words[0])
        return "_".join([head, *(preps.get(w, w) for w in words[1:])])

    def canonical(self, predicate: str) -> str:
        """The canonical predicate of ``predicate`` (``is_a`` stays as it is)."""
        if predicate == IS_A:
            return predicate
        found = self.config.mapping.get(predicate) or self._of_surface.get(predicate)
        if found is not None:
            return found
        key = self.key(predicate)
        found = self._of_key.get(key)
        if found is None:
            found = self._nearest(key, predicate) if self.config.embedding else predicate
            self._of_key[key] = found
        self._of_surface[predicate] = found
        return found

    def _nearest(self, key: str, predicate: str) -> str:
        vector = self._encode(key)
        assert self.config.embedding is not None
        best, best_score = predicate, self.config.embedding.threshold
        for name, other in self._clusters:
            score = float(other @ vector)
            if score >= best_score and _compatible(key, self.key(name)):
                best, best_score = name, score
        if best == predicate:
            self._clusters.append((predicate, vector))
        return best

    def _encode(self, key: str) -> np.ndarray:
        if key not in self._vectors:
            self.prepare_keys([key])
        return self._vectors[key]

    def prepare_keys(self, keys: Iterable[str]) -> None:
        """Embed the phrases of the new lemma keys in one batch (one model call per batch of
        documents instead of one per predicate)."""
        todo = sorted({k for k in keys if k not in self._vectors})
        if not todo or self.config.embedding is None:
            return
        if self._model is None:
            name = self.config.embedding.model or default_text_model()
            self._model = load_sentence_model(name, "cpu")
        phrases = [k.replace("_", " ") for k in todo]
        vectors = self._model.encode(phrases, normalize_embeddings=True, batch_size=256)
        self._vectors.update(zip(todo, vectors, strict=True))

    def prepare(self, extractions: Iterable[DocExtraction]) -> None:
        """Embed, in one batch, the predicates of these extractions not seen before."""
        if self.config.embedding is None:
            return
        mapped = self.config.mapping.keys() | self._of_surface.keys()
        self.prepare_keys(
            self.key(st.predicate)
            for ex in extractions
            for st in ex.statements
            if st.predicate != IS_A and st.predicate not in mapped
        )

    def apply(self, extraction: DocExtraction) -> DocExtraction:
        """The extraction with canonical predicates; each statement keeps its phrase as
        ``surface``."""
        statements = []
        for st in extraction.statements:
            canonical = self.canonical(st.predicate)
            if canonical != st.predicate:
                st = replace(st, predicate=canonical, surface=st.surface or st.predicate)
            statements.append(st)
        return replace(extraction, statements=statements)

    def mapping(self) -> dict[str, str]:
        """Every predicate seen so far (and every configured one) -> its canonical predicate."""
        return {**self._of_surface, **self.config.mapping}


def _compatible(a: str, b: str) -> bool:
    """Whether two lemma keys may name one relation (see the module docstring)."""
    wa, wb = a.split("_"), b.split("_")
    pa, pb = wa[-1] in _PREPOSITIONS and len(wa) > 1, wb[-1] in _PREPOSITIONS and len(wb) > 1
    if pa != pb:
        return False
    if not pa:
        return wa[0] == wb[0]
    return wa[0] == wb[0] or wa[-1] == wb[-1]


MAPPING_QUERY = """SELECT ?surface ?canonical WHERE { GRAPH graph:relations {
  ?s kgf:canonicalRelation ?c ; skos:notation ?surface . ?c skos:notation ?canonical } }"""
"""The stored mapping, one row per predicate: its name as found and its canonical name."""

_CANONICAL, _NOTATION = iri(KGF.canonicalRelation), iri(SKOS.notation)
_TYPE, _LABEL, _ALT = iri(RDF.type), iri(RDFS.label), iri(SKOS.altLabel)


def relation_lines(mapping: dict[str, str]) -> list[str]:
    """N-Quads of ``graph:relations`` for a ``{surface: canonical}`` mapping: ``<rel:c> a
    kgf:Relation ; rdfs:label "c" ; skos:altLabel "s"`` and ``<rel:s> kgf:canonicalRelation
    <rel:c>`` (a canonical predicate is its own canonical), each with ``skos:notation``: the
    predicate's exact name."""
    g = f" {iri(RELATIONS_GRAPH)} .\n"
    lines: list[str] = []
    for surface, canonical in sorted({**mapping, **{c: c for c in mapping.values()}}.items()):
        s, c = iri(relation_iri(surface)), iri(relation_iri(canonical))
        lines += [
            f"{s} {_CANONICAL} {c}{g}",
            f"{s} {_NOTATION} {literal(surface)}{g}",
            f"{s} {_LABEL} {literal(surface.replace('_', ' '))}{g}",
        ]
        if surface == canonical:
            lines.append(f"{c} {_TYPE} {iri(KGF.Relation)}{g}")
        else:
            lines.append(f"{c} {_ALT} {literal(surface.replace('_', ' '))}{g}")
    return lines
