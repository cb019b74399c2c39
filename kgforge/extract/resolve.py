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
from functools import lru_cache

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
        self._canonical: list[tuple[tuple[str, ...], str, int, int]] = []  # tokens, label, i, start

    def add(self, mention: Mention, index: int) -> int:
        """Register mention number ``index`` (in text order); returns its canonical's index."""
        found = self.find(mention.text, mention.label, mention.start)
        if found is not None:
            return found
        tokens = tuple(normalize(mention.text).split())
        self._canonical.append((tokens, mention.label, index, mention.start))
        return index

    def find(self, text: str, label: str | None, before: int) -> int | None:
        """The canonical mention, starting before offset ``before``, that ``text`` names.

        An exact match wins; otherwise the earliest longer mention of the same type that starts
        or ends with ``text``: in encyclopedic prose the first full name is the topic ("Curie"
        in an article on Pierre Curie that later mentions Marie Curie). ``label`` None matches
        any type: a proper noun spaCy did not tag ("Jobs" after "Steve Jobs") is only used
        when it names an entity already seen.
        """
        tokens = tuple(normalize(text).split())
        if not tokens:
            return None
        n = len(tokens)
        partial = None
        for cand, cand_label, index, start in self._canonical:
            if start >= before or (label is not None and cand_label != label):
                continue
            if cand == tokens:
                return index
            if (
                partial is None
                and self.enabled
                and len(cand) > n
                and (cand[:n] == tokens or cand[-n:] == tokens)
            ):
                partial = index
        return partial


@lru_cache(maxsize=1 << 16)
def entity_key_iri(label: str, type_: str, doc_id: str | None = None) -> URIRef:
    """IRI of an entity: by normalised label and type, scoped to a document when ``doc_id``."""
    if doc_id is None:
        return entity_iri(normalize(label), type_)
    return mint(ENT, normalize(label), type_.casefold(), doc_id)
