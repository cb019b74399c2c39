"""Coreference for encyclopaedic text: the document's topic, pronouns and definite descriptions.

No coreference package installs from PyPI and runs offline with spaCy 3.8 (the neural ones
download their weights from a model hub at run time), so this is a heuristic over spaCy's parse,
made for the prose of encyclopaedias and news, where most pronouns name the article's subject:

- **Topic**: the subject of the document's first sentence. When NER missed it ("Flashdance is a
  1983 film ..."), a proper-noun subject becomes a mention, typed by the noun it is said to be
  (``film`` -> WORK_OF_ART, mapped through the pipeline's ``type_mapping``).
- **Pronouns** (he/him/his, she/her, it/its, they/them/their): a personal pronoun of the third
  person refers to the topic when they agree in type (he/she: a person; it: not a person;
  they: a group or organisation) and gender (the topic's gender is set by the first gendered
  pronoun that refers to it, from spaCy's ``Gender`` morph feature); a he/she that disagrees
  with the topic's gender refers to the closest earlier person of that gender or of none.
- **Definite descriptions** ("the company", "the city", "the film"): "the" + a noun refers to the
  closest earlier entity whose type or ``is_a`` class ("X is a film", "X, a city") has that noun;
  "the city of Y" (a noun with its own "of" phrase) is left alone.

Each reference maps a token of the document to the index of the mention it refers to; the
pipeline makes it an argument of the relation patterns (``Mention.coreferent``: kept out of the
entity's names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spacy.tokens import Doc, Span, Token

from kgforge.extract.config import CorefConfig
from kgforge.extract.patterns import children, use_tree
from kgforge.extract.types import Mention

# spaCy NER label -> nouns that name a thing of that type ("the company" -> ORG). Extended or
# replaced per pipeline with ``coreference.nouns``.
DEFAULT_NOUNS: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "actor", "actress", "singer", "musician", "writer", "author", "novelist", "poet",
        "director", "producer", "politician", "player", "footballer", "composer", "artist",
        "painter", "scientist", "physicist", "chemist", "mathematician", "philosopher",
        "journalist", "lawyer", "judge", "businessman", "businesswoman", "entrepreneur",
        "comedian", "screenwriter", "songwriter", "rapper", "dancer", "model", "athlete",
        "coach", "manager", "president", "king", "queen", "prince", "princess", "emperor",
        "general", "officer", "soldier", "priest", "bishop", "economist", "historian",
        "engineer", "architect", "inventor", "designer", "photographer", "presenter", "host",
        "guitarist", "drummer", "pianist", "bassist", "vocalist", "cinematographer", "editor",
        "professor", "teacher", "physician", "doctor", "surgeon", "monarch", "statesman",
        "diplomat", "activist", "boxer", "wrestler", "cyclist", "swimmer", "astronaut",
        "man", "woman", "person", "personality", "figure", "leader", "founder", "star",
    ),
    "ORG": (
        "company", "corporation", "firm", "business", "organization", "organisation", "band",
        "group", "team", "club", "university", "college", "school", "party", "label",
        "network", "studio", "agency", "institute", "institution", "association", "society",
        "union", "federation", "league", "newspaper", "magazine", "channel", "station",
        "museum", "orchestra", "airline", "bank", "brand", "manufacturer", "publisher",
        "academy", "council", "committee", "government", "ministry", "department", "army",
        "navy", "foundation", "charity", "church", "broadcaster", "conglomerate", "subsidiary",
        "division", "franchise", "chain", "retailer", "developer", "duo", "trio", "ensemble",
    ),
    "GPE": (
        "city", "town", "country", "state", "province", "county", "village", "municipality",
        "capital", "nation", "republic", "kingdom", "region", "district", "borough", "suburb",
        "territory", "metropolis", "commune", "parish", "prefecture", "emirate", "colony",
        "island", "settlement", "community", "neighborhood", "neighbourhood", "place",
    ),
    "LOC": (
        "river", "mountain", "lake", "sea", "ocean", "island", "peninsula", "valley", "range",
        "desert", "forest", "bay", "continent", "area",
    ),
    "FAC": (
        "airport", "stadium", "arena", "building", "bridge", "hotel", "theatre", "theater",
        "hospital", "station", "tower", "castle", "palace", "park", "venue", "hall",
    ),
    "WORK_OF_ART": (
        "film", "movie", "novel", "book", "album", "song", "single", "series", "show",
        "sitcom", "drama", "comedy", "play", "musical", "opera", "painting", "poem",
        "documentary", "miniseries", "soundtrack", "episode", "game", "franchise",
        "anthology", "thriller", "record", "work", "ep",
    ),
    "EVENT": (
        "war", "battle", "election", "tournament", "championship", "festival", "ceremony",
        "competition", "cup", "olympics", "games", "race", "season", "event", "award",
        "contest", "conference", "revolution",
    ),
    "PRODUCT": ("car", "aircraft", "ship", "software", "vehicle", "console", "device", "product"),
}  # fmt: skip

_MASC = {"he", "him", "his", "himself"}
_FEM = {"she", "her", "hers", "herself"}
_NEUTER = {"it", "its", "itself"}
_PLURAL = {"they", "them", "their", "theirs", "themselves"}
_ARGUMENT_DEPS = {"nsubj", "nsubjpass", "dobj", "pobj", "poss", "attr", "dative", "appos"}
_COPULAS = {"be", "become", "remain"}
_SUBJECTS = ("nsubj", "nsubjpass")


@dataclass(eq=False)
class _Entity:
    index: int  # of its first mention
    label: str
    classes: set[str] = field(default_factory=set)
    gender: str | None = None


class Coreference:
    """Resolve the topic, pronouns and definite descriptions of one parsed document at a time.

    Args:
        config: the pipeline's ``coreference`` section.
        type_mapping: the pipeline's spaCy label -> type mapping (nouns and pronoun agreement
            are given per spaCy label and follow it).
        drop_unmapped: whether unmapped spaCy labels are dropped (else kept as they are).

    Example:
        >>> refs = Coreference(CorefConfig(), {"PERSON": "Person"}, True)
        >>> # mentions, topic = refs.topic(doc, text, mentions); refs.resolve(doc, mentions, ...)
    """

    def __init__(
        self, config: CorefConfig, type_mapping: dict[str, str], drop_unmapped: bool
    ) -> None:
        self.config = config

        def mapped(label: str) -> str | None:
            return type_mapping.get(label, None if drop_unmapped else label)

        nouns = {k: set(v) for k, v in DEFAULT_NOUNS.items()}
        for label, words in config.nouns.items():
            nouns[label] = set(words)
        self._noun_label: dict[str, str] = {}  # noun -> type, first spaCy label wins
        self._type_nouns: dict[str, set[str]] = {}
        for label, words in nouns.items():
            type_ = mapped(label)
            if type_ is None:
                continue
            self._type_nouns.setdefault(type_, set()).update(words)
            for w in sorted(words):
                self._noun_label.setdefault(w, type_)
        self._person = {t for t in (mapped("PERSON"),) if t is not None}
        self._groups = {t for t in (mapped("ORG"), mapped("NORP")) if t is not None}

    def topic(self, doc: Doc, text: str, mentions: list[Mention]) -> tuple[list[Mention], int]:
        """The mentions, with the topic's added when NER missed it, and the topic's index
        (-1: none). The topic is the subject of the first sentence."""
        use_tree(doc)
        first = next(iter(doc.sents), None)
        if first is None:
            return mentions, -1
        subject = _first_subject(first)
        if subject is None:
            return mentions, -1
        name = _name_span(subject)
        for i, m in enumerate(mentions):
            if m.start <= subject.idx < m.end:
                if name[0] < m.start and m.end <= name[1] and self.config.topic_mentions:
                    # NER cut the topic's name short ("Little Miss [Sunshine]"): widen it
                    wide = Mention(name[0], name[1], text[name[0] : name[1]], m.label, m.score)
                    if not any(o.start < wide.end and wide.start < o.end for o in mentions[:i]):
                        return [*mentions[:i], wide, *mentions[i + 1 :]], i
                return mentions, i
        if not self.config.topic_mentions or not _name_like(subject):
            return mentions, -1
        type_ = self._class_type(subject)
        if type_ is None:
            return mentions, -1
        start, end = name
        if any(m.start < end and start < m.end for m in mentions):
            return mentions, -1
        m = Mention(start, end, text[start:end], type_, self.config.topic_score)
        out = sorted([*mentions, m], key=lambda x: (x.start, x.end))
        return out, out.index(m)

    def _class_type(self, subject: Token) -> str | None:
        """The type of the noun a subject is said to be ("X is a 1983 film": WORK_OF_ART)."""
        for noun in _classes_of(subject):
            type_ = self._noun_label.get(noun.lemma_.lower())
            if type_ is not None:
                return type_
        return None

    def resolve(
        self,
        doc: Doc,
        mentions: list[Mention],
        canonical: list[int],
        token_mention: list[int],
        topic: int,
    ) -> dict[int, tuple[int, int, int]]:
        """``{token index: (start char, end char, canonical mention it refers to)}`` for the
        pronouns and definite descriptions of ``doc``; ``canonical[i]`` is the mention that
        mention ``i`` aliases, ``token_mention[t]`` the mention token ``t`` is part of (-1:
        none), ``topic`` the topic's mention index (-1: none)."""
        use_tree(doc)
        entities = {c: _Entity(c, mentions[c].label) for c in canonical}
        topic_entity = entities[canonical[topic]] if topic >= 0 else None
        for tok in doc:
            index = token_mention[tok.i]
            if index >= 0 and tok.dep_ in _SUBJECTS:
                classes = (n.lemma_.lower() for n in _classes_of(tok))
                entities[canonical[index]].classes.update(classes)
        out: dict[int, tuple[int, int, int]] = {}
        seen: list[_Entity] = []  # entities mentioned so far, most recent last
        at = 0
        for tok in doc:
            while at < len(mentions) and mentions[at].start <= tok.idx:
                ent = entities[canonical[at]]
                if ent in seen:
                    seen.remove(ent)
                seen.append(ent)
                at += 1
            if token_mention[tok.i] >= 0 or tok.dep_ not in _ARGUMENT_DEPS or not seen:
                continue
            target, start = None, tok.idx
            if tok.pos_ == "PRON" and self.config.pronouns:
                target = self._pronoun(tok, tok.lower_, topic_entity, seen)
            elif tok.pos_ == "NOUN" and self.config.definite and _definite(tok):
                target, start = self._description(tok, seen), _det(tok).idx
            if target is not None:
                out[tok.i] = (start, tok.idx + len(tok), target.index)
        return out

    def _pronoun(
        self, tok: Token, lower: str, topic: _Entity | None, seen: list[_Entity]
    ) -> _Entity | None:
        if lower in _MASC or lower in _FEM:
            gender = _gender(tok, "Masc" if lower in _MASC else "Fem")
            if (
                topic is not None
                and topic in seen
                and topic.label in self._person
                and topic.gender in (None, gender)
            ):
                topic.gender = gender
                return topic
            for ent in reversed(seen):
                if ent is not topic and ent.label in self._person and ent.gender in (None, gender):
                    ent.gender = gender
                    return ent
            return None
        if topic is None or topic not in seen:
            return None
        if lower in _NEUTER:
            if topic.label in self._person or _pleonastic(tok):
                return None
            return topic
        if lower in _PLURAL and topic.label in self._groups:
            return topic
        return None

    def _description(self, tok: Token, seen: list[_Entity]) -> _Entity | None:
        noun = tok.lemma_.lower()
        for ent in reversed(seen):
            if noun in ent.classes or noun in self._type_nouns.get(ent.label, ()):
                return ent
        return None


