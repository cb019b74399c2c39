"""Entity resolution: name keys, in-document aliasing, and cross-document identity.

Mentions resolve in three steps. Normalisation strips what does not name the entity (a leading
"the", a possessive "'s", surrounding punctuation, repeated whitespace, the dots of an acronym,
a leading title: "Mr. Obama" -> "obama", "U.S." -> "us"). In-document aliasing maps a mention to
an earlier mention whose name is the same, or (same type) a person's name its tokens start or end
("Curie" after "Marie Curie") or an organisation's name without its suffix ("Apple" after
"Apple Inc."); "Kansas" after "Kansas City" stays apart.

Across documents, ``EntityResolver`` gives each document's entities an IRI. The type a NER model
guessed is no part of it (the IRI is minted from the name key alone, ``entity_key_iri``): types
are attributes voted over mentions (``kgforge.extract.rdf.EntityRecord``). An entity takes the
IRI of a known one that

- has the same name or one of its aliases (``name``, ``alias``), unless the two contexts are too
  unlike (cosine of their bags of context words and co-occurring entity names below
  ``resolution.context.split_below``): then it becomes a new sense of the name (``split``), and a
  later mention picks the sense whose context is closest (``context``);
- is named by its acronym or has it as an acronym ("USA" / "United States of America", ``acronym``);
- is the one known person with its surname ("Curie" / "Marie Curie", ``surname``; both typed as
  one of ``resolution.person_types``).

Every decision that merged a mention into a known entity, or split it off one, is returned with
its rule and score so that the document graph records it (``kgf:MergeDecision``). The decisions
depend only on the evidence a document graph keeps, which is what lets ``rebuild`` resolve a
store again with other settings without parsing its documents again.
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np
from rdflib import URIRef
from spacy.lang.en.stop_words import STOP_WORDS

from kgforge.extract.types import Mention
from kgforge.graph.namespaces import ENT, document_iri, mint
from kgforge.spill import SpillDict

if TYPE_CHECKING:
    from kgforge.extract.context import ContextVectors

_LEADING_THE = re.compile(r"^(the)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\s*['\u2019]s?$")
_EDGE_PUNCT = " \t\n.,;:!?\"'()[]{}\u201c\u201d\u2018\u2019"
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]\.?")  # U.S. / U.S / U.K.
_ACRONYM = re.compile(r"[A-Z][A-Z&]{1,6}")
_WORD = re.compile(r"[a-z][a-z\-']{2,}")
TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "professor",
        "sir",
        "dame",
        "lord",
        "lady",
        "rev",
        "reverend",
        "fr",
        "father",
        "sen",
        "senator",
        "rep",
        "gov",
        "governor",
        "president",
        "pres",
        "judge",
        "justice",
    ]
)
"""Leading words of a person's name that are not part of it ("President Obama" = "Obama")."""
NOT_NAMES = frozenset({"jr", "sr", "ii", "iii", "iv"})
"""Name keys that never name an entity on their own (a generational suffix the NER tagged)."""
_MINOR = frozenset(
    [
        "of",
        "the",
        "and",
        "for",
        "de",
        "du",
        "des",
        "la",
        "le",
        "del",
        "da",
        "di",
        "in",
        "on",
        "at",
        "von",
        "van",
        "&",
    ]
)
_STOP = STOP_WORDS | {"born", "known", "called", "named", "became", "later", "part"}


@lru_cache(maxsize=1 << 16)
def display_label(text: str) -> str:
    """The label shown for a mention: "the Nobel Prize's" -> "Nobel Prize"."""
    label = " ".join(text.split()).strip(_EDGE_PUNCT)
    label = _POSSESSIVE.sub("", label)
    label = _LEADING_THE.sub("", label)
    return label.strip(_EDGE_PUNCT) or " ".join(text.split())


def normalize(text: str) -> str:
    """The display label, case-folded (what in-document aliasing compares)."""
    return display_label(text).casefold()


@lru_cache(maxsize=1 << 16)
def name_key(text: str) -> str:
    """The matching key of a name across documents: ``normalize`` without an acronym's dots and
    without leading titles ("U.S." -> "us", "Dr. Marie Curie" -> "marie curie")."""
    label = display_label(text)
    if _DOTTED.fullmatch(label):
        return label.replace(".", "").casefold()
    tokens = label.split()
    while len(tokens) > 1 and tokens[0].rstrip(".").casefold() in TITLES:
        tokens = tokens[1:]
    return " ".join(tokens).casefold()


