"""Entity resolution: normalised labels, in-document aliasing, and entity IRIs.

Mentions resolve in three steps. Normalisation strips what does not name the entity (a leading
"the", a possessive "'s", surrounding punctuation, repeated whitespace). In-document aliasing maps a
mention to an earlier mention of the same type whose normalised tokens start or end with its own
("Curie" after "Marie Curie", "Apple" after "Apple Inc."). Across documents, entities merge by
normalised label and type because the IRI is minted from exactly those (``entity_iri``); with
``cross_document: false`` the document id is part of the key instead. Optional merging by
embedding similarity lives in ``kgforge.extract.merge``.
"""

from __future__ import annotations

import re

from rdflib import URIRef

from kgforge.extract.types import Mention
from kgforge.graph.namespaces import ENT, entity_iri, mint

_LEADING_THE = re.compile(r"^(the)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\s*['\u2019]s?$")
_EDGE_PUNCT = " \t\n.,;:!?\"'()[]{}\u201c\u201d\u2018\u2019"


def display_label(text: str) -> str:
    """The label shown for a mention: "the Nobel Prize's" -> "Nobel Prize"."""
    label = " ".join(text.split()).strip(_EDGE_PUNCT)
    label = _POSSESSIVE.sub("", label)
    label = _LEADING_THE.sub("", label)
    return label.strip(_EDGE_PUNCT) or " ".join(text.split())


def normalize(text: str) -> str:
    """The matching key of a mention: its display label, case-folded."""
    return display_label(text).casefold()


class Aliaser:
    """Assign each mention of one document the index of the mention it aliases."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._canonical: list[tuple[tuple[str, ...], str, int]] = []  # tokens, label, index

    def add(self, mention: Mention, index: int) -> int:
        """Register mention number ``index``; returns the index of its canonical mention."""
        found = self.find(mention.text, mention.label)
        if found is not None:
            return found
        self._canonical.append((tuple(normalize(mention.text).split()), mention.label, index))
        return index

    def find(self, text: str, label: str | None) -> int | None:
        """The canonical mention that ``text`` names (same or longer, same type), latest first.

        ``label`` None matches any type: a proper noun spaCy did not tag ("Jobs" after "Steve
        Jobs") is only used when it names an entity already seen.
        """
        tokens = tuple(normalize(text).split())
        if not tokens:
            return None
        n = len(tokens)
        for cand, cand_label, index in reversed(self._canonical):
            if label is not None and cand_label != label:
                continue
            if cand == tokens:
                return index
            if self.enabled and len(cand) > n and (cand[:n] == tokens or cand[-n:] == tokens):
                return index
        return None


def entity_key_iri(label: str, type_: str, doc_id: str | None = None) -> URIRef:
    """IRI of an entity: by normalised label and type, scoped to a document when ``doc_id``."""
    if doc_id is None:
        return entity_iri(normalize(label), type_)
    return mint(ENT, normalize(label), type_.casefold(), doc_id)
