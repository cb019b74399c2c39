"""``LinkPredictor``: an entity encoder, relation vectors and a relational scorer.

It scores triples and ranks candidate heads or tails. Entities are known by index (into the
vocabulary it was built with), by id, or, for inductive encoders, by text alone: a new entity
needs no retraining. Saved as a folder (``model.json``, ``vocab.json``, ``weights.pt``) that
:meth:`LinkPredictor.load` restores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kgforge.device import resolve_device
from kgforge.embed.encoders import EntityEncoder, FrozenTextEncoder, encoder_resolver
from kgforge.embed.prior import CHANNELS, PriorRep, TextPrior
from kgforge.embed.scorers import Scorer, scorer_resolver
from kgforge.embed.shortlist import HalfKeys, shortlist
from kgforge.errors import DataError, KGForgeError
from kgforge.fileio import atomic_write, first_line, read_torch_file
from kgforge.graph.namespaces import ENT, REL, UnknownNameError, close_names, expand, lookup
from kgforge.progress import progress

FORMAT_VERSION = 1
EntityRef = int | str
Edge = tuple[int | str, EntityRef, str]
"""A known edge of an entity: ``(relation, other entity, "out" | "in")``; ``"out"`` is
``(entity, relation, other)``, ``"in"`` is ``(other, relation, entity)``."""


@dataclass(frozen=True)
class Prediction:
    """One ranked candidate entity."""

    entity: str
    text: str
    score: float


class LinkPredictor(nn.Module):
    """Scores ``(head, relation, tail)``; higher is more plausible.

    ``inverse_relations`` learns a second vector per relation and predicts heads as tails of the
    inverse relation (train with both directions). ``normalize`` puts entity vectors on the unit
    sphere. ``text_prior`` (``True`` or a list of channels) adds per-relation weighted text
    similarities (:mod:`kgforge.embed.prior`). ``allow_self=False`` never predicts the query
    entity itself (graphs without self-loops, like WordNet's).

    Args:
        entities: entity ids.
        relations: relation ids.
        entity_text: one text per entity (needed by text encoders).
        relation_text: one text per relation.
        encoder: an encoder name of ``kgforge.embed.encoders`` ("frozen", "finetune", "lookup").
        encoder_kwargs: the encoder's keyword arguments.
        scorer: a scorer name of ``kgforge.embed.scorers`` ("transe", "distmult", ...).
        scorer_kwargs: the scorer's keyword arguments.
        dim: the embedding dimension.
        inverse_relations: see above.
        normalize: see above.
        text_prior: see above.
        allow_self: see above.
    """

    def __init__(
        self,
        entities: Sequence[str],
        relations: Sequence[str],
        entity_text: Sequence[str] | None = None,
        relation_text: Sequence[str] | None = None,
        encoder: str = "frozen",
        encoder_kwargs: dict[str, Any] | None = None,
        scorer: str = "transe",
        scorer_kwargs: dict[str, Any] | None = None,
        dim: int = 256,
        inverse_relations: bool = False,
        normalize: bool = False,
        text_prior: bool | list[str] = False,
        allow_self: bool = True,
    ) -> None:
        super().__init__()
        self.entities = list(entities)
        self.relations = list(relations)
        self.entity_text = list(entity_text) if entity_text is not None else [""] * len(entities)
        self.relation_text = (
            list(relation_text) if relation_text is not None else list(self.relations)
        )
        self.entity_index = {e: i for i, e in enumerate(self.entities)}
        self.relation_index = {r: i for i, r in enumerate(self.relations)}
        self.spec = {
            "encoder": encoder,
            "encoder_kwargs": dict(encoder_kwargs or {}),
            "scorer": scorer,
            "scorer_kwargs": dict(scorer_kwargs or {}),
            "dim": dim,
            "inverse_relations": inverse_relations,
            "normalize": normalize,
            "text_prior": text_prior,
            "allow_self": allow_self,
        }
        self.scorer: Scorer = scorer_resolver.make(scorer, scorer_kwargs)
        if self.scorer.needs_even_dim and dim % 2:
            raise KGForgeError(f"the {scorer} scorer needs an even dim, got {dim}")
        extra = {}
        if getattr(encoder_resolver.lookup(encoder), "relational", False):
            extra["num_relations"] = len(self.relations)
        self.encoder: EntityEncoder = encoder_resolver.make(
            encoder, encoder_kwargs, entity_text=self.entity_text, dim=dim, **extra
        )
        self.inverse_relations = inverse_relations
        self.normalize = normalize
        num_rel = len(self.relations) * (2 if inverse_relations else 1)
        self.relation_embedding = nn.Embedding(num_rel, self.scorer.relation_dim(dim))
        nn.init.xavier_uniform_(self.relation_embedding.weight)
        self.allow_self = allow_self
        self.prior: TextPrior | None = None
        if text_prior:
            enc = self.encoder
            self.prior = TextPrior(
                self.entity_text,
                num_rel,
                channels=CHANNELS if text_prior is True else text_prior,
                features=enc.features if isinstance(enc, FrozenTextEncoder) else None,
                text_model=getattr(enc, "text_model", None),
            )
        self._cache: tuple[tuple, torch.Tensor] | None = None  # (state key, vectors)
        self._half_keys: dict[bool, tuple[tuple, HalfKeys]] = {}  # by direction (heads?)

    @classmethod
    def from_data(cls, data: Any, **kwargs: Any) -> LinkPredictor:
        """Build a model over the entities and relations of a ``KGData``."""
        return cls(
            entities=data.entities,
            relations=data.relations,
            entity_text=data.entity_text,
            relation_text=data.relation_text,
            **kwargs,
        )

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def neighbourhood(self) -> Any:
        """The graph part of a ``graph`` encoder (context graph, exclusions), else None."""
        return getattr(self.encoder, "neighbourhood", None)

    @property
    def device(self) -> torch.device:
        return self.relation_embedding.weight.device

    # -- representations -------------------------------------------------------------------
    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) if self.normalize else x

    def entity_repr(self, ids: torch.Tensor) -> torch.Tensor:
        """Entity vectors ``[..., dim]`` for entity indices ``ids`` (with gradients)."""
        flat = ids.reshape(-1)
        return self._finish(self.encoder(flat)).reshape(*ids.shape, -1)

    def relation_repr(self, ids: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        if inverse:
            if not self.inverse_relations:
                raise ValueError("model has no inverse relations")
            ids = ids + self.num_relations
        return self.relation_embedding(ids)

    def invalidate_cache(self) -> None:
        """Forget the cached entity vectors (changes the cache key cannot see: a graph encoder's
        context graph swapped in place)."""
        self._cache = None
        self._half_keys.clear()

    def _state_key(self) -> tuple:
        """What the entity vectors depend on, cheap to compute (microseconds): the vocabulary
        size and, for every parameter and buffer, its storage and in-place version counter,
        which optimiser steps, ``load_state_dict``, ``.to()`` and any in-place edit change."""
        tensors = (*self.parameters(), *self.buffers())
        return (
            self.num_entities,
            tuple(
                (t.data_ptr(), t.device, -1 if t.is_inference() else t._version) for t in tensors
            ),
        )

    @torch.no_grad()
    def all_entity_repr(self, batch_size: int = 1024) -> torch.Tensor:
        """Vectors of all entities ``[N, dim]``.

        In eval mode they are cached: a query then costs one scoring pass instead of encoding
        every entity again. The cache is keyed by :meth:`_state_key`, so it is rebuilt after
        training steps, new weights or a move to another device; training mode never caches
        (dropout)."""
        if not self.training and self._cache is not None and self._cache[0] == self._state_key():
            cached = self._cache[1]
            if cached.is_inference() and not torch.is_inference_mode_enabled():
                # made under inference_mode (evaluation): a normal copy, usable with autograd
                cached = cached.clone()
                self._cache = (self._cache[0], cached)
            return cached
        order_fn = getattr(self.encoder, "encoding_order", None)
        ids = order_fn() if order_fn is not None else torch.arange(self.num_entities)
        ids = ids.to(self.device)
        chunks = ids.split(batch_size)
        bar = progress(
            chunks, desc="encoding entities", unit="batch", disable=not self.encoder.costly
        )
        encoded = torch.cat([self.entity_repr(chunk) for chunk in bar])
        out = torch.empty_like(encoded)
        out[ids] = encoded
        if not self.training:
            self._cache = (self._state_key(), out)
        return out

    def _candidates(self, candidates: torch.Tensor | None) -> torch.Tensor:
        reps = self.all_entity_repr() if not self.training else None
        if candidates is None:
            if reps is None:
                return self.entity_repr(torch.arange(self.num_entities, device=self.device))
            return reps
        candidates = candidates.to(self.device)
        return reps[candidates] if reps is not None else self.entity_repr(candidates)

    def _entities(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.to(self.device)
        if self.training:
            return self.entity_repr(ids)
        return self.all_entity_repr()[ids]

    # -- scoring (evaluation interface) ----------------------------------------------------
    def _queries(self, x: torch.Tensor, r_ids: torch.Tensor, heads: bool) -> torch.Tensor:
        """The scorer's query vectors of ``(x, r, ?)``, or of ``(?, r, x)`` with ``heads`` (by
        the inverse relation where the model has them), compared with :meth:`_keys`."""
        if heads and self.inverse_relations:
            return self.scorer.tail_query(x, self.relation_repr(r_ids, inverse=True))
        if heads:
            return self.scorer.head_query(self.relation_repr(r_ids), x)
        return self.scorer.tail_query(x, self.relation_repr(r_ids))

    def _keys(self, candidates: torch.Tensor, heads: bool) -> torch.Tensor:
        """The scorer's keys of candidate vectors for queries of :meth:`_queries`."""
        if heads and not self.inverse_relations:
            return self.scorer.head_keys(candidates)
        return self.scorer.tail_keys(candidates)

    def tails_given(
        self, h: torch.Tensor, r_ids: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor:
        """Scores ``[B, C]`` of head vectors ``h`` with relations ``r_ids`` against tail vectors."""
        return self.scorer.compare_all(
            self._queries(h, r_ids, False), self._keys(candidates, False)
        )

    def heads_given(
        self, t: torch.Tensor, r_ids: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor:
        """Scores ``[B, C]`` of head candidates for relations ``r_ids`` and tail vectors ``t``."""
        return self.scorer.compare_all(self._queries(t, r_ids, True), self._keys(candidates, True))

    def prior_scores(
        self,
        query: torch.Tensor | PriorRep,
        r_ids: torch.Tensor,
        candidates: torch.Tensor | None,
        head: bool = False,
        channels: Sequence[str] | None = None,
    ) -> torch.Tensor | None:
        """Text-prior scores ``[B, C]`` of queries (ids or a prior view) for tails, or for heads
        with ``head``; None without a prior. ``channels``: only these of the prior's."""
        if self.prior is None:
            return None
        q = self.prior.rep(query) if isinstance(query, torch.Tensor) else query
        c = self.prior.all if candidates is None else self.prior.rep(candidates)
        if head and self.inverse_relations:
            return self.prior.score(q, r_ids + self.num_relations, c, channels=channels)
        return self.prior.score(q, r_ids, c, query_is_head=not head, channels=channels)

    def mask_self(
        self, scores: torch.Tensor, query: torch.Tensor, candidates: torch.Tensor | None
    ) -> torch.Tensor:
        """Scores with the query entity itself ruled out (``allow_self=False``)."""
        if self.allow_self:
            return scores
        cands = (
            torch.arange(scores.shape[1], device=scores.device)
            if candidates is None
            else candidates
        )
        is_self = cands.to(scores.device).unsqueeze(0) == query.to(scores.device).unsqueeze(1)
        return scores.masked_fill(is_self, torch.finfo(scores.dtype).min)

    def score_t(
        self,
        hr: torch.Tensor,
        candidates: torch.Tensor | None = None,
        exclude: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scores ``[B, C]`` (``C`` = all entities without ``candidates``) for ``(h, r, ?)``.

        ``exclude`` ``[B, 3]``: each row's scored triple, which a ``graph`` encoder then hides
        from that row's representations (see :meth:`_score_excluding`)."""
        if exclude is not None and self.neighbourhood is not None:
            return self._score_excluding(exclude, candidates, heads=False)
        hr = hr.to(self.device)
        scores = self.tails_given(self._entities(hr[:, 0]), hr[:, 1], self._candidates(candidates))
        prior = self.prior_scores(hr[:, 0], hr[:, 1], candidates)
        if prior is not None:
            scores = scores + prior
        paths = self.path_scores(hr[:, 0], hr[:, 1], candidates)
        if paths is not None:
            scores = scores + paths
        return self.mask_self(scores, hr[:, 0], candidates)

    def score_h(
        self,
        rt: torch.Tensor,
        candidates: torch.Tensor | None = None,
        exclude: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scores ``[B, C]`` for ``(?, r, t)``; ``rt`` holds relation and tail indices;
        ``exclude`` as in :meth:`score_t`."""
        if exclude is not None and self.neighbourhood is not None:
            return self._score_excluding(exclude, candidates, heads=True)
        rt = rt.to(self.device)
        scores = self.heads_given(self._entities(rt[:, 1]), rt[:, 0], self._candidates(candidates))
        prior = self.prior_scores(rt[:, 1], rt[:, 0], candidates, head=True)
        if prior is not None:
            scores = scores + prior
        paths = self.path_scores(rt[:, 1], rt[:, 0], candidates, head=True)
        if paths is not None:
            scores = scores + paths
        return self.mask_self(scores, rt[:, 1], candidates)

    def _score_excluding(
        self, triples: torch.Tensor, candidates: torch.Tensor | None, heads: bool
    ) -> torch.Tensor:
        """Rank the tails (heads with ``heads``) of ``triples`` ``[B, 3]`` with each triple
        absent from every representation that scores it.

        One-hop message passing puts the edge ``(h, r, t)`` into the vectors of ``h`` and ``t``
        only, so those two are encoded again without it (exact, one pass over ``2 B``
        entities); every other candidate keeps its cached vector, which cannot contain the
        edge. Where ``h`` or ``t`` is a candidate its column is scored with the re-encoded
        vector too."""
        triples = triples.to(self.device)
        h_ids, r_ids, t_ids = triples.unbind(1)
        keys = self.neighbourhood.triple_keys(triples)
        h = self._finish(self.encoder(h_ids, drop_keys=keys))
        t = self._finish(self.encoder(t_ids, drop_keys=keys))
        query, query_ids, other, other_ids = (t, t_ids, h, h_ids) if heads else (h, h_ids, t, t_ids)
        given = self.heads_given if heads else self.tails_given
        scores = given(query, r_ids, self._candidates(candidates))
        column = torch.arange(self.num_entities, device=self.device)
        if candidates is not None:
            column = torch.full_like(column, -1)
            column[candidates.to(self.device)] = torch.arange(len(candidates), device=self.device)
        rows = torch.arange(len(triples), device=self.device)
        for ids, vectors in ((query_ids, query), (other_ids, other)):
            col = column[ids]
            ok = col >= 0
            pair = self._pair_scores(query, r_ids, vectors, heads)
            scores[rows[ok], col[ok]] = pair[ok].to(scores.dtype)
        prior = self.prior_scores(query_ids, r_ids, candidates, head=heads)
        if prior is not None:
            scores = scores + prior
        paths = self.path_scores(query_ids, r_ids, candidates, head=heads, drop_keys=keys)
        if paths is not None:
            scores = scores + paths
        return self.mask_self(scores, query_ids, candidates)

    def path_scores(
        self,
        query: torch.Tensor | None,
        r_ids: torch.Tensor,
        candidates: torch.Tensor | None,
        head: bool = False,
        drop_keys: torch.Tensor | None = None,
        first: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor | None:
        """Scores ``[B, C]`` of the context paths from each query entity to each candidate
        (a ``graph`` encoder with ``paths``; else None): tails of ``(q, r, ?)``, heads of
        ``(?, r, q)`` with ``head``. ``drop_keys``: the scored edges, on no path; ``first``:
        first hops of new entities (see ``NeighbourhoodAggregator.path_scores``)."""
        graph = self.neighbourhood
        if graph is None or not graph.paths:
            return None
        r_ids = r_ids.to(self.device)
        qtype = r_ids + self.num_relations if head else r_ids
        column = None
        width = self.num_entities
        if candidates is not None:
            candidates = candidates.to(self.device)
            column = torch.full((self.num_entities,), -1, dtype=torch.long, device=self.device)
            column[candidates] = torch.arange(len(candidates), device=self.device)
            width = len(candidates)
        query = None if query is None else query.to(self.device)
        return graph.path_scores(query, qtype, column, width, drop_keys, first)

    def _pair_scores(
        self, query: torch.Tensor, r_ids: torch.Tensor, cands: torch.Tensor, heads: bool
    ) -> torch.Tensor:
        """Scores ``[B]`` of aligned query and candidate vectors, as ``tails_given`` /
        ``heads_given`` score them."""
        if not heads:
            return self.scorer(query, self.relation_repr(r_ids), cands)
        if self.inverse_relations:
            return self.scorer(query, self.relation_repr(r_ids, inverse=True), cands)
        return self.scorer(cands, self.relation_repr(r_ids), query)

    def score_hrt(self, triples: torch.Tensor) -> torch.Tensor:
        """Scores ``[B]`` of index triples ``[B, 3]``."""
        triples = triples.to(self.device)
        h, t = self._entities(triples[:, 0]), self._entities(triples[:, 2])
        hp = tp = None
        if self.prior is not None:
            hp, tp = self.prior.rep(triples[:, 0]), self.prior.rep(triples[:, 2])
        return self._score_vectors(h, triples[:, 1], t, hp, tp)

    def pair_prior(
        self, h: PriorRep | None, r_ids: torch.Tensor, t: PriorRep | None
    ) -> torch.Tensor | None:
        """Text-prior scores ``[B]`` of aligned pairs (relation ids may include inverses)."""
        if self.prior is None or h is None or t is None:
            return None
        return self.prior.score(h, r_ids, t, pairwise=True)

    def _score_vectors(
        self,
        h: torch.Tensor,
        r_ids: torch.Tensor,
        t: torch.Tensor,
        hp: PriorRep | None = None,
        tp: PriorRep | None = None,
    ) -> torch.Tensor:
        fwd = self.scorer(h, self.relation_repr(r_ids), t)
        prior = self.pair_prior(hp, r_ids, tp)
        if prior is not None:
            fwd = fwd + prior
        if not self.inverse_relations:
            return fwd
        # average both directions, as trained
        bwd = self.scorer(t, self.relation_repr(r_ids, inverse=True), h)
        prior = self.pair_prior(tp, r_ids + self.num_relations, hp)
        if prior is not None:
            bwd = bwd + prior
        return (fwd + bwd) / 2

    # -- inference API (ids or text) -------------------------------------------------------
    @torch.no_grad()
    def embed_texts(
        self, texts: Sequence[str], edges: Sequence[Sequence[Edge]] | None = None
    ) -> torch.Tensor:
        """Vectors ``[n, dim]`` of new entities given by their text (inductive encoders) and,
        for a ``graph`` encoder, their known edges (``edges[i]`` for ``texts[i]``)."""
        was_training = self.training
        self.eval()
        try:
            if edges is None:
                return self._finish(self.encoder.encode_texts(list(texts)))
            lists = [[self._edge(e) for e in given] for given in edges]
            return self._finish(self.encoder.encode_texts(list(texts), edges=lists))
        finally:
            self.train(was_training)

    def _edge(self, edge: Edge) -> tuple[int, int]:
        """``(relation, other, direction)`` as the graph encoder's ``(type, neighbour)``."""
        relation, other, direction = edge
        if direction not in ("out", "in"):
            raise KGForgeError(f"edge {edge!r}: direction must be 'out' or 'in'")
        r = int(self._resolve_relations([relation])[0])
        known = self.entity_id(other)
        if known is None:
            raise KGForgeError(f"edge {edge!r}: {other!r} is not an entity the model knows")
        u = self.entity_index[known]
        return (r if direction == "out" else r + self.num_relations), u

    def _with_edges(
        self, refs: Sequence[EntityRef], edges: Sequence[Sequence[Edge]]
    ) -> torch.Tensor:
        """Vectors of entities with extra known edges: a known entity keeps the edges of the
        model's graph and gains the given ones; a new one (text) has just the given ones."""
        if self.neighbourhood is None:
            raise KGForgeError("edges need a graph encoder (model.encoder: graph)")
        if len(edges) != len(refs):
            raise KGForgeError(f"{len(edges)} edge lists for {len(refs)} entities")
        texts, lists = [], []
        for ref, given in zip(refs, edges, strict=True):
            known = self.entity_id(ref)
            index = None if known is None else self.entity_index[known]
            own: list[tuple[int, int]] = []
            if index is not None:
                ids = torch.tensor([index], device=self.device)
                _, neighbour, types = self.neighbourhood.neighbourhood(ids)
                own = list(zip(types.tolist(), neighbour.tolist(), strict=True))
            texts.append(self.entity_text[index] if index is not None else ref)
            lists.append(own + [self._edge(e) for e in given])
        return self._finish(self.encoder.encode_texts(texts, edges=lists))

    def _resolve_entities(
        self, refs: Sequence[EntityRef], edges: Sequence[Sequence[Edge]] | None = None
    ) -> tuple[torch.Tensor, PriorRep | None]:
        """Vectors (and the prior's view) of entities given by index, id, or (other strings)
        text; ``edges[i]`` adds known edges to ``refs[i]`` (graph encoder)."""
        ids: list[int] = []
        texts: dict[int, str] = {}
        for i, ref in enumerate(refs):
            known = self.entity_id(ref)
            if known is not None:
                ids.append(self.entity_index[known])
            elif self.encoder.inductive:  # text: embedded below
                ids.append(0)
                texts[i] = ref  # type: ignore[assignment]
            else:
                what = "entity (a lookup model cannot embed text)"
                raise UnknownNameError(str(ref), what, close_names(str(ref), self.entities))
        out = self._entities(torch.tensor(ids, dtype=torch.long)).clone()
        if edges is not None:
            out = self._with_edges(refs, edges).to(out.dtype)
        elif texts:
            out[list(texts)] = self.embed_texts(list(texts.values())).to(out.dtype)
        prior = None
        if self.prior is not None:  # known entities' rows are precomputed: only texts encoded
            prior = self.prior.mixed(torch.tensor(ids, dtype=torch.long), texts)
        return out, prior

    def relation_id(self, ref: int | str) -> str:
        """The model's id of a relation given by index, id, printed name (``rel:city_in``, a
        full IRI, or ``city_in`` for an IRI in kgforge's relation namespace) or text."""
        if isinstance(ref, int):
            if 0 <= ref < self.num_relations:
                return self.relations[ref]
            raise KGForgeError(
                f"relation index {ref} out of range (the model has {self.num_relations})"
            )
        found = lookup(ref, self.relation_index, REL)
        if found is not None:
            return found
        if ref in self.relation_text:
            return self.relations[self.relation_text.index(ref)]
        raise UnknownNameError(ref, "relation", close_names(ref, self.relations))

    def entity_id(self, ref: int | str) -> str | None:
        """The model's id of an entity given by index, id or printed name (``ent:belfast_86ed1549``,
        ``belfast_86ed1549``, a full IRI); None for other strings (entity text)."""
        if isinstance(ref, int):
            if 0 <= ref < self.num_entities:
                return self.entities[ref]
            raise KGForgeError(f"entity index {ref} out of range")
        found = lookup(ref, self.entity_index, ENT)
        if found is None and expand(ref) is not None:
            raise UnknownNameError(ref, "entity", close_names(ref, self.entities))
        return found

    def _resolve_relations(self, refs: Sequence[int | str]) -> torch.Tensor:
        ids = [self.relation_index[self.relation_id(ref)] for ref in refs]
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    @torch.no_grad()
    def score_triples(self, triples: Sequence[tuple[EntityRef, int | str, EntityRef]]) -> list:
        """Scores of ``(head, relation, tail)`` triples; entities by index, id or text. A graph
        encoder's path scores (``paths``) enter rankings (``score_t``, ``predict_*``), not
        these pairwise scores."""
        self.eval()
        if not triples:
            return []
        heads, rels, tails = zip(*triples, strict=True)
        (h, hp), (t, tp) = self._resolve_entities(heads), self._resolve_entities(tails)
        return self._score_vectors(h, self._resolve_relations(rels), t, hp, tp).tolist()

    def predict_tails(
        self,
        head: EntityRef,
        relation: int | str,
        k: int = 10,
        edges: Sequence[Edge] | None = None,
    ) -> list[Prediction]:
        """The ``k`` best tails for ``(head, relation, ?)``; ``head`` by index, id or text;
        ``edges``: its known edges ``(relation, other, "out" | "in")`` (graph encoder)."""
        return self.predict_batch([head], [relation], k, edges=_one(edges))[0][0]

    def predict_heads(
        self,
        relation: int | str,
        tail: EntityRef,
        k: int = 10,
        edges: Sequence[Edge] | None = None,
    ) -> list[Prediction]:
        """The ``k`` best heads for ``(?, relation, tail)``; ``tail`` by index, id or text;
        ``edges`` as in :meth:`predict_tails`."""
        return self.predict_batch([tail], [relation], k, heads=True, edges=_one(edges))[0][0]

    @torch.no_grad()
    def predict_batch(
        self,
        entities: Sequence[EntityRef],
        relations: Sequence[int | str],
        k: int = 10,
        heads: bool = False,
        chunk: int = 256,
        edges: Sequence[Sequence[Edge]] | None = None,
        allowed: Sequence[torch.Tensor | None] | None = None,
    ) -> list[list[list[Prediction]]]:
        """The ``k`` best tails of ``(e, r, ?)`` (heads of ``(?, r, e)`` with ``heads``) for
        every entity ``e`` and relation ``r``, as ``[entity][relation]``: each entity text is
        embedded once, and ``chunk`` queries are scored against all entities at a time.
        ``edges[i]``: known edges of ``entities[i]`` (graph encoder; see :data:`Edge`).
        ``allowed[j]``: which entities may be predicted for ``relations[j]`` (a bool mask over
        the model's entities; None: all)."""
        if allowed is not None and len(allowed) != len(relations):
            raise KGForgeError(f"{len(allowed)} candidate masks for {len(relations)} relations")
        self.eval()
        r_all = self._resolve_relations(relations)
        given = self.heads_given if heads else self.tails_given
        out: list[list[list[Prediction]]] = []
        for start in range(0, len(entities), chunk):
            refs = list(entities[start : start + chunk])
            known = None if edges is None else list(edges[start : start + chunk])
            x, xp = self._resolve_entities(refs, known)
            query, first = self._first_hops(refs, known)
            rows: list[list[list[Prediction]]] = [[] for _ in refs]
            half = self._half_keys_for(heads)
            for j, r in enumerate(r_all):
                r_ids = r.expand(len(refs))
                keep = None
                if allowed is not None and allowed[j] is not None:
                    keep = allowed[j].to(self.device)  # type: ignore[union-attr]
                if half is not None:
                    scores = self._shortlisted(half, x, xp, r_ids, heads, k, keep)
                else:
                    scores = given(x, r_ids, self._candidates(None))
                    prior = None if xp is None else self.prior_scores(xp, r_ids, None, head=heads)
                    if prior is not None:
                        scores = scores + prior
                    if first is not None:
                        paths = self.path_scores(query, r_ids, None, head=heads, first=first)
                        if paths is not None:
                            scores = scores + paths
                    if keep is not None:
                        scores = scores.masked_fill(~keep, float("-inf"))
                for row, ref, entity_scores in zip(rows, refs, scores, strict=True):
                    row.append(self._top(entity_scores, k, exclude=ref))
            out += rows
        return out

    def _first_hops(
        self, refs: Sequence[EntityRef], edges: Sequence[Sequence[Edge]] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None]:
        """Query ids (-1 for texts) and the first hops ``(row, neighbour, type)`` of the path
        scores of ``refs``: a known entity's context edges, plus ``edges[i]`` where given."""
        graph = self.neighbourhood
        ids = [
            -1 if (known := self.entity_id(ref)) is None else self.entity_index[known]
            for ref in refs
        ]
        query = torch.tensor(ids, dtype=torch.long, device=self.device)
        if graph is None or not graph.paths:
            return query, None
        rows, others, types = [], [], []
        known_rows = (query >= 0).nonzero().squeeze(1)
        if len(known_rows):
            row, pos = graph._edges_of(query[known_rows], None, graph.path_fanout, False)
            incidence = graph._graph()
            rows.append(known_rows[row])
            others.append(incidence.neighbour[pos])
            types.append(incidence.type[pos])
        for i, given in enumerate(edges or []):
            pairs = [self._edge(e) for e in given]
            rows.append(torch.full((len(pairs),), i, dtype=torch.long, device=self.device))
            others.append(torch.tensor([u for _, u in pairs], dtype=torch.long, device=self.device))
            types.append(torch.tensor([t for t, _ in pairs], dtype=torch.long, device=self.device))
        if not rows:
            return query, None
        return query, (torch.cat(rows), torch.cat(others), torch.cat(types))

    #: queries over at least this many entities (on a CPU, dot-product scorers) take the
    #: half-precision shortlist path (:mod:`kgforge.embed.shortlist`)
    shortlist_min_entities: int = 20_000

    def _half_keys_for(self, heads: bool) -> HalfKeys | None:
        """fp16 keys of every entity for queries in this direction (with the prior's features as
        extra columns), made once per state of the weights; None where exact scoring is used."""
        graph = self.neighbourhood
        if (
            self.scorer.compare != "dot"
            or self.device.type != "cpu"
            or self.num_entities < self.shortlist_min_entities
            or (graph is not None and graph.paths)  # path scores are not in the shortlist
        ):
            return None
        key = self._state_key()
        cached = self._half_keys.get(heads)
        if cached is None or cached[0] != key:
            keys = self._keys(self.all_entity_repr(), heads)
            extra = self.prior.features if self._prior_cosine() is not None else None
            cached = (key, HalfKeys(keys, extra))
            self._half_keys[heads] = cached
        return cached[1] if cached[1].usable else None

    def _prior_cosine(self) -> int | None:
        """The prior's cosine channel (its column in the prior's weights), if it has one."""
        if self.prior is None or self.prior.features is None:
            return None
        return self.prior.channels.index("cosine") if "cosine" in self.prior.channels else None

    def _shortlisted(
        self,
        half: HalfKeys,
        x: torch.Tensor,
        xp: PriorRep | None,
        r_ids: torch.Tensor,
        heads: bool,
        k: int,
        keep: torch.Tensor | None,
    ) -> torch.Tensor:
        """Scores ``[B, N]``: exact for each row's shortlist, chosen by a half-precision pass,
        ``-inf`` elsewhere (so the top ``k`` of a row are among its exact scores)."""
        queries = self._queries(x, r_ids, heads)
        rel = r_ids + self.num_relations if heads and self.inverse_relations else r_ids
        # the prior's dense channel joins the fp16 pass as extra columns; its word channels are
        # computed exactly for every entity (a few postings) and reused for the shortlist
        cosine = self._prior_cosine() if xp is not None else None
        dense = None
        if cosine is not None:
            weight = self.prior.weight[rel, cosine].unsqueeze(1)  # type: ignore[union-attr]
            dense = weight * xp.features.to(queries.dtype)  # type: ignore[union-attr]
        approx = half.scores(queries if dense is None else torch.cat([queries, dense], dim=1))
        words = None
        if xp is not None and self.prior is not None:
            rest = [c for c in self.prior.channels if c != "cosine" or cosine is None]
            if rest:
                words = self.prior_scores(xp, r_ids, None, head=heads, channels=rest)
                approx = approx + words
        if keep is not None:
            approx = approx.masked_fill(~keep, float("-inf"))
        best = shortlist(approx, k)
        given = self.heads_given if heads else self.tails_given
        reps = self.all_entity_repr()
        out = torch.full_like(approx, float("-inf"))
        for b, cands in enumerate(best):
            exact = given(x[b : b + 1], r_ids[b : b + 1], reps[cands])[0]
            if dense is not None:
                exact = exact + self.prior.features[cands] @ dense[b]  # type: ignore[union-attr]
            if words is not None:
                exact = exact + words[b, cands]
            masked = approx[b, cands] == float("-inf")
            out[b, cands] = torch.where(masked, approx[b, cands], exact)
        return out

    def _top(self, scores: torch.Tensor, k: int, exclude: EntityRef) -> list[Prediction]:
        if not self.allow_self:
            known = self.entity_id(exclude)
            index = None if known is None else self.entity_index[known]
            if index is not None:
                scores = scores.clone()
                scores[index] = float("-inf")
        values, idx = scores.float().topk(min(k, scores.numel()))
        return [
            Prediction(self.entities[i], self.entity_text[i], float(v))
            for v, i in zip(values.tolist(), idx.tolist(), strict=True)
            if v != float("-inf")
        ]

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the model to ``directory`` (each file written to a temporary, then renamed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"format_version": FORMAT_VERSION, **_relative_text_model(self.spec, directory)}
        vocab = {
            "entities": self.entities,
            "relations": self.relations,
            "entity_text": self.entity_text,
            "relation_text": self.relation_text,
        }
        _atomic_write_text(directory / "model.json", json.dumps(meta, indent=2))
        _atomic_write_text(directory / "vocab.json", json.dumps(vocab))
        atomic_write(directory / "weights.pt", lambda tmp: torch.save(self.state_dict(), tmp))
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device | None = None) -> LinkPredictor:
        """Restore a model written by :meth:`save` (or a training output folder)."""
        directory = Path(directory)
        if (
            not (directory / "model.json").exists()
            and (directory / "model" / "model.json").exists()
        ):
            directory = directory / "model"
        try:
            meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
            vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise KGForgeError(
                f"{directory}: not a saved kgforge model ({exc.filename} missing)"
            ) from None
        except json.JSONDecodeError as exc:
            raise KGForgeError(f"{directory}: corrupt model files ({exc})") from exc
        meta.pop("format_version", None)
        model = cls(**vocab, **_absolute_text_model(meta, directory))
        weights = directory / "weights.pt"
        state = read_torch_file(weights, weights_only=True)
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError) as exc:
            raise DataError(
                f"the weights do not fit the model described in model.json ({first_line(exc)})",
                weights,
            ) from None
        model.eval()
        if device is not None:
            model.to(resolve_device(device))
        return model


_RELATIVE = "text_model_relative_to"


def _relative_text_model(spec: dict[str, Any], directory: Path) -> dict[str, Any]:
    """``spec`` with a text model kept in the same run folder as ``directory`` (a distilled
    student beside ``model/``) written relative to it, so the folder can be moved or shared."""
    text_model = spec.get("encoder_kwargs", {}).get("text_model")
    if not text_model or not Path(text_model).is_dir():
        return spec
    run = directory.resolve().parent
    path = Path(text_model).resolve()
    if not path.is_relative_to(run):
        return spec
    relative = os.path.relpath(path, directory.resolve())
    return {
        **spec,
        "encoder_kwargs": {**spec["encoder_kwargs"], "text_model": relative},
        _RELATIVE: "model",
    }


def _absolute_text_model(meta: dict[str, Any], directory: Path) -> dict[str, Any]:
    if meta.pop(_RELATIVE, None) is None:
        return meta
    kwargs = meta["encoder_kwargs"]
    path = (directory / kwargs["text_model"]).resolve()
    return {**meta, "encoder_kwargs": {**kwargs, "text_model": str(path)}}


def _one(edges: Sequence[Edge] | None) -> list[list[Edge]] | None:
    return None if edges is None else [list(edges)]


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
