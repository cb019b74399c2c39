"""Fast top-k queries: a half-precision pass over every candidate, exact scores for the best.

A query by id (``predict_tails``) compares one query vector with the keys of every entity: on
a CPU that pass reads ``N x d`` floats and is bound by memory bandwidth, not arithmetic (40,943
entities with 512-d ComplEx keys and the text prior's 384-d features: ~147 MB per query in
float32). Half precision halves the bytes, and CPUs with fp16 matrix kernels also compute it
faster. The half-precision scores only choose a shortlist; the shortlist is then scored exactly
in float32 by the model, so the returned scores are the model's, and the top ``k`` equal the
exact top ``k`` unless fp16 rounding (relative error ~1e-3 per score) moves an entity from
outside the shortlist (``max(4k, k + 64)`` candidates) into the top ``k``.

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
    return min(n, max(4 * k, k + 64))


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
    """Whether one query against ``half`` is at least 1.2x faster than against ``full`` here
    (timed once: CPUs without fp16 kernels convert and are slower)."""
    probe = torch.randn(1, full.shape[1])
    fast = _median_ms(lambda: probe.half() @ half.T)
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
        self.usable = bool(full.abs().max() < FP16_MAX) if full.numel() else False
        self.matrix = full.half() if self.usable else full
        if self.usable and not force and not half_pays_off(full, self.matrix):
            self.usable = False
            self.matrix = full

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """Approximate scores ``[B, N]`` (float32) of ``queries`` ``[B, dim]`` against all keys;
        rows whose query would overflow fp16 are computed in float32."""
        if not self.usable:
            return queries.float() @ self.matrix.T
        big = queries.abs().amax(dim=1) >= FP16_MAX
        out = (queries.half() @ self.matrix.T).float()
        if bool(big.any()):
            out[big] = queries[big].float() @ self.matrix.float().T
        return out