def _first_subject(sent: Span) -> Token | None:
    for tok in sent:
        if tok.dep_ in _SUBJECTS and tok.head.dep_ == "ROOT":
            return tok
    return None


def _name_like(tok: Token) -> bool:
    """A proper noun, or a capitalised bare noun the tagger took for a common one
    ("Flashdance is a 1983 film"; "A restaurant is ..." has its article)."""
    if tok.pos_ == "PROPN":
        return True
    return (
        tok.pos_ == "NOUN"
        and tok.is_title
        and not any(c.dep_ in ("det", "amod", "poss") for c in children(tok))
    )


def _name_span(tok: Token) -> tuple[int, int]:
    """Characters of a proper name headed by ``tok``: its compounds and a trailing
    "of" + proper noun ("University of Memphis")."""
    left = tok
    while left.i > 0 and left.nbor(-1).dep_ in ("compound", "flat") and left.nbor(-1).head == tok:
        left = left.nbor(-1)
    right = tok
    for prep in tok.rights:
        if prep.dep_ == "prep" and prep.lower_ == "of" and prep.i == right.i + 1:
            objs = [c for c in children(prep) if c.dep_ == "pobj" and c.pos_ == "PROPN"]
            if objs and objs[0].left_edge.i == prep.i + 1:
                right = objs[0]
    return left.idx, right.idx + len(right)


