"""Relations from spaCy's dependency parse, by direct walks over each verb's and noun's children.

A walk over a sentence is a handful of attribute reads per token, so patterns add little to the
cost of parsing. The patterns (names as in the pipeline's ``patterns:`` list):

- ``svo``: "Jobs founded Apple" -> (Jobs, found, Apple); conjoined subjects, objects and verbs
  ("... founded Apple and led Pixar") and relative clauses ("Jobs, who founded Apple") included.
- ``passive``: "Apple was founded by Jobs" -> (Jobs, found, Apple), the active reading.
- ``prep``: verb + preposition: "Curie moved to Paris" -> (Curie, move_to, Paris); passive
  participles keep their form: "Curie was born in Warsaw" -> (Curie, born_in, Warsaw).
- ``appositive``: "Marie Curie, a Polish physicist, ..." -> (Marie Curie, is_a, physicist), and a
  noun + preposition in it gives a relation: "Jobs, the co-founder of Apple" -> (Jobs,
  co-founder_of, Apple).
- ``copula``: "Paris is the capital of France" -> (Paris, is_a, capital), (Paris, capital_of,
  France); also "become"/"remain", "one of the largest cities in Y", and a role after "as":
  "Obama served as the 44th president of the United States" -> (Obama, president_of, United
  States).
- ``participle``: a participle clause takes its noun's entity as subject: "Flashdance is a 1983
  film directed by Adrian Lyne" -> (Adrian Lyne, direct, Flashdance); "an actress born in South
  Korea" -> (X, born_in, South Korea); "released by MGM and starring Julie Andrews" ->
  (X, star, Julie Andrews); "Born in Cowes, he ..." -> (he, born_in, Cowes).
- ``nationality``: a demonym on the class noun: "X is an American actor" -> (X, nationality,
  American).
- ``possessive``: "his wife, Kathleen Kennedy" / "Apple's founder Steve Jobs" -> (his, wife,
  Kathleen Kennedy), (Apple, founder, Steve Jobs).

Arguments: a class noun stands for the entity it is said of, so "X is a company that makes Y" ->
(X, make, Y); a place word with an "of" phrase gives way to the place it names ("located in the
southern portion of the state of California" -> California); a place's appositive is an object
too ("in Memphis, Tennessee" -> Memphis and Tennessee).

Labels come from lemmas (lower-cased, parts joined with "_"); negated verbs give nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from spacy.attrs import HEAD
from spacy.tokens import Doc, Span, Token

from kgforge.extract.config import PatternRelations
from kgforge.extract.types import CLASS_LABEL, IS_A, Mention, Statement

Argument = Callable[[Token], Mention | None]

_SUBJ = ("nsubj",)
_RELATIVE = ("WP", "WDT")
_CONJ_PENALTY = 0.9
_COPULAS = frozenset({"be", "become", "remain"})
_DEMONYM_TYPES = frozenset({"NORP", "LANGUAGE"})  # spaCy tags "English" (actor) a language
# nouns that name a part of a place, or a kind of place: "the southern portion of California",
# "the state of Vermont" stand for the place in their "of" phrase
_PLACE_PARTS = frozenset({
    "part", "portion", "region", "area", "neighborhood", "neighbourhood", "suburb", "outskirts",
    "north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest",
    "centre", "center", "heart", "city", "town", "state", "province", "county", "district",
    "village", "capital", "coast", "shore", "bank", "side", "borough", "municipality",
    "island", "country", "territory", "vicinity", "downtown", "edge", "corner", "end",
})  # fmt: skip
_PART_DEPTH = 3
# verbs that give a name: "known as", "credited as"; their "as" object is another name
_NAMING = frozenset({
    "know", "call", "credit", "refer", "bill", "name", "title", "rename", "style", "dub",
    "spell", "abbreviate", "release", "market", "list", "nickname", "describe", "recognize",
})  # fmt: skip


class _Tree:
    """The children of every token of the document being walked, built once: spaCy makes a new
    ``Token`` object on every ``token.children`` walk, and the patterns and the coreference
    walk the same tokens' children many times."""

    doc: Doc | None = None
    kids: list[list[Token]] = []

    def use(self, doc: Doc) -> None:
        if doc is self.doc:
            return
        tokens = list(doc)
        kids: list[list[Token]] = [[] for _ in tokens]
        heads = doc.to_array(HEAD).astype(np.int64)  # relative offsets; 0 for a root
        for i in np.flatnonzero(heads).tolist():
            kids[i + int(heads[i])].append(tokens[i])
        self.doc, self.kids = doc, kids


