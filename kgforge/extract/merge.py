"""Optional entity merging by label-embedding similarity (``resolution.embedding`` in a pipeline).

When a run meets an entity whose name matched no known one (``EntityResolver``), its label is embedded with a
sentence-transformers model and compared with the labels of the known entities of the same type
(those in the store's entity records and those met earlier in the run); at cosine similarity
>= ``threshold`` the mention takes the known entity's IRI ("Steven Jobs" -> Steve Jobs). The
result depends on the order in which documents arrive, which is why it is off by default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rdflib import URIRef
from rdflib.namespace import RDF, RDFS

from kgforge.extract.config import EmbeddingMerge
from kgforge.extract.resolve import entity_key_iri
from kgforge.graph.namespaces import ENTITIES_GRAPH, type_iri
from kgforge.graph.store import KnowledgeGraph
from kgforge.models import default_text_model, load_sentence_model


class EmbeddingMerger:
    """Name entities, reusing the IRI of a known entity of the same type with a similar label."""

    def __init__(self, kg: KnowledgeGraph, config: EmbeddingMerge) -> None:
        self.kg = kg
        self.model_name = config.model or default_text_model()
        self.threshold = config.threshold
        self._model: Any = None
        self._index: dict[URIRef, tuple[list[URIRef], list[np.ndarray]]] | None = None
        self._resolved: dict[URIRef, URIRef] = {}

    def _encode(self, label: str) -> np.ndarray:
        if self._model is None:
            self._model = load_sentence_model(self.model_name, "cpu")
        return self._model.encode([label], normalize_embeddings=True)[0]

    def _known(self) -> dict[URIRef, tuple[list[URIRef], list[np.ndarray]]]:
        """Known entities by type: their IRIs and label embeddings (built on first use)."""
        if self._index is None:
            self._index = {}
            labels = {
                s: o for s, _, o in self.kg.triples((None, RDFS.label, None), graph=ENTITIES_GRAPH)
            }
            for entity, _, type_ in self.kg.triples((None, RDF.type, None), graph=ENTITIES_GRAPH):
                if entity in labels:
                    iris, vectors = self._index.setdefault(type_, ([], []))
                    iris.append(entity)
                    vectors.append(self._encode(str(labels[entity])))
                    self._resolved[entity] = entity
        return self._index

    def resolve(self, label: str, type_: str, scope: str | None = None) -> URIRef:
        """The IRI for an entity named ``label`` (voted type ``type_``), that of a similar known
        one of the same type when there is one."""
        iri = entity_key_iri(label, scope)
        known = self._known()
        if iri in self._resolved:
            return self._resolved[iri]
        vector = self._encode(label)
        iris, vectors = known.setdefault(type_iri(type_), ([], []))
        target = iri
        if vectors:
            scores = np.stack(vectors) @ vector
            best = int(scores.argmax())
            if scores[best] >= self.threshold:
                target = iris[best]
        if target == iri:
            iris.append(iri)
            vectors.append(vector)
        self._resolved[iri] = target
        return target
