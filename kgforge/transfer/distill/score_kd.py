"""Knowledge distillation on the link-prediction score distribution (Hinton et al., 2015).

For each query (an entity and a relation, either direction), the teacher's and the student's
scores over the step's candidate entities become distributions at temperature :math:`\\tau`:

.. math:: L = \\tau^2 \\, \\frac{1}{q} \\sum_q \\mathrm{KL}\\big(\\mathrm{softmax}(t_q/\\tau)
   \\,\\Vert\\, \\mathrm{softmax}(s_q/\\tau)\\big)

The :math:`\\tau^2` keeps the gradient's size comparable across temperatures. This is the loss
that speaks to ranking: which candidates the teacher puts first.

Example:
    >>> import torch
    >>> x = torch.zeros(1, 2)
    >>> s = torch.tensor([[0.0, 0.0]]); t = torch.tensor([[0.0, 0.0]])
    >>> ScoreKDLoss()(Views(x, x, s), Views(x, x, t)).item()
    0.0
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kgforge.transfer.distill.base import DistillLoss, Views


class ScoreKDLoss(DistillLoss):
    """KL of the student's from the teacher's softened score distribution over candidates.

    Args:
        temperature: :math:`\\tau`; above 1 the teacher's lower ranks count more.
    """

    needs_scores = True

    def __init__(self, temperature: float = 2.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, student: Views, teacher: Views) -> torch.Tensor:
        if student.scores is None or teacher.scores is None:
            raise ValueError("score KD needs the scores of both sides")
        tau = self.temperature
        target = F.log_softmax(teacher.scores.detach() / tau, dim=-1)
        log_p = F.log_softmax(student.scores / tau, dim=-1)
        kl = F.kl_div(log_p, target, log_target=True, reduction="batchmean")
        return kl * tau * tau
