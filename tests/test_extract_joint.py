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
from kgforge.extract.trained.joint import JointConfig, JointExtractor
from kgforge.extract.trained.joint_training import checkpoint_path, strict_scores, train_joint
from kgforge.extract.trained.spans import align, enumerate_spans, words
from kgforge.progress import quiet

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
    from transformers import AutoTokenizer, BertConfig, BertModel

    from kgforge.models import default_text_model

    root = tmp_path_factory.mktemp("joint")
    tokenizer = AutoTokenizer.from_pretrained(default_text_model())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(root / "tinybert")
    tokenizer.save_pretrained(root / "tinybert")
    rng = random.Random(0)
    gold = root / "train.jsonl"
    gold.write_text("".join(json.dumps(_sentence(k, rng)) + "\n" for k in range(36)))
    return {"root": root, "encoder": root / "tinybert", "gold": gold}


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
def trained(files) -> Path:
    out = files["root"] / "model.pt"
    with quiet():
        train_joint(files["gold"], out, _config(files))
    return out


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
    with pytest.raises(ConfigError, match="not found"):
        JointExtractor.load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")
    with pytest.raises(ConfigError, match="junk.pt"):
        JointExtractor.load(junk)
    with pytest.raises(ConfigError, match="trainable_layers"):
        JointExtractor(_config(files, trainable_layers=3), ["Peop"], [])
