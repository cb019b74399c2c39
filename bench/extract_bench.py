"""Extraction throughput: ``kgforge.extract_corpus`` (default pipeline, into an on-disk Oxigraph store)
vs plain spaCy ``nlp.pipe`` with the same model, batch size and processes, in the same run.

The corpus is >= 2,000 documents of real sentences (CoNLL04's from ../shared/data when present,
plus the shipped sample corpus), each document a fixed-seed draw of a few sentences. Plain
spaCy gets the texts already in memory and only iterates the parsed Docs; kgforge reads the
corpus file, extracts, resolves and writes every statement with provenance. Both sides load
their model before the clock starts. The two sides alternate within each repeat (order swapped
every repeat) so that load changes on a shared machine hit both sides of a pair alike: the
ratio reported is the median of the per-repeat ratios (docs/s and words/s from the median times).

    python bench/extract_bench.py [--docs 2000] [--workers 1 2] [--batch-size 64] [--repeats 3]
        [--stages] [--own-cpu]

Prints docs/s, words/s and the ratio kgforge time / spaCy time per worker count, and writes
bench/results/extract_bench.json. ``--stages`` adds one more kgforge run (one process) with each
stage's methods wrapped by a timer: CPU seconds of the main thread (``time.thread_time``, which
other jobs on a shared machine disturb less than wall time) spent in each stage itself (a
stage's time excludes the stages it calls), the CPU seconds of the store's background threads
(RocksDB flushes and compactions: process less main-thread time), and their share of plain
``nlp.pipe``'s CPU time on the same texts. ``--own-cpu`` measures kgforge's own cost with
spaCy taken out: the texts are parsed once (plain ``nlp.pipe``'s CPU time), then kgforge runs
``--repeats`` times on those parsed Docs; the least main-thread and store-thread CPU seconds,
and their shares of the parse (CPU time varies less than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import spacy

from kgforge.extract.pipeline import load_pipeline
from kgforge.extract.run import extract
from kgforge.progress import set_progress

ROOT = Path(__file__).resolve().parents[1]
CONLL = ROOT.parent / "shared" / "data" / "conll04"
SAMPLE = ROOT / "data" / "sample"


def sentences() -> list[str]:
    """Real sentences: CoNLL04's (if present) and the sample corpus's."""
    out: list[str] = []
    for name in ("train.jsonl", "dev.jsonl"):
        path = CONLL / name
        if path.exists():
            out += [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
    for path in sorted(SAMPLE.glob("*.txt")):
        out += re.split(r"(?<=\.)\s+", path.read_text(encoding="utf-8").strip())
    return out


def make_corpus(path: Path, n_docs: int, per_doc: int = 4, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pool = sentences()
    texts = [" ".join(rng.sample(pool, per_doc)) for _ in range(n_docs)]
    with path.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"id": f"bench-{i:05d}", "text": text}) + "\n")
    return texts


def time_plain(nlp, texts: list[str], batch_size: int, workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    words = 0
    for doc in nlp.pipe(texts, batch_size=batch_size, n_process=workers):
        words += len(doc)
    return time.perf_counter() - start, words


def time_kgforge(pipeline, corpus: Path, work: Path, batch_size: int, workers: int) -> tuple:
    store = work / f"store-{time.monotonic_ns()}"
    start = time.perf_counter()
    summary = extract(corpus, store, pipeline, workers=workers, batch_size=batch_size)
    seconds = time.perf_counter() - start
    shutil.rmtree(store, ignore_errors=True)
    return seconds, summary


class StageTimer:
    """CPU seconds per stage, each stage's own: time spent in a wrapped method, less the time
    spent in wrapped methods it calls (so stages add up)."""

    def __init__(self) -> None:
        self.spent: Counter = Counter()
        self.calls: Counter = Counter()
        self._inner: list[float] = []  # per open call: CPU seconds of the stages it called
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: object, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            self._inner.append(0.0)
            start = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.thread_time() - start
                self.spent[stage] += elapsed - self._inner.pop()
                self.calls[stage] += 1
                if self._inner:
                    self._inner[-1] += elapsed

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


def stage_times(pipeline, corpus: Path, texts: list[str], work: Path, batch_size: int) -> dict:
    """One instrumented kgforge run (one process) and one plain ``nlp.pipe`` run: CPU seconds
    of each kgforge stage, the rest (spaCy's parse and reading the corpus) and plain spaCy."""
    import kgforge.extract.run as run_module
    from kgforge.extract.canonical import PredicateCanonicalizer
    from kgforge.extract.coref import Coreference
    from kgforge.extract.patterns import PatternExtractor
    from kgforge.extract.pipeline import ExtractionPipeline
    from kgforge.extract.resolve import EntityResolver
    from kgforge.graph.store import KnowledgeGraph

    timer = StageTimer()
    for owner, name, stage in [
        (ExtractionPipeline, "extract_doc", "mentions and aliasing"),
        (Coreference, "topic", "coreference"),
        (Coreference, "resolve", "coreference"),
        (PatternExtractor, "extract", "patterns"),
        (PredicateCanonicalizer, "prepare", "canonical predicates"),
        (PredicateCanonicalizer, "apply", "canonical predicates"),
        (EntityResolver, "resolve_document", "resolution"),
        (run_module, "document_quads", "RDF lines"),
        (run_module.ExtractionRun, "_write", "store writes"),
        (run_module.ExtractionRun, "rebuild_entities", "entity records"),
        (KnowledgeGraph, "open", "store open and close"),
        (KnowledgeGraph, "close", "store open and close"),
    ]:
        timer.wrap(owner, name, stage)
    store = work / "store-stages"
    try:
        start, start_main = time.process_time(), time.thread_time()
        extract(corpus, store, pipeline, workers=1, batch_size=batch_size)
        total, main = time.process_time() - start, time.thread_time() - start_main
    finally:
        timer.restore()
        shutil.rmtree(store, ignore_errors=True)
    start = time.process_time()
    for _ in pipeline.nlp.pipe(texts, batch_size=batch_size):
        pass
    plain = time.process_time() - start
    stages = dict(timer.spent)
    stages["spaCy parse and the rest"] = main - sum(stages.values())
    stages["store background threads"] = total - main
    return {
        "plain_nlp_pipe_cpu_s": round(plain, 3),
        "kgforge_cpu_s": round(total, 3),
        "cpu_ratio": round(total / plain, 3),
        "stages": {
            k: {
                "cpu_s": round(v, 3),
                "ms_per_doc": round(1000 * v / len(texts), 3),
                "share_of_plain": round(v / plain, 4),
            }
            for k, v in sorted(stages.items(), key=lambda kv: -kv[1])
        },
    }


def own_cpu(pipeline, corpus: Path, texts: list[str], work: Path, batch_size: int, repeats: int):
    """kgforge's CPU seconds beyond spaCy's parse: extraction over Docs parsed beforehand."""
    nlp = pipeline.nlp
    start = time.process_time()
    parsed = {doc.text: doc for doc in nlp.pipe(texts, batch_size=batch_size)}
    plain = time.process_time() - start

    def preparsed(pairs, as_tuples=False, batch_size=batch_size, **_):
        for text, context in pairs:
            yield parsed[text], context

    nlp.pipe = preparsed  # the instance attribute shadows ``Language.pipe`` until deleted
    main_s, store_s = [], []
    try:
        for _ in range(repeats):
            store = work / f"store-own-{time.monotonic_ns()}"
            start, start_main = time.process_time(), time.thread_time()
            extract(corpus, store, pipeline, workers=1, batch_size=batch_size)
            main = time.thread_time() - start_main
            main_s.append(main)
            store_s.append(time.process_time() - start - main)
            shutil.rmtree(store, ignore_errors=True)
    finally:
        del nlp.pipe
    main, store = min(main_s), min(store_s)
    return {
        "plain_nlp_pipe_cpu_s": round(plain, 3),
        "main_thread_cpu_s": [round(t, 3) for t in main_s],
        "store_threads_cpu_s": [round(t, 3) for t in store_s],
        "main_share_of_plain": round(main / plain, 4),
        "all_share_of_plain": round((main + store) / plain, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stages", action="store_true", help="CPU time of each stage")
    parser.add_argument(
        "--own-cpu", action="store_true", help="kgforge's CPU time on pre-parsed documents"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "extract_bench.json"
    )
    args = parser.parse_args()
    set_progress(False)

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    pipeline = load_pipeline("default")
    model = pipeline.config.spacy.model
    nlp = spacy.load(model)
    pipeline.nlp  # noqa: B018 - load before the clock starts, like the plain side
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "corpus.jsonl"
        texts = make_corpus(corpus, args.docs)
        for workers in args.workers:
            plain_times, kgf_times = [], []
            words = summary = None
            for r in range(args.repeats):
                order = ("plain", "kgforge") if r % 2 == 0 else ("kgforge", "plain")
                for side in order:
                    if side == "plain":
                        seconds, words = time_plain(nlp, texts, args.batch_size, workers)
                        plain_times.append(seconds)
                    else:
                        seconds, summary = time_kgforge(
                            pipeline, corpus, work, args.batch_size, workers
                        )
                        kgf_times.append(seconds)
                    print(f"workers={workers} repeat={r} {side}: {seconds:.2f}s", flush=True)
            ratios = [k / p for k, p in zip(kgf_times, plain_times, strict=True)]
            plain, kgf = statistics.median(plain_times), statistics.median(kgf_times)
            row = {
                "workers": workers,
                "docs": args.docs,
                "words": words,
                "batch_size": args.batch_size,
                "plain_spacy_s": round(plain, 3),
                "kgforge_s": round(kgf, 3),
                "plain_docs_per_s": round(args.docs / plain, 1),
                "kgforge_docs_per_s": round(args.docs / kgf, 1),
                "plain_words_per_s": round(words / plain, 1),
                "kgforge_words_per_s": round(words / kgf, 1),
                "ratio": round(statistics.median(ratios), 3),
                "ratios_per_repeat": [round(r, 3) for r in ratios],
                "statements": summary.statements,
                "all_plain_s": [round(t, 3) for t in plain_times],
                "all_kgforge_s": [round(t, 3) for t in kgf_times],
            }
            results.append(row)
            print(
                f"workers={workers}: spaCy {row['plain_docs_per_s']} docs/s "
                f"{row['plain_words_per_s']} words/s | kgforge {row['kgforge_docs_per_s']} docs/s "
                f"{row['kgforge_words_per_s']} words/s | ratio {row['ratio']} "
                f"({summary.statements} statements)",
                flush=True,
            )
        stages = None
        if args.stages:
            stages = stage_times(pipeline, corpus, texts, work, args.batch_size)
            for name, row in stages["stages"].items():
                print(
                    f"{name:28s} {row['cpu_s']:8.2f} CPU s {row['ms_per_doc']:7.2f} ms/doc "
                    f"{100 * row['share_of_plain']:6.1f}% of plain nlp.pipe",
                    flush=True,
                )
        own = None
        if args.own_cpu:
            own = own_cpu(pipeline, corpus, texts, work, args.batch_size, args.repeats)
            print(
                f"own CPU on pre-parsed docs: main thread {min(own['main_thread_cpu_s']):.2f} s "
                f"({100 * own['main_share_of_plain']:.1f}% of plain nlp.pipe's "
                f"{own['plain_nlp_pipe_cpu_s']:.2f} s), with store threads "
                f"{100 * own['all_share_of_plain']:.1f}%",
                flush=True,
            )
    report = {
        "model": model,
        "spacy": spacy.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "results": results,
        **({"stages": stages} if stages is not None else {}),
        **({"own_cpu": own} if own is not None else {}),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