@lru_cache(maxsize=1 << 16)
def acronym_of(label: str) -> str | None:
    """The letters of a name that is an acronym ("USA", "U.S." -> "US"), else None."""
    label = display_label(label)
    if _DOTTED.fullmatch(label):
        return label.replace(".", "").upper()
    return label if _ACRONYM.fullmatch(label) else None


@lru_cache(maxsize=1 << 16)
def initials(label: str) -> str | None:
    """The acronym a multi-word name would have ("United States of America" -> "USA"): the
    first letters of its capitalised words, skipping "of", "the" and the like; None for a name
    of fewer than two such words or with a lower-case word that is not one of those."""
    words = [w for w in re.split(r"[\s\-]+", display_label(label)) if w]
    letters = []
    for w in words:
        if w.casefold() in _MINOR:
            continue
        if not w[0].isupper():
            return None
        letters.append(w[0])
    return "".join(letters) if len(letters) >= 2 else None


def context_bag(
    contexts: Iterable[str], names: Iterable[str], cooccurring: Iterable[str]
) -> Counter:
    """What a mention's context is compared by: content words of its sentences (not its own
    name's) and the names of the other entities of its document (prefixed ``@``)."""
    own = {w for n in names for w in name_key(n).split()}
    words: list[str] = []
    for sentence in contexts:
        found = _content_words(sentence)
        words += found if own.isdisjoint(found) else [w for w in found if w not in own]
    words += ["@" + k for k in cooccurring]
    return Counter(words)  # one count in C (``Counter.update`` per part costs more than it)


@lru_cache(maxsize=1 << 14)
def _content_words(sentence: str) -> tuple[str, ...]:
    """The content words of a sentence (each sentence is the context of several entities)."""
    return tuple(w for w in _WORD.findall(sentence.casefold()) if w not in _STOP)


def cosine(a: Counter, b: Counter) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) < len(b) else (b, a)
    return _dot(small, large) / math.sqrt(_norm2(a) * _norm2(b))


def _dot(small: Counter, large: Counter) -> int:
    """Dot product of two bags, iterating the small one (in C: ``map`` over ``dict.get``)."""
    return sum(map(operator.mul, small.values(), map(large.get, small, repeat(0))))


def _norm2(bag: Counter) -> int:
    values = bag.values()
    return sum(map(operator.mul, values, values))


def full_names(label: str, aliases: Iterable[str]) -> list[str]:
    """``label`` and the aliases that are not just part of it: "Washington" in an article that
    calls George Washington so names no other entity by it (surnames match by ``surnames``)."""
    tokens = name_key(label).split()
    out = [label]
    for alias in aliases:
        part = name_key(alias).split()
        n = len(part)
        if n < len(tokens) and (tokens[:n] == part or tokens[-n:] == part):
            continue
        out.append(alias)
    return out


ORG_SUFFIXES = frozenset(
    {"inc", "corp", "corporation", "co", "company", "ltd", "limited", "llc", "plc", "group"}
    | {"ag", "gmbh", "sa", "holdings"}
)
"""Last words of an organisation's name that its short name leaves out ("Apple Inc.")."""


