"""Entity retrieval benchmark on the inductive splits: relational queries over all entity texts.

The index holds every entity's text (``name, definition`` / ``Name -- description``). A query
asks for the entities that stand in relation ``r`` to a named entity ``n``: its text is the
relation's readable label and ``n``'s name only, e.g. "hypernym canine" or "film genre Drama",
so it is never a copy of an indexed text. Relevant: every entity ``x`` with ``(x, r, n)`` in any
split. Test queries come from test triples whose ``x`` is a test entity (new in test, never in a
triple an encoder trained on), dev queries from valid triples whose ``x`` is new in valid; queries
with more than ``--max-relevant`` relevant entities are dropped (too broad for top-10 metrics),
and at most ``--queries`` of each split are sampled (seeded). The entity ``n`` itself is not
relevant, and is left in the index.

Rows: BM25 (bm25s), dense MiniLM (cosine of the off-the-shelf sentence vectors), dense
KG-trained encoder (cosine of the ``--run`` model's vectors of the query text and of the entity
texts; ``--name`` names its rows, ``dense_NAME`` / ``hybrid_NAME``, default ``kg``), and
hybrid = weighted reciprocal rank fusion of BM25 and a dense ranking,
``w / (60 + rank_bm25) + (1 - w) / (60 + rank_dense)``, with ``w`` tuned on dev (grid 0..1 by
0.1) and the test queries scored once. ``--no-minilm`` skips the off-the-shelf MiniLM rows (its
vectors of every entity text take ~10 minutes on one thread when not cached; the rows do not
depend on ``--run``). Examples::

    python bench/entity_retrieval.py --data ../shared/data/wn18rr-ind \
        --run runs/wn18rr_ind_frozen --out bench/results/retrieval_wn18rr_ind.json
    python bench/entity_retrieval.py --data ../shared/data/wn18rr-ind --no-minilm \
        --run runs/wn18rr_ind_finetune_cpu --name finetune \
        --out bench/results/retrieval_wn18rr_ind_finetune.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np

DEPTH = 100


def read(data: Path):
    triples = {}
    for split in ("train", "valid", "test"):
        with open(data / f"{split}.tsv", encoding="utf-8") as f:
            triples[split] = [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]
    with open(data / "entity2text.tsv", encoding="utf-8") as f:
        texts = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
    with open(data / "relation2text.tsv", encoding="utf-8") as f:
        rel_text = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
    return triples, texts, rel_text


def name_of(text: str) -> str:
    return text.split(" -- ")[0] if " -- " in text else text.split(",")[0]


def make_queries(triples, texts, rel_text, max_relevant, n_queries, seed):
    split_of: dict[str, str] = {}
    for split in ("train", "valid", "test"):
        for h, _, t in triples[split]:
            split_of.setdefault(h, split)
            split_of.setdefault(t, split)
    relevant = collections.defaultdict(set)
    for split in triples.values():
        for h, r, t in split:
            relevant[(r, t)].add(h)
    out = {}
    for split in ("valid", "test"):
        keys = sorted(
            {(r, t) for h, r, t in triples[split] if split_of[h] == split}
            - {(r, t) for r, t in relevant if len(relevant[(r, t)]) > max_relevant}
        )
        random.Random(seed).shuffle(keys)
        out[split] = [
            (f"{rel_text.get(r, r)} {name_of(texts[t])}", relevant[(r, t)])
            for r, t in keys[:n_queries]
        ]
    return out


def fuse(bm25: list[int], dense: list[int], w: float) -> list[int]:
    score: dict[int, float] = collections.defaultdict(float)
    for rank, i in enumerate(bm25):
        score[i] += w / (61 + rank)
    for rank, i in enumerate(dense):
        score[i] += (1 - w) / (61 + rank)
    return sorted(score, key=lambda i: -score[i])[:DEPTH]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", help="trained LinkPredictor directory (the KG-trained encoder)")
    ap.add_argument("--name", default="kg", help="row name of --run: dense_NAME, hybrid_NAME")
    ap.add_argument("--no-minilm", action="store_true", help="skip the off-the-shelf MiniLM rows")
    ap.add_argument("--max-relevant", type=int, default=20)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import bm25s
    import torch

    torch.set_num_threads(1)
    from kgforge.embed.features import encode_texts
    from kgforge.transfer.metrics import retrieval_scores
    from kgforge.transfer.vector_index import VectorIndex

    load = os.getloadavg()[0]
    data = Path(args.data)
    triples, texts, rel_text = read(data)
    ids = sorted(texts)
    pos = {e: i for i, e in enumerate(ids)}
    docs = [texts[e] for e in ids]
    depth = min(DEPTH, len(docs))  # a corpus smaller than DEPTH: rank all of it
    queries = make_queries(triples, texts, rel_text, args.max_relevant, args.queries, args.seed)
    rel = {s: [{pos[e] for e in r} for _, r in q] for s, q in queries.items()}
    qtext = {s: [t for t, _ in q] for s, q in queries.items()}
    print({s: len(q) for s, q in queries.items()}, "queries; e.g.", qtext["test"][:3], flush=True)

    rankings: dict[str, dict[str, list[list[int]]]] = {}
    timing = {}
    start = time.perf_counter()
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)
    rankings["bm25"] = {}
    for s in qtext:
        res, sc = bm25.retrieve(
            bm25s.tokenize(qtext[s], stopwords="en", show_progress=False),
            k=depth,
            show_progress=False,
        )
        rankings["bm25"][s] = [r[v > 0].tolist() for r, v in zip(res, sc, strict=True)]
    timing["bm25"] = time.perf_counter() - start

    def dense(name, doc_vecs, query_vecs):
        index = VectorIndex(doc_vecs)
        rankings[name] = {s: index.search(query_vecs[s], depth)[1].tolist() for s in qtext}

    if not args.no_minilm:
        start = time.perf_counter()
        docs_minilm = encode_texts(docs)
        dense(
            "dense_minilm",
            docs_minilm,
            {s: encode_texts(q) for s, q in qtext.items()},
        )
        timing["dense_minilm"] = time.perf_counter() - start
    if args.run:
        from kgforge.embed.model import LinkPredictor

        start = time.perf_counter()
        model = LinkPredictor.load(args.run, device="cpu")
        model.eval()

        def unit(x):
            x = x.float().numpy()
            return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

        reps = model.all_entity_repr()
        doc_kg = unit(reps[torch.tensor([model.entity_index[e] for e in ids])])
        name = f"dense_{args.name}"
        dense(name, doc_kg, {s: unit(model.embed_texts(q)) for s, q in qtext.items()})
        timing[name] = time.perf_counter() - start

    result = {
        "data": str(data),
        "run": args.run,
        "run_name": args.name if args.run else None,
        "queries": {s: len(q) for s, q in queries.items()},
        "examples": qtext["test"][:5],
        "max_relevant": args.max_relevant,
        "mean_relevant_test": float(np.mean([len(r) for r in rel["test"]])),
        "rows": {},
        "seconds": {k: round(v, 1) for k, v in timing.items()},
        "hardware": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "note": "shared 2-core VM",
            "load_average_at_start": load,
        },
        "command": "python " + " ".join(sys.argv),
        "protocol": "fusion weight tuned on dev (valid-new entities' queries); test scored once",
    }
    for name in list(rankings):
        result["rows"][name] = retrieval_scores(
            zip(rankings[name]["test"], rel["test"], strict=True)
        )
    for dense_name in [n for n in rankings if n.startswith("dense")]:
        grid = [round(0.1 * i, 1) for i in range(11)]
        dev = []
        for w in grid:
            fused = [
                fuse(b, d, w)
                for b, d in zip(
                    rankings["bm25"]["valid"], rankings[dense_name]["valid"], strict=True
                )
            ]
            dev.append(retrieval_scores(zip(fused, rel["valid"], strict=True))["ndcg@10"])
        w = grid[int(np.argmax(dev))]
        fused = [
            fuse(b, d, w)
            for b, d in zip(rankings["bm25"]["test"], rankings[dense_name]["test"], strict=True)
        ]
        name = "hybrid_" + dense_name.removeprefix("dense_")
        result["rows"][name] = {
            "weight_bm25": w,
            "dev_ndcg@10": max(dev),
            **retrieval_scores(zip(fused, rel["test"], strict=True)),
        }
    for name, row in result["rows"].items():
        print(f"{name:14s} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