_TREE = _Tree()


def use_tree(doc: Doc) -> None:
    """Walk ``doc`` with cached children (``children``) until another document is used."""
    _TREE.use(doc)


def children(token: Token) -> list[Token]:
    """``list(token.children)``, from the cache when ``token`` is of the document in use."""
    if token.doc is _TREE.doc:
        return _TREE.kids[token.i]
    return list(token.children)


def _children(token: Token, deps: tuple[str, ...]) -> list[Token]:
    return [c for c in children(token) if c.dep_ in deps]


def _with_conjuncts(tokens: Iterable[Token]) -> list[tuple[Token, float]]:
    """Each token and its conjuncts ("Jobs and Wozniak"); conjuncts are slightly less sure."""
    out: list[tuple[Token, float]] = []
    for tok in tokens:
        out.append((tok, 1.0))
        out.extend((c, _CONJ_PENALTY) for c in tok.conjuncts if c.i > tok.i)
    return out


def _verb_label(verb: Token, passive_form: bool = False) -> str:
    head = verb.lower_ if passive_form else verb.lemma_.lower()
    parts = [head] + [c.lower_ for c in children(verb) if c.dep_ == "prt"]
    return "_".join(parts)


def class_mention(noun: Token, text: str) -> Mention:
    """The class a common noun names, with its compound modifiers ("computer scientist");
    ``text`` is the document's text (``Doc.text`` rebuilds it on every access)."""
    left = noun
    for child in reversed(list(noun.lefts)):
        if child.dep_ == "compound" and child.i == left.i - 1:
            left = child
        else:
            break
    start, end = left.idx, noun.idx + len(noun)
    return Mention(start, end, text[start:end], CLASS_LABEL)


