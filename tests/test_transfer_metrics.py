"""Retrieval metrics on hand-made rankings."""

from __future__ import annotations

import math

import pytest

from kgforge.transfer.metrics import ndcg_at_k, recall_at_k, reciprocal_rank, retrieval_scores


def test_hand_made_cases() -> None:
    ranked = ["x", "a", "y", "b"]
    relevant = {"a", "b", "c"}
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 10) == pytest.approx(2 / 3)
    assert reciprocal_rank(ranked, relevant) == 0.5
    assert reciprocal_rank(["x"], relevant) == 0.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, relevant, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "b", "c"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "a"], {"a"}, 1) == 0.0  # cut off below the first hit
    with pytest.raises(ValueError, match="at least one relevant"):
        ndcg_at_k(ranked, set(), 10)


def test_means_over_queries() -> None:
    scores = retrieval_scores([(["a"], {"a"}), (["x", "y"], {"b"})], ks=(1, 10))
    assert scores == {"ndcg@10": 0.5, "mrr": 0.5, "recall@1": 0.5, "recall@10": 0.5}
    with pytest.raises(ValueError, match="no queries"):
        retrieval_scores([])
