"""Extraction pipelines: spaCy parsing and NER, type mapping, aliasing, and relation extractors.

``load_pipeline("default")`` reads ``pipelines/default.yaml``; a name resolves against the
``pipelines/`` folder next to the package (a source checkout) and then the one shipped inside
it (an installed package); a path is read as it is.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from spacy.attrs import IS_SPACE
from spacy.language import Language
from spacy.tokens import Doc, Token

from kgforge.errors import ConfigError
from kgforge.extract.canonical import PredicateCanonicalizer
from kgforge.extract.config import (
    ClassifierRelations,
    JointRelations,
    PatternRelations,
    PipelineConfig,
    SchemaRelations,
    load_config,
)
from kgforge.extract.coref import Coreference
from kgforge.extract.patterns import PatternExtractor
from kgforge.extract.resolve import Aliaser
from kgforge.extract.types import DocExtraction, Mention, Statement

if TYPE_CHECKING:
    from kgforge.extract.trained import EntityTypeClassifier, RelationClassifier
    from kgforge.extract.trained.joint import JointExtractor

T = TypeVar("T")


class Engine(Protocol):
    """Where texts are parsed and extracted when not in this process (``RayEngine`` in
    ``kgforge.extract.ray_engine``): results in the order of the texts."""

    def map(
        self, pipeline: ExtractionPipeline, texts: Iterable[str], batch_size: int
    ) -> Iterator[DocExtraction]: ...


_PACKAGE = Path(__file__).resolve().parents[1]
PIPELINE_DIRS = (_PACKAGE.parent / "pipelines", _PACKAGE / "pipelines")
_ALIAS_SCORE = 0.9  # an untagged proper noun that aliases a known entity ("Jobs")


@Language.component("kgforge_one_sentence")
def one_sentence(doc: Doc) -> Doc:
    """The whole record is one sentence (the parser keeps boundaries set before it), so that a
    relation between its first and last mention is never split apart."""
    for token in doc[1:]:
        token.is_sent_start = False
    return doc


@Language.component("kgforge_paragraphs")
def paragraph_boundaries(doc: Doc) -> Doc:
    """Start a sentence after a blank line, so headings and list items stay out of the next
    paragraph's first sentence (the parser keeps boundaries set before it)."""
    spaces = doc.to_array([IS_SPACE])  # no Python Token objects for the other tokens
    for i in spaces[:-1].nonzero()[0]:
        if doc[int(i)].text.count("\n") >= 2:
            doc[int(i) + 1].is_sent_start = True
    return doc


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_workers_parent: int | None = None  # pid of the process whose spaCy workers are starting


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker process when ``parent`` dies, even by SIGKILL, which
    leaves no chance to stop the workers (Linux only; elsewhere workers end when their input
    pipe closes)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _after_fork_in_child() -> None:
    if _workers_parent is not None:
        _die_with_parent(_workers_parent)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _ExtractInWorker:
    """Last component while ``nlp.pipe`` runs worker processes: it extracts there and passes
    on an empty Doc whose context is the extraction, so only that is sent back.

    Forked workers are tied to the parent by the fork hook above; spawned ones unpickle this
    component first thing, and tie themselves to the parent then."""

    def __init__(self) -> None:
        self.pipeline: ExtractionPipeline | None = None
        self.parent = os.getpid()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        _die_with_parent(self.parent)

    def __call__(self, doc: Doc) -> Doc:
        assert self.pipeline is not None  # set by process_tuples before the workers start
        out = Doc(doc.vocab, words=[])
        out._context = self.pipeline.extract_doc(doc)
        return out


_IN_WORKERS = "kgforge_extract_in_workers"


@Language.factory(_IN_WORKERS)
def _extract_in_workers(nlp: Language, name: str) -> _ExtractInWorker:
    return _ExtractInWorker()


def find_pipeline(path_or_name: str | Path) -> Path:
    """The YAML file of a pipeline name ("default") or path."""
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ConfigError("pipeline file does not exist", path)
        return path
    for folder in PIPELINE_DIRS:
        for suffix in (".yaml", ".yml"):
            candidate = folder / f"{path_or_name}{suffix}"
            if candidate.exists():
                return candidate
    known = sorted({p.stem for d in PIPELINE_DIRS if d.is_dir() for p in d.glob("*.y*ml")})
    raise ConfigError(f"unknown pipeline {str(path_or_name)!r} (known: {', '.join(known)})")


