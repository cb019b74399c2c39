"""The schema extractor as a pipeline component: spaCy sentences in, ``Statement``s out.

It trains its :class:`~kgforge.extract.schema.model.SchemaModel` on first use from the
configured examples and keeps it in ``$KGFORGE_CACHE/schema-models`` keyed by the ontology and
example files' contents and the settings, so later runs load it. Argument mentions are typed
with the ontology's class labels (the relation's domain and range; ``Literal`` for a datatype
property or an unconstrained range) and written like any other pipeline's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from kgforge.cache import cache_path
from kgforge.extract.schema.config import SchemaRelations
from kgforge.extract.schema.model import FORMAT, Featurizer, SchemaModel, SchemaTriple
from kgforge.extract.schema.ontology import Ontology, load_ontology
from kgforge.extract.types import Mention, Statement

log = logging.getLogger(__name__)
LITERAL = "Literal"


def _model_path(spec: SchemaRelations) -> Path:
    digest = hashlib.sha256(f"schema-model-{FORMAT}".encode())
    for path in (spec.ontology, spec.examples):
        digest.update(Path(path).read_bytes() if path is not None else b"")
    settings = spec.model_dump(mode="json", exclude={"ontology", "examples", "min_confidence"})
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return cache_path("schema-models") / f"{digest.hexdigest()[:24]}.npz"


class SchemaExtractor:
    """Extract the triples of an ontology from parsed sentences."""

    def __init__(self, spec: SchemaRelations, nlp: Any) -> None:
        self.spec = spec
        self.ontology: Ontology = load_ontology(spec.ontology)
        featurizer = Featurizer(spec.encoder)
        self.backend: Any
        if spec.generative is not None:
            from kgforge.extract.schema.generative import GenerativeBackend

            self.backend = GenerativeBackend(self.ontology, spec.generative, spec.examples)
            return
        path = _model_path(spec)
        if path.exists():
            self.backend = SchemaModel.load(path, self.ontology, featurizer)
            return
        examples = []
        if spec.examples is not None:
            from kgforge.extract.schema.examples import read_examples

            examples = read_examples(spec.examples, self.ontology)
        log.info("training the schema model on %d example sentences", len(examples))
        self.backend = SchemaModel.fit(
            self.ontology,
            examples,
            nlp,
            featurizer,
            dev_share=spec.dev_share,
            seed=spec.seed,
            objective=spec.objective,
        )
        self.backend.save(path)

    def class_label(self, cid: str | None) -> str:
        return self.ontology.class_label(cid) if cid is not None else LITERAL

    def statements(self, text: str, sents: list, spans: list[tuple[int, int]]) -> list[Statement]:
        """Statements of a document's sentences (``spans``: their trimmed character spans)."""
        out = []
        for sent, span, preds in zip(sents, spans, self.backend.predict(sents), strict=True):
            off = sent.start_char
            for p in preds:
                if p.confidence < self.spec.min_confidence:
                    continue
                st = self._statement(p, off, span)
                if st is not None:
                    out.append(st)
        return out

    def _statement(self, p: SchemaTriple, off: int, span: tuple[int, int]) -> Statement | None:
        try:
            r = self.ontology.relation(p.relation)
        except KeyError:  # never write a relation outside the ontology
            log.debug("dropped %r: not in the ontology", p.relation)
            return None
        subj = Mention(
            p.subject.start + off, p.subject.end + off, p.subject_text, self.class_label(r.domain)
        )
        obj = Mention(
            p.object.start + off, p.object.end + off, p.object_text, self.class_label(r.range)
        )
        return Statement(subj, r.name, obj, round(float(p.confidence), 4), span, "schema")


def add_argument_mentions(
    mentions: list[Mention], canonical: list[int], statements: list[Statement]
) -> tuple[list[Mention], list[int]]:
    """The document's mentions plus the schema statements' arguments not among them (each its
    own canonical mention), in text order: the graph writer finds arguments by their span."""
    have = {(m.start, m.end) for m in mentions}
    rows = [(m, mentions[c]) for m, c in zip(mentions, canonical, strict=True)]
    for st in statements:
        for m in (st.subject, st.object):
            if (m.start, m.end) not in have:
                have.add((m.start, m.end))
                rows.append((m, m))
    rows.sort(key=lambda r: (r[0].start, r[0].end))
    position = {(m.start, m.end): i for i, (m, _) in enumerate(rows)}
    return [m for m, _ in rows], [position[(c.start, c.end)] for _, c in rows]
