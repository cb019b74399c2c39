"""Distillation end to end on tiny data: students learn a tiny teacher, save/load, and the
distilled model works wherever a trained one does (evaluate, predict-links, search)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from tiny_kg import write_tiny_kg
from typer.testing import CliRunner

import kgforge
from kgforge.cli import app
from kgforge.embed.data import KGData
from kgforge.embed.evaluate import evaluate
from kgforge.embed.features import encode_texts
from kgforge.embed.model import LinkPredictor
from kgforge.embed.pipeline import train
from kgforge.errors import ConfigError
from kgforge.transfer.distill.config import load_distill_config

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")

TEACHER = {
    "model": {
        "encoder": "frozen",
        "encoder_kwargs": {"hidden": 64},
        "dim": 32,
        "scorer": "complex",
        "inverse_relations": True,
        "text_prior": True,
    },
    "training": {"objective": "one_vs_all", "loss": "ce", "epochs": 30, "lr": 0.01},
    "evaluation": {"every_epochs": None, "test": False},
}
LOSSES = [
    {"name": "mse", "kwargs": {"target": "features"}},
    {"name": "cosine", "weight": 0.1},
    {"name": "score_kd", "weight": 0.1},
]


def _config(student: dict, epochs: int, lr: float) -> dict:
    return {
        "student": student,
        "losses": LOSSES,
        "training": {"epochs": epochs, "batch_size": 16, "lr": lr},
        "evaluation": {"speed_texts": 20},
    }


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> tuple[Path, Path, float]:
    root = tmp_path_factory.mktemp("distill")
    data = write_tiny_kg(root / "data", heldout=4)
    result = train(TEACHER, data=data, output=root / "teacher")
    return data, result.output, result.valid["both"]["mrr"]


def _mrr(result) -> float:
    return result.valid["both"]["mrr"]


def test_static_student_learns_the_teacher(teacher, tmp_path: Path) -> None:
    data, run, teacher_mrr = teacher
    random = {"name": "static", "kwargs": {"init": "random"}}
    untrained = kgforge.distill(
        _config(random, 0, 0.05), teacher=run, data=data, output=tmp_path / "u"
    )
    trained = kgforge.distill(
        _config(random, 30, 0.05), teacher=run, data=data, output=tmp_path / "t"
    )
    assert _mrr(trained) > _mrr(untrained) + 0.2
    assert _mrr(trained) >= 0.8 * teacher_mrr
    assert trained.teacher_valid["both"]["mrr"] == pytest.approx(teacher_mrr)
    losses = [h["loss"] for h in trained.history]
    assert losses[-1] < losses[0]
    assert trained.speed["student"] > 0 and trained.speed["ratio"] > 1  # no attention: faster
    assert (tmp_path / "t" / "speed_quality.png").stat().st_size > 0


def test_layerdrop_student_keeps_fewer_layers_and_learns(teacher, tmp_path: Path) -> None:
    data, run, teacher_mrr = teacher
    student = {"name": "layerdrop", "kwargs": {"layers": 1, "max_seq_length": 24}}
    result = kgforge.distill(_config(student, 5, 1e-4), teacher=run, data=data, output=tmp_path)
    saved = next(tmp_path.glob("student-*"))
    assert json.loads((saved / "config.json").read_text())["num_hidden_layers"] == 1
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(saved), device="cpu").max_seq_length == 24  # kept on save
    assert _mrr(result) >= 0.8 * teacher_mrr


def test_distilled_model_saves_loads_and_is_the_teacher_but_its_text_model(
    teacher, tmp_path: Path
) -> None:
    data, run, _ = teacher
    cfg = _config({"name": "static", "kwargs": {"init": "random"}}, 3, 0.05)
    result = kgforge.distill(cfg, teacher=run, data=data, output=tmp_path)
    loaded = LinkPredictor.load(tmp_path)
    original = LinkPredictor.load(run)
    student_dir = loaded.spec["encoder_kwargs"]["text_model"]
    assert Path(student_dir).parent == tmp_path.resolve() and Path(student_dir).name.startswith(
        "student-"
    )
    assert {k: v for k, v in loaded.spec.items() if k != "encoder_kwargs"} == {
        k: v for k, v in original.spec.items() if k != "encoder_kwargs"
    }
    for name, tensor in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name  # MLP, relations, prior
    features = torch.from_numpy(encode_texts(loaded.entity_text, model=student_dir))
    assert torch.allclose(loaded.encoder.features, features)
    kg = KGData.load_dir(data)
    again = evaluate(loaded, kg, split="valid")
    assert again["both"]["mrr"] == pytest.approx(result.valid["both"]["mrr"])
    triples = [("e0", "member_of", "g0"), ("e0", "member_of", "g3")]
    assert loaded.score_triples(triples) == pytest.approx(result.model.score_triples(triples))
    with pytest.raises(ConfigError, match="already holds a distilled model"):
        kgforge.distill(cfg, teacher=run, data=data, output=tmp_path)
    assert not Path(json.loads((tmp_path / "model" / "model.json").read_text())[
        "encoder_kwargs"]["text_model"]).is_absolute()  # fmt: skip
    expected = result.model.score_triples(triples)
    moved = shutil.copytree(tmp_path, tmp_path.parent / f"{tmp_path.name}-moved")
    shutil.rmtree(tmp_path)  # the run folder moved elsewhere still loads with its student
    again = LinkPredictor.load(moved)
    assert Path(again.spec["encoder_kwargs"]["text_model"]).parent == moved.resolve()
    assert again.score_triples(triples) == pytest.approx(expected)


def test_cli_distill_then_evaluate(teacher, tmp_path: Path) -> None:
    data, run, _ = teacher
    config = tmp_path / "distill.yaml"
    config.write_text(
        "student: {name: static, kwargs: {init: random}}\n"
        "losses: [{name: mse, kwargs: {target: features}}, {name: rkd_distance, weight: 0.1},"
        " {name: rkd_angle, weight: 0.1}]\n"
        "training: {epochs: 2, batch_size: 16, lr: 0.05}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    args = ["distill", str(config), "--teacher", str(run), "--data", str(data), "-q"]
    out = runner.invoke(app, [*args, "-o", str(tmp_path / "run")])
    assert out.exit_code == 0, out.output
    assert "valid: MRR" in out.output and "texts/s" in out.output
    res = runner.invoke(app, ["evaluate", str(tmp_path / "run"), "--data", str(data), "-q"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["both"]["mrr"] > 0


def test_bad_configs_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown name 'tfidf'"):
        load_distill_config({"student": {"name": "tfidf"}})
    with pytest.raises(ConfigError, match="losses.0.name"):
        load_distill_config({"losses": [{"name": "hinge"}]})
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: {epochs: -1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_distill_config(bad)
    with pytest.raises(ConfigError, match="no teacher"):
        kgforge.distill({}, data=tmp_path)


def test_shipped_distill_configs_validate() -> None:
    root = Path(__file__).resolve().parents[1] / "pipelines"
    configs = sorted(root.glob("distill_*.yaml"))
    assert len(configs) >= 2
    for path in configs:
        cfg = load_distill_config(path)
        assert cfg.teacher and cfg.data and not cfg.evaluation.test  # tuned on validation


def test_distilled_model_predicts_links_and_searches_a_store(tmp_path: Path) -> None:
    """The distilled model and its student in the store commands: predict-links, search."""
    from test_transfer_links import _graph, _record

    from kgforge.graph.store import KnowledgeGraph

    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        kg.add_many(list(_graph().quads()))
        data = KGData.from_graph(kg, valid_fraction=0.0, test_fraction=0.0).to_dir(tmp_path / "d")
    cfg = {**TEACHER, "evaluation": {"every_epochs": None, "final_valid": False, "test": False}}
    run = train(cfg, data=data, output=tmp_path / "teacher").output
    student = {"name": "static", "kwargs": {"init": "random"}}
    distilled = kgforge.distill(
        {**_config(student, 30, 0.05), "evaluation": {"valid": False, "speed_texts": 0}},
        teacher=run,
        data=data,
        output=tmp_path / "student",
    )
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        _record(kg, "green owlet", "a young green owl, member of the green group")
    runner = CliRunner()
    args = ["predict-links", str(distilled.output), str(tmp_path / "kg"), "-k", "1"]
    out = runner.invoke(app, [*args, "--direction", "tails", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert re.search(r"ent:green_owlet\S* rel:member_of ent:green_group", out.output)
    student_dir = distilled.model.spec["encoder_kwargs"]["text_model"]
    query = ["search", str(tmp_path / "kg"), "a blue yak", "--mode", "dense", "-k", "1"]
    hit = runner.invoke(app, [*query, "--model", student_dir])
    assert hit.exit_code == 0, hit.output
    assert re.search(r"ent:blue_yak", hit.output)


def test_distiller_reads_training_entities_only_and_subsamples(teacher) -> None:
    from kgforge.transfer.distill.pipeline import Distiller

    data, run, _ = teacher
    kg = KGData.load_dir(data)
    model = LinkPredictor.load(run)
    cfg = load_distill_config({"student": {"name": "static", "kwargs": {"init": "random"}}})
    distiller = Distiller(model, kg, cfg)
    train_ids = {model.entity_index[kg.entities[i]] for i in kg.split_entities("train").tolist()}
    assert set(distiller.entities.tolist()) == train_ids  # never a valid/test text
    cfg = load_distill_config({**cfg.model_dump(), "training": {"max_entities": 10}})
    assert len(Distiller(model, kg, cfg).entities) == 10
