"""Rank-based link-prediction evaluation: filtered MRR, MR and Hits@k, vectorised.

Each evaluation triple ``(h, r, t)`` is ranked twice: its tail against candidate tails for
``(h, r, ?)`` and its head against candidate heads for ``(?, r, t)``. Scores for all candidates
come from the model in batches; the filter (other known true answers) is applied with index
masks built once from the known triples, never with per-triple Python loops. A tie counts half:
the rank is the mean of the optimistic rank (ties ranked below the true answer) and the
pessimistic rank (ties above), PyKEEN's "realistic" rank, so a constant scorer gets the middle
rank, not rank 1.

Candidate sets (``protocol``):

- ``"transductive"``: all entities of the data;
- ``"dynamic"``: all entities of train + valid + test (BLP's inductive setting: new entities
  are ranked against everything known so far);
- ``"transfer"``: only the entities of the evaluated split (a graph of new entities on its own).

Filtering always removes every known triple (train + valid + test) other than the one ranked.

Graph contexts (``context``, models with a ``graph`` encoder only; see
:func:`kgforge.embed.graph_encoder.context_triples`): ``"none"`` (text only: the new entities
of the evaluated split have no edges) or ``"split"`` (they may use the other triples of the
split); either way the scored triple is absent from every representation that scores it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from kgforge.device import resolve_device
from kgforge.embed.data import KGData, Split
from kgforge.errors import ConfigError, DataError, NonFiniteError
from kgforge.progress import progress

EvalProtocol = Literal["dynamic", "transductive", "transfer"]
PROTOCOLS: tuple[str, ...] = ("dynamic", "transductive", "transfer")
HITS_AT: tuple[int, ...] = (1, 3, 10)


class RankingModel(Protocol):
    """What the evaluator needs of a model: scores of all (or some) candidate entities
    (:class:`~kgforge.embed.model.LinkPredictor` and PyKEEN models through
    :mod:`kgforge.embed.pykeen_interop` have them). Not to be confused with the relational
    scorers of :mod:`kgforge.embed.scorers`, which score vectors."""

    def score_t(self, hr: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[B, C]`` of tails for ``(h, r)`` rows (all entities if no candidates)."""
        ...

    def score_h(self, rt: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[B, C]`` of heads for ``(r, t)`` rows (all entities if no candidates)."""
        ...


class KnownTargets:
    """For each query key (``(h, r)`` or ``(r, t)``), the known answers, as a CSR index.

    Built once from the known triples; ``lookup`` turns a batch of keys into (row, entity)
    pairs with tensor ops only.
    """

    def __init__(self, keys: torch.Tensor, targets: torch.Tensor, num_entities: int) -> None:
        pairs = torch.unique(keys * num_entities + targets)  # sorted, duplicates dropped
        keys, self.targets = pairs // num_entities, pairs % num_entities
        self.keys, counts = torch.unique_consecutive(keys, return_counts=True)
        self.ptr = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])

    def to(self, device: torch.device) -> KnownTargets:
        self.keys, self.targets, self.ptr = (
            self.keys.to(device),
            self.targets.to(device),
            self.ptr.to(device),
        )
        return self

    def lookup(self, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Row numbers and known answers for each key of ``query`` ``[B]``."""
        if len(self.keys) == 0:
            return query.new_empty(0), query.new_empty(0)
        pos = torch.searchsorted(self.keys, query).clamp_(max=len(self.keys) - 1)
        found = self.keys[pos] == query
        start = self.ptr[pos]
        length = torch.where(found, self.ptr[pos + 1] - start, torch.zeros_like(start))
        rows = torch.repeat_interleave(torch.arange(len(query), device=query.device), length)
        first = torch.cumsum(length, 0) - length
        within = torch.arange(len(rows), device=query.device) - first.repeat_interleave(length)
        return rows, self.targets[start.repeat_interleave(length) + within]


def rank_true(
    scores: torch.Tensor,
    true_columns: torch.Tensor,
    filter_rows: torch.Tensor | None = None,
    filter_columns: torch.Tensor | None = None,
) -> torch.Tensor:
    """Realistic ranks ``[B]`` of the true columns among the scores ``[B, C]``.

    Filtered entries (pairs ``filter_rows[i], filter_columns[i]``, unique; the true entry among
    them is ignored) count neither above nor below the true score: their comparisons are
    counted from the few gathered scores and subtracted, so the score matrix is not copied.

    Every rank lies in ``[1, C]``: scores must be finite (a NaN compares false with
    everything, which would rank it above all candidates, rank 0.5), so non-finite scores
    raise :class:`~kgforge.errors.NonFiniteError` instead of giving perfect metrics.
    """
    if not bool(torch.isfinite(scores).all()):
        bad = int((~torch.isfinite(scores)).sum())
        raise NonFiniteError(
            f"the model gives {bad} non-finite (NaN or infinite) scores of {scores.numel()}: "
            "it diverged; retrain it (lower training.lr, or set training.grad_clip)"
        )
    rows = torch.arange(len(scores), device=scores.device)
    true = scores[rows, true_columns].unsqueeze(1)
    # int32 sums of the comparison masks run faster than the default int64 ones
    greater = (scores > true).sum(1, dtype=torch.int32).long()
    at_least = (scores >= true).sum(1, dtype=torch.int32).long()  # counts the true entry too
    if filter_rows is not None and len(filter_rows):
        other = filter_columns != true_columns[filter_rows]
        filter_rows, filter_columns = filter_rows[other], filter_columns[other]
        values, reference = scores[filter_rows, filter_columns], true[filter_rows, 0]
        size = len(scores)
        greater = greater - torch.bincount(filter_rows[values > reference], minlength=size)
        at_least = at_least - torch.bincount(filter_rows[values >= reference], minlength=size)
    return (greater + 1 + at_least).double() / 2


def metrics(ranks: torch.Tensor) -> dict[str, float]:
    """MRR, MR and Hits@k of (realistic) ranks."""
    ranks = ranks.double()
    out = {"mrr": ranks.reciprocal().mean().item(), "mr": ranks.mean().item()}
    for k in HITS_AT:
        out[f"hits@{k}"] = (ranks <= k).double().mean().item()
    return out


def candidates_for(data: KGData, split: Split, protocol: str) -> torch.Tensor | None:
    """Candidate entity indices of a protocol, or None for all entities."""
    if protocol == "transductive":
        return None
    if protocol == "dynamic":
        candidates = torch.unique(data.all_triples()[:, [0, 2]])
    elif protocol == "transfer":
        candidates = data.split_entities(split)
    else:
        raise _unknown_protocol(protocol)
    return None if len(candidates) == data.num_entities else candidates


def evaluate(
    model: RankingModel | str | Path,
    data: KGData | str | Path,
    split: Split = "test",
    protocol: EvalProtocol = "dynamic",
    batch_size: int = 256,
    device: str | torch.device | None = None,
    filtered: bool = True,
    context: str = "none",
    triples: torch.Tensor | None = None,
    distributed: bool = False,
) -> dict[str, Any]:
    """Filtered rank metrics of ``model`` on one split of ``data``.

    Args:
        model: anything with ``score_t``/``score_h`` (see :class:`RankingModel`) or the output
            directory of ``kgforge train``.
        data: a :class:`KGData` or a data directory.
        split: the split whose triples are ranked: "train", "valid" or "test".
        protocol: the candidates: "dynamic" (all entities of all splits), "transductive" (all
            entities) or "transfer" (the split's own entities).
        batch_size: queries scored per batch.
        device: where to score (default: the model's).
        filtered: leave the other known true triples out of each ranking.
        context: the graph context of a graph-encoder model: "none" (text only) or "split"
            (the evaluated split's other edges too; see docs/link-prediction.md).
        triples: rank only these triples of ``split`` (e.g. a seeded subsample); the graph
            context and the filter still hold the whole split, so a subsample estimates the
            full split's metrics instead of ranking with a thinned-out context.
        distributed: inside a ``torch.distributed`` group, rank only this rank's slice of the
            triples and gather every rank's ranks: each rank returns the metrics of all of them.

    Returns:
        ``{"both": {...}, "head": {...}, "tail": {...}}`` with ``mrr``, ``mr``,
        ``hits@1/3/10`` each (head = ranking heads for ``(?, r, t)``), plus the settings and
        counts used.
    """
    source = Path(data) if isinstance(data, (str, Path)) else None
    if source is not None:
        data = KGData.load_dir(source)
    if isinstance(model, (str, Path)):
        from kgforge.embed.model import LinkPredictor

        model = LinkPredictor.load(model, device=device)
    model_entities = getattr(model, "entities", None)
    if isinstance(model_entities, list) and model_entities != data.entities:
        raise DataError(
            f"the model knows {len(model_entities)} entities that differ from the data's "
            f"{data.num_entities}: evaluate on the data it was built for"
        )
    if protocol not in PROTOCOLS:
        raise _unknown_protocol(protocol)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}", field="batch_size")
    triples = data.triples(split) if triples is None else triples.long().reshape(-1, 3).cpu()
    if len(triples) == 0:
        where = source / f"{split}.tsv" if source is not None else None
        raise DataError(f"the {split} split has no triples to evaluate", where)
    device = resolve_device(device) if device is not None else _model_device(model)
    candidates = candidates_for(data, split, protocol)
    n = data.num_entities
    column = torch.arange(n) if candidates is None else torch.full((n,), -1, dtype=torch.long)
    if candidates is not None:
        column[candidates] = torch.arange(len(candidates))
        missing = column[triples[:, [0, 2]]] < 0
        if missing.any():
            raise DataError(f"some {split} entities are not among the {protocol} candidates")
        candidates = candidates.to(device)
    column = column.to(device)
    known = data.all_triples()
    r = data.num_relations
    index = {
        "tail": KnownTargets(known[:, 0] * r + known[:, 1], known[:, 2], n).to(device),
        "head": KnownTargets(known[:, 2] * r + known[:, 1], known[:, 0], n).to(device),
    }
    num_triples = len(triples)
    if distributed:
        from kgforge.embed.distributed import shard

        triples = shard(triples)
    triples = triples.to(device)
    ranks: dict[str, list[torch.Tensor]] = {"head": [], "tail": []}
    total = 2 * math.ceil(len(triples) / batch_size)
    graph = getattr(model, "neighbourhood", None)
    with (
        _graph_context(model, data, split, context),
        _inference(model),
        progress(total=total, desc=f"evaluate {split}", unit="batch") as bar,
    ):
        for side in ("tail", "head"):
            for batch in _batches(triples, batch_size):
                if side == "tail":
                    query, answer = batch[:, [0, 1]], batch[:, 2]
                    if graph is not None:
                        scores = model.score_t(query, candidates, exclude=batch)
                    else:
                        scores = model.score_t(query, candidates)
                    keys = batch[:, 0] * r + batch[:, 1]
                else:
                    query, answer = batch[:, [1, 2]], batch[:, 0]
                    if graph is not None:
                        scores = model.score_h(query, candidates, exclude=batch)
                    else:
                        scores = model.score_h(query, candidates)
                    keys = batch[:, 2] * r + batch[:, 1]
                scores = scores.to(device=device, dtype=torch.float32)
                rows = cols = None
                if filtered:
                    rows, entities = index[side].lookup(keys)
                    cols = column[entities]
                    if candidates is not None:
                        keep = cols >= 0
                        rows, cols = rows[keep], cols[keep]
                ranks[side].append(rank_true(scores, column[answer], rows, cols).cpu())
                bar.update()
    empty = torch.empty(0, dtype=torch.float64)
    head, tail = (torch.cat(ranks[s]) if ranks[s] else empty for s in ("head", "tail"))
    if distributed:
        from kgforge.embed.distributed import gather_cat

        head, tail = gather_cat(head), gather_cat(tail)
    return {
        "both": metrics(torch.cat([head, tail])),
        "head": metrics(head),
        "tail": metrics(tail),
        "split": split,
        "protocol": protocol,
        "filtered": filtered,
        "num_triples": num_triples,
        "num_candidates": n if candidates is None else len(candidates),
        "context": context if graph is not None else None,
    }


