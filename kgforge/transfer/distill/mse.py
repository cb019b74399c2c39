"""Squared distance to the teacher's vectors (FitNets-style feature regression), averaged over
rows, so its size does not shrink with the dimension:

.. math:: L = \\frac{1}{n} \\sum_i \\lVert s_i - t_i \\rVert^2

Example:
    >>> import torch
    >>> x = torch.ones(2, 3)
    >>> MSEDistillLoss()(Views(x, x), Views(x, x)).item()
    0.0
"""

from __future__ import annotations

import torch

from kgforge.transfer.distill.base import Target, VectorDistillLoss, Views


class MSEDistillLoss(VectorDistillLoss):
    """MSE between student and teacher ``features`` (the text vectors the teacher's MLP and
    prior read) or ``embeddings`` (what the scorer reads).

    Args:
        target: which vectors to compare.
    """

    def __init__(self, target: Target = "features") -> None:
        super().__init__(target)

    def forward(self, student: Views, teacher: Views) -> torch.Tensor:
        s, t = self.views(student, teacher)
        return (s - t).pow(2).sum(-1).mean()
