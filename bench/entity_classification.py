"""Entity classification benchmark on the inductive splits (WN18RR-ind, FB15k-237-ind).

Builds labels from the data (see docs/transfer.md, "Entity classification benchmark"), then
probes frozen entity vectors with logistic regression (C on dev, refit on train + dev) and a small
MLP (alpha on dev). Classifier splits follow the link-prediction split: train = entities of
train.tsv, dev = entities new in valid.tsv, test = entities new in test.tsv, which no triple the
encoders trained on touches. The test split is scored once per row, after tuning on dev.

Labels
- ``hypernym`` (WordNet): follow ``_hypernym`` / ``_instance_hypernym`` edges (all splits; the
  first parent by id) to the root; the label is the ancestor two levels below the root (under
  ``entity``: physical object, grouping, attribute, ...). Classes with fewer than ``--min-train``
  training entities are dropped, and so are entities without a hypernym chain of length 3.
- ``freebase-type`` (Freebase): the types ``/domain/type`` of the relations the entity is the
  head of; the label is the one of them that most entities have, among types that name a kind of
  thing (generic types that span kinds, such as ``/award/award_nominee`` or ``/common/topic``,
  are skipped).

Rows: TF-IDF bag of words (no pre-trained model), MiniLM text vectors (the sentence-transformers
model the frozen encoder reads, no link-prediction training), and each ``--run`` (a trained
LinkPredictor directory). Example::

    python bench/entity_classification.py --data ../shared/data/wn18rr-ind --labels hypernym \
        --run runs/wn18rr_ind_frozen --out bench/results/classify_wn18rr_ind.json \
        --plot bench/results/classify_wn18rr_ind.png
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

GENERIC_TYPES = ("/award/award_nominee", "/award/award_winner", "/award/award_winning_work")
GENERIC_DOMAINS = ("/common/", "/base/", "/user/", "/influence/", "/dataworld/")


def read_triples(data: Path) -> dict[str, list[tuple[str, str, str]]]:
    out = {}
    for split in ("train", "valid", "test"):
        with open(data / f"{split}.tsv", encoding="utf-8") as f:
            out[split] = [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]
    return out


def read_texts(data: Path) -> dict[str, str]:
    with open(data / "entity2text.tsv", encoding="utf-8") as f:
        return dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)


def entity_splits(triples: dict[str, list[tuple[str, str, str]]]) -> dict[str, str]:
    """train / valid / test: the first split whose triples mention the entity."""
    split_of: dict[str, str] = {}
    for split in ("train", "valid", "test"):
        for h, _, t in triples[split]:
            split_of.setdefault(h, split)
            split_of.setdefault(t, split)
    return split_of


def hypernym_labels(triples, texts) -> dict[str, str]:
    parents = collections.defaultdict(set)
    for split in triples.values():
        for h, r, t in split:
            if r in ("_hypernym", "_instance_hypernym"):
                parents[h].add(t)
    labels = {}
    for e in {x for split in triples.values() for h, _, t in split for x in (h, t)}:
        chain = [e]
        while parents.get(chain[-1]):
            p = sorted(parents[chain[-1]])[0]
            if p in chain:
                break
            chain.append(p)
        if len(chain) >= 3:
            labels[e] = texts[chain[-3]].split(",")[0].strip()
    return labels


def freebase_type_labels(triples, texts) -> dict[str, str]:
    types = collections.defaultdict(set)
    for split in triples.values():
        for h, r, _ in split:
            t = "/".join(r.split("/")[:3])
            if t not in GENERIC_TYPES and not t.startswith(GENERIC_DOMAINS):
                types[h].add(t)
    popularity = collections.Counter(t for ts in types.values() for t in ts)
    return {e: min(ts, key=lambda t: (-popularity[t], t)) for e, ts in types.items() if ts}


LABELERS = {"hypernym": hypernym_labels, "freebase-type": freebase_type_labels}


def label_in_text(labels: dict[str, str], texts: dict[str, str], ents: list[str]) -> float:
    """Share of ``ents`` whose label's last word occurs in their own text (a give-away check)."""
    hits = 0
    for e in ents:
        word = labels[e].replace("_", " ").split("/")[-1].split()[-1].lower()
        hits += word in texts[e].lower()
    return hits / max(1, len(ents))


