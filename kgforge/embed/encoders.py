"""Entity encoders: map entity ids (and, for inductive encoders, any text) to vectors.

- ``transformer``: BLP's encoder, a fine-tuned transformer over the entity text, mean or CLS
  pooling, then a linear projection to the embedding size. With ``trainable_layers`` only the top
  layers are fine-tuned, over token states of the frozen lower layers cached on disk: CPU-sized.
- ``frozen``: sentence-transformers features computed once and cached on disk
  (:mod:`kgforge.embed.features`), then a trainable projection (linear or MLP): fast on a CPU.
- ``lookup``: one free vector per entity, the transductive baseline (cannot embed new text).
- ``graph``: the ``frozen`` text vector plus relation-aware message passing over the entity's
  1-hop neighbourhood (:mod:`kgforge.embed.graph_encoder`, PyG).

Every encoder is built from the full list of entity texts (``""`` where unknown) and the
embedding size, so a saved model can rebuild it from its vocabulary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from class_resolver import ClassResolver
from torch import nn

from kgforge.cache import cache_path
from kgforge.embed.features import encode_texts, model_cache_dir
from kgforge.errors import ConfigError, KGForgeError
from kgforge.fileio import atomic_write
from kgforge.models import default_text_model, run_layers
from kgforge.progress import library_bars, progress, quiet


class EntityEncoder(nn.Module):
    """Base class: ``forward(ids)`` gives ``[n, dim]``; ``encode_texts`` embeds unseen entities."""

    #: whether entities never seen in training get meaningful vectors (from their text)
    inductive: bool = True
    #: whether encoding all entities takes long enough to show a progress bar
    costly: bool = False

    def __init__(self, entity_text: Sequence[str], dim: int) -> None:
        super().__init__()
        self.num_entities = len(entity_text)
        self.dim = dim

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Vectors ``[n, dim]`` for entities given only by their text."""
        raise KGForgeError(f"the {type(self).__name__} cannot embed entities from text")


class LookupEncoder(EntityEncoder):
    """A free embedding per entity (transductive: unseen entities keep their random init)."""

    inductive = False

    def __init__(self, entity_text: Sequence[str], dim: int, init_scale: float | None = None):
        super().__init__(entity_text, dim)
        self.embedding = nn.Embedding(self.num_entities, dim)
        if init_scale is None:
            nn.init.xavier_uniform_(self.embedding.weight)
        else:
            nn.init.uniform_(self.embedding.weight, -init_scale, init_scale)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids)


def _projection(
    in_dim: int, dim: int, hidden: int, layers: int, dropout: float, layer_norm: bool
) -> nn.Module:
    if layers <= 1:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, dim))
    modules: list[nn.Module] = [nn.Dropout(dropout)]
    size = in_dim
    for _ in range(layers - 1):
        modules += [nn.Linear(size, hidden)]
        if layer_norm:
            modules.append(nn.LayerNorm(hidden))
        modules += [nn.GELU(), nn.Dropout(dropout)]
        size = hidden
    modules.append(nn.Linear(size, dim))
    return nn.Sequential(*modules)


