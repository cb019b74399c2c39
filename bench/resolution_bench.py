"""Entity resolution benchmark: gold identities from ../shared/data, B-cubed scores of the
clusters that ``kgforge extract`` makes of the gold mentions, wrong and missed merges.

Two corpora, each extracted into its own fresh store with one pipeline (default: ``default``):

- ``fb``: FB15k-237 descriptions (``fb15k237-ind/entity2text.tsv``, Wikipedia-style, one entity
  per document), every entity whose name another entity shares (234 names: Columbia,
  Washington County, ...) plus a fixed-seed sample of the others, ``--fb-docs`` in all. Gold: a
  document's entity named by its own name is the document's Freebase entity; a mention elsewhere
  of a name only one Freebase entity has is that entity (silver: the name is unique in FB15k-237,
  not necessarily in the world).
- ``tekgen``: the Text2KGBench Wikidata-TekGen training sentences (all ten ontologies, each
  distinct sentence one document). Gold: a triple's subject or object label that occurs in its
  sentence names that Wikidata entity (qid).

A gold mention counts when the document has an extracted entity with that name as label or alias
(the rest are NER misses, reported as coverage). A name that the gold gives two entities in one
document (TekGen has a sentence twice, once per Wikidata item: "Tears on My Pillow" as two
songs, "King Lear" as two works) is one mention that no resolution can part: such names are left
out of the scores and counted as ``ambiguous_gold``. B-cubed precision/recall over those mentions;
a wrong merge is each extra gold entity in one extracted entity (IRI), a missed merge each extra
IRI of one gold entity. Documents split in two halves by a hash of their id: ``dev`` (used to
choose thresholds) and ``test`` (reported once).

    python bench/resolution_bench.py [--pipeline default] [--fb-docs 2000] [--out FILE]
        [--stores DIR]   # keep the stores; later runs with other settings only re-resolve them
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from kgforge.extract.pipeline import load_pipeline
from kgforge.extract.run import extract
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF
from kgforge.graph.store import KnowledgeGraph
from kgforge.progress import set_progress

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

Gold = dict[str, list[tuple[str, str]]]  # doc id -> [(name, gold entity id)]


def key(name: str) -> str:
    return " ".join(name.split()).casefold()


def fb_corpus(n_docs: int, seed: int = 0) -> tuple[list[dict], Gold]:
    rows = []
    for line in (DATA / "fb15k237-ind" / "entity2text.tsv").open(encoding="utf-8"):
        ident, text = line.rstrip("\n").split("\t", 1)
        name, _, description = text.partition(" -- ")
        if description.strip():
            rows.append((ident, name.strip(), description.strip()))
    by_name = Counter(key(name) for _, name, _ in rows)
    shared = [r for r in rows if by_name[key(r[1])] > 1]
    others = [r for r in rows if by_name[key(r[1])] == 1]
    chosen = shared + random.Random(seed).sample(others, max(0, n_docs - len(shared)))
    unique = {key(name): ident for ident, name, _ in rows if by_name[key(name)] == 1}
    docs, gold = [], {}
    for i, (ident, name, description) in enumerate(chosen):
        doc_id = f"fb-{i}"
        docs.append({"id": doc_id, "text": description})
        gold[doc_id] = [(key(name), ident)]
    return docs, {"unique": unique, "own": gold}  # type: ignore[dict-item]


def tekgen_corpus() -> tuple[list[dict], Gold]:
    by_sentence: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in sorted((DATA / "text2kgbench-tekgen" / "train").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            r = json.loads(line)
            for part in ("sub", "obj"):
                label = r[f"{part}_label"]
                if label and label in r["sent"]:
                    by_sentence[r["sent"]].add((key(label), r[part]))
    docs, gold = [], {}
    for i, (sentence, names) in enumerate(sorted(by_sentence.items())):
        doc_id = f"tk-{i}"
        docs.append({"id": doc_id, "text": sentence})
        gold[doc_id] = sorted(names)
    return docs, gold


def half(doc_id: str) -> str:
    return "dev" if int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def doc_entities(kg: KnowledgeGraph) -> dict[str, dict[str, str]]:
    """doc id -> {name key -> entity IRI} from the evidence each document graph keeps."""
    ids = {str(g): str(i) for g, _, i in kg.triples((None, KGF.docId, None))}
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for s, _, o, g in kg.quads((None, KGF.mentions, None, None)):
        if g == ENTITIES_GRAPH or str(g) not in ids:
            continue
        blob = json.loads(str(o))
        names = out[ids[str(g)]]
        for name in [blob["label"], *blob.get("aliases", [])]:
            names.setdefault(key(name), str(s))
    return out


def score(items: list[tuple[str, str]]) -> dict:
    """B-cubed and merge counts over (gold id, system IRI) mention items."""
    gold_of: dict[str, list[int]] = defaultdict(list)
    sys_of: dict[str, list[int]] = defaultdict(list)
    for i, (g, s) in enumerate(items):
        gold_of[g].append(i)
        sys_of[s].append(i)
    pair = Counter(items)
    precision = sum(pair[(g, s)] / len(sys_of[s]) for g, s in items) / max(1, len(items))
    recall = sum(pair[(g, s)] / len(gold_of[g]) for g, s in items) / max(1, len(items))
    golds_in = {s: {items[i][0] for i in ix} for s, ix in sys_of.items()}
    iris_of = {g: {items[i][1] for i in ix} for g, ix in gold_of.items()}
    wrong = sum(len(v) - 1 for v in golds_in.values())
    missed = sum(len(v) - 1 for v in iris_of.values())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "mentions": len(items),
        "gold_entities": len(gold_of),
        "system_entities": len(sys_of),
        "bcubed_precision": round(precision, 4),
        "bcubed_recall": round(recall, 4),
        "bcubed_f1": round(f1, 4),
        "iris_per_gold_entity": round(
            len(items) and sum(map(len, iris_of.values())) / len(iris_of), 4
        ),
        "wrong_merges": wrong,
        "missed_merges": missed,
        "wrong_merges_per_1000": round(1000 * wrong / max(1, len(sys_of)), 2),
        "missed_merges_per_1000": round(1000 * missed / max(1, len(gold_of)), 2),
        "worst_wrong": sorted(((len(v), s) for s, v in golds_in.items() if len(v) > 1))[-5:],
    }


class _Timed:
    """Seconds spent in ``EntityResolver.resolve_document`` (the resolution stage's own cost)."""

    seconds = 0.0

    @classmethod
    def install(cls) -> None:
        try:
            from kgforge.extract.resolve import EntityResolver
        except ImportError:  # kgforge before the resolver: nothing to time
            return
        inner = EntityResolver.resolve_document

        def timed(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return inner(self, *args, **kwargs)
            finally:
                cls.seconds += time.perf_counter() - started

        EntityResolver.resolve_document = timed  # type: ignore[method-assign]


def run(
    name: str, docs: list[dict], pipeline: str, tmp: Path, reuse: bool = False
) -> tuple[dict, float]:
    """Extract ``docs`` into ``tmp/<name>-store`` (or, with ``reuse`` and a store there already,
    only resolve it again with the pipeline's settings: no parsing); the entities per document
    and the seconds it took."""
    corpus = tmp / f"{name}.jsonl"
    store = tmp / f"{name}-store"
    started = time.perf_counter()
    _Timed.seconds = 0.0
    if reuse and store.exists():
        from kgforge.extract.run import resolve_store  # not in kgforge before issue 10

        with KnowledgeGraph.open(store) as kg:
            resolve_store(kg, load_pipeline(pipeline))
            return doc_entities(kg), time.perf_counter() - started
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    with KnowledgeGraph.open(store) as kg:
        extract(corpus, kg, load_pipeline(pipeline))
        seconds = time.perf_counter() - started
        return doc_entities(kg), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default="default")
    parser.add_argument("--fb-docs", type=int, default=2000)
    parser.add_argument("--label", default="", help="recorded with the results (e.g. 'before')")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/resolution_bench.json")
    parser.add_argument(
        "--stores",
        type=Path,
        default=None,
        help="keep the stores here; a second run with other settings only re-resolves them",
    )
    args = parser.parse_args()
    set_progress(False)
    _Timed.install()
    results: dict = {
        "pipeline": args.pipeline,
        "label": args.label,
        "machine": f"{platform.machine()}, {platform.processor() or '?'}; shared 2-core VM",
    }
    fb_docs, fb_gold = fb_corpus(args.fb_docs)
    tk_docs, tk_gold = tekgen_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.stores or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name, docs, gold in (("fb", fb_docs, fb_gold), ("tekgen", tk_docs, tk_gold)):
            found, seconds = run(name, docs, args.pipeline, folder, reuse=args.stores is not None)
            items: dict[str, list[tuple[str, str]]] = {"dev": [], "test": []}
            total = 0
            ambiguous: Counter = Counter()
            for doc in docs:
                names = found.get(doc["id"], {})
                if name == "fb":
                    wanted = list(gold["own"][doc["id"]])  # type: ignore[index]
                    own = wanted[0][0]
                    wanted += [
                        (n, gold["unique"][n])  # type: ignore[index]
                        for n in names
                        if n != own and n in gold["unique"]  # type: ignore[operator]
                    ]
                else:
                    wanted = gold[doc["id"]]
                total += len(wanted)
                per_name = Counter(n for n, _ in set(wanted))
                for n, ident in wanted:
                    if per_name[n] > 1:
                        ambiguous[half(doc["id"])] += 1
                    elif n in names:
                        items[half(doc["id"])].append((ident, names[n]))
            results[name] = {
                "documents": len(docs),
                "gold_mentions": total,
                "extract_seconds": round(seconds, 1),
                "resolver_seconds": round(_Timed.seconds, 2),
                **{
                    part: {**score(rows), "ambiguous_gold": ambiguous[part]}
                    for part, rows in items.items()
                },
            }
            print(name, json.dumps(results[name], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
