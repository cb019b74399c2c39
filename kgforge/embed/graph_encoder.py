"""``graph`` encoder: entity text plus relation-aware message passing over the 1-hop neighbourhood.

An entity's vector is its text representation (frozen MiniLM features through the ``frozen``
encoder's projection) plus a learned function of the mean message from its neighbours:

.. math::

    m_{u \\to e} = (W x_u) \\odot g_\\rho + b_\\rho, \\qquad
    a_e = \\frac{1}{|N(e)|} \\sum_{(u, \\rho) \\in N(e)} m_{u \\to e}, \\qquad
    z_e = f_{\\text{text}}(x_e) + [N(e) \\neq \\emptyset] \\; f_{\\text{out}}([x_e ; a_e])

where :math:`x` are the frozen text features, :math:`\\rho` is a relation with its direction
(``r`` for an edge ``(e, r, u)``, ``r + R`` for ``(u, r, e)``), and the message is a CompGCN-style
composition (:class:`RelationalCompConv`, a :class:`torch_geometric.nn.MessagePassing` layer).
Neighbours enter through their text only (one hop), so removing one edge ``(h, r, t)`` from the
graph changes the vectors of ``h`` and ``t`` and of no other entity: evaluation excludes the
scored triple exactly by re-encoding just those two entities without it.

The graph an entity sees (its *context*) is, in training, the training triples minus the
positives of the current batch and, with ``new_ends``, minus every edge of the step's stand-ins
for new entities (:meth:`NeighbourhoodAggregator.excluding`); in evaluation
whatever :meth:`NeighbourhoodAggregator.use_context` sets (see :func:`context_triples`).
Neighbourhoods are capped at ``fanout`` edges per entity in training (sampled afresh each step
from the torch RNG, so the messages of a step, the costly part, number at most ``entities x
fanout`` whatever the degrees, and a hub's other edges are never read) and at ``eval_fanout`` in
evaluation (``None``: the full neighbourhood; otherwise a deterministic choice by a hash of each
edge, made after the excluded edge is removed, so a capped evaluation is still exactly the one
of a graph without the scored triple).

Example::

    model = LinkPredictor.from_data(data, encoder="graph", dim=256, scorer="complex")
    model.encoder.neighbourhood.attach_graph(data.train)   # the Trainer does this
    model.predict_tails("poodle, a breed of dog", "_hypernym",
                        edges=[("_derivationally_related_form", "02113186", "out")])
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch
from torch import nn
from torch_geometric.nn import MessagePassing

from kgforge.errors import KGForgeError

Context = Literal["none", "split"]
CONTEXTS: tuple[str, ...] = ("none", "split")
_HASH = 0x9E3779B1  # Knuth's multiplicative hash: a fixed, well-spread priority per edge
PATH_SCALE = 10.0
"""Path weights are this times their parameters: a path is worth several units of score (a
rank-1 answer), which Adam's lr-sized steps would take thousands of steps to reach."""


class RelationalCompConv(MessagePassing):
    """CompGCN-style relational message: ``(W x_u) * g[rho] + b[rho]``, summed per target.

    Sum aggregation (the encoder divides by the degree) keeps one edge's share of the aggregate
    exactly its message. Args: ``in_dim`` feature size, ``dim`` message size, ``num_types``
    relation-direction types (``2 R``). ``forward(x_src, edge_index, edge_type, num_dst)`` takes
    source features ``[S, in_dim]`` and ``edge_index[0]`` source / ``[1]`` target rows.
    """

    def __init__(self, in_dim: int, dim: int, num_types: int) -> None:
        super().__init__(aggr="sum")
        self.lin = nn.Linear(in_dim, dim, bias=False)
        self.gate = nn.Embedding(num_types, dim)
        self.shift = nn.Embedding(num_types, dim)
        nn.init.normal_(self.gate.weight, 1.0, 0.1)
        nn.init.zeros_(self.shift.weight)

    def forward(
        self, x_src: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor, num_dst: int
    ) -> torch.Tensor:
        return self.propagate(
            edge_index, x=(self.lin(x_src), None), edge_type=edge_type, size=(len(x_src), num_dst)
        )

    def message(self, x_j: torch.Tensor, edge_type: torch.Tensor) -> torch.Tensor:
        return x_j * self.gate(edge_type) + self.shift(edge_type)


