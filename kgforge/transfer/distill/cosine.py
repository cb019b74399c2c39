"""One minus the cosine between student and teacher vectors: direction only, not length.

.. math:: L = \\frac{1}{n} \\sum_i \\left(1 - \\frac{s_i \\cdot t_i}{\\lVert s_i\\rVert
   \\lVert t_i \\rVert}\\right)

Example:
    >>> import torch
    >>> s, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    >>> CosineDistillLoss()(Views(s, s), Views(t, t)).item()
    1.0
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kgforge.transfer.distill.base import Target, VectorDistillLoss, Views


class CosineDistillLoss(VectorDistillLoss):
    """``1 - cos`` between student and teacher ``features`` or ``embeddings``, averaged.

    Args:
        target: which vectors to compare.
    """

    def __init__(self, target: Target = "embeddings") -> None:
        super().__init__(target)

    def forward(self, student: Views, teacher: Views) -> torch.Tensor:
        s, t = self.views(student, teacher)
        return (1.0 - F.cosine_similarity(s, t, dim=-1)).mean()
