"""Plain records passed between extraction components."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Mention:
    """An entity mention: character offsets into the text it was found in, and its type.

    ``coreferent``: a pronoun or description ("he", "the company") that refers to the mention it
    aliases; it is not one of the entity's names.
    """

    start: int
    end: int
    text: str
    label: str
    score: float = 1.0
    coreferent: bool = False

    def shifted(self, offset: int) -> Mention:
        """The same mention with offsets moved by ``offset`` (sentence <-> document offsets)."""
        return replace(self, start=self.start + offset, end=self.end + offset)


@dataclass(frozen=True)
class RelationMention:
    """A relation between two mentions of one sentence (indices into its mention list)."""

    head: int
    tail: int
    label: str
    confidence: float


IS_A = "is_a"
"""Predicate of type statements ("Marie Curie, a physicist": Marie Curie is_a physicist)."""

CLASS_LABEL = "Class"
"""Label of a mention that names a class (the object of an ``is_a`` statement), not an entity."""


@dataclass(frozen=True)
class Statement:
    """A relation found in a document: mentions carry document character offsets.

    ``sentence`` is the (start, end) character span of the sentence it was found in; an ``is_a``
    statement whose object has label ``CLASS_LABEL`` types its subject. ``surface`` is the
    predicate as found ("held_at") when ``predicate`` is its canonical one ("held_in").
    """

    subject: Mention
    predicate: str
    object: Mention
    confidence: float
    sentence: tuple[int, int]
    extractor: str
    surface: str = ""  # the phrase the predicate was found by, when canonicalised to another

    def shifted(self, offset: int) -> Statement:
        """The same statement with every offset moved by ``offset``."""
        a, b = self.sentence
        return replace(
            self,
            subject=self.subject.shifted(offset),
            object=self.object.shifted(offset),
            sentence=(a + offset, b + offset),
        )


@dataclass
class DocExtraction:
    """Everything extracted from one document.

    ``mentions`` are the entity mentions in text order (``label`` = the pipeline's type);
    ``canonical[i]`` is the index of the mention that mention ``i`` aliases within the document
    (``i`` itself for a first, full mention), e.g. "Curie" after "Marie Curie".
    """

    text: str
    sentences: list[tuple[int, int]]
    mentions: list[Mention]
    canonical: list[int]
    statements: list[Statement]

    @classmethod
    def join(cls, parts: Sequence[tuple[int, DocExtraction]]) -> DocExtraction:
        """One document's extraction from those of consecutive pieces of it, given as
        ``(offset of the piece in the document, extraction)``: offsets become document offsets
        (aliases stay within their piece)."""
        text = "".join(part.text for _, part in parts)
        joined = cls(text, [], [], [], [])
        for offset, part in parts:
            base = len(joined.mentions)
            joined.sentences += [(a + offset, b + offset) for a, b in part.sentences]
            joined.mentions += [m.shifted(offset) for m in part.mentions]
            joined.canonical += [c + base for c in part.canonical]
            joined.statements += [st.shifted(offset) for st in part.statements]
        return joined
