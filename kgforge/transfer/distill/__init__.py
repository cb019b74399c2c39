"""Distillation: small, fast students that reproduce a trained link predictor's text encoder.

A teacher :class:`~kgforge.embed.model.LinkPredictor` with a frozen-feature encoder reads a
sentence-transformers vector of each entity text. A student (:data:`student_resolver`) is a
cheaper sentence encoder trained, on the texts of training entities, to give the same vectors
and so the same entity embeddings and link scores through the teacher's unchanged MLP,
relations, scorer and prior; the losses (:data:`loss_resolver`) are combined with weights.
:func:`kgforge.transfer.distill.pipeline.distill` (``kgforge.distill``, ``kgforge distill``)
runs it from a config and returns a drop-in ``LinkPredictor``.
"""

from __future__ import annotations

from class_resolver import ClassResolver

from kgforge.transfer.distill.base import DistillLoss, Student, Views
from kgforge.transfer.distill.cosine import CosineDistillLoss
from kgforge.transfer.distill.layerdrop import LayerDropStudent
from kgforge.transfer.distill.mse import MSEDistillLoss
from kgforge.transfer.distill.rkd import RKDAngleLoss, RKDDistanceLoss
from kgforge.transfer.distill.score_kd import ScoreKDLoss
from kgforge.transfer.distill.static import StaticStudent

student_resolver: ClassResolver[Student] = ClassResolver(
    [StaticStudent, LayerDropStudent], base=Student, suffix="Student"
)
loss_resolver: ClassResolver[DistillLoss] = ClassResolver(
    [MSEDistillLoss, CosineDistillLoss, RKDDistanceLoss, RKDAngleLoss, ScoreKDLoss],
    base=DistillLoss,
    suffix="DistillLoss",
    synonyms={"rkddistance": RKDDistanceLoss, "rkdangle": RKDAngleLoss, "scorekd": ScoreKDLoss},
)

__all__ = [
    "CosineDistillLoss",
    "DistillLoss",
    "LayerDropStudent",
    "MSEDistillLoss",
    "RKDAngleLoss",
    "RKDDistanceLoss",
    "ScoreKDLoss",
    "StaticStudent",
    "Student",
    "Views",
    "loss_resolver",
    "student_resolver",
]