def _unknown_protocol(protocol: str) -> ConfigError:
    return ConfigError(
        f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}", field="protocol"
    )


def _batches(triples: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(triples), batch_size):
        yield triples[start : start + batch_size]


def _model_device(model: Any) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for tensor in model.parameters():
            return tensor.device
    device = getattr(model, "device", None)
    return torch.device(device) if device is not None else torch.device("cpu")


@contextlib.contextmanager
def _graph_context(model: Any, data: KGData, split: Split, context: str) -> Iterator[None]:
    """The graph a graph-encoder model sees while ``split`` is evaluated (nothing otherwise)."""
    graph = getattr(model, "neighbourhood", None)
    if graph is None:
        yield
        return
    from kgforge.embed.graph_encoder import context_triples  # torch_geometric: slow to import

    with graph.use_context(context_triples(data, split, context).to(model.device)):
        model.invalidate_cache()
        try:
            yield
        finally:
            model.invalidate_cache()


@contextlib.contextmanager
def _inference(model: Any) -> Iterator[None]:
    """Eval mode, no autograd, and the model's own precomputation, for the whole run."""
    module = model if isinstance(model, torch.nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    try:
        with torch.inference_mode():
            precompute = getattr(model, "precompute", None)
            if callable(precompute):
                precompute()
            yield
    finally:
        if module is not None:
            module.train(was_training)
