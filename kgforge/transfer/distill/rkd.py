"""Relational knowledge distillation (Park et al., 2019): match the geometry of a batch, not
each vector.

- distance: pairwise distances, each side divided by its mean distance,
  :math:`L = \\frac{1}{n^2}\\sum_{ij} \\ell_\\delta(\\psi(s_i, s_j), \\psi(t_i, t_j))`,
  :math:`\\psi(a, b) = \\lVert a - b \\rVert / \\mu` with :math:`\\ell_\\delta` the Huber loss;
- angle: the cosine of the angle at :math:`x_j` in every triangle :math:`(x_i, x_j, x_k)`,
  :math:`\\cos\\angle = \\langle e_{ij}, e_{kj} \\rangle` with unit :math:`e_{ij} = (x_i -
  x_j) / \\lVert x_i - x_j \\rVert`, compared with the Huber loss.

Both are invariant to scaling (and the angle to translation and rotation) of the student's
space, so they leave the student free where the teacher's scorer does not care.

Example:
    >>> import torch
    >>> t = torch.randn(5, 4)
    >>> RKDDistanceLoss()(Views(t, 3 * t), Views(t, t)).item() < 1e-6
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kgforge.transfer.distill.base import DistillLoss, Target, Views


def _normalised_distances(x: torch.Tensor) -> torch.Tensor:
    d = torch.cdist(x, x)
    mean = d[d > 0].mean() if (d > 0).any() else d.new_tensor(1.0)
    return d / mean


def _angles(x: torch.Tensor) -> torch.Tensor:
    e = F.normalize(x.unsqueeze(0) - x.unsqueeze(1), dim=-1)  # e[j, i] = unit(x_i - x_j)
    return torch.bmm(e, e.transpose(1, 2)).reshape(-1)


class RKDDistanceLoss(DistillLoss):
    """RKD's distance-wise loss on ``embeddings`` (or ``features``).

    Args:
        target: which vectors to compare.
    """

    def __init__(self, target: Target = "embeddings") -> None:
        super().__init__()
        self.target = target

    def forward(self, student: Views, teacher: Views) -> torch.Tensor:
        s, t = getattr(student, self.target), getattr(teacher, self.target)
        with torch.no_grad():
            target = _normalised_distances(t)
        return F.smooth_l1_loss(_normalised_distances(s), target)


class RKDAngleLoss(DistillLoss):
    """RKD's angle-wise loss on the first ``max_points`` rows (the cost is cubic in them).

    Args:
        target: which vectors to compare.
        max_points: rows used per step.
    """

    def __init__(self, target: Target = "embeddings", max_points: int = 64) -> None:
        super().__init__()
        self.target, self.max_points = target, max_points

    def forward(self, student: Views, teacher: Views) -> torch.Tensor:
        s = getattr(student, self.target)[: self.max_points]
        t = getattr(teacher, self.target)[: self.max_points]
        with torch.no_grad():
            target = _angles(t)
        return F.smooth_l1_loss(_angles(s), target)
