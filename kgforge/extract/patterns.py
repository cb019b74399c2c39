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
  France).

Labels come from lemmas (lower-cased, parts joined with "_"); negated verbs give nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from spacy.tokens import Span, Token

from kgforge.extract.config import PatternRelations
from kgforge.extract.types import CLASS_LABEL, IS_A, Mention, Statement

Argument = Callable[[Token], Mention | None]

_SUBJ = ("nsubj",)
_RELATIVE = ("WP", "WDT")
_CONJ_PENALTY = 0.9


def _children(token: Token, deps: tuple[str, ...]) -> list[Token]:
    return [c for c in token.children if c.dep_ in deps]


def _with_conjuncts(tokens: Iterable[Token]) -> list[tuple[Token, float]]:
    """Each token and its conjuncts ("Jobs and Wozniak"); conjuncts are slightly less sure."""
    out: list[tuple[Token, float]] = []
    for tok in tokens:
        out.append((tok, 1.0))
        out.extend((c, _CONJ_PENALTY) for c in tok.conjuncts if c.i > tok.i)
    return out


def _verb_label(verb: Token, passive_form: bool = False) -> str:
    head = verb.lower_ if passive_form else verb.lemma_.lower()
    parts = [head] + [c.lower_ for c in verb.children if c.dep_ == "prt"]
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

    def extract(
        self, sent: Span, arg: Argument, text: str, span: tuple[int, int] | None = None
    ) -> list[Statement]:
        """Statements of a sentence; ``arg`` maps a token to the entity mention it heads,
        ``text`` is the document's text and ``span`` the sentence's character span to record
        (default: spaCy's)."""
        found: dict[tuple[int, int, str, int, int], Statement] = {}
        span = span or (sent.start_char, sent.end_char)
        self._text = text

        def emit(s: Token, pred: str, o: Token | Mention, pattern: str, factor: float) -> None:
            subj = arg(s)
            obj = o if isinstance(o, Mention) else arg(o)
            if subj is None or obj is None or (subj.start, subj.end) == (obj.start, obj.end):
                return
            conf = round(self.conf[pattern] * factor * min(subj.score, obj.score), 4)
            key = (subj.start, subj.end, pred, obj.start, obj.end)
            if key not in found or found[key].confidence < conf:
                found[key] = Statement(subj, pred, obj, conf, span, "patterns")

        for tok in sent:
            if tok.pos_ in ("VERB", "AUX"):
                if any(c.dep_ == "neg" for c in tok.children):
                    continue
                self._verb(tok, emit)
            elif tok.dep_ == "appos" and "appositive" in self.enabled and tok.pos_ == "NOUN":
                self._noun_facts(tok.head, tok, emit, "appositive", 1.0)
        return list(found.values())

    def _subjects(self, verb: Token, deps: tuple[str, ...]) -> list[Token]:
        subjects = _children(verb, deps)
        if not subjects and verb.dep_ == "conj" and verb.head.pos_ in ("VERB", "AUX"):
            subjects = _children(verb.head, deps)  # "Jobs founded Apple and led Pixar"
        resolved = []
        for s in subjects:
            if s.tag_ in _RELATIVE and verb.dep_ == "relcl":
                s = verb.head  # "Jobs, who founded Apple"
            resolved.append(s)
        return resolved

    def _verb(self, verb: Token, emit: Callable) -> None:
        subjects = _with_conjuncts(self._subjects(verb, _SUBJ))
        passive_subjects = _with_conjuncts(self._subjects(verb, ("nsubjpass",)))
        enabled = self.enabled
        if verb.lemma_ == "be":
            if "copula" in enabled:
                for attr in _children(verb, ("attr",)):
                    if attr.pos_ == "NOUN":
                        for s, f in subjects:
                            self._noun_facts(s, attr, emit, "copula", f)
            return
        label = _verb_label(verb)
        if "svo" in enabled:
            for o, fo in _with_conjuncts(_children(verb, ("dobj",))):
                for s, fs in subjects:
                    emit(s, label, o, "svo", fs * fo)
        agents = [p for a in _children(verb, ("agent",)) for p in _children(a, ("pobj",))]
        if "passive" in enabled:
            for s, fs in _with_conjuncts(agents):
                for o, fo in passive_subjects:
                    emit(s, label, o, "passive", fs * fo)
        if "prep" in enabled:
            if passive_subjects:
                heads, label = passive_subjects, _verb_label(verb, passive_form=True)
            else:
                heads = subjects
            for prep in _children(verb, ("prep",)):
                pred = f"{label}_{prep.lower_}"
                for o, fo in _with_conjuncts(_children(prep, ("pobj",))):
                    for s, fs in heads:
                        emit(s, pred, o, "prep", fs * fo)

    def _noun_facts(
        self, subject: Token, noun: Token, emit: Callable, pattern: str, factor: float
    ) -> None:
        """``subject`` is a ``noun``: a type statement, plus noun+preposition relations."""
        emit(subject, IS_A, class_mention(noun, self._text), pattern, factor)
        for prep in _children(noun, ("prep",)):
            pred = f"{noun.lemma_.lower()}_{prep.lower_}"
            for o, fo in _with_conjuncts(_children(prep, ("pobj",))):
                emit(subject, pred, o, pattern, factor * fo)