class PatternExtractor:
    """Apply the configured dependency patterns to one sentence at a time."""

    def __init__(self, config: PatternRelations) -> None:
        self.enabled = frozenset(config.patterns)
        self.conf = {name: config.base_confidence(name) for name in self.enabled}
        self._text = ""  # the current document's text, set by ``extract``
        self._arg: Argument = _no_argument  # the current sentence's, set by ``extract``

    def extract(
        self, sent: Span, arg: Argument, text: str, span: tuple[int, int] | None = None
    ) -> list[Statement]:
        """Statements of a sentence; ``arg`` maps a token to the entity mention it heads,
        ``text`` is the document's text and ``span`` the sentence's character span to record
        (default: spaCy's)."""
        found: dict[tuple[int, int, str, int, int], Statement] = {}
        span = span or (sent.start_char, sent.end_char)
        use_tree(sent.doc)
        self._text = text
        self._arg = argument = self._argument(arg)

        def emit(s: Token, pred: str, o: Token | Mention, pattern: str, factor: float) -> None:
            if pattern not in self.conf:
                return
            subj = argument(s)
            obj = o if isinstance(o, Mention) else argument(o)
            if subj is None or obj is None or (subj.start, subj.end) == (obj.start, obj.end):
                return
            conf = round(self.conf[pattern] * factor * min(subj.score, obj.score), 4)
            key = (subj.start, subj.end, pred, obj.start, obj.end)
            if key not in found or found[key].confidence < conf:
                found[key] = Statement(subj, pred, obj, conf, span, "patterns")

        try:
            for tok in sent:
                if tok.pos_ in ("VERB", "AUX"):
                    if any(c.dep_ == "neg" for c in children(tok)):
                        continue
                    self._verb(tok, emit)
                elif tok.pos_ == "NOUN":
                    if tok.dep_ == "appos" and "appositive" in self.enabled:
                        self._noun_facts(tok.head, tok, emit, "appositive", 1.0)
                    if "possessive" in self.enabled:
                        self._possessive(tok, emit)
        finally:
            self._arg = _no_argument  # a closure over the document: not kept (nor pickled)
        return list(found.values())

    def _argument(self, arg: Argument) -> Argument:
        """``arg``, and for a class noun the entity it is said of: "X is a company that ...",
        "X, a film directed by ..." (the copula's subject, the appositive's head)."""

        def argument(tok: Token) -> Mention | None:
            found = arg(tok)
            if found is not None or tok.pos_ != "NOUN":
                return found
            if tok.dep_ == "attr" and tok.head.lemma_ in _COPULAS:
                subjects = _children(tok.head, _SUBJ)
                return arg(subjects[0]) if subjects else None
            if tok.dep_ == "appos":
                return arg(tok.head)
            return None

        return argument

    def _subjects(self, verb: Token, deps: tuple[str, ...]) -> list[Token]:
        subjects = _children(verb, deps)
        if not subjects and verb.dep_ == "conj" and verb.head.pos_ in ("VERB", "AUX"):
            subjects = _children(verb.head, deps)  # "Jobs founded Apple and led Pixar"
            if not subjects and deps == _SUBJ and verb.tag_ != "VBN":
                subjects = _children(verb.head, ("nsubjpass",))  # "was born in A and married B"
        resolved = []
        for s in subjects:
            if s.tag_ in _RELATIVE and verb.dep_ == "relcl":
                s = verb.head  # "Jobs, who founded Apple"
            resolved.append(s)
        return resolved

    def _participle_subject(self, verb: Token) -> Token | None:
        """What a participle clause is about: its noun ("a film directed by"), the subject of
        the clause it modifies ("Born in Cowes, he ..."), or its first conjunct's."""
        for _ in range(4):
            if verb.dep_ == "acl" and verb.head.pos_ in ("NOUN", "PROPN"):
                noun = verb.head
                while noun.dep_ in ("conj", "appos"):
                    noun = noun.head
                if noun.dep_ == "pobj" and noun.head.dep_ == "agent":
                    # "directed by X, written by Y": attached to X, about the film
                    verb = noun.head.head
                    subjects = _children(verb, ("nsubj", "nsubjpass"))
                    if subjects:
                        return subjects[0]
                    continue
                return verb.head
            if verb.dep_ == "advcl":
                subjects = _children(verb.head, ("nsubj", "nsubjpass"))
                return subjects[0] if subjects else None
            if verb.dep_ != "conj":
                return None
            head = verb.head
            if head.pos_ == "ADP":  # "released by MGM and starring Julie Andrews"
                head = head.head
            if head.pos_ not in ("VERB", "AUX") or _children(head, ("nsubj", "nsubjpass")):
                return None
            verb = head
        return None

    def _verb(self, verb: Token, emit: Callable) -> None:
        subjects = _with_conjuncts(self._subjects(verb, _SUBJ))
        passive_subjects = _with_conjuncts(self._subjects(verb, ("nsubjpass",)))
        enabled = self.enabled
        svo, passive, prep_pattern = "svo", "passive", "prep"
        if not subjects and not passive_subjects and verb.lemma_ not in _COPULAS:
            head = self._participle_subject(verb)
            if head is None:
                return
            if verb.tag_ == "VBN":
                passive_subjects = [(head, 1.0)]
            else:
                subjects = [(head, 1.0)]
            svo = passive = prep_pattern = "participle"
        if verb.lemma_ in _COPULAS:
            if "copula" in enabled:
                for attr in _children(verb, ("attr",)):
                    noun = _one_of(attr)
                    if noun.pos_ == "NOUN":
                        for s, f in subjects:
                            self._noun_facts(s, noun, emit, "copula", f)
            if verb.lemma_ == "be":
                return
        label = _verb_label(verb)
        for o, fo in _with_conjuncts(_children(verb, ("dobj",))):
            for s, fs in subjects:
                emit(s, label, o, svo, fs * fo)
        agents = [p for a in _children(verb, ("agent",)) for p in _children(a, ("pobj",))]
        if not agents and verb.tag_ == "VBN":  # "written and directed by Rod Lurie"
            for c in children(verb):
                if c.dep_ == "conj" and c.tag_ == "VBN" and not _children(c, ("dobj",)):
                    agents = [p for a in _children(c, ("agent",)) for p in _children(a, ("pobj",))]
                    break
        if verb.lemma_ in _NAMING:  # "known by his stage name X" names no agent
            agents = []
        for s, fs in _with_conjuncts(agents):
            for o, fo in passive_subjects:
                emit(s, label, o, passive, fs * fo)
        if passive_subjects:
            heads, label = passive_subjects, _verb_label(verb, passive_form=True)
        else:
            heads = subjects
        for prep in _children(verb, ("prep",)):
            if prep.lower_ == "as" and "copula" in enabled:  # "served as the president of"
                for o in _children(prep, ("pobj",)):
                    if o.pos_ == "NOUN" and self._arg(o) is None:
                        for s, fs in heads:
                            self._noun_facts(s, o, emit, "copula", fs)
            if prep.lower_ == "as" and verb.lemma_ not in _NAMING:
                continue  # "starring X as Y", "produced sitcoms such as Y": a role or an example
            pred = f"{label}_{prep.lower_}"
            for o, fo in self._objects(prep):
                for s, fs in heads:
                    emit(s, pred, o, prep_pattern, fs * fo)

    def _objects(self, prep: Token) -> list[tuple[Token, float]]:
        """The objects of a preposition: its conjoined objects, a place's appositives ("in
        Memphis, Tennessee"), and for a part of a place the place ("in the south of France")."""
        out: list[tuple[Token, float]] = []
        for o, f in _with_conjuncts(_children(prep, ("pobj",))):
            out.append((o, f))
            out.extend((a, f * _CONJ_PENALTY) for a in _children(o, ("appos",)))
            part, depth = o, 0
            while (
                depth < _PART_DEPTH
                and part.pos_ == "NOUN"
                and part.lemma_.lower() in _PLACE_PARTS
                and self._arg(part) is None
            ):
                inner = [p for c in _children(part, ("prep",)) if c.lower_ == "of"
                         for p in _children(c, ("pobj",))]  # fmt: skip
                if not inner:
                    break
                part, depth = inner[0], depth + 1
                out.append((part, f))
        return out

    def _noun_facts(
        self, subject: Token, noun: Token, emit: Callable, pattern: str, factor: float
    ) -> None:
        """``subject`` is a ``noun``: a type statement, plus noun+preposition relations and
        the demonym on the noun."""
        emit(subject, IS_A, class_mention(noun, self._text), pattern, factor)
        for prep in _children(noun, ("prep",)):
            pred = f"{noun.lemma_.lower()}_{prep.lower_}"
            for o, fo in self._objects(prep):
                emit(subject, pred, o, pattern, factor * fo)
        for mod in noun.lefts:  # not "German-born": that is where, not a nationality
            if mod.ent_type_ in _DEMONYM_TYPES and mod.dep_ in ("amod", "compound", "nmod"):
                emit(subject, "nationality", mod, "nationality", factor)

    def _possessive(self, noun: Token, emit: Callable) -> None:
        """ "his wife, Kathleen Kennedy", "Apple's founder Steve Jobs" -> (owner, noun, name)."""
        if self._arg(noun) is not None:
            return
        if noun.dep_ == "compound":  # "his wife Kathleen Kennedy": the name heads the phrase
            name = noun.head
            owners = _children(name, ("poss",)) or _children(noun, ("poss",))
            names = [name] if name.pos_ == "PROPN" else []
        else:
            owners = _children(noun, ("poss",))
            names = _children(noun, ("appos",))
        label = noun.lemma_.lower()
        for owner in owners:
            for name in names:
                emit(owner, label, name, "possessive", 1.0)


def _no_argument(tok: Token) -> Mention | None:
    return None


def _one_of(attr: Token) -> Token:
    """ "one of the largest cities": the noun after "one of"."""
    if attr.pos_ == "NUM":
        for prep in _children(attr, ("prep",)):
            for pobj in _children(prep, ("pobj",)):
                if pobj.pos_ == "NOUN":
                    return pobj
    return attr
