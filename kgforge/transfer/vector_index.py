"""Top-k inner-product search over entity vectors, on faiss or torch.

Dense entity search is a maximum-inner-product search over unit vectors (inner product = cosine).
``VectorIndex`` keeps them in a faiss ``IndexFlatIP`` (exact; BLAS-blocked, so a query against a
million 384-d vectors takes tens of milliseconds on one core) or, with ``nlist``, an
``IndexIVFFlat`` that scans only the ``nprobe`` nearest of ``nlist`` k-means cells (approximate,
a few milliseconds at a million). ``backend="torch"`` is the exact search with ``torch.topk``,
for machines without faiss and as the reference the faiss search is tested against.

Example::

    index = VectorIndex(vectors)                 # [n, d] float32, unit rows
    scores, ids = index.search(queries, k=10)    # [q, k] each, best first
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from kgforge.errors import KGForgeError

Backend = Literal["auto", "faiss", "torch"]


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class VectorIndex:
    """Exact (or, with ``nlist``, IVF) inner-product top-k over the rows of ``vectors``.

    Args:
        vectors: ``[n, d]`` array; stored as float32.
        backend: ``faiss``, ``torch``, or ``auto`` (faiss when installed).
        nlist: number of IVF cells (faiss only); None = exact flat search.
        nprobe: cells scanned per query in IVF mode (more = closer to exact, slower).
    """

    def __init__(
        self,
        vectors: np.ndarray,
        backend: Backend = "auto",
        nlist: int | None = None,
        nprobe: int = 32,
        seed: int = 0,
    ) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise KGForgeError("VectorIndex needs a non-empty [n, d] array of vectors")
        if backend == "auto":
            backend = "faiss" if faiss_available() else "torch"
        if backend not in ("faiss", "torch"):
            raise KGForgeError(f"unknown index backend {backend!r}: use faiss, torch or auto")
        if nlist is not None and backend != "faiss":
            raise KGForgeError("an IVF index (nlist) needs the faiss backend")
        self.backend, self.size, self.dim = backend, len(vectors), vectors.shape[1]
        if backend == "torch":
            import torch

            self._matrix = torch.from_numpy(vectors)
            return
        import faiss

        if nlist is None:
            self._faiss = faiss.IndexFlatIP(self.dim)
        else:
            quantizer = faiss.IndexFlatIP(self.dim)
            self._faiss = faiss.IndexIVFFlat(
                quantizer, self.dim, min(nlist, len(vectors)), faiss.METRIC_INNER_PRODUCT
            )
            self._faiss.cp.seed = seed
            self._faiss.cp.niter = 10  # k-means: cells only need to be roughly balanced
            sample = vectors[np.random.default_rng(seed).permutation(len(vectors))[: 32 * nlist]]
            self._faiss.train(sample)
            self._faiss.nprobe = nprobe
        self._faiss.add(vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row ids ``[q, min(k, n)]`` of the best rows for each query, best first."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise KGForgeError(f"query vectors have {queries.shape[1]} dims, the index {self.dim}")
        if k < 1:
            raise KGForgeError("k must be at least 1")
        k = min(k, self.size)
        if self.backend == "torch":
            import torch

            with torch.no_grad():
                scores, ids = torch.topk(torch.from_numpy(queries) @ self._matrix.T, k, dim=1)
            return scores.numpy(), ids.numpy()
        scores, ids = self._faiss.search(queries, k)
        return scores, ids
