"""Training losses over positive scores ``[B]`` and negative scores ``[B, K]``.

One signature serves every training objective: sampled negatives (``K`` per positive), in-batch
candidates and 1-vs-all scoring (``K`` = all candidates). ``mask`` ``[B, K]`` marks the negatives
that count; in-batch and 1-vs-all objectives use it to drop candidates that are in fact true
(the positive itself and other known answers). The definitions follow PyKEEN's losses of the same
names.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from class_resolver import ClassResolver
from torch import nn


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x.mean()
    return (x * mask).sum() / mask.sum().clamp_min(1)


class Loss(nn.Module):
    """A loss ``(pos [B], neg [B, K], mask [B, K] | None) -> scalar``."""

    def forward(
        self, pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError


class MarginRankingLoss(Loss):
    """``max(0, margin - pos + neg)`` averaged over (positive, negative) pairs."""

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, pos, neg, mask=None):
        return _masked_mean(F.relu(self.margin - pos.unsqueeze(-1) + neg), mask)


class SoftplusLoss(Loss):
    """Logistic loss ``softplus(-pos) + softplus(neg)``, positives and negatives weighted equally."""

    def forward(self, pos, neg, mask=None):
        return F.softplus(-pos).mean() + _masked_mean(F.softplus(neg), mask)


class BCELoss(Loss):
    """Binary cross-entropy on sigmoid(score) over all scores, with optional label smoothing."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, pos, neg, mask=None):
        eps = self.label_smoothing
        pos_term = F.binary_cross_entropy_with_logits(pos, torch.full_like(pos, 1.0 - eps))
        neg_all = F.binary_cross_entropy_with_logits(
            neg, torch.full_like(neg, eps), reduction="none"
        )
        k = neg.shape[-1] if mask is None else mask.sum(-1).float().mean().clamp_min(1)
        return (pos_term + k * _masked_mean(neg_all, mask)) / (1 + k)


class NSSALoss(Loss):
    """Self-adversarial negative sampling (RotatE, Sun et al. 2019).

    Negatives are weighted by ``softmax(temperature * score)`` (no gradient through the weights),
    so hard negatives count more; ``margin`` shifts the scores of distance-based scorers.
    """

    def __init__(self, margin: float = 9.0, adversarial_temperature: float = 1.0) -> None:
        super().__init__()
        self.margin = margin
        self.temperature = adversarial_temperature

    def forward(self, pos, neg, mask=None):
        logits = self.temperature * neg.detach()
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(logits, dim=-1).nan_to_num(0.0)
        pos_term = -F.logsigmoid(self.margin + pos)
        neg_term = -(weights * F.logsigmoid(-(self.margin + neg))).sum(-1)
        return (pos_term + neg_term).mean() / 2


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy: the positive against its negatives (in-batch or all entities).

    ``label_smoothing`` spreads that much of the target mass over the counted negatives.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, pos, neg, mask=None):
        if mask is not None:
            neg = neg.masked_fill(~mask, float("-inf"))
        logits = torch.cat([pos.unsqueeze(-1), neg], dim=-1).float()
        log_p = torch.log_softmax(logits, dim=-1)
        nll = -log_p[:, 0]
        if self.label_smoothing == 0:
            return nll.mean()
        neg_log_p = log_p[:, 1:]
        valid = torch.ones_like(neg_log_p, dtype=torch.bool) if mask is None else mask
        n = valid.sum(-1).clamp_min(1)
        smooth = -(neg_log_p.masked_fill(~valid, 0.0)).sum(-1) / n
        eps = self.label_smoothing
        return ((1 - eps) * nll + eps * smooth).mean()


loss_resolver: ClassResolver[Loss] = ClassResolver(
    [MarginRankingLoss, SoftplusLoss, BCELoss, NSSALoss, CrossEntropyLoss],
    base=Loss,
    default=MarginRankingLoss,
    suffix="Loss",
    synonyms={"margin": MarginRankingLoss, "ce": CrossEntropyLoss},
)
