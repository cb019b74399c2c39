"""Distillation: a small fast student that maps entity text to a trained model's entity vectors.

A text encoder (teacher) runs a transformer over every new entity's text: ~200 texts/s on two
CPU cores for MiniLM. The student is TF-IDF over word and character n-grams followed by ridge
regression onto the teacher's final entity vectors (scikit-learn): no transformer at inference,
so it embeds text orders of magnitude faster, at some cost in quality (``bench/distill_bench.py``
measures both on WN18RR-ind). ``with_student`` puts it in the model's place, so ranking, the
inference API and ``predict_links`` work unchanged.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from kgforge.embed.encoders import EntityEncoder
from kgforge.embed.model import LinkPredictor
from kgforge.errors import KGForgeError


class TextStudent:
    """TF-IDF (word 1-2-grams + character 3-5-grams within words) -> ridge regression."""

    def __init__(self, alpha: float = 1.0, max_features: int = 200_000) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline, make_union

        self.pipeline = make_pipeline(
            make_union(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=max_features),
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    sublinear_tf=True,
                    max_features=max_features,
                ),
            ),
            Ridge(alpha=alpha),
        )
        self.dim: int | None = None

    def fit(self, texts: Sequence[str], targets: np.ndarray) -> TextStudent:
        """Learn ``targets[i]`` (the teacher's vector) from ``texts[i]``."""
        if len(texts) != len(targets) or not len(texts):
            raise KGForgeError("a student needs as many teacher vectors as texts, at least one")
        self.pipeline.fit(list(texts), np.asarray(targets, dtype=np.float32))
        self.dim = int(targets.shape[1])
        return self

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors ``[n, dim]`` (float32) for texts."""
        if self.dim is None:
            raise KGForgeError("the student is not fitted yet")
        return np.asarray(self.pipeline.predict(list(texts)), dtype=np.float32)

    def save(self, path: str | Path) -> Path:
        """Pickle the fitted student (written to a temporary file, then renamed)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(pickle.dumps(self))
        tmp.replace(path)
        return path

    @staticmethod
    def load(path: str | Path) -> TextStudent:
        """Read a student written by :meth:`save` (a pickle: load only files you trust)."""
        student = pickle.loads(Path(path).read_bytes())
        if not isinstance(student, TextStudent):
            raise KGForgeError(f"{path}: not a kgforge text student")
        return student


class DistilledEncoder(EntityEncoder):
    """A student in a ``LinkPredictor``'s encoder slot: every vector comes from its text."""

    def __init__(self, student: TextStudent, entity_text: Sequence[str]) -> None:
        if student.dim is None:
            raise KGForgeError("the student is not fitted yet")
        super().__init__(entity_text, student.dim)
        self.student = student
        self.register_buffer("vectors", torch.from_numpy(student.predict(entity_text)))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.vectors[ids]

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.from_numpy(self.student.predict(texts)).to(self.vectors.device)


def distill(
    model: LinkPredictor, entities: Sequence[int] | None = None, **student_kwargs: float
) -> TextStudent:
    """Fit a :class:`TextStudent` to the model's vectors of ``entities`` (indices; default all:
    pass the training entities only to keep held-out ones unseen by the student too)."""
    was_training = model.training
    model.eval()
    try:
        vectors = model.all_entity_repr().float().cpu().numpy()
    finally:
        model.train(was_training)
    ids = range(model.num_entities) if entities is None else list(entities)
    texts = [model.entity_text[i] for i in ids]
    return TextStudent(**student_kwargs).fit(texts, vectors[list(ids)])  # type: ignore[arg-type]


def with_student(model: LinkPredictor, student: TextStudent) -> LinkPredictor:
    """``model`` with ``student`` as its encoder (in place; returns it): the scorer, relation
    vectors and text prior stay the teacher's."""
    model.encoder = DistilledEncoder(student, model.entity_text).to(model.device)
    model._cache = None  # entity vectors are the student's from now on
    return model