class FrozenTextEncoder(EntityEncoder):
    """Frozen sentence-transformers features of the entity text, then a trainable projection.

    The features are not part of the saved weights: they are recomputed from the text through the
    on-disk cache. ``residual`` adds a linear map of the features to the MLP output.
    """

    def __init__(
        self,
        entity_text: Sequence[str],
        dim: int,
        text_model: str | None = None,
        hidden: int = 1024,
        layers: int = 2,
        dropout: float = 0.1,
        layer_norm: bool = True,
        residual: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(entity_text, dim)
        self.text_model = text_model or default_text_model()
        self.cache_dir = cache_dir
        features = torch.from_numpy(
            encode_texts(
                list(entity_text),
                model=self.text_model,
                cache_dir=cache_dir,
            )
        )
        self.register_buffer("features", features, persistent=False)
        in_dim = features.shape[1]
        self.project = _projection(in_dim, dim, hidden, layers, dropout, layer_norm)
        self.skip = nn.Linear(in_dim, dim, bias=False) if residual and layers > 1 else None

    def project_features(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(x)
        return out if self.skip is None else out + self.skip(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.project_features(self.features[ids])

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        with quiet():  # a few new entities at inference: no bar
            x = encode_texts(list(texts), model=self.text_model, cache_dir=self.cache_dir)
        return self.project_features(torch.from_numpy(x).to(self.features.device))


class TransformerEncoder(EntityEncoder):
    """BLP: a fine-tuned transformer over the entity text, pooled, linearly projected.

    Texts are tokenized once (truncated to ``max_length``); a batch is trimmed to its longest
    sequence before the forward pass.

    ``trainable_layers=k`` fine-tunes only the top ``k`` transformer layers (``None``: all, as in
    BLP). The token embeddings and lower layers are then frozen, so their output for every entity
    text is computed once and cached on disk (:func:`hidden_cache_path`), and training runs only
    the top layers: the CPU mode. Needs a BERT-style model (``embeddings`` and
    ``encoder.layer``).
    """

    costly = True

    def __init__(
        self,
        entity_text: Sequence[str],
        dim: int,
        text_model: str | None = None,
        pooling: Literal["mean", "cls"] = "mean",
        max_length: int = 64,
        dropout: float = 0.0,
        trainable_layers: int | None = None,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(entity_text, dim)
        from transformers import AutoModel, AutoTokenizer

        self.text_model = text_model or default_text_model()
        if pooling not in ("mean", "cls"):
            raise ConfigError(f"must be 'mean' or 'cls', not {pooling!r}", field="pooling")
        self.pooling = pooling
        self.max_length = max_length
        with library_bars():
            self.tokenizer = AutoTokenizer.from_pretrained(self.text_model)
            self.transformer = AutoModel.from_pretrained(self.text_model)
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(self.transformer.config.hidden_size, dim)
        ids, mask = self._tokenize(entity_text)
        self.register_buffer("input_ids", ids, persistent=False)
        self.register_buffer("attention_mask", mask, persistent=False)
        #: how many lower layers are frozen and cached (None: the whole model is trained)
        self.frozen_layers: int | None = None
        if trainable_layers is not None:
            self._freeze_lower(trainable_layers, entity_text, cache_dir)

    def _tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        tok = self.tokenizer(
            list(texts),
            max_length=self.max_length,
            truncation=True,
            padding="max_length",
            return_tensors="pt",
        )
        return tok["input_ids"], tok["attention_mask"]

    # -- top-k fine-tuning over cached hidden states -----------------------------------------
    def _freeze_lower(self, k: int, texts: Sequence[str], cache_dir: str | None) -> None:
        layers = getattr(getattr(self.transformer, "encoder", None), "layer", None)
        if layers is None or not hasattr(self.transformer, "embeddings"):
            raise KGForgeError(
                f"trainable_layers needs a BERT-style model (embeddings + encoder.layer); "
                f"{self.text_model} is a {type(self.transformer).__name__}"
            )
        if not 1 <= k <= len(layers):
            raise KGForgeError(f"trainable_layers must be in 1..{len(layers)}, got {k}")
        frozen = len(layers) - k
        self.frozen_layers = frozen
        for p in self.transformer.parameters():
            p.requires_grad_(False)
        for p in layers[frozen:].parameters():
            p.requires_grad_(True)
        path = hidden_cache_path(self.text_model, self.max_length, frozen, texts, cache_dir)
        if path.exists():
            cache = torch.load(path, mmap=True, weights_only=True)
        else:
            cache = self._compute_hidden(layers[:frozen])
            atomic_write(path, lambda tmp: torch.save(cache, tmp))
        lengths = cache["lengths"].long()
        # entity i's token states are rows offsets[i] : offsets[i] + lengths[i] of ``hidden``
        self.register_buffer("hidden", cache["hidden"], persistent=False)
        self.register_buffer("lengths", lengths, persistent=False)
        self.register_buffer("offsets", torch.cumsum(lengths, 0) - lengths, persistent=False)

    @torch.no_grad()
    def _compute_hidden(self, lower: nn.ModuleList) -> dict[str, torch.Tensor]:
        """Token states after the frozen layers, real tokens only, fp16, in entity order."""
        was_training = self.transformer.training
        self.transformer.eval()
        lengths = self.attention_mask.sum(1)
        order = torch.argsort(lengths, stable=True)
        states: list[torch.Tensor | None] = [None] * self.num_entities
        for chunk in progress(order.split(256), desc="caching frozen layers", unit="batch"):
            length = max(int(lengths[chunk].max()), 1)
            ids, mask = self.input_ids[chunk, :length], self.attention_mask[chunk, :length]
            hidden = _run_layers(lower, self.transformer.embeddings(input_ids=ids), mask)
            for row, i in enumerate(chunk.tolist()):
                states[i] = hidden[row, : int(lengths[i])].half()
        self.transformer.train(was_training)
        return {"hidden": torch.cat(states), "lengths": lengths.int()}

    def _top_forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Token states of entities ``ids`` through the trainable top layers."""
        lengths = self.lengths[ids]
        length = max(int(lengths.max()), 1)
        positions = torch.arange(length, device=ids.device)
        mask = positions.unsqueeze(0) < lengths.unsqueeze(1)
        rows = (self.offsets[ids].unsqueeze(1) + positions).clamp(max=len(self.hidden) - 1)
        hidden = self.hidden[rows].float() * mask.unsqueeze(-1)
        top = self.transformer.encoder.layer[self.frozen_layers :]
        return self._pool(_run_layers(top, hidden, mask.long()), mask.long())

    # -- encoding ----------------------------------------------------------------------------
    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.project(self.dropout(pooled))

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        length = int(mask.sum(1).max().item()) if len(mask) else 1
        ids, mask = ids[:, :length], mask[:, :length]
        hidden = self.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
        return self._pool(hidden, mask)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.frozen_layers is None:
            return self._encode(self.input_ids[ids], self.attention_mask[ids])
        # similar lengths together: a batch of mixed entities would mostly be padding
        order = torch.argsort(self.lengths[ids], stable=True)
        parts = [self._top_forward(ids[chunk]) for chunk in order.split(TOP_CHUNK)]
        return torch.cat(parts)[torch.argsort(order)]

    def encoding_order(self) -> torch.Tensor:
        """Entity indices by token count: batches of similar lengths need little padding."""
        return torch.argsort(self.attention_mask.sum(1), stable=True)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        ids, mask = self._tokenize(texts)
        device = self.input_ids.device
        return self._encode(ids.to(device), mask.to(device))


class GraphEncoder(FrozenTextEncoder):
    """The ``frozen`` text vector plus relation-aware 1-hop message passing over the entity's
    neighbourhood (PyG; :mod:`kgforge.embed.graph_encoder` has the formula, the context rules
    and the sampling). ``fanout``/``eval_fanout``: edges per entity in training / evaluation
    (``None``: all); ``isolate``: probability of hiding an entity's edges in training;
    ``text_steps``: probability of a training step with no edges at all (text only);
    ``new_ends``: probability that a training positive's head or tail loses all its edges for
    the step (a stand-in for the new entity that every evaluated triple touches);
    ``paths``: score the 1-hop (``1``) or 1- and 2-hop (``2``) context paths between a query
    entity and each candidate too (``NeighbourhoodAggregator.path_scores``; ``path_rank`` and
    ``path_fanout``: its rank and edges per entity and hop).
    """

    #: takes ``num_relations`` from the link predictor and has a context graph
    relational = True

    def __init__(
        self,
        entity_text: Sequence[str],
        dim: int,
        num_relations: int,
        text_model: str | None = None,
        hidden: int = 512,
        layers: int = 2,
        dropout: float = 0.1,
        layer_norm: bool = True,
        residual: bool = True,
        fanout: int | None = 16,
        eval_fanout: int | None = None,
        isolate: float = 0.0,
        text_steps: float = 0.0,
        new_ends: float = 0.0,
        message_dropout: float = 0.1,
        paths: int = 0,
        path_rank: int = 16,
        path_fanout: int | None = 64,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(
            entity_text, dim, text_model, hidden, layers, dropout, layer_norm, residual, cache_dir
        )
        from kgforge.embed.graph_encoder import NeighbourhoodAggregator  # torch_geometric: slow

        self.neighbourhood = NeighbourhoodAggregator(
            self.features.shape[1],
            dim,
            hidden,
            num_relations,
            self.num_entities,
            fanout=fanout,
            eval_fanout=eval_fanout,
            isolate=isolate,
            text_steps=text_steps,
            new_ends=new_ends,
            dropout=dropout,
            message_dropout=message_dropout,
            layer_norm=layer_norm,
            paths=paths,
            path_rank=path_rank,
            path_fanout=path_fanout,
        )

    def forward(self, ids: torch.Tensor, drop_keys: torch.Tensor | None = None) -> torch.Tensor:
        x = self.features[ids]
        return self.project_features(x) + self.neighbourhood(ids, x, self.features, drop_keys)

    def encode_texts(
        self, texts: Sequence[str], edges: Sequence[Sequence[tuple[int, int]]] | None = None
    ) -> torch.Tensor:
        """New entities from their text and, per text, known edges ``(type, neighbour)``."""
        with quiet():
            x = encode_texts(list(texts), model=self.text_model, cache_dir=self.cache_dir)
        x = torch.from_numpy(x).to(self.features.device)
        graph = self.neighbourhood.from_edges(x, self.features, edges or [[] for _ in texts])
        return self.project_features(x) + graph


TOP_CHUNK = 128
"""Entities per length bucket when running the trainable top layers."""


def _run_layers(layers: nn.ModuleList, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``hidden`` through transformer ``layers`` (:func:`kgforge.models.run_layers`, shared
    with the joint extractor's top-layer fine-tuning)."""
    return run_layers(layers, hidden, mask)


def hidden_cache_path(
    model: str, max_length: int, frozen_layers: int, texts: Sequence[str], cache_dir: str | None
) -> Path:
    """Cache file of frozen-layer token states, keyed by model, truncation, frozen layer count
    and the texts (in order)."""
    digest = hashlib.sha1("\0".join(texts).encode("utf-8")).hexdigest()[:16]
    folder = model_cache_dir(model, cache_dir or cache_path("hidden"))
    return folder / f"len{max_length}-frozen{frozen_layers}-{digest}.pt"


encoder_resolver: ClassResolver[EntityEncoder] = ClassResolver(
    [LookupEncoder, FrozenTextEncoder, TransformerEncoder, GraphEncoder],
    base=EntityEncoder,
    default=FrozenTextEncoder,
    suffix="Encoder",
    synonyms={
        "frozen": FrozenTextEncoder,
        "finetune": TransformerEncoder,
        "blp": TransformerEncoder,
    },
)