class _Incidence:
    """Both directions of every context edge, grouped by centre entity (CSR)."""

    def __init__(self, triples: torch.Tensor, num_entities: int, num_relations: int) -> None:
        triples = torch.unique(triples.long().reshape(-1, 3), dim=0)
        h, r, t = triples.unbind(1)
        key = (h * num_relations + r) * num_entities + t
        centre = torch.cat([h, t])
        order = torch.argsort(centre, stable=True)
        self.neighbour = torch.cat([t, h])[order]
        self.type = torch.cat([r, r + num_relations])[order]
        self.key = torch.cat([key, key])[order]
        self.centre = centre[order]
        counts = torch.bincount(centre, minlength=num_entities)
        self.ptr = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
        # deterministic priority of each (edge, side) for capped evaluation
        side = torch.cat([torch.zeros_like(h), torch.ones_like(t)])[order]
        # int64 products wrap around; the remainder is still a fixed function of the edge
        self.priority = ((self.key * 2 + side) * _HASH).remainder(1 << 31)

    def to(self, device: torch.device) -> _Incidence:
        for name in ("neighbour", "type", "key", "centre", "ptr", "priority"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def gather(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Row in ``ids`` and position in the incidence arrays of every edge of ``ids``."""
        start = self.ptr[ids]
        count = self.ptr[ids + 1] - start
        row = torch.repeat_interleave(torch.arange(len(ids), device=ids.device), count)
        first = torch.cumsum(count, 0) - count
        within = torch.arange(len(row), device=ids.device) - first[row]
        return row, start[row] + within


def _sample(graph: _Incidence, ids: torch.Tensor, fanout: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``graph.gather(ids)``, but at most ``fanout`` edges per row, drawn without
    gathering a hub's other edges: ``fanout`` evenly spaced positions from a random offset
    (distinct, so no edge twice), costing ``len(ids) x fanout`` whatever the degrees."""
    start = graph.ptr[ids]
    count = graph.ptr[ids + 1] - start
    take = count.clamp(max=fanout)
    row = torch.repeat_interleave(torch.arange(len(ids), device=ids.device), take)
    first = torch.cumsum(take, 0) - take
    j = torch.arange(len(row), device=ids.device) - first[row]
    n = count[row]
    offset = (torch.rand(len(ids), device=ids.device) * count).long()[row]
    step = torch.where(n > fanout, j * n // fanout, j)  # all edges where the row has few
    return row, start[row] + (offset + step) % n.clamp_min(1)


def _col(column: torch.Tensor | None, ids: torch.Tensor) -> torch.Tensor:
    """Candidate columns of entity ids (the ids themselves when every entity is one)."""
    return ids if column is None else column.to(ids.device)[ids]


def _cap(row: torch.Tensor, priority: torch.Tensor, n: int, fanout: int) -> torch.Tensor:
    """Mask keeping the ``fanout`` lowest-priority edges of each row."""
    order = torch.argsort(row.double() + priority.double() / (1 << 31) * 0.999, stable=True)
    counts = torch.bincount(row, minlength=n)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(row)
    rank[order] = torch.arange(len(row), device=row.device) - first[row[order]]
    return rank < fanout


class NeighbourhoodAggregator(nn.Module):
    """The graph half of the ``graph`` encoder: context graph, sampling, message passing.

    ``forward(ids, x, features)`` gives ``[n, dim]``, the term added to the text vectors of
    entities ``ids`` (``x`` their features, ``features`` every entity's); zero for an entity
    without edges. See the module docstring for the formula and the context rules.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        hidden: int,
        num_relations: int,
        num_entities: int,
        fanout: int | None = 16,
        eval_fanout: int | None = None,
        isolate: float = 0.0,
        text_steps: float = 0.0,
        new_ends: float = 0.0,
        dropout: float = 0.1,
        message_dropout: float = 0.1,
        layer_norm: bool = True,
        paths: int = 0,
        path_rank: int = 16,
        path_fanout: int | None = 64,
    ) -> None:
        super().__init__()
        if paths not in (0, 1, 2):
            raise KGForgeError(f"paths must be 0 (off), 1 or 2 (hops), got {paths}")
        if path_fanout is not None and path_fanout < 1:
            raise KGForgeError("path_fanout must be at least 1 (or null for all edges)")
        self.paths, self.path_fanout = paths, path_fanout
        types = 2 * num_relations
        if paths:
            # zero at the start: the text scores alone, until paths prove useful
            self.path1 = nn.Parameter(torch.zeros(types, types))
        if paths >= 2:
            self.path_query = nn.Parameter(torch.zeros(types, path_rank))
            self.path_first = nn.Parameter(1.0 + 0.1 * torch.randn(types, path_rank))
            self.path_second = nn.Parameter(1.0 + 0.1 * torch.randn(types, path_rank))
        if not 0.0 <= isolate < 1.0:
            raise KGForgeError(f"isolate must be in [0, 1), got {isolate}")
        if not 0.0 <= text_steps < 1.0:
            raise KGForgeError(f"text_steps must be in [0, 1), got {text_steps}")
        if not 0.0 <= new_ends <= 1.0:
            raise KGForgeError(f"new_ends must be in [0, 1], got {new_ends}")
        self.text_steps, self.new_ends = text_steps, new_ends
        self._text_only = False  # this training step sees no graph (drawn by ``excluding``)
        self._new: torch.Tensor | None = None  # this step's stand-ins for new entities
        for name, value in (("fanout", fanout), ("eval_fanout", eval_fanout)):
            if value is not None and value < 1:
                raise KGForgeError(f"{name} must be at least 1 (or null for all edges)")
        self.num_relations, self.num_entities = num_relations, num_entities
        self.fanout, self.eval_fanout, self.isolate = fanout, eval_fanout, isolate
        self.conv = RelationalCompConv(in_dim, dim, 2 * num_relations)
        self.message_dropout = nn.Dropout(message_dropout)
        self.out = nn.Sequential(
            nn.Linear(in_dim + dim, hidden),
            nn.LayerNorm(hidden) if layer_norm else nn.Identity(),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
        )
        # the model's own graph (the training triples), saved with the weights
        self.register_buffer("edges", torch.empty((0, 3), dtype=torch.long))
        self._context: torch.Tensor | None = None
        self._incidence: _Incidence | None = None
        self._exclude: torch.Tensor | None = None

    # -- the graph -------------------------------------------------------------------------
    def attach_graph(self, triples: torch.Tensor) -> None:
        """Make ``triples`` ``[E, 3]`` (index form) the model's own graph (saved with it)."""
        self.edges = torch.unique(triples.long().reshape(-1, 3), dim=0).to(self.edges.device)
        self._incidence = None

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        stored = state_dict.get(prefix + "edges")
        if stored is not None:  # the graph's size is known only from the saved weights
            self.edges = torch.empty_like(stored, device=self.edges.device)
            self._incidence = None
        super()._load_from_state_dict(state_dict, prefix, *args)

    def _graph(self) -> _Incidence:
        device = self.edges.device
        if self._incidence is None or self._incidence.ptr.device != device:
            triples = self.edges if self._context is None else self._context
            self._incidence = _Incidence(triples.cpu(), self.num_entities, self.num_relations)
            self._incidence.to(device)
        return self._incidence

    @contextlib.contextmanager
    def use_context(self, triples: torch.Tensor) -> Iterator[None]:
        """Message passing over ``triples`` instead of the model's own graph, for the block."""
        saved = self._context, self._incidence
        self._context, self._incidence = triples.long().reshape(-1, 3), None
        try:
            yield
        finally:
            self._context, self._incidence = saved

    def triple_keys(self, triples: torch.Tensor) -> torch.Tensor:
        """Edge keys of index triples; inverse relation ids (``>= R``) are turned around."""
        triples = triples.to(self.edges.device)
        h, r, t = triples.unbind(-1)
        inverse = r >= self.num_relations
        h, t = torch.where(inverse, t, h), torch.where(inverse, h, t)
        r = torch.where(inverse, r - self.num_relations, r)
        return (h * self.num_relations + r) * self.num_entities + t

    @contextlib.contextmanager
    def excluding(self, triples: torch.Tensor) -> Iterator[None]:
        """Hide ``triples`` (a training batch's positives) from every entity's neighbourhood,
        for one training step; with probability ``text_steps`` the step hides every edge
        instead (no messages, no paths: the text-only protocol, where the text part must
        score on its own, at the cost of a ``frozen`` step). Otherwise, with probability
        ``new_ends`` per positive, one of its two ends (either, at random) stands in for a new
        entity for the step: every edge that touches it is hidden, from it and from its
        neighbours, as an evaluated triple's new entity has no edges in the text-only
        protocol (and a candidate without edges is then often the answer)."""
        saved = self._exclude, self._text_only, self._new
        self._exclude = torch.unique(self.triple_keys(triples))
        self._text_only = (
            self.training and bool(self.text_steps) and float(torch.rand(())) < self.text_steps
        )
        self._new = None
        if self.training and self.new_ends and not self._text_only:
            triples = triples.to(self.edges.device)
            picked = torch.rand(len(triples), device=triples.device) < self.new_ends
            tail = torch.rand(len(triples), device=triples.device) < 0.5
            ends = torch.where(tail, triples[:, 2], triples[:, 0])
            self._new = torch.unique(ends[picked])
        try:
            yield
        finally:
            self._exclude, self._text_only, self._new = saved

    # -- encoding --------------------------------------------------------------------------
    def neighbourhood(
        self, ids: torch.Tensor, drop_keys: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(row in ``ids``, neighbour, relation-direction type) of the edges each row sees."""
        fanout = self.fanout if self.training else self.eval_fanout
        row, pos = self._edges_of(ids, drop_keys, fanout, self.training and self.isolate > 0)
        graph = self._graph()
        return row, graph.neighbour[pos], graph.type[pos]

    def _edges_of(
        self,
        ids: torch.Tensor,
        drop_keys: torch.Tensor | None,
        fanout: int | None,
        isolate: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Row in ``ids`` and incidence position of the context edges each row may see: the
        batch's hidden positives and ``drop_keys[row]`` removed, then capped at ``fanout``
        (in training ``fanout`` edges are drawn before the hidden ones are dropped, so a row
        may see fewer; in evaluation the hidden ones go first, then a fixed hash order caps)."""
        graph = self._graph()
        if self._text_only:
            nothing = ids.new_zeros(0)
            return nothing, nothing
        sampled = self.training and fanout is not None
        # training: draw first, then drop the hidden edges (a hub's edges are never all read)
        row, pos = _sample(graph, ids, fanout) if sampled else graph.gather(ids)
        keep = torch.ones_like(row, dtype=torch.bool)
        key = graph.key[pos]
        if self._exclude is not None and len(self._exclude):
            keep &= ~torch.isin(key, self._exclude)
        if drop_keys is not None:
            keep &= key != drop_keys.to(key.device)[row]
        if self._new is not None and len(self._new):
            keep &= ~torch.isin(ids[row], self._new) & ~torch.isin(graph.neighbour[pos], self._new)
        if isolate:
            hidden = torch.rand(len(ids), device=ids.device) < self.isolate
            keep &= ~hidden[row]
        row, pos = row[keep], pos[keep]
        if fanout is not None and not sampled and len(row):
            keep = _cap(row, graph.priority[pos], len(ids), fanout)
            row, pos = row[keep], pos[keep]
        return row, pos

    # -- paths between a query and its candidates ------------------------------------------
    def path_scores(
        self,
        query: torch.Tensor | None,
        qtype: torch.Tensor,
        column: torch.Tensor | None,
        num_columns: int,
        drop_keys: torch.Tensor | None = None,
        first: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor | None:
        """Scores ``[B, C]`` from the context paths that join each query entity to each
        candidate (None when ``paths`` is 0).

        A query ``(q, rho_q)`` asks for ``c`` with ``(q, r, c)`` (``rho_q = r``) or
        ``(c, r, q)`` (``rho_q = r + R``). A one-hop path ``q -rho-> c`` adds ``P[rho_q, rho]``;
        a two-hop path ``q -rho1-> u -rho2-> c`` adds ``<Q[rho_q], A[rho1] * B[rho2]> /
        deg(u)`` (a random walk's share, so hubs do not swamp the rest). Paths run over the
        same context as the messages, with the same exclusions, at both hops: the scored edge
        (``drop_keys[b]``) and a training batch's positives are on no path. ``column[e]`` is
        entity ``e``'s candidate column (-1: not a candidate; None: columns are entity ids);
        ``first`` gives the first hops ``(row, neighbour, type)`` of new entities instead of
        the context graph's."""
        if not self.paths or self._text_only:
            return None
        graph = self._graph()
        device = qtype.device
        if first is None:
            assert query is not None
            row, pos = self._edges_of(query, drop_keys, self.path_fanout, False)
            u, rho1 = graph.neighbour[pos], graph.type[pos]
        else:
            row, u, rho1 = (x.to(device) for x in first)
        flat = [row * num_columns + _col(column, u)]
        weight = [PATH_SCALE * self.path1[qtype[row], rho1]]
        valid = [_col(column, u) >= 0]
        if self.paths >= 2 and len(row):
            keys = None if drop_keys is None else drop_keys.to(device)[row]
            row2, pos2 = self._edges_of(u, keys, self.path_fanout, False)
            c, rho2 = graph.neighbour[pos2], graph.type[pos2]
            via = row[row2]
            if query is not None and len(query):
                ok = c != query.to(device)[via]  # a walk back to the query is no answer
                row2, pos2, c, rho2, via = row2[ok], pos2[ok], c[ok], rho2[ok], via[ok]
            degree = torch.bincount(row2, minlength=len(row)).clamp_min(1)
            mix = PATH_SCALE * self.path_query[qtype[via]] * self.path_first[rho1[row2]]
            w = (mix * self.path_second[rho2]).sum(1) / degree[row2].to(mix.dtype)
            flat.append(via * num_columns + _col(column, c))
            weight.append(w)
            valid.append(_col(column, c) >= 0)
        index = torch.cat(flat)
        keep = torch.cat(valid)
        values = torch.cat(weight)[keep]
        out = values.new_zeros(len(qtype) * num_columns)
        out = out.index_add(0, index[keep], values)
        return out.view(len(qtype), num_columns)

    def aggregate(
        self,
        x: torch.Tensor,
        features: torch.Tensor,
        row: torch.Tensor,
        neighbour: torch.Tensor,
        types: torch.Tensor,
    ) -> torch.Tensor:
        """The graph term for centres with features ``x`` and edges ``(row, neighbour, type)``
        (``neighbour`` indexes ``features``)."""
        n = len(x)
        if not len(row):
            return x.new_zeros(n, self.conv.lin.out_features)
        uniq, inverse = torch.unique(neighbour, return_inverse=True)
        edge_index = torch.stack([inverse, row])
        total = self.conv(features[uniq], edge_index, types, n)
        degree = torch.bincount(row, minlength=n).unsqueeze(1)
        mean = self.message_dropout(total / degree.clamp_min(1).to(total.dtype))
        return self.out(torch.cat([x, mean], dim=1)) * (degree > 0).to(total.dtype)

    def forward(
        self,
        ids: torch.Tensor,
        x: torch.Tensor,
        features: torch.Tensor,
        drop_keys: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Graph terms of entities ``ids`` over the context; ``drop_keys[i]`` (see
        :meth:`triple_keys`) is an edge that row ``i`` must not see (the scored triple)."""
        row, neighbour, types = self.neighbourhood(ids, drop_keys)
        return self.aggregate(x, features, row, neighbour, types)

    def from_edges(
        self,
        x: torch.Tensor,
        features: torch.Tensor,
        edges: Sequence[Sequence[tuple[int, int]]],
    ) -> torch.Tensor:
        """Graph terms of new entities (features ``x``) from given edges: ``edges[i]`` lists
        ``(type, neighbour index)``, type ``r`` for ``(new, r, u)`` and ``r + R`` for
        ``(u, r, new)``."""
        pairs = [(i, t, u) for i, es in enumerate(edges) for t, u in es]
        row, types, neighbour = (
            torch.tensor([p[k] for p in pairs], dtype=torch.long, device=x.device) for k in range(3)
        )
        return self.aggregate(x, features, row, neighbour, types)


def context_triples(data: Any, split: str, context: str) -> torch.Tensor:
    """The graph that entities see when ``split`` of ``data`` is evaluated.

    - ``"none"`` (text only, BLP's dynamic protocol): train, plus valid when testing; the new
      entities of the evaluated split have no edges;
    - ``"split"`` (StATIK's / FnF-TG's protocol): the same plus every triple of the evaluated
      split; the scored triple itself is removed from both ends by the model.
    """
    if context not in CONTEXTS:
        raise KGForgeError(f"unknown context {context!r}; expected one of {', '.join(CONTEXTS)}")
    parts = [data.train]
    if split == "test":
        parts.append(data.valid)
    if context == "split" and split != "train":
        parts.append(data.triples(split))
    return torch.cat(parts)