def _classes_of(subject: Token) -> list[Token]:
    """The nouns a subject is said to be: "X is a film", "X, an actor", "X is one of the cities"."""
    out = [c for c in children(subject) if c.dep_ == "appos" and c.pos_ == "NOUN"]
    verb = subject.head
    if subject.dep_ == "nsubj" and verb.lemma_ in _COPULAS:
        for attr in children(verb):
            if attr.dep_ != "attr":
                continue
            if attr.pos_ == "NUM":  # "one of the largest cities"
                attr = next((p for c in children(attr) if c.dep_ == "prep" for p in children(c)
                             if p.dep_ == "pobj" and p.pos_ == "NOUN"), attr)  # fmt: skip
            if attr.pos_ == "NOUN":
                out.append(attr)
                out.extend(c for c in attr.conjuncts if c.pos_ == "NOUN")
    return out


def _definite(tok: Token) -> bool:
    """ "the company" alone: not "the city of Paris", not part of a longer compound."""
    if not any(c.dep_ == "det" and c.lower_ == "the" for c in children(tok)):
        return False
    if tok.dep_ == "compound":
        return False
    return not any(c.dep_ in ("prep", "appos", "compound", "acl", "relcl") and
                   (c.dep_ != "prep" or c.lower_ == "of") for c in children(tok))  # fmt: skip


def _det(tok: Token) -> Token:
    return next((c for c in children(tok) if c.dep_ == "det"), tok)


def _gender(tok: Token, fallback: str) -> str:
    genders = tok.morph.get("Gender")
    return genders[0] if genders else fallback


def _pleonastic(tok: Token) -> bool:
    """ "It is known that ...", "it was decided to ...": an ``it`` that names nothing."""
    verb = tok.head
    return tok.dep_ == "nsubj" and any(c.dep_ in ("ccomp", "xcomp") for c in children(verb))
