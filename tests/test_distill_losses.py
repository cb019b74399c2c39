"""Each distillation loss on small cases whose answer is known."""

from __future__ import annotations

import math

import pytest
import torch

from kgforge.transfer.distill import Views, loss_resolver
from kgforge.transfer.distill.cosine import CosineDistillLoss
from kgforge.transfer.distill.mse import MSEDistillLoss
from kgforge.transfer.distill.rkd import RKDAngleLoss, RKDDistanceLoss
from kgforge.transfer.distill.score_kd import ScoreKDLoss


def _views(x: torch.Tensor, scores: torch.Tensor | None = None) -> Views:
    return Views(features=x, embeddings=x, scores=scores)


def test_mse_is_the_mean_squared_distance() -> None:
    s = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    t = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    assert MSEDistillLoss()(_views(s), _views(t)).item() == pytest.approx(25.0 / 2)
    assert MSEDistillLoss()(_views(t), _views(t)).item() == 0.0


def test_mse_reads_the_vectors_it_is_told() -> None:
    s, t = Views(torch.zeros(1, 2), torch.ones(1, 2)), Views(torch.zeros(1, 2), torch.zeros(1, 2))
    assert MSEDistillLoss(target="features")(s, t).item() == 0.0
    assert MSEDistillLoss(target="embeddings")(s, t).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="target must be"):
        MSEDistillLoss(target="scores")  # type: ignore[arg-type]


def test_cosine_ignores_length_and_counts_direction() -> None:
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert CosineDistillLoss()(_views(5 * t), _views(t)).item() == pytest.approx(0.0, abs=1e-6)
    orthogonal = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert CosineDistillLoss()(_views(orthogonal), _views(t)).item() == pytest.approx(1.0)
    assert CosineDistillLoss()(_views(-t), _views(t)).item() == pytest.approx(2.0)


def test_rkd_distance_is_blind_to_scale_but_not_to_shape() -> None:
    torch.manual_seed(0)
    t = torch.randn(6, 4)
    assert RKDDistanceLoss()(_views(3 * t + 1), _views(t)).item() < 1e-6
    shuffled = t[torch.tensor([1, 0, 3, 2, 5, 4])]
    assert RKDDistanceLoss()(_views(shuffled), _views(t)).item() > 1e-3


def test_rkd_distance_known_value() -> None:
    # teacher: three points with distances 1, 1, 2 (mean 4/3); student: an equilateral triangle
    t = torch.tensor([[0.0], [1.0], [2.0]])
    s = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    # normalised distances: teacher 3/4, 3/4, 3/2; student all 1; Huber: 0.5 * diff^2 (< 1)
    expected = (4 * 0.5 * 0.25**2 + 2 * 0.5 * 0.5**2) / 9  # six off-diagonal pairs of nine
    assert RKDDistanceLoss()(_views(s), _views(t)).item() == pytest.approx(expected, rel=1e-5)


def test_rkd_angle_is_blind_to_rotation_scale_and_shift() -> None:
    torch.manual_seed(0)
    t = torch.randn(5, 3)
    q, _ = torch.linalg.qr(torch.randn(3, 3))
    moved = 2.5 * t @ q + torch.tensor([1.0, -2.0, 0.5])
    assert RKDAngleLoss()(_views(moved), _views(t)).item() < 1e-6
    assert RKDAngleLoss()(_views(torch.randn(5, 3)), _views(t)).item() > 1e-3


def test_rkd_angle_uses_at_most_max_points_rows() -> None:
    t = torch.randn(10, 3)
    s = torch.cat([t[:4], torch.randn(6, 3)])  # rows after the fourth differ
    assert RKDAngleLoss(max_points=4)(_views(s), _views(t)).item() < 1e-6
    assert RKDAngleLoss(max_points=10)(_views(s), _views(t)).item() > 1e-3


def test_score_kd_known_value_and_temperature() -> None:
    x = torch.zeros(1, 1)
    teacher = torch.tensor([[math.log(3.0), 0.0]])  # softmax: 3/4, 1/4
    student = torch.tensor([[0.0, 0.0]])  # softmax: 1/2, 1/2
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    loss = ScoreKDLoss(temperature=1.0)(_views(x, student), _views(x, teacher))
    assert loss.item() == pytest.approx(kl, rel=1e-5)
    # at temperature 2 the teacher's scores are halved, and the KL is scaled by 4
    p = torch.softmax(teacher / 2, dim=-1)[0]
    kl2 = float((p * torch.log(p / 0.5)).sum())
    loss2 = ScoreKDLoss(temperature=2.0)(_views(x, student), _views(x, teacher))
    assert loss2.item() == pytest.approx(4 * kl2, rel=1e-5)
    same = ScoreKDLoss()(_views(x, teacher + 7.0), _views(x, teacher))  # shift-invariant
    assert same.item() == pytest.approx(0.0, abs=1e-6)


def test_score_kd_pulls_the_student_towards_the_teachers_ranking() -> None:
    teacher = torch.tensor([[2.0, 0.0, -1.0]])
    student = torch.zeros(1, 3, requires_grad=True)
    x = torch.zeros(1, 1)
    ScoreKDLoss()(_views(x, student), _views(x, teacher)).backward()
    assert student.grad is not None
    assert student.grad[0, 0] < 0 < student.grad[0, 2]  # descent raises the teacher's best
    with pytest.raises(ValueError, match="scores"):
        ScoreKDLoss()(_views(x), _views(x))
    with pytest.raises(ValueError, match="temperature"):
        ScoreKDLoss(temperature=0.0)


def test_losses_resolve_by_their_config_names() -> None:
    names = {"mse", "cosine", "rkd_distance", "rkd_angle", "score_kd"}
    assert {loss_resolver.lookup(n).__name__ for n in names} == {
        "MSEDistillLoss",
        "CosineDistillLoss",
        "RKDDistanceLoss",
        "RKDAngleLoss",
        "ScoreKDLoss",
    }
    assert loss_resolver.lookup("score_kd").needs_scores
