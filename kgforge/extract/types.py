"""Plain records passed between extraction components."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mention:
    """An entity mention: character offsets into the text it was found in, and its type."""

    start: int
    end: int
    text: str
    label: str
    score: float = 1.0


@dataclass(frozen=True)
class RelationMention:
    """A relation between two mentions of one sentence (indices into its mention list)."""

    head: int
    tail: int
    label: str
    confidence: float
