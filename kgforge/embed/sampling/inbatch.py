"""In-batch negatives (BLP): replacements from the other triples of the batch."""

from __future__ import annotations

import torch

from kgforge.embed.sampling.base import NegativeSampler


class InBatchNegativeSampler(NegativeSampler):
    """BLP's sampler: replace with entities of other triples in the same batch.

    Costs no extra encoder passes, since those entities are encoded for the batch anyway.
    """

    def replacements(self, batch: torch.Tensor, corrupt_head: torch.Tensor) -> torch.Tensor:
        b, k = corrupt_head.shape
        pool = torch.cat([batch[:, 0], batch[:, 2]])  # [2B]
        if b < 2:
            return self.uniform((b, k), batch.device)
        # draw from the other triples: offset by 1..B-1 so a triple never picks its own entities
        row = torch.arange(b).unsqueeze(1)
        other = (row + torch.randint(1, b, (b, k), generator=self.generator)) % b
        side = torch.randint(0, 2, (b, k), generator=self.generator)
        return pool[(other + side * b).to(pool.device)]