def load_pipeline(path_or_name: str | Path = "default") -> ExtractionPipeline:
    """Load a pipeline by name or YAML path (validated; spaCy loads on first use).

    Args:
        path_or_name: a shipped pipeline's name ("default", "conll04", ...) or a YAML path.

    Returns:
        The extraction pipeline, for ``kgforge.extract_corpus(..., pipeline=...)``.
    """
    path = find_pipeline(path_or_name)
    return ExtractionPipeline(load_config(path), path)


class ExtractionPipeline:
    """Turn texts into ``DocExtraction`` records (mentions, aliases, statements)."""

    def __init__(self, config: PipelineConfig, path: Path | None = None) -> None:
        self.config = config
        self.path = path
        self._nlp: Language | None = None
        self._patterns = [
            PatternExtractor(r) for r in config.relations if isinstance(r, PatternRelations)
        ]
        self._classifiers: list[tuple[RelationClassifier, float]] | None = None
        self._typer: EntityTypeClassifier | None = None
        self._joint: tuple[JointExtractor, JointRelations] | None = None
        self._schema: list[Any] = []
        coref = config.coreference
        self._coref = (
            Coreference(coref, config.type_mapping, config.drop_unmapped) if coref.enabled else None
        )
        self.canonical = (
            PredicateCanonicalizer(config.canonical, self._lemma)
            if config.canonical.enabled
            else None
        )
        self._lemmas: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def nlp(self) -> Language:
        """The spaCy pipeline, loaded on first use."""
        if self._nlp is None:
            import spacy

            try:
                nlp = spacy.load(self.config.spacy.model, disable=self.config.spacy.disable)
            except OSError as exc:
                raise ConfigError(
                    f"cannot load spaCy model {self.config.spacy.model!r}: {exc}",
                    self.path,
                    field="spacy.model",
                ) from exc
            if self.config.spacy.sentences == "record":
                nlp.add_pipe("kgforge_one_sentence", first=True)
            elif self.config.spacy.paragraph_breaks and "parser" in nlp.pipe_names:
                nlp.add_pipe("kgforge_paragraphs", before="parser")
            self._nlp = nlp
        return self._nlp

    def _lemma(self, word: str) -> str:
        """A word's lemma as a verb ("held" -> "hold"; nouns keep their form), from the spaCy
        model's lemmatizer (the word itself without one)."""
        lemma = self._lemmas.get(word)
        if lemma is None:
            lemma = word
            if "lemmatizer" in self.nlp.pipe_names:
                doc = Doc(self.nlp.vocab, words=[word], pos=["VERB"])
                lemma = self.nlp.get_pipe("lemmatizer")(doc)[0].lemma_.lower() or word
            self._lemmas[word] = lemma
        return lemma

    def fingerprint(self) -> str:
        """Changes when the config or the spaCy model changes: stored results are then stale."""
        meta = self.nlp.meta
        blob = json.dumps(
            [self.config.model_dump(mode="json"), meta.get("name"), meta.get("version")],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def resolution_fingerprint(self, link_to: str | Path | None = None) -> str:
        """Names the settings an entity layer was resolved with (``resolution`` and the
        reference graph linked to): what a document graph records as ``kgf:resolutionHash``,
        so that ``kgforge resolve`` with other settings shows in the store."""
        blob = json.dumps(
            [self.config.resolution.model_dump(mode="json"), str(link_to or "")], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _load_trained(self) -> None:
        if self._classifiers is not None:
            return
        self._classifiers = []
        specs = [r for r in self.config.relations if isinstance(r, ClassifierRelations)]
        if specs or self.config.entity_types is not None:
            # torch and the encoder load only for pipelines with trained models
            from kgforge.extract.trained import EntityTypeClassifier, RelationClassifier

            for spec in specs:
                self._classifiers.append((RelationClassifier.load(spec.model), spec.min_confidence))
            if self.config.entity_types is not None:
                self._typer = EntityTypeClassifier.load(self.config.entity_types.model)
        joint = [r for r in self.config.relations if isinstance(r, JointRelations)]
        if len(joint) > 1:
            raise ConfigError("at most one joint extractor: it gives the mentions", self.path)
        if joint:
            from kgforge.extract.trained.joint import JointExtractor

            self._joint = (JointExtractor.load(joint[0].model, joint[0].encoder), joint[0])
        schema = [r for r in self.config.relations if isinstance(r, SchemaRelations)]
        if schema:
            from kgforge.extract.schema.extractor import SchemaExtractor

            self._schema = [SchemaExtractor(spec, self.nlp) for spec in schema]

    def process(
        self, texts: Iterable[str], batch_size: int = 64, n_process: int = 1
    ) -> Iterator[DocExtraction]:
        """Extract from each text, in order (spaCy's ``nlp.pipe`` does the batching)."""
        pairs = ((text, None) for text in texts)
        for extraction, _ in self.process_tuples(pairs, batch_size=batch_size, n_process=n_process):
            yield extraction

    def process_tuples(
        self,
        pairs: Iterable[tuple[str, T]],
        batch_size: int = 64,
        n_process: int = 1,
        engine: Engine | None = None,
    ) -> Iterator[tuple[DocExtraction, T]]:
        """Like ``process`` for ``(text, context)`` pairs; each result keeps its context.
        ``engine``: extract on Ray actors instead of here (``kgforge.extract.ray_engine``)."""
        # Texts longer than spaCy takes (``nlp.max_length``) go through in pieces and come out
        # as one extraction again, with document offsets.
        parts: list[tuple[int, DocExtraction]] = []
        pieces = _split_long((pair for pair in pairs), self.nlp.max_length)
        canonical = self.canonical  # in this process, in document order: names are stable
        done: list[tuple[DocExtraction, T]] = []
        for extraction, (context, offset, last) in self._process_pieces(
            pieces, batch_size, n_process, engine
        ):
            if last and not parts:
                done.append((extraction, context))
            else:
                parts.append((offset, extraction))
                if last:
                    done.append((DocExtraction.join(parts), context))
                    parts = []
            if canonical is None:
                yield from done
                done = []
            elif len(done) >= batch_size:
                yield from _canonicalised(canonical, done)
                done = []
        if done:
            yield from _canonicalised(canonical, done)  # type: ignore[arg-type]

    def _process_pieces(
        self,
        pairs: Iterable[tuple[str, T]],
        batch_size: int,
        n_process: int,
        engine: Engine | None = None,
    ) -> Iterator[tuple[DocExtraction, T]]:
        if engine is not None:  # texts out to the actors, contexts wait here, in order
            waiting: deque[T] = deque()

            def sent() -> Iterator[str]:
                for text, context in pairs:
                    waiting.append(context)
                    yield text

            for extraction in engine.map(self, sent(), batch_size):
                yield extraction, waiting.popleft()
            return
        self._load_trained()
        nlp = self.nlp
        if n_process == 1:
            for doc, context in nlp.pipe(pairs, as_tuples=True, batch_size=batch_size):
                yield self.extract_doc(doc), context
            return
        # With worker processes, extract in them too: the main process, which also writes the
        # store, then neither runs the patterns nor rebuilds the parsed Docs they send back.
        # Plain texts go out (``as_tuples`` would tokenize and serialize them here); the
        # contexts wait here, in the order spaCy keeps.
        contexts: deque[T] = deque()

        def texts() -> Iterator[str]:
            for text, context in pairs:
                contexts.append(context)
                yield text

        global _workers_parent
        component = nlp.add_pipe(_IN_WORKERS, last=True)
        component.pipeline = self
        _workers_parent = os.getpid()
        try:
            for doc in nlp.pipe(texts(), batch_size=batch_size, n_process=n_process):
                yield doc._context, contexts.popleft()
        finally:
            _workers_parent = None
            nlp.remove_pipe(_IN_WORKERS)

    def extract_doc(self, doc: Doc) -> DocExtraction:
        """Mentions, aliases and statements of one parsed document."""
        sents = list(doc.sents)
        text = doc.text  # Doc.text joins all tokens on every access: once per document
        joint: list[Statement] = []
        if self._joint is not None:
            mentions, joint = self._joint_extract(text, sents)
        else:
            mentions = self._mentions(doc, text, sents)
        coref, topic = self._coref, -1
        if coref is not None:
            mentions, topic = coref.topic(doc, text, mentions)
        resolution = self.config.resolution
        aliaser = Aliaser(resolution.aliasing, resolution.person_types)
        canonical = [aliaser.add(m, i) for i, m in enumerate(mentions)]
        token_mention = [-1] * len(doc)
        for i, m in enumerate(mentions):
            span = doc.char_span(m.start, m.end, alignment_mode="expand")
            if span is not None:
                for t in range(span.start, span.end):
                    token_mention[t] = i
        extra: dict[tuple[int, int], tuple[Mention, int]] = {}
        refs = coref.resolve(doc, mentions, canonical, token_mention, topic) if coref else {}

        def argument(tok: Token) -> Mention | None:
            index = token_mention[tok.i]
            if index >= 0:
                return mentions[index]
            ref = refs.get(tok.i)
            if ref is not None:  # "he", "the company": a reference to an entity
                start, end, target = ref
                if (start, end) not in extra:
                    m = Mention(
                        start, end, text[start:end], mentions[target].label,
                        self.config.coreference.score, coreferent=True,
                    )  # fmt: skip
                    extra[(start, end)] = (m, target)
                return extra[(start, end)][0]
            if tok.pos_ != "PROPN" and not (tok.pos_ == "NOUN" and tok.is_title):
                return None  # the small models tag a lone surname ("Jobs") as a noun at times
            left = tok
            while left.i > 0 and left.nbor(-1).dep_ == "compound" and left.nbor(-1).head == tok:
                left = left.nbor(-1)
            start, end = left.idx, tok.idx + len(tok)
            if (start, end) in extra:
                return extra[(start, end)][0]
            target = aliaser.find(text[start:end], None, start)
            if target is None:
                return None
            m = Mention(start, end, text[start:end], mentions[target].label, _ALIAS_SCORE)
            extra[(start, end)] = (m, canonical[target])
            return m

        statements: list[Statement] = []
        for sent in sents:
            span = _trim(text, sent.start_char, sent.end_char)
            for extractor in self._patterns:
                statements.extend(extractor.extract(sent, argument, text, span))
        if self._classifiers:
            statements.extend(self._classify(text, sents, mentions))
        statements.extend(joint)
        if extra:
            mentions, canonical = _merge_extra(mentions, canonical, extra)
        if self._schema:
            from kgforge.extract.schema.extractor import add_argument_mentions

            spans = [_trim(text, s.start_char, s.end_char) for s in sents]
            found = [st for ex in self._schema for st in ex.statements(text, sents, spans)]
            mentions, canonical = add_argument_mentions(mentions, canonical, found)
            statements.extend(found)
        return DocExtraction(
            text=text,
            sentences=[_trim(text, s.start_char, s.end_char) for s in sents],
            mentions=mentions,
            canonical=canonical,
            statements=statements,
        )

    def _spacy_mentions(self, doc: Doc, text: str) -> list[Mention]:
        """spaCy's entities as mentions with the pipeline's types (``type_mapping``; unmapped
        labels dropped or kept as they are, per ``drop_unmapped``)."""
        mapping, drop = self.config.type_mapping, self.config.drop_unmapped
        mentions = []
        for ent in doc.ents:
            label = mapping.get(ent.label_, None if drop else ent.label_)
            if label is not None:
                a, b = ent.start_char, ent.end_char
                mentions.append(Mention(a, b, text[a:b], label))
        return mentions

    def spacy_mentions(self, texts: Iterable[str]) -> list[list[Mention]]:
        """The mentions the spaCy model and type mapping give each text (no refiner): what the
        entity-type refiner learns to correct."""
        return [self._spacy_mentions(doc, doc.text) for doc in self.nlp.pipe(texts)]

    def _mentions(self, doc: Doc, text: str, sents: list) -> list[Mention]:
        mentions = self._spacy_mentions(doc, text)
        if self._typer is None:
            return mentions
        by_sent = _split_by_sentence(mentions, sents)
        items = [
            (text[s.start_char : s.end_char], rel) for s, rel in zip(sents, by_sent, strict=True)
        ]
        refined = self._typer.predict_batch(items)
        return [m.shifted(s.start_char) for s, ms in zip(sents, refined, strict=True) for m in ms]

    def _joint_extract(self, text: str, sents: list) -> tuple[list[Mention], list[Statement]]:
        """The joint extractor's mentions (document offsets) and its relation statements, one
        encoder pass per sentence."""
        model, spec = self._joint  # type: ignore[misc]
        spans = [_trim(text, s.start_char, s.end_char) for s in sents]
        found = model.predict([text[a:b] for a, b in spans], batch_size=spec.batch_size)
        mentions: list[Mention] = []
        statements: list[Statement] = []
        for (a, b), (sent_mentions, relations) in zip(spans, found, strict=True):
            shifted = [m.shifted(a) for m in sent_mentions]
            mentions += shifted
            for r in relations:
                if r.confidence >= spec.min_confidence:
                    statements.append(
                        Statement(
                            shifted[r.head], r.label, shifted[r.tail],
                            round(float(r.confidence), 4), (a, b), "joint",
                        )
                    )  # fmt: skip
        return mentions, statements

    def _classify(self, text: str, sents: list, mentions: list[Mention]) -> list[Statement]:
        by_sent = _split_by_sentence(mentions, sents)
        items = [
            (text[s.start_char : s.end_char], rel) for s, rel in zip(sents, by_sent, strict=True)
        ]
        out: list[Statement] = []
        for classifier, threshold in self._classifiers or []:
            predictions = classifier.predict_batch(items)
            for sent, rel_mentions, preds in zip(sents, by_sent, predictions, strict=True):
                off = sent.start_char
                for r in preds:
                    if r.confidence < threshold:
                        continue
                    h, t = rel_mentions[r.head], rel_mentions[r.tail]
                    out.append(
                        Statement(
                            h.shifted(off),
                            r.label,
                            t.shifted(off),
                            round(float(r.confidence), 4),
                            _trim(text, sent.start_char, sent.end_char),
                            "classifier",
                        )
                    )
        return out


_BREAKS = ("\n\n", "\n", ". ", "? ", "! ", "; ", " ")  # where a long text is cut, best first


def _split_long(
    pairs: Iterable[tuple[str, T]], limit: int
) -> Iterator[tuple[str, tuple[T, int, bool]]]:
    """Each text, or consecutive pieces of at most ``limit`` characters of a longer one, with
    ``(context, offset of the piece, whether it is the text's last piece)``. A piece ends at
    the last paragraph break in its second half, else a line break, a sentence end, a space."""
    for text, context in pairs:
        start = 0
        while len(text) - start > limit:
            window = text[start : start + limit]
            cut = limit
            for sep in _BREAKS:
                at = window.rfind(sep, limit // 2)
                if at > 0:
                    cut = at + len(sep)
                    break
            yield window[:cut], (context, start, False)
            start += cut
        yield (text[start:] if start else text), (context, start, True)


def _canonicalised(
    canonical: PredicateCanonicalizer, done: list[tuple[DocExtraction, T]]
) -> Iterator[tuple[DocExtraction, T]]:
    """A batch of extractions with canonical predicates (its new predicates embedded at once)."""
    canonical.prepare(ex for ex, _ in done)
    for extraction, context in done:
        yield canonical.apply(extraction), context


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """A sentence span without surrounding whitespace (spaCy keeps trailing newlines)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_by_sentence(mentions: list[Mention], sents: list) -> list[list[Mention]]:
    """Mentions per sentence, with offsets relative to their sentence."""
    out: list[list[Mention]] = [[] for _ in sents]
    j = 0
    for m in mentions:
        while j < len(sents) - 1 and m.start >= sents[j].end_char:
            j += 1
        off = sents[j].start_char
        out[j].append(m.shifted(-off))
    return out


def _merge_extra(
    mentions: list[Mention],
    canonical: list[int],
    extra: dict[tuple[int, int], tuple[Mention, int]],
) -> tuple[list[Mention], list[int]]:
    """Add alias mentions found by the patterns, keeping text order and canonical indices."""
    rows = [(m, mentions[c]) for m, c in zip(mentions, canonical, strict=True)]
    rows += [(m, mentions[c]) for m, c in extra.values()]
    rows.sort(key=lambda r: (r[0].start, r[0].end))
    position = {(m.start, m.end): i for i, (m, _) in enumerate(rows)}
    return [m for m, _ in rows], [position[(c.start, c.end)] for _, c in rows]
