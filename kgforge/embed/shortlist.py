"""Fast top-k queries: a half-precision pass over every candidate, exact scores for the best.

A query by id (``predict_tails``) compares one query vector with the keys of every entity: on
a CPU that pass reads ``N x d`` floats and is bound by memory bandwidth, not arithmetic (40,943
entities with 512-d ComplEx keys and the text prior's 384-d features: ~147 MB per query in
float32). The approximate pass reads less: the keys projected on their principal directions
(those keeping 99 % of their squared norm: 192 of 640 columns for the trained WN18RR-ind model)
in half precision, which CPUs with fp16 matrix kernels also compute faster. Its scores only
choose a shortlist; the shortlist is then scored exactly in float32 by the model, so the
returned scores are the model's, and the top ``k`` equal the exact top ``k`` unless the
approximation moves an entity of the exact top ``k`` below the shortlist's
``max(4k, k + 128)`` places (``bench/query_latency.py`` counts how often).

Example:
    >>> import torch
    >>> keys = torch.randn(1000, 16)
    >>> index = HalfKeys(keys, force=True)
    >>> query = torch.randn(1, 16)
    >>> best = shortlist(index.scores(query), k=5)
    >>> set((query @ keys.T).topk(5).indices[0].tolist()) <= set(best[0].tolist())
    True
"""

from __future__ import annotations

import time

import torch

FP16_MAX = 6.0e4
"""Keys or queries larger than this (fp16's largest value is 65,504) keep float32."""


def shortlist_size(k: int, n: int) -> int:
    """How many candidates the exact pass re-scores for a top ``k`` among ``n``."""
    return min(n, max(4 * k, k + 128))


ENERGY = 0.99
"""Share of the keys' squared norm kept by the projection of the approximate pass."""


def principal_basis(full: torch.Tensor, energy: float = ENERGY) -> torch.Tensor | None:
    """``[d, r]`` orthonormal directions keeping ``energy`` of the rows' squared norm (``r`` a
    multiple of 32), or None when that needs more than 60 % of the ``d`` columns (no gain)."""
    d = full.shape[1]
    eigvals, eigvecs = torch.linalg.eigh(full.double().T @ full.double())  # ascending
    eigvals, eigvecs = eigvals.flip(0).clamp(min=0), eigvecs.flip(1)
    kept = eigvals.cumsum(0) / eigvals.sum().clamp(min=1e-30)
    r = min(d, -(-(int((kept < energy).sum()) + 1) // 32) * 32)
    return None if r > 0.6 * d else eigvecs[:, :r].float().contiguous()


def shortlist(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices ``[B, m]`` of each row's ``m = shortlist_size(k, C)`` best approximate scores."""
    return scores.topk(shortlist_size(k, scores.shape[1]), dim=1).indices


def _median_ms(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def half_pays_off(full: torch.Tensor, half: torch.Tensor) -> bool:
    """Whether one query against ``half`` (fp16, maybe fewer columns) is at least 1.2x faster
    than against ``full`` here (timed once: CPUs without fp16 kernels convert and are slower)."""
    probe, short = torch.randn(1, full.shape[1]), torch.randn(1, half.shape[1]).half()
    fast = _median_ms(lambda: short @ half.T)
    exact = _median_ms(lambda: probe @ full.T)
    return fast * 1.2 < exact


class HalfKeys:
    """Every candidate's key (and optional extra columns, e.g. the prior's features) in fp16.

    Args:
        keys: ``[N, d]`` float keys compared with queries by a dot product.
        extra: ``[N, e]`` more columns appended to ``keys`` (queries then have ``d + e`` columns).
        force: use fp16 without timing it against float32 (tests, docs).

    ``usable`` is False when fp16 would overflow or, timed once on this machine, is not faster
    than float32 (CPUs without fp16 kernels): callers then score exactly.
    """

    def __init__(
        self, keys: torch.Tensor, extra: torch.Tensor | None = None, force: bool = False
    ) -> None:
        full = keys.float() if extra is None else torch.cat([keys.float(), extra.float()], dim=1)
        self.dim = full.shape[1]
        self.projection = principal_basis(full) if full.numel() else None  # [dim, r] or None
        compact = full if self.projection is None else full @ self.projection
        self.usable = bool(compact.abs().max() < FP16_MAX) if full.numel() else False
        self.matrix = compact.half() if self.usable else full
        if self.usable and not force and not half_pays_off(full, self.matrix):
            self.usable = False
            self.matrix, self.projection = full, None

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """Approximate scores ``[B, N]`` (float32) of ``queries`` ``[B, dim]`` against all keys;
        rows whose query would overflow fp16 are computed in float32."""
        if not self.usable:
            return queries.float() @ self.matrix.T
        if self.projection is not None:
            queries = queries.float() @ self.projection
        big = queries.abs().amax(dim=1) >= FP16_MAX
        out = (queries.half() @ self.matrix.T).float()
        if bool(big.any()):
            out[big] = queries[big].float() @ self.matrix.float().T
        return out
