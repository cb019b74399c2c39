"""The joint span-based entity and relation extractor (kgforge.extract.trained.joint): span
enumeration, learning a tiny labelled set, save/load, resume, the pipeline's statements with
provenance, and located errors. A tiny random BERT (2 layers of 32 units, MiniLM's tokenizer)
stands in for MiniLM so that the whole file runs in seconds."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch

from kgforge.errors import ConfigError
from kgforge.extract.gold import read_gold
from kgforge.extract.trained import joint_training
from kgforge.extract.trained.joint import JointConfig, JointExtractor
from kgforge.extract.trained.joint_training import (
    JointSummary,
    cache_states,
    checkpoint_path,
    evaluate_examples,
    make_examples,
    strict_scores,
    train_joint,
)
from kgforge.extract.trained.spans import align, enumerate_spans, words
from kgforge.progress import quiet
from tests.conftest import check_load_rejects_missing_and_junk, tiny_bert

PEOPLE = ["Anna Berg", "Tom Hill", "Maria Lopez", "John Smith", "Li Wei", "Omar Khan"]
ORGS = ["Acme Corp", "Globex", "Initech", "Umbrella Group"]
PLACES = ["Paris", "Lagos", "Oslo", "Lima", "New York"]


def _sentence(k: int, rng: random.Random) -> dict:
    p, o, loc = rng.choice(PEOPLE), rng.choice(ORGS), rng.choice(PLACES)
    if k % 3 == 0:
        text, ents, rels = f"{p} works for {o} .", [(p, "Peop"), (o, "Org")], [(0, 1, "Work_For")]
    elif k % 3 == 1:
        text, ents, rels = f"{p} lives in {loc} .", [(p, "Peop"), (loc, "Loc")], [(0, 1, "Live_In")]
    else:
        text = f"{o} is based in {loc} and {p} visited ."
        ents, rels = [(o, "Org"), (loc, "Loc"), (p, "Peop")], [(0, 1, "OrgBased_In")]
    entities, pos = [], 0
    for name, label in ents:
        start = text.index(name, pos)
        entities.append({"start": start, "end": start + len(name), "type": label})
        pos = start + len(name)
    relations = [{"head": h, "tail": t, "type": r} for h, t, r in rels]
    return {"id": f"s{k}", "text": text, "entities": entities, "relations": relations}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A tiny random BERT folder and a labelled set of 36 sentences of three patterns."""
    root = tmp_path_factory.mktemp("joint")
    tiny_bert(root / "tinybert", layers=2, max_positions=128)
    rng = random.Random(0)
    gold = root / "train.jsonl"
    gold.write_text("".join(json.dumps(_sentence(k, rng)) + "\n" for k in range(36)))
    dev = root / "dev.jsonl"
    dev.write_text("".join(json.dumps(_sentence(k, rng)) + "\n" for k in range(12)))
    return {"root": root, "encoder": root / "tinybert", "gold": gold, "dev": dev}


def _config(files: dict[str, Path], **kw) -> JointConfig:
    settings = dict(
        encoder=str(files["encoder"]),
        trainable_layers=2,
        epochs=40,
        batch_size=4,
        lr_encoder=1e-3,
        lr_heads=3e-3,
        max_width=4,
        neg_spans=20,
        neg_pairs=10,
        warmup=0.0,
        threads=1,
    )
    return JointConfig(**{**settings, **kw})


@pytest.fixture(scope="module")
def trained_run(files) -> tuple[Path, JointSummary]:
    """A model trained on the tiny set, the best of its 40 epochs on the tiny dev set."""
    out = files["root"] / "model.pt"
    with quiet():
        summary = train_joint(files["gold"], out, _config(files), dev_path=files["dev"])
    return out, summary


@pytest.fixture(scope="module")
def trained(trained_run) -> Path:
    return trained_run[0]


def test_words_and_span_enumeration_limits() -> None:
    assert [w for w in enumerate_spans(5, 3) if w[1] - w[0] > 3] == []
    assert len(enumerate_spans(5, 3)) == 5 + 4 + 3  # widths 1, 2, 3
    assert all(0 <= i < j <= 5 for i, j in enumerate_spans(5, 3))
    assert enumerate_spans(2, 10) == [(0, 1), (0, 2), (1, 2)]  # never past the sentence
    assert enumerate_spans(0, 4) == []
    with pytest.raises(ValueError):
        enumerate_spans(3, 0)
    text = "Bill Gates of Microsoft Corp. met Mr. Smith in the U.S. and Seattle."
    found = [text[a:b] for a, b in words(text)]
    assert found[-2:] == ["Seattle", "."] and "Corp." in found and "U.S." in found
    spans = words(text)
    assert align([(0, 10), (0, 6)], spans) == [(0, 2), None]  # "Bill G" is no word span