class Aliaser:
    """Assign each mention of one document the index of the mention it aliases.

    A shorter name aliases a longer one when it ends (or starts) the name of a person ("Curie"
    after "Marie Curie") or drops an organisation's suffix ("Apple" after "Apple Inc."), not
    when it is only part of another name ("Kansas" after "Kansas City").
    """

    def __init__(self, enabled: bool = True, person_types: Iterable[str] = ("Person",)) -> None:
        self.enabled = enabled
        self.person_types = frozenset(person_types)
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

        An exact match wins, whatever the types (a NER type error does not split an entity);
        otherwise the earliest longer mention of the same type that starts or ends with
        ``text``: in encyclopedic prose the first full name is the topic ("Curie" in an article
        on Pierre Curie that later mentions Marie Curie). ``label`` None matches any type: a
        proper noun spaCy did not tag ("Jobs" after "Steve Jobs") is only used when it names an
        entity already seen.
        """
        tokens = tuple(normalize(text).split())
        if not tokens:
            return None
        n = len(tokens)
        partial = None
        for cand, cand_label, index, start in self._canonical:
            if start >= before:
                continue
            if cand == tokens:
                return index
            if (
                partial is None
                and self.enabled
                and (label is None or cand_label == label)
                and len(cand) > n
                and self._shortens(cand, tokens, cand_label)
            ):
                partial = index
        return partial

    def _shortens(self, name: tuple[str, ...], short: tuple[str, ...], type_: str) -> bool:
        n = len(short)
        if type_ in self.person_types:
            return name[:n] == short or name[-n:] == short
        return name[:n] == short and all(w.strip(".,") in ORG_SUFFIXES for w in name[n:])


@lru_cache(maxsize=1 << 16)
def entity_key_iri(label: str, doc_id: str | None = None) -> URIRef:
    """IRI of an entity: by name key alone, scoped to a document when ``doc_id``."""
    if doc_id is None:
        return mint(ENT, name_key(label))
    return mint(ENT, name_key(label), doc_id)


@dataclass
class Decision:
    """How one entity of a document got its IRI: ``rule`` is "new" (minted), "name", "alias",
    "context", "split", "acronym", "surname", "embedding" or "link"; ``score`` the context
    similarity (or link score) it was taken with; ``matched`` the name it was matched by."""

    iri: URIRef
    rule: str
    score: float = 1.0
    matched: str = ""

    @property
    def merged(self) -> bool:
        """Whether the entity joined (or split off) an entity known before this document."""
        return self.rule != "new"


_MAX_TERMS = 256  # context terms kept per sense
_CLASS_CONFLICT_BELOW = 0.2  # disjoint classes split only contexts less similar than this


_NO_CLASSES: frozenset[str] = frozenset()


class Sense:
    """One known entity: its IRI, names, type votes and accumulated context.

    Its size is bounded whatever the number of its mentions (slots, no per-object dict): the
    names and type votes are distinct values, the bag of context words keeps at most
    ``2 * _MAX_TERMS`` terms, the context vector is one running sum (384 float32 for MiniLM),
    ``topics`` a tuple of the (usually one) documents it opens, and ``sources`` (contexts not
    yet embedded) holds only the mentions met before its first comparison. About 3 KB per
    entity on short encyclopaedic text, half of it the vector (``bench/scale_extract.py``).
    """

    __slots__ = (
        "iri", "names", "types", "context", "classes", "topics", "norm2", "vector",
        "vector_norm", "sources",
    )  # fmt: skip

    def __init__(self, iri: URIRef) -> None:
        self.iri = iri
        self.names: set[str] = set()
        self.types: Counter = Counter()
        self.context: Counter = Counter()
        self.classes: frozenset[str] = _NO_CLASSES  # of its "X is a C" statements
        self.topics: tuple[str, ...] = ()  # documents it is the topic of (opens them)
        self.norm2 = 0.0  # squared norm of ``context``, kept up to date
        self.vector: np.ndarray | None = None  # sum of its mentions' unit context vectors
        self.vector_norm = 0.0  # of ``vector``; -1: not computed since the last addition
        self.sources: list[tuple[Iterable[str], list[str]]] | None = None  # not embedded

    def add_source(self, source: tuple[Iterable[str], list[str]]) -> None:
        if self.sources is None:
            self.sources = [source]
        else:
            self.sources.append(source)

    def add_topic(self, topic: str) -> None:
        if topic not in self.topics:
            self.topics = (*self.topics, topic)

    def add_classes(self, classes: frozenset[str]) -> None:
        if classes and not classes <= self.classes:
            self.classes = self.classes | classes

    def add_vector(self, vector: np.ndarray | None) -> None:
        if vector is not None:
            if self.vector is None:
                self.vector = vector.copy()
            else:
                self.vector += vector
            self.vector_norm = -1.0  # computed when compared: many entities never are

    def vector_similarity(self, vector: np.ndarray, context: ContextVectors) -> float | None:
        """Cosine of a unit context vector and this entity's mean one (None: it has none);
        its mentions' contexts are embedded now, the first time it is compared."""
        if self.sources is not None:
            while self.sources:
                self.add_vector(context.vector(*self.sources.pop()))
            self.sources = None
        if self.vector is None:
            return None
        if self.vector_norm < 0:
            self.vector_norm = float(np.sqrt(self.vector @ self.vector))
        if self.vector_norm <= 0:
            return None
        return float(self.vector @ vector) / self.vector_norm

    def add(self, names: Iterable[str], types: dict[str, int], bag: Counter) -> None:
        self.names.update(names)
        self.types.update(types)
        context = self.context
        # |c + b|^2 = |c|^2 + 2 c.b + |b|^2
        self.norm2 += 2 * _dot(bag, context) + _norm2(bag)
        # counted in C: ``update`` with a mapping adds in a Python loop, with an iterable not
        context.update(bag.elements())
        if len(context) > 2 * _MAX_TERMS:
            self.context = Counter(dict(context.most_common(_MAX_TERMS)))
            self.norm2 = float(sum(v * v for v in self.context.values()))

    def similarity(self, bag: Counter, bag_norm2: float) -> float:
        """Cosine of ``bag`` (squared norm ``bag_norm2``) and this entity's context."""
        if not bag or not self.norm2:
            return 0.0
        return _dot(bag, self.context) / math.sqrt(bag_norm2 * self.norm2)

    @property
    def type(self) -> str | None:
        return min(self.types.items(), key=lambda kv: (-kv[1], kv[0]))[0] if self.types else None


