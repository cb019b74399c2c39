"""Distillation: a TF-IDF + ridge student replaces a trained text encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_kg import write_tiny_kg

from kgforge.embed.data import KGData
from kgforge.embed.evaluate import evaluate
from kgforge.embed.pipeline import train
from kgforge.errors import KGForgeError
from kgforge.transfer.distill import TextStudent, distill, with_student

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")

RANDOM_MRR = 0.1  # about a random order over the 66 tiny entities


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    data_dir = write_tiny_kg(root / "data", heldout=2)
    result = train(
        {
            "show_progress": False,
            "model": {"encoder": "frozen", "encoder_kwargs": {"hidden": 64}, "dim": 32},
            "training": {"objective": "one_vs_all", "loss": "ce", "epochs": 30, "lr": 0.01},
            "evaluation": {"protocol": "dynamic", "every_epochs": None, "final_valid": False},
        },
        data=data_dir,
        output=root / "run",
    )
    return result, KGData.load_dir(data_dir)


def test_student_replaces_the_encoder_for_unseen_entities(teacher, tmp_path: Path) -> None:
    result, data = teacher
    model = result.model
    seen = sorted({int(x) for h, _, t in data.triples("train").tolist() for x in (h, t)})
    student = distill(model, entities=seen)
    unseen = sorted(set(data.split_entities("test").tolist()) - set(seen))
    assert unseen  # held out from training: the student never saw them either

    teacher_vecs = model.all_entity_repr().numpy()
    student_vecs = student.predict([model.entity_text[i] for i in range(model.num_entities)])
    cos = (teacher_vecs * student_vecs).sum(1) / (
        np.linalg.norm(teacher_vecs, axis=1) * np.linalg.norm(student_vecs, axis=1)
    )
    assert cos[seen].mean() > 0.9 and cos[unseen].mean() > 0.5

    path = student.save(tmp_path / "student.pkl")
    loaded = TextStudent.load(path)
    np.testing.assert_allclose(loaded.predict(["a red fox"]), student.predict(["a red fox"]))

    with_student(model, loaded)
    torch.testing.assert_close(model.all_entity_repr(), torch.from_numpy(student_vecs))
    metrics = evaluate(model, data, split="test", protocol="dynamic")["both"]
    assert metrics["mrr"] > 3 * RANDOM_MRR
    top = model.predict_tails("a green heron, member of the green group", "member_of", k=1)
    assert top[0].entity == "g1"


def test_student_errors(tmp_path: Path) -> None:
    with pytest.raises(KGForgeError, match="not fitted"):
        TextStudent().predict(["x"])
    with pytest.raises(KGForgeError, match="as many teacher vectors as texts"):
        TextStudent().fit(["a", "b"], np.zeros((1, 4)))
    (tmp_path / "x.pkl").write_bytes(__import__("pickle").dumps({"not": "a student"}))
    with pytest.raises(KGForgeError, match="not a kgforge text student"):
        TextStudent.load(tmp_path / "x.pkl")
