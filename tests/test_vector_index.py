"""VectorIndex: faiss and torch top-k agree; IVF scanning every cell is exact."""

from __future__ import annotations

import numpy as np
import pytest

from kgforge.errors import KGForgeError
from kgforge.transfer.vector_index import VectorIndex

pytest.importorskip("faiss")


def _unit(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_faiss_and_torch_search_agree() -> None:
    vectors, queries = _unit(2000, 32, 0), _unit(25, 32, 1)
    f_scores, f_ids = VectorIndex(vectors, backend="faiss").search(queries, 10)
    t_scores, t_ids = VectorIndex(vectors, backend="torch").search(queries, 10)
    brute = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    assert f_ids.shape == (25, 10)
    np.testing.assert_array_equal(f_ids, t_ids)
    np.testing.assert_array_equal(f_ids, brute)
    np.testing.assert_allclose(f_scores, t_scores, atol=1e-5)
    assert np.all(np.diff(f_scores, axis=1) <= 0)  # best first


def test_ivf_scanning_all_cells_is_exact_and_k_is_capped() -> None:
    vectors, queries = _unit(1000, 16, 2), _unit(10, 16, 3)
    exact = VectorIndex(vectors, backend="faiss").search(queries, 5)[1]
    ivf = VectorIndex(vectors, backend="faiss", nlist=8, nprobe=8).search(queries, 5)[1]
    np.testing.assert_array_equal(ivf, exact)
    scores, ids = VectorIndex(vectors[:3], backend="torch").search(queries[0], 10)
    assert ids.shape == (1, 3) and sorted(ids[0].tolist()) == [0, 1, 2]


def test_bad_input_fails_clearly() -> None:
    with pytest.raises(KGForgeError, match="non-empty"):
        VectorIndex(np.zeros((0, 4)))
    with pytest.raises(KGForgeError, match="unknown index backend"):
        VectorIndex(_unit(4, 4, 0), backend="annoy")  # type: ignore[arg-type]
    with pytest.raises(KGForgeError, match="needs the faiss backend"):
        VectorIndex(_unit(4, 4, 0), backend="torch", nlist=2)
    with pytest.raises(KGForgeError, match="3 dims, the index 4"):
        VectorIndex(_unit(4, 4, 0)).search(_unit(1, 3, 0), 2)
