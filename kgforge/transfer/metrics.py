"""Ranking metrics for entity retrieval with binary relevance.

For one query with ranked result ids ``ranked`` (best first) and a set of relevant ids:

- ``recall@k`` = |relevant in top k| / |relevant|;
- ``ndcg@k`` = DCG@k / IDCG@k with DCG@k = sum over ranks i <= k of rel_i / log2(i + 1) and
  IDCG@k the DCG of an ideal ranking (all relevant first);
- ``mrr`` = 1 / rank of the first relevant result (0 if none is retrieved).

:func:`retrieval_scores` averages them over queries. Example::

    >>> ndcg_at_k(["b", "a"], {"a"}, 10)   # one relevant, found at rank 2
    0.6309...
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence


def recall_at_k(ranked: Sequence[Hashable], relevant: set, k: int) -> float:
    if not relevant:
        raise ValueError("a query needs at least one relevant item")
    return len(set(ranked[:k]) & relevant) / len(relevant)


def ndcg_at_k(ranked: Sequence[Hashable], relevant: set, k: int) -> float:
    if not relevant:
        raise ValueError("a query needs at least one relevant item")
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def reciprocal_rank(ranked: Sequence[Hashable], relevant: set) -> float:
    for i, item in enumerate(ranked):
        if item in relevant:
            return 1.0 / (i + 1)
    return 0.0


def retrieval_scores(
    runs: Iterable[tuple[Sequence[Hashable], set]], ks: Sequence[int] = (10, 100)
) -> dict[str, float]:
    """Mean NDCG@10, Recall@k for each of ``ks``, and MRR over ``(ranked, relevant)`` pairs."""
    totals: dict[str, float] = {}
    n = 0
    for ranked, relevant in runs:
        n += 1
        row = {"ndcg@10": ndcg_at_k(ranked, relevant, 10), "mrr": reciprocal_rank(ranked, relevant)}
        row.update({f"recall@{k}": recall_at_k(ranked, relevant, k) for k in ks})
        for key, value in row.items():
            totals[key] = totals.get(key, 0.0) + value
    if n == 0:
        raise ValueError("no queries to score")
    return {key: value / n for key, value in totals.items()}
