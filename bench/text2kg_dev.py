"""Text2KGBench development loop: train on 80 % of each train file, score the other 20 %.

    python bench/text2kg_dev.py [--ontologies 1_movie 2_music] [--errors DIR]

The same dev split as ``text2kg_eval.py --split dev`` (no test data), but fast enough to iterate
on: each ontology's train sentences are parsed once (spaCy ``DocBin`` in
``$KGFORGE_CACHE/schema-dev``) and featurised once (the featurizer's own cache), the model is
fitted on the features and scored without the pipeline. ``--errors`` writes, per ontology, every
dev sentence with its gold and predicted triples and a reason for each miss (``no-subject``:
no candidate has the gold subject's form; ``no-object``; ``relation``: the gold relation was
not predicted; ``argument``: predicted with other arguments).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import torch  # noqa: E402
from text2kg_eval import common_options, dev_split  # noqa: E402

from kgforge.cache import cache_path  # noqa: E402
from kgforge.extract.schema.evaluate import schema_pipeline  # noqa: E402
from kgforge.extract.schema.examples import read_examples  # noqa: E402
from kgforge.extract.schema.metrics import average, read_ground_truth, score_ontology  # noqa: E402
from kgforge.extract.schema.model import Featurizer, SchemaModel, norm  # noqa: E402
from kgforge.extract.schema.ontology import load_ontology  # noqa: E402


def parsed(nlp, texts: list[str]) -> list:  # type: ignore[no-untyped-def]
    from spacy.tokens import DocBin

    key = hashlib.sha1("\0".join(texts).encode() + str(nlp.meta.get("name")).encode()).hexdigest()
    path = cache_path("schema-dev") / f"{key}.spacy"
    if path.exists():
        return list(DocBin().from_bytes(path.read_bytes()).get_docs(nlp.vocab))
    docs = list(nlp.pipe(texts, batch_size=64))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(DocBin(docs=docs, store_user_data=False).to_bytes())
    return docs


def reasons(gold: dict, preds: list, f) -> list[dict]:  # type: ignore[no-untyped-def]
    forms = {norm(c.text) for c in f.cands}
    pred_keys = {(norm(s), r, norm(o)) for s, r, o in preds}
    pred_rels = {r for _, r, _ in preds}
    out = []
    for t in gold["triples"]:
        s, r, o = norm(t["sub"]), t["rel"].replace(" ", "_"), norm(t["obj"])
        if (s, r, o) in pred_keys:
            why = "hit"
        elif r not in pred_rels:
            why = "relation"
        elif s not in forms:
            why = "no-subject"
        elif o not in forms:
            why = "no-object"
        else:
            why = "argument"
        out.append({**t, "why": why})
    return out


def main() -> None:
    ap = common_options(__doc__)
    ap.add_argument("--errors", default=None, help="folder for per-ontology error files")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = Path(args.data)
    nlp = schema_pipeline(data / "ontologies/1_movie_ontology.json").nlp
    featurizer = Featurizer()
    per = {}
    with tempfile.TemporaryDirectory() as tmp:
        for o in args.ontologies:
            t0 = time.perf_counter()
            onto = load_ontology(data / "ontologies" / f"{o}_ontology.json")
            fit, dev = dev_split(data / "train" / f"ont_{o}_train.jsonl", Path(tmp))
            examples = read_examples(fit, onto)
            gold = read_ground_truth(dev)
            texts = [e.text for e in examples] + [g["sent"] for g in gold]
            feats = featurizer(parsed(nlp, texts))
            model = SchemaModel.fit_features(
                onto, examples, feats[: len(examples)], featurizer, objective=args.objective
            )
            dev_feats = feats[len(examples) :]
            out = model.predict_features(dev_feats)
            preds = {
                g["id"]: [(p.subject_text, p.relation, p.object_text) for p in ps]
                for g, ps in zip(gold, out, strict=True)
            }
            concepts = [c.label for c in onto.classes.values()]
            per[o] = score_ontology(gold, preds, onto.relation_names, concepts)
            s = per[o]
            print(f"{o:<12} P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} "
                  f"strict {s['strict_f1']:.3f} OC {s['onto_conf']:.2f} "
                  f"({len(gold)} dev, {time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
            if args.errors:
                folder = Path(args.errors)
                folder.mkdir(parents=True, exist_ok=True)
                with (folder / f"{o}.jsonl").open("w", encoding="utf-8") as fh:
                    for g, f in zip(gold, dev_feats, strict=True):
                        row = {
                            "sent": g["sent"],
                            "gold": reasons(g, preds[g["id"]], f),
                            "pred": preds[g["id"]],
                            "cands": [c.text for c in f.cands],
                        }
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    a = average(per)
    print(f"{'average':<12} P {a['precision']:.3f} R {a['recall']:.3f} F1 {a['f1']:.3f} "
          f"strict {a['strict_f1']:.3f} OC {a['onto_conf']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