class EntityResolver:
    """Cross-document identity of entities, from each document's evidence (see module doc).

    Args:
        split_below: context similarity under which a same-name entity becomes a new sense
            (None: never split).
        acronyms: merge acronyms with the names they abbreviate.
        surnames: merge a lone surname into the one known person with it.
        person_types: the types a surname merge needs on both sides.
        cross_document: false keeps every entity to its document.
        fallback: ``(label, type) -> IRI`` for names no rule matched (``EmbeddingMerger``).
        link_min_score: the context similarity a reference entity needs (the NIL threshold).
        split_classes: split same-name entities whose "is a" classes are disjoint.
        split_topics: split same-name entities that are each the topic of a document.
        context: mention-context vectors (``kgforge.extract.context.ContextVectors``); with
            them a context similarity is ``(1 - context_weight)`` times the cosine of the
            context vectors plus ``context_weight`` times that of the bags of context words
            and co-occurring entity names (the bag's cosine alone without them).
        context_weight: the bag's share of the context similarity.
        entities_in_memory: senses (and name-index entries) kept in memory; the others wait
            on disk (``kgforge.spill.SpillDict``), so that memory stays bounded however many
            entities a corpus has (None: all in memory).
        max_senses: a name (initials, surname) is compared with at most its this many latest
            entities, and with every reference entity it names (None: with all). What keeps
            the work per mention bounded when one name has thousands of senses.
    """

    def __init__(
        self,
        split_below: float | None = None,
        acronyms: bool = True,
        surnames: bool = True,
        person_types: Iterable[str] = ("Person",),
        cross_document: bool = True,
        fallback=None,
        link_min_score: float = 0.0,
        split_classes: bool = True,
        split_topics: bool = False,
        context: ContextVectors | None = None,
        context_weight: float = 0.5,
        entities_in_memory: int | None = None,
        max_senses: int | None = None,
    ) -> None:
        self.max_senses = max_senses
        self.split_below = split_below
        self.acronyms = acronyms
        self.surnames = surnames
        self.person_types = frozenset(person_types)
        self.cross_document = cross_document
        self.fallback = fallback  # (label, type) -> IRI, for names nothing else matched
        self.link_min_score = link_min_score
        self.split_classes = split_classes
        self.split_topics = split_topics
        self.context = context
        self.context_weight = context_weight
        # the entity being resolved: its contexts and names, and their vector once computed
        self._source: tuple[Iterable[str], list[str]] = ((), [])
        self._vector: np.ndarray | None | bool = False  # False: not computed
        self.reference: set[URIRef] = set()  # entities of a reference graph (link targets)
        self.senses: SpillDict[URIRef, Sense] = SpillDict(entities_in_memory)
        self._bag: Counter | None = None  # the bag whose squared norm is _bag_norm2
        self._bag_norm2 = 0.0
        # name indexes: name key (initials, acronym, surname, head) -> entities with it
        self._by_key: SpillDict[str, list[URIRef]] = SpillDict(entities_in_memory)
        self._by_initials: SpillDict[str, list[URIRef]] = SpillDict(entities_in_memory)
        self._by_acronym: SpillDict[str, list[URIRef]] = SpillDict(entities_in_memory)
        self._by_surname: SpillDict[str, list[URIRef]] = SpillDict(entities_in_memory)
        self._by_head: SpillDict[str, list[URIRef]] = SpillDict(entities_in_memory)

    def known(
        self,
        iri: URIRef,
        names: Iterable[str],
        types: dict[str, int],
        bag: Counter,
        reference: bool = False,
        classes: Iterable[str] = (),
        topic: str | None = None,
        contexts: Iterable[str] = (),
    ) -> None:
        """Register an entity that exists already (from a store's evidence, with its classes,
        the document graph it is the topic of and its context sentences; or a reference
        graph's entity to link to when ``reference``)."""
        if reference:
            self.reference.add(iri)
        names = list(names)
        self._source, self._vector = (tuple(contexts), names), False
        self._register(iri, names, types, bag, frozenset(classes), topic)

    def resolve_document(self, doc_id: str, entities: list[dict]) -> list[Decision]:
        """IRIs for one document's entities, given as evidence dicts (``label``, ``aliases``,
        ``types``: votes, ``contexts``: sentences); each is registered for later documents."""
        keys = [name_key(e["label"]) for e in entities]
        out = []
        for i, e in enumerate(entities):
            names = full_names(e["label"], e.get("aliases", ()))
            types = e.get("types") or {e.get("type", ""): 1}
            others = [k for j, k in enumerate(keys) if j != i and k != keys[i]]
            bag = context_bag(e.get("contexts", ()), names, others)
            classes = frozenset(e.get("classes", ()))
            topic = str(document_iri(doc_id)) if e.get("topic") else None
            # context vectors are computed when a comparison needs them: only names met before
            self._source, self._vector = (tuple(e.get("contexts", ())), names), False
            if not self.cross_document:
                decision = Decision(entity_key_iri(e["label"], doc_id), "new")
            else:
                decision = self._decide(doc_id, e["label"], names, types, bag, classes, topic)
            self._register(decision.iri, names, types, bag, classes, topic)
            out.append(decision)
        return out

    def _conflicts(
        self, iri: URIRef, classes: frozenset[str], topic: str | None, score: float
    ) -> bool:
        """Whether a known entity is not this one: their classes are disjoint ("X is a film" /
        "X is a city", ``split_classes``) and their contexts unlike (cosine < 0.2), or both
        are the topic of a document (``split_topics``: a corpus of one entity per document)."""
        sense = self.senses[iri]
        disjoint = bool(classes and sense.classes and not classes & sense.classes)
        if self.split_classes and disjoint and score < _CLASS_CONFLICT_BELOW:
            return True
        # a document's earlier version (a changed document extracted again) is no other topic
        return self.split_topics and topic is not None and any(t != topic for t in sense.topics)

    def _decide(
        self,
        doc_id: str,
        label: str,
        names: list[str],
        types: dict[str, int],
        bag: Counter,
        classes: frozenset[str] = frozenset(),
        topic: str | None = None,
    ) -> Decision:
        key = name_key(label)
        candidates: dict[URIRef, str] = {}
        for name in names:
            for iri in self._latest(self._by_key, name_key(name)):
                candidates.setdefault(iri, name)
        candidates = {i: n for i, n in candidates.items() if self._linkable(i, bag)}
        if candidates:
            scored = sorted(
                ((self._sim(bag, iri), str(iri)) for iri in candidates),
                reverse=True,
            )
            fitting = [
                (v, i) for v, i in scored if not self._conflicts(URIRef(i), classes, topic, v)
            ]
            best, iri = (fitting or scored)[0][0], URIRef((fitting or scored)[0][1])
            same = [i for i in candidates if name_key(candidates[i]) == key]
            if iri in self.reference and fitting:
                return Decision(iri, "link", round(best, 4), candidates[iri])
            known = self.senses[iri].context
            weak = self.split_below is not None and bag and known and best < self.split_below
            if not fitting or weak:
                own = entity_key_iri(label)
                if own in self.senses:  # the plain IRI is another sense already
                    own = mint(ENT, key, doc_id)
                return Decision(own, "split", round(best, 4), candidates[iri])
            rule = "name" if len(candidates) == 1 and same else "alias" if not same else "context"
            return Decision(iri, rule, round(best, 4), candidates[iri])
        if self.acronyms:
            letters = acronym_of(label)
            if letters:  # "USA": the one known name with these initials
                pool = self._latest(self._by_initials, letters)
            elif abbrev := initials(label):  # "United States of America": a known "USA" that
                pool = [  # is not the acronym of another name already
                    i
                    for i in self._latest(self._by_acronym, abbrev)
                    if not any(initials(n) == abbrev for n in self.senses[i].names)
                ]
            else:
                pool = []
            if decision := self._pick(pool, bag, "acronym"):
                return decision
            head = _head(key)
            if head:  # "United States of America" after "United States"
                pool = [
                    i
                    for i in self._latest(self._by_key, head)
                    if not any(_head(name_key(n)) == head for n in self.senses[i].names)
                ]
            else:  # "United States" after "United States of America"
                pool = self._latest(self._by_head, key)
            if decision := self._pick(pool, bag, "head"):
                return decision
        own_type = Counter(types).most_common(1)[0][0] if types else None
        if self.surnames and own_type in self.person_types and len(key.split()) == 1:
            pool = [
                i
                for i in self._latest(self._by_surname, key)
                if self.senses[i].type in self.person_types and self._linkable(i, bag)
            ]
            if len(pool) == 1:
                score = self._sim(bag, pool[0])
                rule = "link" if pool[0] in self.reference else "surname"
                return Decision(pool[0], rule, round(score, 4), key)
        if self.fallback is not None:
            iri = self.fallback(label, own_type or "")
            if iri in self.senses:
                return Decision(iri, "embedding", 1.0, sorted(self.senses[iri].names)[0])
        return Decision(entity_key_iri(label), "new")

    def _pick(self, pool: list[URIRef], bag: Counter, rule: str) -> Decision | None:
        """The candidate of ``pool`` to merge into: the only one, or one whose context is
        clearly the closest (cosine >= 0.1 and 0.05 above the next); else none."""
        pool = [i for i in pool if self._linkable(i, bag)]
        if not pool:
            return None
        scored = sorted(((self._sim(bag, i), str(i)) for i in pool), reverse=True)
        best, iri = scored[0]
        if len(scored) > 1 and (best < 0.1 or best - scored[1][0] < 0.05):
            return None
        target = URIRef(iri)
        rule = "link" if target in self.reference else rule
        return Decision(target, rule, round(best, 4), sorted(self.senses[target].names)[0])

    def _sim(self, bag: Counter, iri: URIRef) -> float:
        """Context similarity of ``bag`` and a known entity (the bag's norm computed once)."""
        if self._bag is not bag:
            self._bag, self._bag_norm2 = bag, float(_norm2(bag))
        sense = self.senses[iri]
        words = sense.similarity(bag, self._bag_norm2)
        if self.context is None:
            return words
        if self._vector is False:
            self._vector = self.context.vector(*self._source)
        if self._vector is None:
            return words
        vector = sense.vector_similarity(self._vector, self.context)
        if vector is None:
            return words
        return (1 - self.context_weight) * max(vector, 0.0) + self.context_weight * words

    def _latest(self, index: MutableMapping[str, list[URIRef]], key: str) -> list[URIRef]:
        """The entities of ``index[key]`` a mention is compared with: the ``max_senses``
        latest, and every reference entity among the earlier ones."""
        bucket = index.get(key, ())
        limit = self.max_senses
        if limit is None or len(bucket) <= limit:
            return bucket
        return [i for i in bucket[:-limit] if i in self.reference] + bucket[-limit:]

    def _linkable(self, iri: URIRef, bag: Counter) -> bool:
        """A reference entity is a candidate only at context similarity >= the NIL threshold."""
        if iri not in self.reference or self.link_min_score <= 0:
            return True
        return self._sim(bag, iri) >= self.link_min_score

    def _register(
        self,
        iri: URIRef,
        names: list[str],
        types: dict[str, int],
        bag: Counter,
        classes: frozenset[str] = frozenset(),
        topic: str | None = None,
    ) -> None:
        sense = self.senses.get(iri)
        if sense is None:
            sense = self.senses[iri] = Sense(iri)
        if self.context is not None:
            if self._vector is False:
                sense.add_source(self._source)
            else:
                sense.add_vector(self._vector)  # type: ignore[arg-type]
        sense.add_classes(classes)
        if topic is not None:
            sense.add_topic(topic)
        new = [n for n in names if n not in sense.names]
        sense.add(names, types, bag)
        for name in new:
            key = name_key(name)
            _append(self._by_key, key, iri)
            if self.acronyms:
                if letters := acronym_of(name):
                    _append(self._by_acronym, letters, iri)
                elif abbrev := initials(name):
                    _append(self._by_initials, abbrev, iri)
                if head := _head(key):
                    _append(self._by_head, head, iri)
            if self.surnames and len(key.split()) > 1:
                _append(self._by_surname, key.split()[-1], iri)


def _head(key: str) -> str | None:
    """The part before " of " of a name key whose part has two words or more
    ("united states of america" -> "united states"), else None."""
    head, sep, _ = key.partition(" of ")
    return head if sep and len(head.split()) >= 2 else None


def _append(index: MutableMapping[str, list[URIRef]], key: str, iri: URIRef) -> None:
    bucket = index.setdefault(key, [])
    if iri not in bucket:
        bucket.append(iri)
