"""What every student and every distillation loss shares.

A student is a sentence encoder (a sentence-transformers model) trained to reproduce the text
features of a teacher :class:`~kgforge.embed.model.LinkPredictor` with a frozen-feature encoder:
the unit vectors that the teacher's MLP projects into entity embeddings and that its text prior's
cosine channel compares. A student that reproduces them reuses the teacher's MLP, relations,
scorer and prior unchanged, so the distilled model is a drop-in ``LinkPredictor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn


@dataclass
class Views:
    """One side (student or teacher) of a distillation step.

    Attributes:
        features: unit text features ``[n, d]`` of the step's texts.
        embeddings: entity embeddings ``[n, dim]`` (the teacher's MLP applied to ``features``).
        scores: link-prediction scores ``[q, c]`` of the step's queries against its candidate
            entities, or None when no loss asked for them.
    """

    features: torch.Tensor
    embeddings: torch.Tensor
    scores: torch.Tensor | None = None


class DistillLoss(nn.Module):
    """``forward(student, teacher)`` gives a scalar; the teacher side carries no gradient."""

    #: whether the loss reads ``Views.scores`` (the pipeline then scores queries each step)
    needs_scores: bool = False

    def forward(self, student: Views, teacher: Views) -> torch.Tensor:
        raise NotImplementedError


Target = Literal["features", "embeddings"]


class VectorDistillLoss(DistillLoss):
    """A loss between one pair of vector views: ``features`` (the text vectors the teacher's
    MLP and prior read) or ``embeddings`` (what the scorer reads).

    Args:
        target: which vectors to compare.
    """

    def __init__(self, target: Target) -> None:
        super().__init__()
        if target not in ("features", "embeddings"):
            raise ValueError(f"target must be 'features' or 'embeddings', got {target!r}")
        self.target = target

    def views(self, student: Views, teacher: Views) -> tuple[torch.Tensor, torch.Tensor]:
        """The student's and the teacher's vectors of the target view."""
        return getattr(student, self.target), getattr(teacher, self.target)


class Student(nn.Module):
    """A trainable sentence encoder built from the teacher's sentence-transformers model.

    ``self.model`` is a ``SentenceTransformer``: saved with :meth:`save`, it is a text model
    that :func:`kgforge.embed.features.encode_texts` (and so every frozen-feature encoder) loads
    by path.
    """

    def __init__(self, text_model: str) -> None:
        super().__init__()
        self.teacher_model = text_model
        self.model: nn.Module

    @property
    def dim(self) -> int:
        return embedding_dim(self.model)

    def optimizer(self, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        """The optimiser of the trainable weights (AdamW unless a student needs another)."""
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Raw sentence embeddings ``[n, d]`` of ``texts``, with gradients."""
        device = next(self.model.parameters()).device
        features = self.model.preprocess(list(texts))
        features = {k: v.to(device) if torch.is_tensor(v) else v for k, v in features.items()}
        return self.model(features)["sentence_embedding"]

    def save(self, directory: str | Path) -> Path:
        """Write the student as a sentence-transformers model folder."""
        self.model.save(str(directory))
        return Path(directory)


def embedding_dim(model: nn.Module) -> int:
    """The output size of a sentence-transformers model (the method was renamed in v6)."""
    get = getattr(model, "get_embedding_dimension", None)
    return int(get() if get else model.get_sentence_embedding_dimension())  # type: ignore[operator]