def test_model_learns_a_tiny_labelled_set(files, trained) -> None:
    gold = read_gold(files["gold"])
    texts = [s.text for s in gold]
    untrained = JointExtractor(_config(files), ["Loc", "Org", "Peop"], ["Live_In", "Work_For"])
    before = strict_scores(gold, untrained.predict(texts))
    after = strict_scores(gold, JointExtractor.load(trained).predict(texts))
    assert after["entity_f1"] >= 0.9 and after["relation_f1"] >= 0.8
    assert before["entity_f1"] <= 0.2 and before["relation_f1"] <= 0.2


def test_save_load_round_trip_gives_identical_predictions(files, trained, tmp_path) -> None:
    model = JointExtractor.load(trained)
    texts = ["Tom Hill works for Globex .", "Initech is based in Oslo and Li Wei visited .", ""]
    first = model.predict(texts)
    model.save(tmp_path / "again.pt")
    again = JointExtractor.load(tmp_path / "again.pt").predict(texts)
    assert again == first  # mentions, relations and confidences, exactly
    assert first[2] == ([], [])
    blob = torch.load(trained, weights_only=True)
    assert not any(k.startswith("bert.embeddings") for k in blob["state"])  # only what changed
    assert trained.stat().st_size < 5_000_000


def test_resume_continues_to_the_weights_of_an_uninterrupted_run(files, tmp_path) -> None:
    config = _config(files, epochs=3)
    with quiet():
        train_joint(files["gold"], tmp_path / "straight.pt", config)
        stopped = train_joint(files["gold"], tmp_path / "resumed.pt", config, stop_after=1)
        assert stopped.epochs == 1 and checkpoint_path(tmp_path / "resumed.pt").exists()
        resumed = train_joint(files["gold"], tmp_path / "resumed.pt", config, resume=True)
    assert resumed.resumed_from == 1 and len(resumed.history) == 3
    a = torch.load(tmp_path / "straight.pt", weights_only=True)["state"]
    b = torch.load(tmp_path / "resumed.pt", weights_only=True)["state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match="other settings"):
        train_joint(files["gold"], tmp_path / "resumed.pt", _config(files, epochs=5), resume=True)


def test_the_saved_model_is_the_best_dev_epoch(files, trained_run) -> None:
    path, summary = trained_run
    dev = read_gold(files["dev"])
    scores = [entry["dev"] for entry in summary.history]
    ranks = [(d["relation_f1"], d["entity_f1"]) for d in scores]
    best = ranks.index(max(ranks)) + 1  # the first epoch of the best (relation F1, entity F1)
    assert summary.select == "best_dev" and summary.kept_epoch == best
    assert summary.dev == scores[best - 1] and summary.last_dev == scores[-1]
    assert [e["epoch"] for e in summary.history if e["kept"]] == [best]
    assert f"saved: epoch {best} of 40 (best dev relation F1)" in str(summary)
    model = JointExtractor.load(path)
    assert model.trained_info == {"epoch": best, "of": 40, "select": "best_dev", "dev": summary.dev}
    # the file's weights score what was recorded for that epoch (the same cached-states path)
    examples, _ = make_examples(model, dev)
    cache_states(model, examples, "dev")
    assert evaluate_examples(model, dev, examples) == summary.dev
    # and through predict (full forward pass), the same up to fp16 caching of the lower states
    direct = strict_scores(dev, model.predict([s.text for s in dev]))
    assert direct["relation_f1"] == pytest.approx(summary.dev["relation_f1"], abs=0.05)


def _scripted_dev(monkeypatch, relation_f1: list[float], resumed_after: int = 0) -> None:
    """Make a training run's dev relation F1 of epoch k (1-based) ``relation_f1[k - 1]`` (the
    real evaluation still runs); ``resumed_after``: the epochs a resumed run starts after."""
    calls: list[int] = []

    def fake(model, gold, examples):
        evaluate_examples(model, gold, examples)
        calls.append(1)
        f1 = relation_f1[resumed_after + len(calls) - 1]
        return {k: f1 for k in ("relation_p", "relation_r", "relation_f1")} | {
            "entity_p": 0.5, "entity_r": 0.5, "entity_f1": 0.5,
        }  # fmt: skip

    monkeypatch.setattr(joint_training, "evaluate_examples", fake)


def test_best_dev_selection_survives_resume(files, tmp_path, monkeypatch) -> None:
    config = _config(files, epochs=4)
    f1 = [0.2, 0.6, 0.4, 0.5]  # epoch 2 is the best, not the last
    dev = files["dev"]
    with quiet():
        _scripted_dev(monkeypatch, f1)
        # the weights after epoch 2 of a 4-epoch schedule, saved as the last epoch's
        train_joint(files["gold"], tmp_path / "epoch2.pt", config.model_copy(
            update={"select": "last"}), dev_path=dev, stop_after=2)  # fmt: skip
        _scripted_dev(monkeypatch, f1)
        straight = train_joint(files["gold"], tmp_path / "straight.pt", config, dev_path=dev)
        _scripted_dev(monkeypatch, f1)
        train_joint(files["gold"], tmp_path / "resumed.pt", config, dev_path=dev, stop_after=3)
        _scripted_dev(monkeypatch, f1, resumed_after=3)
        resumed = train_joint(files["gold"], tmp_path / "resumed.pt", config, dev_path=dev,
                              resume=True)  # fmt: skip
        _scripted_dev(monkeypatch, f1)
        last = train_joint(files["gold"], tmp_path / "last.pt", config.model_copy(
            update={"select": "last"}), dev_path=dev)  # fmt: skip
    assert straight.kept_epoch == 2 and straight.dev["relation_f1"] == 0.6
    assert straight.last_dev["relation_f1"] == 0.5
    assert resumed.resumed_from == 3 and resumed.kept_epoch == 2 and resumed.dev == straight.dev
    assert last.kept_epoch == 4 and last.dev["relation_f1"] == 0.5
    assert "dev (epoch 2, saved)" in str(straight) and "dev (epoch 4, last)" in str(straight)

    def state(name: str) -> dict[str, torch.Tensor]:
        return torch.load(tmp_path / name, weights_only=True)["state"]

    epoch2, epoch4 = state("epoch2.pt"), state("last.pt")
    for name in ("straight.pt", "resumed.pt"):
        kept = state(name)
        assert kept.keys() == epoch2.keys() and all(torch.equal(kept[k], epoch2[k]) for k in kept)
    assert not all(torch.equal(epoch2[k], epoch4[k]) for k in epoch2)
    assert torch.load(tmp_path / "resumed.pt", weights_only=True)["trained"]["epoch"] == 2


def test_best_dev_without_a_dev_file_keeps_the_last_epoch(files, tmp_path) -> None:
    with quiet():
        summary = train_joint(files["gold"], tmp_path / "m.pt", _config(files, epochs=2))
        assert summary.kept_epoch == 2 and summary.select == "last" and summary.dev is None
        assert "saved: epoch 2 of 2 (last epoch)" in str(summary)
        # a checkpoint made without dev scores cannot choose a best dev epoch on resume
        train_joint(files["gold"], tmp_path / "r.pt", _config(files, epochs=3), stop_after=1)
        with pytest.raises(ConfigError, match="no best dev epoch"):
            train_joint(files["gold"], tmp_path / "r.pt", _config(files, epochs=3),
                        dev_path=files["dev"], resume=True)  # fmt: skip


def test_pipeline_writes_joint_statements_with_provenance(files, trained, tmp_path) -> None:
    from kgforge.extract.pipeline import load_pipeline
    from kgforge.extract.run import extract
    from kgforge.graph.store import KnowledgeGraph

    yaml_path = tmp_path / "joint.yaml"
    yaml_path.write_text(
        "spacy:\n  disable: [tok2vec, tagger, parser, attribute_ruler, lemmatizer, ner]\n"
        "  sentences: record\n"
        f"relations:\n  - kind: joint\n    model: {trained}\n"
        "resolution:\n  aliasing: false\n  cross_document: false\n"
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "Maria Lopez works for Umbrella Group ."
    (corpus / "a.txt").write_text(text)
    pipeline = load_pipeline(yaml_path)
    (doc,) = pipeline.process([text])
    assert [
        (st.subject.text, st.predicate, st.object.text, st.extractor) for st in doc.statements
    ] == [("Maria Lopez", "Work_For", "Umbrella Group", "joint")]
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        extract(corpus, kg, pipeline)
        rows = list(
            kg.query(
                """SELECT ?p ?sa ?sb ?oa ?ob ?c ?x WHERE { ?st a kgf:Statement ; rdf:predicate ?p ;
                kgf:subjectStart ?sa ; kgf:subjectEnd ?sb ; kgf:objectStart ?oa ;
                kgf:objectEnd ?ob ; kgf:confidence ?c ; kgf:extractor ?x }"""
            )
        )
    assert len(rows) == 1
    (row,) = rows
    assert str(row.p).endswith("/work_for") and str(row.x) == "joint"
    assert text[int(row.sa) : int(row.sb)] == "Maria Lopez"
    assert text[int(row.oa) : int(row.ob)] == "Umbrella Group"
    assert 0.4 <= float(row.c) <= 1


def test_bad_gold_file_is_a_located_one_line_error(files, tmp_path, monkeypatch, capsys) -> None:
    from kgforge import cli

    bad = tmp_path / "train.jsonl"
    bad.write_text(json.dumps({"id": "a", "text": "Ann ."}) + "\n" + '{"id": "b", "text": 3}\n')
    out = tmp_path / "m.pt"
    monkeypatch.setattr(
        sys, "argv", ["kgforge", "train-extractor", "--train", str(bad), "--output", str(out)]
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 1
    assert err.startswith("error: ") and f"{bad}:2" in err and "\n" not in err
    assert not out.exists()
    check_load_rejects_missing_and_junk(JointExtractor.load, tmp_path)
    with pytest.raises(ConfigError, match="trainable_layers"):
        JointExtractor(_config(files, trainable_layers=3), ["Peop"], [])
