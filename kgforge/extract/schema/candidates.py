"""Argument candidates of a sentence: entity and literal spans, and their canonical surface forms.

A candidate is a character span of the sentence with the *kinds* of evidence that proposed it:
a spaCy entity label (``PERSON``, ``DATE``, ...), ``NP`` (a noun chunk, determiners stripped),
``CAP`` (a run of capitalised words, allowing ``of``/``the``/``and``/``de``... inside),
``NUM`` (a number), ``QUOTE`` (a quoted string). The same span proposed twice is one candidate
with both kinds. Kinds are what ontology classes are typed against (see ``typing.py``).

Canonicalisation turns a span into the form a knowledge graph (or benchmark) spells it: dates
are parsed and rendered in one template (chosen from the training examples, see
:class:`DateRenderer`), and other spans keep their text without a leading article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Span

KINDS = (
    "PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW",
    "LANGUAGE", "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL",
    "NP", "CAP", "NUM", "QUOTE", "TOPIC",
)  # fmt: skip
_CONNECTORS = {"of", "the", "and", "de", "la", "le", "del", "della", "von", "van", "der", "&", "for",
               "du", "des", "da", "di", "in", "on", "to", "a", "an", "'s", "-", ":", "!", "?", ","}  # fmt: skip
_QUOTE = re.compile(r"[\"“”«»]([^\"“”«»]{1,80})[\"“”«»]")
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "his", "her", "its", "their"}
_NOT_ARGUMENTS = _DETERMINERS | {"it", "he", "she", "they", "we", "i", "you", "him", "them",
                                 "who", "which", "what", "there", "here", "one", "both"}  # fmt: skip
MAX_TOKENS = 12


@dataclass(frozen=True)
class Candidate:
    """A span of a sentence (offsets relative to it) and the kinds that proposed it."""

    start: int
    end: int
    text: str
    kinds: frozenset[str]


def candidates(sent: Span) -> list[Candidate]:
    """All candidate spans of a parsed sentence, in text order."""
    base = sent.start_char
    text = sent.text
    found: dict[tuple[int, int], set[str]] = {}

    def add(start: int, end: int, kind: str) -> None:
        while start < end and text[start] in " \"'“”«»(,":
            start += 1
        while end > start and text[end - 1] in " \"'“”«»),.;:":
            end -= 1
        if end > start and text[start:end].lower() not in _NOT_ARGUMENTS:
            found.setdefault((start, end), set()).add(kind)
            if text.endswith(("'s", "’s"), start, end) and end - start > 2:  # a possessive
                found.setdefault((start, end - 2), set()).add(kind)

    for ent in sent.ents:
        add(ent.start_char - base, ent.end_char - base, ent.label_)
        if ent[0].lower_ in _DETERMINERS and len(ent) > 1:
            add(ent[1].idx - base, ent.end_char - base, ent.label_)
    _topic(sent, base, add)
    for chunk in sent.noun_chunks:
        toks = [t for t in chunk if not (t.i == chunk.start and t.lower_ in _DETERMINERS)]
        toks = [t for t in toks if t.tag_ != "POS"]
        if toks and len(toks) <= MAX_TOKENS:
            add(toks[0].idx - base, toks[-1].idx + len(toks[-1]) - base, "NP")
            # without leading adjectives ("Japanese rekishi monogatari"), and the compound
            # before a common-noun head ("rugby league organization" -> "rugby league")
            k = 0
            while k < len(toks) - 1 and toks[k].pos_ == "ADJ":
                k += 1
            if k:
                add(toks[k].idx - base, toks[-1].idx + len(toks[-1]) - base, "NP")
            head = chunk.root
            mods = [t for t in toks if t.i < head.i and t.dep_ == "compound"]
            if head.pos_ == "NOUN" and mods and toks[-1].i == head.i:
                first = mods[0]
                last = sent.doc[head.i - 1]
                if all(t.dep_ == "compound" for t in sent.doc[first.i : head.i]):
                    add(first.idx - base, last.idx + len(last) - base, "NP")
    _capitalised(sent, base, add)
    for tok in sent:
        if tok.like_num:
            add(tok.idx - base, tok.idx + len(tok) - base, "NUM")
    for m in _QUOTE.finditer(text):
        add(m.start(1), m.end(1), "QUOTE")
    return [Candidate(a, b, text[a:b], frozenset(kinds)) for (a, b), kinds in sorted(found.items())]


def _capitalised(sent: Span, base: int, add) -> None:  # type: ignore[no-untyped-def]
    """Runs of capitalised tokens, with connector words inside (not at either end)."""
    toks = list(sent)
    i = 0
    while i < len(toks):
        if not _is_cap(toks[i]):
            i += 1
            continue
        j, last = i, i
        while j + 1 < len(toks) and j + 1 - i < MAX_TOKENS:
            nxt = toks[j + 1]
            if _is_cap(nxt):
                last = j = j + 1
            elif nxt.lower_ in _CONNECTORS:
                j += 1
            else:
                break
        add(toks[i].idx - base, toks[last].idx + len(toks[last]) - base, "CAP")
        # a run opened by a sentence-initial common word ("Early on in Daniele Barioni") also
        # without it, and a run with commas inside also as its comma-separated parts
        starts = [k for k in range(i, last + 1) if _is_cap(toks[k])]
        if toks[i].i == sent.start and toks[i].pos_ != "PROPN" and len(starts) > 1:
            add(toks[starts[1]].idx - base, toks[last].idx + len(toks[last]) - base, "CAP")
        piece = i
        for k in range(i, last + 2):
            if k == last + 1 or toks[k].text == ",":
                end = k - 1
                if end >= piece and (piece, end) != (i, last) and _is_cap(toks[piece]):
                    add(toks[piece].idx - base, toks[end].idx + len(toks[end]) - base, "CAP")
                piece = k + 1
        i = last + 1


def _topic(sent: Span, base: int, add) -> None:  # type: ignore[no-untyped-def]
    """What an encyclopaedic sentence is about, when it opens the sentence: the words before a
    first parenthesis ("I am a werewolf cub (Swedish: ...) is a novel"), or the subject of the
    main verb ("Gay Sex in the 70s is a 2005 film"), at most :data:`MAX_TOKENS` tokens."""
    toks = list(sent)
    if not toks or not toks[0].text[:1].isupper():
        return
    first = toks[0].idx - base
    for k, tok in enumerate(toks[: MAX_TOKENS + 1]):
        if tok.text in (",", ";"):
            break
        if tok.text == "(" and k > 0:
            add(first, toks[k - 1].idx + len(toks[k - 1]) - base, "TOPIC")
            break
    for child in sent.root.children:
        if child.dep_ in ("nsubj", "nsubjpass") and child.left_edge.i == toks[0].i:
            right = child.right_edge
            inside = sent.doc[toks[0].i : right.i + 1]
            if right.i - toks[0].i < MAX_TOKENS and not any(t.text == "(" for t in inside):
                add(first, right.idx + len(right) - base, "TOPIC")


def _is_cap(tok) -> bool:  # type: ignore[no-untyped-def]
    return tok.text[:1].isupper() or (tok.text[:1].isdigit() and tok.i > tok.sent.start)


# ---- canonical forms -------------------------------------------------------------------------
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip
_MONTH = {m.lower(): i + 1 for i, m in enumerate(MONTHS)} | {
    m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)
}
_YEAR = r"(1[0-9]{3}|20[0-9]{2})"
_DATE_PATTERNS = (
    re.compile(rf"^(\d{{1,2}})\s+([A-Za-z]+)\.?,?\s+{_YEAR}$"),  # 25 July 2006
    re.compile(rf"^([A-Za-z]+)\.?\s+(\d{{1,2}}),?\s+{_YEAR}$"),  # July 25, 2006
    re.compile(rf"^([A-Za-z]+)\.?,?\s+{_YEAR}$"),  # April 1995
    re.compile(rf"^{_YEAR}$"),  # 1995
    re.compile(rf"^{_YEAR}-(\d{{2}})-(\d{{2}})$"),  # 2006-07-25
)


def parse_date(text: str) -> tuple[int, int | None, int | None] | None:
    """(year, month, day) of a date written out in English; ``None`` if it is not one."""
    t = re.sub(r"^(in|on|the|early|late|mid)\s+", "", text.strip(), flags=re.I)
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", t)
    for k, pat in enumerate(_DATE_PATTERNS):
        m = pat.match(t)
        if not m:
            continue
        g = m.groups()
        if k == 0 and g[1].lower() in _MONTH:
            return int(g[2]), _MONTH[g[1].lower()], int(g[0])
        if k == 1 and g[0].lower() in _MONTH:
            return int(g[2]), _MONTH[g[0].lower()], int(g[1])
        if k == 2 and g[0].lower() in _MONTH:
            return int(g[1]), _MONTH[g[0].lower()], None
        if k == 3:
            return int(g[0]), None, None
        if k == 4:
            return int(g[0]), int(g[1]), int(g[2])
    return None


DATE_TEMPLATES: dict[str, str] = {
    "text": "",  # the span as written
    "dmy_filled": "{day:02d} {month_name} {year}",  # 01 January 1995 (missing parts: 1, January)
    "iso": "{year:04d}-{month:02d}-{day:02d}",
    "year": "{year}",
}


class DateRenderer:
    """Renders parsed dates in one of :data:`DATE_TEMPLATES` (``text`` keeps them as written).

    >>> DateRenderer("dmy_filled").render("April 1995")
    '01 April 1995'
    """

    def __init__(self, template: str = "text") -> None:
        if template not in DATE_TEMPLATES:
            raise ValueError(f"unknown date template {template!r}")
        self.template = template

    def render(self, text: str) -> str | None:
        """The canonical form of a date span, ``None`` if the span is no date."""
        if self.template == "text":
            return None
        parsed = parse_date(text)
        if parsed is None:
            return None
        year, month, day = parsed
        return DATE_TEMPLATES[self.template].format(
            year=year,
            month=month or 1,
            day=day or 1,
            month_name=MONTHS[(month or 1) - 1],
        )


def lower_article(text: str) -> str:
    """ "the National Film Award" -> "National Film Award": a leading article in lower case
    belongs to the sentence, not the name ("The Beatles" keeps its article)."""
    head, _, rest = text.partition(" ")
    return rest if head in ("the", "a", "an") and rest else text


def strip_article(text: str) -> str:
    """ "the Beatles" -> "Beatles"; a name that is only an article stays."""
    head, _, rest = text.partition(" ")
    return rest if head.lower() in ("the", "a", "an") and rest else text


def surface_forms(text: str, dates: DateRenderer) -> list[str]:
    """The forms a span may be written as in a graph: its date rendering first, then the text."""
    out = []
    date = dates.render(text)
    if date is not None:
        out.append(date)
    out.append(lower_article(text))
    for plain in (text, strip_article(text)):
        if plain not in out:
            out.append(plain)
    return out
