"""Words and candidate spans of the joint extractor (:mod:`kgforge.extract.trained.joint`).

The joint model classifies every span of up to ``max_width`` consecutive *words* of a sentence
(SpERT's span enumeration), so a word is the unit of an entity boundary. Words are runs of
letters and digits with the punctuation inside names kept ("U.S.", "AT&T", "O'Neill",
"Jean-Paul"; a possessive "'s" is a word of its own), and every other non-space character on its own; a final period stays on a word
only when the word already has an inner one ("U.S.") or is a short capitalised abbreviation
("Inc.", "Mr.", "Corp."), so "... in Seattle." ends the entity before the period. On
CoNLL04, whose text is tokenized with spaces, every gold entity boundary is a word boundary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+(?:(?:[.&\-/]|['’](?![sS]\b))[^\W_]+)*\.?|\S")
_ABBREVIATION = re.compile(r"(?:[A-Z][a-z]{0,3}|[A-Z]{1,3})\.")


def words(text: str) -> list[tuple[int, int]]:
    """The words of ``text`` as character spans ``(start, end)``, in order."""
    out = []
    for m in _WORD.finditer(text):
        start, end = m.span()
        word = m.group()
        if (
            len(word) > 1
            and word.endswith(".")
            and "." not in word[:-1]
            and not _ABBREVIATION.fullmatch(word)
        ):
            out += [(start, end - 1), (end - 1, end)]
        else:
            out.append((start, end))
    return out


def enumerate_spans(n_words: int, max_width: int) -> list[tuple[int, int]]:
    """Every span of 1..``max_width`` consecutive words of a sentence of ``n_words`` words, as
    word indices ``(first, last + 1)``, never past the sentence's end: SpERT's candidates."""
    if max_width < 1:
        raise ValueError(f"max_width must be at least 1, not {max_width}")
    return [(i, j) for i in range(n_words) for j in range(i + 1, min(n_words, i + max_width) + 1)]


def align(
    spans: Sequence[tuple[int, int]], word_spans: Sequence[tuple[int, int]]
) -> list[tuple[int, int] | None]:
    """Character spans as word spans ``(first, last + 1)``; ``None`` for a span whose start or
    end is not a word boundary (it cannot be predicted, so it cannot be learned either)."""
    starts = {s: i for i, (s, _) in enumerate(word_spans)}
    ends = {e: i for i, (_, e) in enumerate(word_spans)}
    out: list[tuple[int, int] | None] = []
    for start, end in spans:
        i, j = starts.get(start), ends.get(end)
        out.append((i, j + 1) if i is not None and j is not None and j >= i else None)
    return out