def probe(x_tr, y_tr, x_dev, y_dev, x_te, y_te, labels, seed) -> dict:
    from kgforge.transfer.classify import evaluate_classifier, fit_classifier

    rows = {}
    for kind in ("logreg", "mlp"):
        start = time.perf_counter()
        clf = fit_classifier(x_tr, y_tr, x_dev, y_dev, kind=kind, seed=seed)
        scores = evaluate_classifier(clf, x_te, y_te, labels=labels)
        rows[kind] = {
            "param": clf.param,
            "dev_accuracy": clf.dev_accuracy,
            **scores.as_dict(),
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(
            f"  {kind:6s} param={clf.param:g} dev acc {clf.dev_accuracy:.3f}  test acc "
            f"{scores.accuracy:.3f} bal {scores.balanced_accuracy:.3f} "
            f"F1 {scores.macro_f1:.3f}",
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--labels", choices=sorted(LABELERS), required=True)
    ap.add_argument("--run", action="append", default=[], help="trained model directory")
    ap.add_argument("--min-train", type=int, default=50, help="drop rarer classes")
    ap.add_argument("--max-train", type=int, default=10000, help="sample of training entities")
    ap.add_argument("--out", required=True)
    ap.add_argument("--plot", help="confusion matrix PNG of the last --run (logreg)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs-only", action="store_true", help="skip the text rows (add to --out)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from kgforge.embed.features import encode_texts
    from kgforge.embed.model import LinkPredictor
    from kgforge.transfer.classify import evaluate_classifier, fit_classifier, plot_confusion

    data = Path(args.data)
    triples, texts = read_triples(data), read_texts(data)
    split_of = entity_splits(triples)
    labels = LABELERS[args.labels](triples, texts)
    train_counts = collections.Counter(
        labels[e] for e, s in split_of.items() if s == "train" and e in labels
    )
    classes = sorted(c for c, n in train_counts.items() if n >= args.min_train)
    keep = {c for c in classes}
    ents = {
        s: sorted(e for e, sp in split_of.items() if sp == s and labels.get(e) in keep)
        for s in ("train", "valid", "test")
    }
    if len(ents["train"]) > args.max_train:  # a seeded sample keeps the probes fast on a shared CPU
        pick = np.random.default_rng(args.seed).permutation(len(ents["train"]))[: args.max_train]
        ents["train"] = [ents["train"][i] for i in sorted(pick)]
    y = {s: np.array([labels[e] for e in ents[s]], dtype=object) for s in ents}
    print(
        f"{len(classes)} classes; train {len(ents['train'])}, dev {len(ents['valid'])}, test {len(ents['test'])}"
    )
    give_away = label_in_text(labels, texts, ents["test"])
    print(f"label word in the entity's own text: {give_away:.3f} of test entities")
    majority = collections.Counter(y["train"]).most_common(1)[0][0]
    result = {
        "data": str(data),
        "labels": args.labels,
        "classes": classes,
        "counts": {s: len(v) for s, v in ents.items()},
        "max_train": args.max_train,
        "test_class_counts": dict(collections.Counter(y["test"])),
        "label_word_in_text_test": give_away,
        "majority_class_test_accuracy": float(np.mean(y["test"] == majority)),
        "rows": {},
        "hardware": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "note": "shared 2-core VM, one torch thread",
            "load_average_at_start": os.getloadavg()[0],
        },
        "protocol": "C / alpha tuned on dev (valid-new entities), refit on train+dev, test scored once",
    }

    all_ents = [e for s in ("train", "valid", "test") for e in ents[s]]
    command = "python " + " ".join(sys.argv)
    result["commands"] = [command]
    if args.runs_only and Path(args.out).exists():  # keep the text rows of an earlier run
        earlier = json.loads(Path(args.out).read_text())
        result["rows"] = earlier["rows"]
        result["commands"] = [*earlier.get("commands", []), command]
    if not args.runs_only:
        from sklearn.feature_extraction.text import TfidfVectorizer

        print("tf-idf bag of words", flush=True)
        vec = TfidfVectorizer(min_df=2, sublinear_tf=True).fit([texts[e] for e in ents["train"]])
        bow = {s: vec.transform([texts[e] for e in ents[s]]) for s in ents}
        from sklearn.linear_model import LogisticRegression

        best = None
        for c in (0.1, 1.0, 10.0, 100.0):
            acc = float(
                np.mean(
                    LogisticRegression(C=c, max_iter=2000)
                    .fit(bow["train"], y["train"])
                    .predict(bow["valid"])
                    == y["valid"]
                )
            )
            if best is None or acc > best[1]:
                best = (c, acc)
        from scipy.sparse import vstack

        bow_clf = LogisticRegression(C=best[0], max_iter=2000).fit(
            vstack([bow["train"], bow["valid"]]), np.concatenate([y["train"], y["valid"]])
        )

        class _Wrap:
            def predict(self, x):
                return bow_clf.predict(x)

        from kgforge.transfer.classify import FittedClassifier

        s = evaluate_classifier(
            FittedClassifier(_Wrap(), "logreg", best[0], best[1]),
            bow["test"],
            y["test"],
            labels=classes,
        )
        result["rows"]["tfidf"] = {
            "logreg": {"param": best[0], "dev_accuracy": best[1], **s.as_dict()}
        }
        print(
            f"  logreg C={best[0]} test acc {s.accuracy:.3f} bal {s.balanced_accuracy:.3f} F1 {s.macro_f1:.3f}"
        )

        print("MiniLM text vectors (no link-prediction training)", flush=True)
        start = time.perf_counter()
        vecs = encode_texts([texts[e] for e in all_ents])
        row = dict(zip(all_ents, vecs, strict=True))
        x = {s: np.stack([row[e] for e in ents[s]]) for s in ents}
        result["rows"]["minilm"] = probe(
            x["train"], y["train"], x["valid"], y["valid"], x["test"], y["test"], classes, args.seed
        )
        result["rows"]["minilm"]["encode_seconds"] = round(time.perf_counter() - start, 1)

    last = None
    for run in args.run:
        print(f"run {run}", flush=True)
        model = LinkPredictor.load(run, device="cpu")
        model.eval()
        missing = [e for e in all_ents if e not in model.entity_index]
        reps = model.all_entity_repr().float().numpy()
        if missing:  # entities outside the model's data: embed their text
            extra = model.embed_texts([texts[e] for e in missing]).float().numpy()
        vec_of = {e: reps[model.entity_index[e]] for e in all_ents if e in model.entity_index}
        vec_of.update(dict(zip(missing, extra if missing else [], strict=True)))
        x = {s: np.stack([vec_of[e] for e in ents[s]]) for s in ents}
        result["rows"][run] = probe(
            x["train"], y["train"], x["valid"], y["valid"], x["test"], y["test"], classes, args.seed
        )
        last = (run, x)
    if args.plot:
        name, x = last if last else ("minilm", x)
        clf = fit_classifier(x["train"], y["train"], x["valid"], y["valid"], kind="logreg")
        scores = evaluate_classifier(clf, x["test"], y["test"], labels=classes)
        title = (
            f"{data.name}, {Path(name).name} + logistic regression: test acc {scores.accuracy:.3f}"
        )
        plot_confusion(scores, args.plot, title=title)
        result["plot"] = args.plot
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
