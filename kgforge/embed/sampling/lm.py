"""Negative samplers that use a language model's view of the entities (LEMON and LM neighbours).

Both encode every entity's text once with a sentence-transformers model (through the shared
feature cache, :func:`kgforge.embed.features.encode_texts`) and turn the vectors into per-entity
candidate pools, stored as padded tensors, so that sampling is pure tensor indexing on the batch's
device. Pools are cached on disk (``$KGFORGE_CACHE/samplers``, :mod:`kgforge.cache`), keyed by a hash of the embedding matrix
(hence of model and texts) and the pool parameters.

- :class:`LMClusterNegativeSampler` (LEMON, Rony et al. 2022): k-means clusters of the (optionally
  PCA-reduced) embeddings; a negative for ``(h, r, t)`` replaces one side with a member of the
  anchor entity's cluster or one of its ``neighbor_clusters`` nearest clusters, optionally only
  members whose cosine to the anchor is at least ``cos_floor``.
- :class:`LMNearestNegativeSampler`: hard negatives among the ``k`` nearest entities (exact cosine
  search in chunks), mixed with uniform draws at ``ratio``; with ``ratio_start`` the ratio grows
  linearly from ``ratio_start`` to ``ratio`` over training (driven by ``step(progress)``).

The anchor is the entity that stays (``anchor="kept"``: "corrupt the tail of (dog, hypernym,
canine) with things like dog") or the one replaced (``anchor="replaced"``: "... with things like
canine"). Known true triples are filtered by the base class (``filtered=True``), which redraws
from the pool first and falls back to uniform draws when the pool has nothing left.
"""

from __future__ import annotations

import hashlib
import logging
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from kgforge.cache import cache_path
from kgforge.embed.sampling.base import NegativeSampler
from kgforge.errors import ConfigError, DataError
from kgforge.fileio import atomic_write

logger = logging.getLogger(__name__)

Anchor = Literal["kept", "replaced"]


