"""Relation yield of a pipeline on encyclopaedic text: how many documents and sentences give at
least one relation between two entities, how spread the predicates are, and a seeded sample of
statements to label by hand for precision.

The corpus: 2,000 fixed-seed entity descriptions of fb15k237-ind (``entity2text.tsv``,
``id<TAB>Name -- description``; the description alone is the document, one per entity),
from ../shared/data.

    python bench/relation_yield.py --tag after [--pipeline default] [--docs 2000]
    python bench/relation_yield.py --tag after --timing     # + cost of each stage vs nlp.pipe
    python bench/relation_yield.py --tag after_embedding --embedding 0.8   # canonical.embedding
    python bench/relation_yield.py --tag after --stage-cpu  # CPU seconds of each stage

A *relation* is a statement other than ``is_a`` whose subject and object are two different
entities of the document (after aliasing and coreference). Writes
``bench/results/relation_yield_<tag>.json`` and, unless it exists (so that labels are kept),
``bench/relation_yield_sample_<tag>.jsonl``: 100 relations drawn with seed 0, one per line,
with ``"correct": null`` for a reader to set to true or false. ``--score`` reads the labelled
sample back and adds the precision to the results.

The script uses only ``load_pipeline`` and ``ExtractionPipeline.process``, so the same file runs
against an older checkout of kgforge (the "before" numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "fb15k237-ind" / "entity2text.tsv"
RESULTS = ROOT / "bench" / "results"
SAMPLE_SIZE = 100


def corpus(n_docs: int, seed: int = 0) -> list[tuple[str, str]]:
    """``(entity id, description)`` for ``n_docs`` entities drawn with ``seed``."""
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        ident, _, text = line.partition("\t")
        _, sep, description = text.partition(" -- ")
        description = description.replace("\\n", "\n").replace('\\"', '"').strip()
        if sep and description:
            rows.append((ident, description))
    rows.sort()
    return random.Random(seed).sample(rows, n_docs)


def relation_index(extraction) -> dict[tuple[int, int], int]:
    return {
        (m.start, m.end): c for m, c in zip(extraction.mentions, extraction.canonical, strict=True)
    }


def relations(extraction) -> list:
    """The statements between two different entities of the document (not ``is_a``)."""
    index = relation_index(extraction)
    out = []
    for st in extraction.statements:
        if st.predicate == "is_a" or st.object.label == "Class":
            continue
        s = index.get((st.subject.start, st.subject.end))
        o = index.get((st.object.start, st.object.end))
        if s is not None and o is not None and s != o:
            out.append(st)
    return out


def measure(pipeline, docs: list[tuple[str, str]]) -> tuple[dict, list[dict]]:
    texts = [t for _, t in docs]
    n_sent = n_rel_sent = n_rel_docs = n_rel_docs_other = n_isa = n_statements = 0
    predicates: Counter = Counter()
    rows: list[dict] = []
    for (ident, text), ex in zip(docs, pipeline.process(texts), strict=True):
        n_sent += len(ex.sentences)
        n_statements += len(ex.statements)
        n_isa += sum(st.predicate == "is_a" for st in ex.statements)
        rels = relations(ex)
        index = relation_index(ex)
        named = ex.mentions
        n_rel_docs += bool(rels)
        n_rel_docs_other += any(st.predicate != "nationality" for st in rels)
        n_rel_sent += len({st.sentence for st in rels})
        for st in rels:
            predicates[st.predicate] += 1
            a, b = st.sentence
            rows.append(
                {
                    "doc": ident,
                    "sentence": text[a:b],
                    "subject": st.subject.text,
                    "predicate": st.predicate,
                    "object": st.object.text,
                    # the entities the two mentions resolve to ("he" -> the topic)
                    "subject_entity": named[index[(st.subject.start, st.subject.end)]].text,
                    "object_entity": named[index[(st.object.start, st.object.end)]].text,
                    "extractor": st.extractor,
                    "confidence": st.confidence,
                }
            )
    n_rel = sum(predicates.values())
    summary = {
        "documents": len(docs),
        "sentences": n_sent,
        "statements": n_statements,
        "is_a": n_isa,
        "relations": n_rel,
        "documents_with_relation": n_rel_docs,
        "document_yield": round(n_rel_docs / len(docs), 4),
        # the demonym pattern ("an American actor") alone gives many: the yield without it
        "document_yield_without_nationality": round(n_rel_docs_other / len(docs), 4),
        "sentences_with_relation": n_rel_sent,
        "sentence_yield": round(n_rel_sent / max(n_sent, 1), 4),
        "predicates": len(predicates),
        "predicates_per_100_relations": round(100 * len(predicates) / max(n_rel, 1), 1),
        "predicates_used_once": sum(1 for c in predicates.values() if c == 1),
        "top_predicates": predicates.most_common(25),
    }
    return summary, rows


def variants(name: str) -> dict:
    """Pipelines that differ from ``name`` by one stage each, for the per-stage cost."""
    from kgforge.extract.config import CanonicalEmbedding
    from kgforge.extract.pipeline import load_pipeline

    def with_(change) -> object:
        pipe = load_pipeline(name)
        config = pipe.config.model_copy(deep=True)
        change(config)
        return type(pipe)(config, pipe.path)

    def old_patterns(c) -> None:  # main's pattern list, no coreference, no canonical step
        c.relations[0].patterns = ["svo", "passive", "prep", "appositive", "copula"]
        c.coreference.enabled = c.canonical.enabled = False

    return {
        "pipeline": lambda: load_pipeline(name),
        "no_coreference": lambda: with_(lambda c: setattr(c.coreference, "enabled", False)),
        "no_canonical": lambda: with_(lambda c: setattr(c.canonical, "enabled", False)),
        "old_patterns_only": lambda: with_(old_patterns),
        "canonical_embedding": lambda: with_(
            lambda c: setattr(c.canonical, "embedding", CanonicalEmbedding())
        ),
    }


def stage_cpu(name: str, texts: list[str]) -> dict:
    """CPU seconds (``time.process_time``: robust to other jobs on a shared machine) of plain
    ``nlp.pipe`` and of each stage of ``process``, timed by wrapping the stage's methods; the
    canonical embedding stage from a variant that has it (its model load included)."""
    import spacy

    from kgforge.extract.canonical import PredicateCanonicalizer
    from kgforge.extract.coref import Coreference
    from kgforge.extract.patterns import PatternExtractor

    spent: dict[str, float] = {}

    def timed(cls, method: str, stage: str):
        original = getattr(cls, method)

        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + time.process_time() - start

        setattr(cls, method, wrapper)
        return original

    makers = variants(name)
    nlp = spacy.load(makers["pipeline"]().config.spacy.model)
    start = time.process_time()
    for _ in nlp.pipe(texts, batch_size=64):
        pass
    plain = time.process_time() - start
    patches = [
        (Coreference, "topic", "coreference"),
        (Coreference, "resolve", "coreference"),
        (PatternExtractor, "extract", "patterns"),
        (PredicateCanonicalizer, "apply", "canonical"),
        (PredicateCanonicalizer, "prepare", "canonical"),
    ]
    originals = [(cls, m, timed(cls, m, stage)) for cls, m, stage in patches]
    out: dict = {"plain_nlp_pipe_cpu_s": round(plain, 2)}
    try:
        for side in ("pipeline", "canonical_embedding"):
            spent.clear()
            pipe = makers[side]()
            pipe.nlp  # noqa: B018
            start = time.process_time()
            for _ in pipe.process(texts):
                pass
            total = time.process_time() - start
            out[side] = {
                "process_cpu_s": round(total, 2),
                "ratio_to_plain": round(total / plain, 3),
                **{f"{k}_cpu_s": round(v, 2) for k, v in sorted(spent.items())},
                **{f"{k}_share_of_plain": round(v / plain, 4) for k, v in sorted(spent.items())},
            }
    finally:
        for cls, method, original in originals:
            setattr(cls, method, original)
    return out


def timing(name: str, texts: list[str], repeats: int) -> dict:
    """Seconds of plain ``nlp.pipe`` (same model, batch size 64) and of ``process`` for the
    pipeline and its one-stage variants, in rotated order within each repeat; a fresh pipeline
    per repeat, its spaCy model loaded before the clock (a text model it loads is timed)."""
    import spacy

    from kgforge.extract.pipeline import load_pipeline

    nlp = spacy.load(load_pipeline(name).config.spacy.model)
    makers = variants(name)
    sides = ["plain", *makers]
    times: dict[str, list[float]] = {side: [] for side in sides}
    for r in range(repeats):
        for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
            if side != "plain":
                pipe = makers[side]()
                pipe.nlp  # noqa: B018 - loaded before the clock, like the plain side's
            start = time.perf_counter()
            for _ in nlp.pipe(texts, batch_size=64) if side == "plain" else pipe.process(texts):
                pass
            times[side].append(time.perf_counter() - start)
            print(f"repeat {r} {side}: {times[side][-1]:.1f}s", flush=True)
    out = {"plain_s": [round(t, 2) for t in times["plain"]]}
    for side in makers:
        ratios = [k / p for k, p in zip(times[side], times["plain"], strict=True)]
        out[side] = {
            "seconds": [round(t, 2) for t in times[side]],
            "ratio_to_plain_median": round(statistics.median(ratios), 3),
            "ratios": [round(x, 3) for x in ratios],
        }
    return out


def main() -> None:
    from kgforge.extract.pipeline import load_pipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", required=True, help="results name: before, after, ...")
    parser.add_argument("--pipeline", default="default")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--stage-cpu", action="store_true", help="CPU time of each stage")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timing-docs", type=int, default=1000)
    parser.add_argument(
        "--embedding", type=float, help="turn canonical.embedding on with this threshold"
    )
    parser.add_argument("--score", action="store_true", help="add the labelled sample's precision")
    args = parser.parse_args()

    docs = corpus(args.docs)
    pipeline = load_pipeline(args.pipeline)
    if args.embedding is not None:
        from kgforge.extract.config import CanonicalEmbedding

        config = pipeline.config.model_copy(deep=True)
        config.canonical.embedding = CanonicalEmbedding(threshold=args.embedding)
        pipeline = type(pipeline)(config, pipeline.path)
    started = time.perf_counter()
    summary, rows = measure(pipeline, docs)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    sample_path = ROOT / "bench" / f"relation_yield_sample_{args.tag}.jsonl"
    if not sample_path.exists():
        sample = random.Random(0).sample(rows, min(SAMPLE_SIZE, len(rows)))
        sample_path.write_text("".join(json.dumps({**r, "correct": None}) + "\n" for r in sample))
    if args.score:
        labels = [json.loads(line)["correct"] for line in sample_path.read_text().splitlines()]
        done = [x for x in labels if x is not None]
        summary["sample_labelled"] = len(done)
        summary["precision"] = round(sum(done) / len(done), 3) if done else None
    report = {
        "tag": args.tag,
        "pipeline": args.pipeline,
        "data": str(DATA.relative_to(ROOT.parent)),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, shared",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        **summary,
    }
    if args.timing:
        texts = [t for _, t in docs][: args.timing_docs]
        report["timing"] = {"docs": len(texts), **timing(args.pipeline, texts, args.repeats)}
    if args.stage_cpu:
        report["stage_cpu"] = stage_cpu(args.pipeline, [t for _, t in docs][: args.timing_docs])
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"relation_yield_{args.tag}.json"
    if out.exists():  # keep the timings of an earlier run that this one did not redo
        old = json.loads(out.read_text())
        report.update({k: old[k] for k in ("timing", "stage_cpu") if k in old and k not in report})
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "top_predicates"}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