class LMPoolNegativeSampler(NegativeSampler):
    """Shared machinery: entity embeddings in, padded candidate pools out, cached on disk.

    ``embeddings`` (``[num_entities, d]``) skips encoding, e.g. to reuse vectors a model already
    has; otherwise ``fit(train_triples, entity_text)`` encodes ``entity_text`` with ``text_model``
    (default: the offline MiniLM) through the feature cache in ``cache_dir``.
    """

    def __init__(
        self,
        num_entities: int,
        *,
        embeddings: np.ndarray | torch.Tensor | None = None,
        text_model: str | None = None,
        cache_dir: str | Path | None = None,
        anchor: Anchor = "kept",
        **kwargs,
    ) -> None:
        super().__init__(num_entities, **kwargs)
        if anchor not in ("kept", "replaced"):
            raise ConfigError(f"must be 'kept' or 'replaced', not {anchor!r}", field="anchor")
        self._given_embeddings = embeddings
        self.text_model = text_model
        self.cache_dir = cache_dir
        self.anchor = anchor
        self._cpu: dict[str, torch.Tensor] = {}
        self._device_cache: dict[torch.device, dict[str, torch.Tensor]] = {}

    def fit(
        self, train_triples: torch.Tensor, entity_text: Sequence[str] | None = None
    ) -> LMPoolNegativeSampler:
        super().fit(train_triples, entity_text)
        embeddings = self.entity_embeddings(entity_text)
        members = None if self.candidates is None else self.candidates.numpy()
        params = dict(self._pool_params())
        if members is not None:
            params["candidates"] = hashlib.blake2b(members.tobytes(), digest_size=16).hexdigest()
        arrays = _cached_arrays(
            self._pool_name(),
            embeddings,
            params,
            lambda: self.build_pools(embeddings, members),
            self.cache_dir,
        )
        self._cpu = {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()}
        if "embeddings" in self._needs():
            self._cpu["embeddings"] = torch.from_numpy(embeddings)
        self._device_cache = {}
        return self

    def entity_embeddings(self, entity_text: Sequence[str] | None) -> np.ndarray:
        """Unit-norm float32 ``[num_entities, d]``: the given ones, or ``entity_text`` encoded."""
        if self._given_embeddings is not None:
            given = self._given_embeddings
            vectors = given.detach().cpu().numpy() if torch.is_tensor(given) else np.asarray(given)
            vectors = vectors.astype(np.float32, copy=True)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        elif entity_text is not None:
            from kgforge.embed.features import encode_texts

            vectors = encode_texts(
                list(entity_text),
                model=self.text_model,
                cache_dir=self.cache_dir,
            )
        else:
            raise DataError(
                f"{type(self).__name__} needs entity text (fit(triples, entity_text)) "
                "or precomputed embeddings (embeddings=...)"
            )
        if len(vectors) != self.num_entities:
            raise DataError(
                f"{type(self).__name__}: {len(vectors)} entity texts/embeddings "
                f"for {self.num_entities} entities"
            )
        return vectors

    @abstractmethod
    def build_pools(
        self, embeddings: np.ndarray, candidates: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """The arrays sampling needs (cached on disk), from unit-norm ``embeddings`` of all
        entities; pools hold only ``candidates`` (sorted entity ids; ``None``: all)."""

    @abstractmethod
    def _pool_params(self) -> dict[str, object]:
        """What, besides the embeddings, the pools depend on (part of the cache key)."""

    def _pool_name(self) -> str:
        return type(self).__name__.removesuffix("NegativeSampler").lower()

    def _needs(self) -> set[str]:
        return set()

    def tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        """The pool tensors on ``device`` (moved once per device)."""
        if not self._cpu:
            raise RuntimeError(f"call fit() before sampling with {type(self).__name__}")
        on = self._device_cache.get(device)
        if on is None:
            on = self._device_cache[device] = {k: v.to(device) for k, v in self._cpu.items()}
        return on

    def anchors(self, batch: torch.Tensor, corrupt_head: torch.Tensor) -> torch.Tensor:
        """Anchor entity per negative ``[B, K]``."""
        heads, tails = batch[:, 0:1], batch[:, 2:3]
        if self.anchor == "kept":
            return torch.where(corrupt_head, tails, heads)
        return torch.where(corrupt_head, heads, tails)

    def rand(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator).to(device)


class LMClusterNegativeSampler(LMPoolNegativeSampler):
    """LEMON: replace with members of the anchor's k-means cluster or its nearest clusters.

    ``n_clusters`` defaults to ``sqrt(num_entities)``; ``pca_dim`` reduces the vectors before
    k-means (``None``: no reduction); ``neighbor_clusters`` nearest clusters (by centroid cosine)
    join the anchor's own; ``cos_floor`` keeps only candidates at least that similar to the anchor
    (a few redraws, then uniform). ``cluster_seed`` fixes k-means, independently of ``seed``.
    """

    def __init__(
        self,
        num_entities: int,
        *,
        n_clusters: int | None = None,
        neighbor_clusters: int = 2,
        pca_dim: int | None = 64,
        cos_floor: float | None = None,
        cluster_seed: int = 0,
        floor_rounds: int = 4,
        **kwargs,
    ) -> None:
        super().__init__(num_entities, **kwargs)
        default_clusters = max(2, round(num_entities**0.5))
        self.n_clusters = min(n_clusters or default_clusters, num_entities)
        self.neighbor_clusters = min(neighbor_clusters, self.n_clusters - 1)
        self.pca_dim = pca_dim
        self.cos_floor = cos_floor
        self.cluster_seed = cluster_seed
        self.floor_rounds = floor_rounds

    def _pool_params(self) -> dict[str, object]:
        return {
            "n_clusters": self.n_clusters,
            "neighbor_clusters": self.neighbor_clusters,
            "pca_dim": self.pca_dim,
            "cluster_seed": self.cluster_seed,
        }

    def _needs(self) -> set[str]:
        return {"embeddings"} if self.cos_floor is not None else set()

    def build_pools(
        self, embeddings: np.ndarray, candidates: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        members_of_pools = np.arange(len(embeddings)) if candidates is None else candidates
        n_clusters = min(self.n_clusters, len(members_of_pools))
        # clusters are fitted on the candidates; every entity (an anchor) gets its nearest one
        labels = kmeans_labels(
            embeddings, n_clusters, self.pca_dim, self.cluster_seed, fit_rows=candidates
        )
        member_labels = labels[members_of_pools]
        # centroids in the full space, for "nearest clusters"
        centroids = np.zeros((n_clusters, embeddings.shape[1]), dtype=np.float64)
        np.add.at(centroids, member_labels, embeddings[members_of_pools])
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        sims = centroids @ centroids.T
        np.fill_diagonal(sims, np.inf)  # own cluster first
        near = np.argsort(-sims, axis=1, kind="stable")[:, : self.neighbor_clusters + 1]

        order = np.argsort(member_labels, kind="stable")
        starts = np.searchsorted(member_labels[order], np.arange(n_clusters + 1))
        members = [members_of_pools[order[starts[c] : starts[c + 1]]] for c in range(n_clusters)]
        pool_lists = [np.concatenate([members[c] for c in row]) for row in near]
        lengths = np.array([len(p) for p in pool_lists], dtype=np.int64)
        pools = np.zeros((n_clusters, int(lengths.max())), dtype=np.int64)
        for c, p in enumerate(pool_lists):
            pools[c, : len(p)] = p
        return {
            "labels": labels.astype(np.int64),
            "near_clusters": near.astype(np.int64),
            "pools": pools,
            "pool_sizes": lengths,
        }

    def allowed_clusters(self, entity: int) -> list[int]:
        """The clusters a negative anchored at ``entity`` is drawn from (its own first)."""
        return self._cpu["near_clusters"][self._cpu["labels"][entity]].tolist()

    def cluster_of(self, entities: torch.Tensor) -> torch.Tensor:
        """The k-means cluster of each entity id."""
        return self._cpu["labels"][entities.cpu()]

    def replacements(self, batch: torch.Tensor, corrupt_head: torch.Tensor) -> torch.Tensor:
        on = self.tensors(batch.device)
        anchor = self.anchors(batch, corrupt_head)
        cluster = on["labels"][anchor]
        sizes = on["pool_sizes"][cluster]
        shape = tuple(anchor.shape)

        def draw() -> torch.Tensor:
            idx = (self.rand(shape, batch.device) * sizes).long().clamp(max=sizes - 1)
            return on["pools"][cluster, idx]

        picked = draw()
        if self.cos_floor is None:
            return picked
        emb = on["embeddings"]

        def too_far(candidates: torch.Tensor) -> torch.Tensor:
            return (emb[anchor] * emb[candidates]).sum(-1) < self.cos_floor

        bad = too_far(picked)
        for _ in range(self.floor_rounds):
            if not bad.any():
                return picked
            picked = torch.where(bad, draw(), picked)
            bad = too_far(picked)
        # nothing close enough found: uniform, as for any sampler that runs out of candidates
        return torch.where(bad, self.uniform(shape, batch.device), picked)


class LMNearestNegativeSampler(LMPoolNegativeSampler):
    """Hard negatives: one of the anchor's ``k`` nearest entities, mixed with uniform draws.

    Each negative is a neighbour with probability ``ratio`` (else uniform). With ``ratio_start``
    the probability starts there and grows linearly to ``ratio`` as the trainer calls
    ``step(progress)`` (a curriculum: easy negatives first, hard ones later).
    """

    def __init__(
        self,
        num_entities: int,
        *,
        k: int = 50,
        ratio: float = 0.5,
        ratio_start: float | None = None,
        anchor: Anchor = "replaced",
        **kwargs,
    ) -> None:
        super().__init__(num_entities, anchor=anchor, **kwargs)
        if not 0.0 <= ratio <= 1.0 or not 0.0 <= (ratio_start or 0.0) <= 1.0:
            raise ConfigError("ratio and ratio_start must lie in [0, 1]", field="ratio")
        self.k = min(k, num_entities - 1)
        self.ratio = ratio
        self.ratio_start = ratio_start
        self.current_ratio = ratio if ratio_start is None else ratio_start

    def step(self, progress: float) -> None:
        """Move the hard-negative ratio along the curriculum (no-op without ``ratio_start``)."""
        super().step(progress)
        if self.ratio_start is not None:
            progress = min(max(progress, 0.0), 1.0)
            self.current_ratio = self.ratio_start + (self.ratio - self.ratio_start) * progress

    def _pool_params(self) -> dict[str, object]:
        return {"k": self.k}

    def build_pools(
        self, embeddings: np.ndarray, candidates: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        return {"neighbors": nearest_neighbors(embeddings, self.k, candidates)}

    def neighbors_of(self, entities: torch.Tensor) -> torch.Tensor:
        """The ``k`` nearest entities of each entity id, ``[..., k]``."""
        return self._cpu["neighbors"][entities.cpu()]

    def replacements(self, batch: torch.Tensor, corrupt_head: torch.Tensor) -> torch.Tensor:
        on = self.tensors(batch.device)
        anchor = self.anchors(batch, corrupt_head)
        shape = tuple(anchor.shape)
        k = on["neighbors"].shape[1]  # fewer than self.k when there are few candidates
        idx = (self.rand(shape, batch.device) * k).long().clamp(max=k - 1)
        hard = on["neighbors"][anchor, idx]
        use_hard = self.rand(shape, batch.device) < self.current_ratio
        return torch.where(use_hard, hard, self.uniform(shape, batch.device))


# -- pool construction --------------------------------------------------------------------------
def kmeans_labels(
    embeddings: np.ndarray,
    n_clusters: int,
    pca_dim: int | None,
    seed: int,
    fit_rows: np.ndarray | None = None,
) -> np.ndarray:
    """Cluster id per row: k-means (scikit-learn) on the optionally PCA-reduced vectors,
    fitted on ``fit_rows`` (default: all rows); every row gets its nearest centroid."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    steps = []
    if pca_dim is not None and pca_dim < min(embeddings.shape):
        steps.append(PCA(n_components=pca_dim, random_state=seed))
    steps.append(KMeans(n_clusters=n_clusters, n_init=1, random_state=seed))
    model = make_pipeline(*steps)
    model.fit(embeddings if fit_rows is None else embeddings[fit_rows])
    return model.predict(embeddings)


def nearest_neighbors(
    embeddings: np.ndarray, k: int, candidates: np.ndarray | None = None, chunk: int = 2048
) -> np.ndarray:
    """Per row, the ``k`` most cosine-similar other rows among ``candidates`` (default: all).

    Exact search (matrix products in chunks): over 40k MiniLM vectors it takes seconds on a CPU
    and runs once (cached), so an approximate index would buy nothing here.
    """
    x = torch.from_numpy(embeddings)
    ids = torch.arange(len(x)) if candidates is None else torch.from_numpy(candidates).long()
    keys = x[ids]
    k = min(k, len(ids) - 1)
    out = torch.empty((len(x), k), dtype=torch.int64)
    for start in range(0, len(x), chunk):
        query = torch.arange(start, min(start + chunk, len(x)))
        sims = x[query] @ keys.T
        # never oneself: where the query is a candidate, mask its column
        col = torch.searchsorted(ids, query).clamp(max=len(ids) - 1)
        is_self = ids[col] == query
        sims[torch.arange(len(query))[is_self], col[is_self]] = -float("inf")
        out[query] = ids[sims.topk(k, dim=1).indices]
    return out.numpy()


def _cached_arrays(
    name: str,
    embeddings: np.ndarray,
    params: dict[str, object],
    compute: Callable[[], dict[str, np.ndarray]],
    cache_dir: str | Path | None,
) -> dict[str, np.ndarray]:
    """``compute()``, or its result saved earlier for the same embeddings and parameters."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(embeddings.shape).encode())
    digest.update(np.ascontiguousarray(embeddings).tobytes())
    digest.update(repr(sorted(params.items())).encode())
    folder = cache_path("samplers", cache_dir)
    path = folder / f"{name}-{digest.hexdigest()}.npz"
    if path.is_file():
        try:
            with np.load(path) as data:
                return {key: data[key] for key in data.files}
        except (OSError, ValueError):
            pass  # unreadable: compute again and overwrite
    logger.info("building %s negative-sampler pools (cached as %s)", name, path)
    arrays = compute()
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
    return arrays
