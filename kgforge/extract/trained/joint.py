"""The joint span-based entity and relation extractor (SpERT, Eberts & Ulges 2020) on a
fine-tuned transformer.

One encoder pass per sentence. Every span of up to ``max_width`` words
(:mod:`kgforge.extract.trained.spans`) is classified as an entity type or "none" from the
max-pool of its word-pieces, a learned width embedding and the sentence's [CLS] vector; every
ordered pair of the entities kept is classified (one sigmoid per relation type) from both spans'
max-pools and width embeddings and the max-pool of the word-pieces between them. Relation types
are only predicted for the (head type, tail type) signatures seen in training.

The transformer (MiniLM-L6 by default; any BERT-style Hugging Face or sentence-transformers
model folder or name by configuration) is fine-tuned, but only its top ``trainable_layers``
layers: the embeddings and the lower layers stay frozen, so their output for the training
sentences is computed once (:mod:`kgforge.extract.trained.joint_training` caches it) and an
epoch runs only the top layers, which makes CPU training practical. A saved model holds only
what training changed (those layers and the heads) plus the base model's name and fingerprint,
so a file is a few MB per fine-tuned layer and loads onto the same base model anywhere.

Training is in :mod:`kgforge.extract.trained.joint_training`; the pipeline's ``kind: joint``
relation extractor (:mod:`kgforge.extract.config`) runs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from kgforge.cache import model_fingerprint
from kgforge.errors import ConfigError
from kgforge.extract.trained.spans import enumerate_spans, words
from kgforge.extract.types import Mention, RelationMention
from kgforge.fileio import atomic_write, read_torch_file
from kgforge.models import default_text_model, run_layers, transformer_layers
from kgforge.progress import library_bars
from kgforge.yamlconfig import StrictModel, read_yaml_mapping, validate_config

NONE = "none"
KIND = "joint-extractor"
FORMAT = 1


class JointConfig(StrictModel):
    """Architecture and training settings of a joint extractor (saved with the model)."""

    encoder: str | None = None  # HF / sentence-transformers model name or folder; None: MiniLM
    trainable_layers: int | None = Field(2, ge=1)  # top layers fine-tuned; None: all of them
    max_width: int = Field(10, ge=1)  # longest candidate span, in words
    max_length: int = Field(256, ge=8)  # word-pieces per sentence (longer ones are truncated)
    width_dim: int = Field(25, ge=1)  # width embedding size
    head_hidden: int = Field(0, ge=0)  # hidden units of the two heads; 0: linear (SpERT)
    dropout: float = Field(0.1, ge=0, lt=1)
    neg_spans: int = Field(100, ge=0)  # negative spans sampled per sentence and epoch
    neg_pairs: int = Field(100, ge=0)  # negative entity pairs sampled per sentence and epoch
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(8, ge=1)  # sentences per step
    lr_encoder: float = Field(5e-5, gt=0)
    lr_heads: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup: float = Field(0.1, ge=0, lt=1)  # share of the steps with a linear warm-up
    grad_clip: float = Field(1.0, gt=0)
    rel_threshold: float = Field(0.4, gt=0, lt=1)  # sigmoid probability a relation needs
    type_constraints: bool = True  # relations only for (head, tail) type signatures seen
    signature_min_count: int = Field(1, ge=1)  # training relations a signature needs
    overlapping: bool = False  # keep overlapping entity spans (nested entities)
    seed: int = 0
    # which epoch's weights training saves: best_dev keeps the epoch with the best dev strict
    # relation F1 (entity F1 breaks ties, the earlier epoch wins a full tie) when a dev file is
    # given, the last epoch's otherwise; last always keeps the last epoch's
    select: Literal["best_dev", "last"] = "best_dev"
    threads: int | None = Field(None, ge=1)  # torch threads while training; None: torch's
    device: str | None = None  # auto: CUDA when present (bf16 autocast there), else the CPU


def load_joint_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> JointConfig:
    """A :class:`JointConfig` from a YAML file (a mapping of its fields; a ``joint:`` section
    is read when present) with ``overrides`` on top; problems are located ``ConfigError``s."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = read_yaml_mapping(path)
        if isinstance(raw.get("joint"), dict):
            raw = raw["joint"]
    raw = {**raw, **(overrides or {})}
    return validate_config(JointConfig, raw, path)


@dataclass
class Encoded:
    """One tokenized sentence: word-piece ids (with [CLS]/[SEP]), its words as character spans,
    and per word the range of its word-pieces ``(first, last + 1)``. Words cut off by
    ``max_length`` are left out of ``words`` (no span can reach them)."""

    ids: list[int]
    words: list[tuple[int, int]]
    pieces: list[tuple[int, int]]


class _Head(nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden:
            layers += [nn.Linear(n_in, hidden), nn.GELU(), nn.Dropout(dropout)]
            n_in = hidden
        layers.append(nn.Linear(n_in, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def resolve_encoder(name: str | None) -> str:
    """The model folder or hub name the encoder setting names (None: the packaged MiniLM)."""
    return name or default_text_model()


class JointExtractor(nn.Module):
    """SpERT-style joint entity and relation extraction over a partly fine-tuned transformer."""

    def __init__(
        self,
        config: JointConfig,
        entity_labels: Sequence[str],
        relation_labels: Sequence[str],
        signatures: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        self.config = config
        self.entity_labels = [*entity_labels, NONE]  # "none" last
        self.relation_labels = list(relation_labels)
        self.signatures = {k: [tuple(s) for s in v] for k, v in (signatures or {}).items()}
        self.encoder_path = resolve_encoder(config.encoder)
        try:
            with library_bars():
                self.tokenizer = AutoTokenizer.from_pretrained(self.encoder_path, use_fast=True)
                self.bert = AutoModel.from_pretrained(self.encoder_path)
        except (OSError, ValueError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(
                f"cannot load encoder {self.encoder_path!r}: {reason}", field="encoder"
            ) from None
        if not getattr(self.tokenizer, "is_fast", False):
            raise ConfigError("the encoder needs a fast tokenizer (offsets)", field="encoder")
        layers = transformer_layers(self.bert, self.encoder_path)
        k = config.trainable_layers or len(layers)
        if k > len(layers):
            raise ConfigError(
                f"{self.encoder_path} has {len(layers)} layers, not {k}", field="trainable_layers"
            )
        #: lower layers that stay frozen (their output is what training caches)
        self.frozen_layers = len(layers) - k
        for p in self.bert.parameters():
            p.requires_grad_(False)
        for p in layers[self.frozen_layers :].parameters():
            p.requires_grad_(True)
        dim = int(self.bert.config.hidden_size)
        self.dim = dim
        self.width = nn.Embedding(config.max_width + 1, config.width_dim)
        self.entity_head = _Head(
            2 * dim + config.width_dim, len(self.entity_labels), config.head_hidden, config.dropout
        )
        self.relation_head = _Head(
            3 * dim + 2 * config.width_dim,
            max(1, len(self.relation_labels)),
            config.head_hidden,
            config.dropout,
        )
        self._allowed: dict[tuple[str, str], torch.Tensor] = {}

    # -- what training changes ----------------------------------------------------------------
    def trained_state(self) -> dict[str, torch.Tensor]:
        """The parameters training changes: the top layers and the heads (not the frozen base)."""
        top = "bert.encoder.layer."
        keep = {}
        for name, value in self.state_dict().items():
            if name.startswith("bert."):
                if not name.startswith(top):
                    continue
                if int(name[len(top) :].split(".")[0]) < self.frozen_layers:
                    continue
            keep[name] = value.detach().clone()
        return keep

    def heads_parameters(self) -> list[nn.Parameter]:
        return [
            *self.width.parameters(),
            *self.entity_head.parameters(),
            *self.relation_head.parameters(),
        ]

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.bert.parameters() if p.requires_grad]

    @property
    def device(self) -> torch.device:
        return self.width.weight.device

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on a GPU; nothing on the CPU (bf16 matmuls there are slower)."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- tokenization ---------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> list[Encoded]:
        """Word-pieces of each text and the pieces of each of its words."""
        if not texts:
            return []
        enc = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.config.max_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        out = []
        for text, ids, offsets, special in zip(
            texts, enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"], strict=True
        ):
            spans = words(text)
            pieces: list[tuple[int, int]] = []
            kept: list[tuple[int, int]] = []
            p = 0
            real = [
                (i, s, e)
                for i, ((s, e), sp) in enumerate(zip(offsets, special, strict=True))
                if not sp
            ]
            for start, end in spans:
                while p < len(real) and real[p][2] <= start:
                    p += 1
                q = p
                while q < len(real) and real[q][1] < end:
                    q += 1
                if q == p:  # cut off by max_length (or a character the tokenizer drops)
                    if p >= len(real):
                        break
                    continue
                pieces.append((real[p][0], real[q - 1][0] + 1))
                kept.append((start, end))
            out.append(Encoded(list(ids), kept, pieces))
        return out

    # -- the transformer ----------------------------------------------------------------------
    def _pad(self, batch: Sequence[Encoded]) -> tuple[torch.Tensor, torch.Tensor]:
        length = max(len(e.ids) for e in batch)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(batch), length), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for row, e in enumerate(batch):
            ids[row, : len(e.ids)] = torch.tensor(e.ids)
            mask[row, : len(e.ids)] = 1
        return ids.to(self.device), mask.to(self.device)

    @torch.no_grad()
    def lower(self, batch: Sequence[Encoded]) -> list[torch.Tensor]:
        """Per sentence, its token states after the frozen embeddings and lower layers (what
        training computes once): [n_pieces, dim]."""
        ids, mask = self._pad(batch)
        with self.autocast():
            hidden = self.bert.embeddings(input_ids=ids)
            hidden = run_layers(self.bert.encoder.layer[: self.frozen_layers], hidden, mask)
        return [hidden[row, : len(e.ids)].float() for row, e in enumerate(batch)]

    def upper(self, states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower-layer states of a batch through the trainable top layers: [B, L, dim] and the
        mask [B, L]."""
        length = max(len(s) for s in states)
        hidden = torch.zeros((len(states), length, self.dim), device=self.device)
        mask = torch.zeros((len(states), length), dtype=torch.long, device=self.device)
        for row, s in enumerate(states):
            hidden[row, : len(s)] = s.to(self.device, torch.float32)
            mask[row, : len(s)] = 1
        with self.autocast():
            hidden = run_layers(self.bert.encoder.layer[self.frozen_layers :], hidden, mask)
        return hidden.float(), mask

    # -- the heads ----------------------------------------------------------------------------
    @staticmethod
    def _max_pool(flat: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """Max over rows [start, end) of ``flat`` per range; zeros for an empty range."""
        if len(starts) == 0:
            return flat.new_zeros((0, flat.shape[1]))
        size = int((ends - starts).max().clamp_min(1))
        idx = starts[:, None] + torch.arange(size, device=flat.device)[None]
        empty = ends <= starts
        idx = torch.minimum(idx, (ends - 1).clamp_min(starts)[:, None])
        pooled = flat[idx].max(1).values
        return pooled.masked_fill(empty[:, None], 0.0)

    def span_features(
        self,
        hidden: torch.Tensor,
        batch: Sequence[Encoded],
        spans: Sequence[Sequence[tuple[int, int]]],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Span representations (max-pool + width embedding) [S, dim + width] and entity
        logits [S, types + 1], for the word spans of each sentence, all sentences stacked."""
        length = hidden.shape[1]
        flat = hidden.reshape(-1, self.dim)
        starts, ends, widths, rows = [], [], [], []
        for row, (e, sent_spans) in enumerate(zip(batch, spans, strict=True)):
            for i, j in sent_spans:
                starts.append(row * length + e.pieces[i][0])
                ends.append(row * length + e.pieces[j - 1][1])
                widths.append(min(j - i, self.config.max_width))
                rows.append(row)
        dev = hidden.device
        pooled = self._max_pool(
            flat, torch.tensor(starts, device=dev, dtype=torch.long),
            torch.tensor(ends, device=dev, dtype=torch.long),
        )  # fmt: skip
        reps = torch.cat(
            [pooled, self.width(torch.tensor(widths, device=dev, dtype=torch.long))], 1
        )
        cls = hidden[torch.tensor(rows, device=dev, dtype=torch.long), 0]
        return reps, self.entity_head(torch.cat([reps, cls], 1))

    def pair_logits(
        self,
        hidden: torch.Tensor,
        batch: Sequence[Encoded],
        reps: torch.Tensor,
        pairs: Sequence[tuple[int, int, int, tuple[int, int], tuple[int, int]]],
    ) -> torch.Tensor:
        """Relation logits [P, relations] for pairs ``(row, head rep index, tail rep index,
        head word span, tail word span)``: both span representations and the max-pool of the
        word-pieces between the two spans (zeros when they touch)."""
        if not pairs:
            return reps.new_zeros((0, max(1, len(self.relation_labels))))
        length = hidden.shape[1]
        flat = hidden.reshape(-1, self.dim)
        starts, ends = [], []
        for row, _, _, (hi, hj), (ti, tj) in pairs:
            e = batch[row]
            first_end = min(e.pieces[hj - 1][1], e.pieces[tj - 1][1])
            second_start = max(e.pieces[hi][0], e.pieces[ti][0])
            starts.append(row * length + first_end)
            ends.append(row * length + max(first_end, second_start))
        dev = hidden.device
        context = self._max_pool(
            flat, torch.tensor(starts, device=dev, dtype=torch.long),
            torch.tensor(ends, device=dev, dtype=torch.long),
        )  # fmt: skip
        h = reps[torch.tensor([p[1] for p in pairs], device=dev, dtype=torch.long)]
        t = reps[torch.tensor([p[2] for p in pairs], device=dev, dtype=torch.long)]
        return self.relation_head(torch.cat([h, t, context], 1))

    # -- prediction ---------------------------------------------------------------------------
    def _allowed_mask(self, head: str, tail: str) -> torch.Tensor:
        key = (head, tail)
        if key not in self._allowed:
            self._allowed[key] = torch.tensor(
                [
                    not self.config.type_constraints or key in self.signatures.get(rel, ())
                    for rel in self.relation_labels
                ],
                dtype=torch.bool,
            )
        return self._allowed[key]

    def _decode_entities(
        self, sent_spans: Sequence[tuple[int, int]], probs: torch.Tensor
    ) -> list[tuple[int, int, int, float, int]]:
        """(first word, end word, type index, confidence, span index) of the spans kept: the
        non-"none" ones, most confident first, without overlaps unless ``overlapping``."""
        none = len(self.entity_labels) - 1
        conf, label = probs.max(1)
        ranked = sorted(
            ((float(conf[k]), k) for k in torch.nonzero(label != none).flatten().tolist()),
            reverse=True,
        )
        chosen: list[tuple[int, int, int, float, int]] = []
        for c, k in ranked:
            i, j = sent_spans[k]
            if self.config.overlapping or all(j <= a or i >= b for a, b, *_ in chosen):
                chosen.append((i, j, int(label[k]), c, k))
        return sorted(chosen)

    def predict_states(
        self, batch: Sequence[Encoded], texts: Sequence[str], states: Sequence[torch.Tensor]
    ) -> list[tuple[list[Mention], list[RelationMention]]]:
        """Predictions from lower-layer states (training evaluates with cached ones)."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                hidden, _ = self.upper(states)
                return self._predict(hidden, batch, texts)
        finally:
            self.train(was_training)

    def _predict(
        self, hidden: torch.Tensor, batch: Sequence[Encoded], texts: Sequence[str]
    ) -> list[tuple[list[Mention], list[RelationMention]]]:
        spans = [enumerate_spans(len(e.words), self.config.max_width) for e in batch]
        reps, logits = self.span_features(hidden, batch, spans)
        probs = logits.float().softmax(-1).cpu()
        out: list[tuple[list[Mention], list[RelationMention]]] = []
        pos = 0
        pairs, owners = [], []
        kept_per_row = []
        for row, sent_spans in enumerate(spans):
            kept = self._decode_entities(sent_spans, probs[pos : pos + len(sent_spans)])
            kept_per_row.append(kept)
            for a, (hi, hj, hl, _, hk) in enumerate(kept):
                for b, (ti, tj, tl, _, tk) in enumerate(kept):
                    if a == b or not (hj <= ti or tj <= hi):
                        continue
                    types = (self.entity_labels[hl], self.entity_labels[tl])
                    if not self._allowed_mask(*types).any() or not self.relation_labels:
                        continue
                    pairs.append((row, pos + hk, pos + tk, (hi, hj), (ti, tj)))
                    owners.append((row, a, b, types))
            pos += len(sent_spans)
        rel_probs = torch.sigmoid(self.pair_logits(hidden, batch, reps, pairs).float()).cpu()
        relations: list[list[RelationMention]] = [[] for _ in batch]
        for (row, a, b, types), p in zip(owners, rel_probs, strict=True):
            p = p.masked_fill(~self._allowed_mask(*types), 0.0)
            conf, k = p.max(0)
            if float(conf) >= self.config.rel_threshold:
                relations[row].append(
                    RelationMention(a, b, self.relation_labels[int(k)], float(conf))
                )
        for row, (e, text) in enumerate(zip(batch, texts, strict=True)):
            mentions = []
            for i, j, label, conf, _ in kept_per_row[row]:
                start, end = e.words[i][0], e.words[j - 1][1]
                mentions.append(
                    Mention(start, end, text[start:end], self.entity_labels[label], conf)
                )
            out.append((mentions, relations[row]))
        return out

    def predict(
        self, texts: Sequence[str], batch_size: int = 16
    ) -> list[tuple[list[Mention], list[RelationMention]]]:
        """Per sentence: its typed entity mentions (character offsets into the sentence) and the
        relations between them (head/tail index that mention list)."""
        was_training = self.training
        self.eval()
        out: list[tuple[list[Mention], list[RelationMention]]] = [None] * len(texts)  # type: ignore[list-item]
        try:
            with torch.no_grad():
                encoded = self.tokenize(texts)
                order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
                for k in range(0, len(order), batch_size):
                    rows = order[k : k + batch_size]
                    batch = [encoded[i] for i in rows]
                    empty = [not e.words for e in batch]
                    hidden, _ = self.upper(self.lower(batch))
                    found = self._predict(hidden, batch, [texts[i] for i in rows])
                    for i, res, skip in zip(rows, found, empty, strict=True):
                        out[i] = ([], []) if skip else res
        finally:
            self.train(was_training)
        return out

    # -- files --------------------------------------------------------------------------------
    def save(self, path: str | Path, trained: dict[str, Any] | None = None) -> Path:
        """Write the model file (atomically): the trained layers and heads, the labels, the
        config and the base encoder's name and fingerprint, as a plain dict of tensors.
        ``trained``: what training records about the weights (the epoch kept, its dev scores);
        a model loaded from a file keeps the file's record when saved again."""
        if trained is not None:
            self.trained_info = trained
        blob = self.to_blob()
        return atomic_write(path, lambda tmp: torch.save(blob, tmp))

    #: what training recorded about these weights (``trained`` of the model file), or None
    trained_info: dict[str, Any] | None = None

    def to_blob(self) -> dict[str, Any]:
        return {
            "trained": self.trained_info,
            "kind": KIND,
            "format": FORMAT,
            "config": self.config.model_dump(mode="json"),
            "encoder_fingerprint": model_fingerprint(self.encoder_path),
            "entity_labels": self.entity_labels[:-1],
            "relation_labels": self.relation_labels,
            "signatures": {k: [list(s) for s in v] for k, v in self.signatures.items()},
            "state": {k: v.cpu() for k, v in self.trained_state().items()},
        }

    @classmethod
    def from_blob(
        cls, blob: Any, path: str | Path | None = None, encoder: str | None = None
    ) -> JointExtractor:
        if not isinstance(blob, dict) or blob.get("kind") != KIND:
            raise ConfigError("not a kgforge joint extractor file", path)
        if blob.get("format") != FORMAT:
            raise ConfigError(
                f"joint extractor file format {blob.get('format')}, not {FORMAT}", path
            )
        config = JointConfig.model_validate(blob["config"])
        if encoder is not None:
            config = config.model_copy(update={"encoder": encoder})
        resolved = resolve_encoder(config.encoder)
        if Path(resolved).expanduser().is_dir():
            found = model_fingerprint(resolved)
            if found != blob["encoder_fingerprint"]:
                raise ConfigError(
                    f"trained on another base encoder (fingerprint {blob['encoder_fingerprint']}); "
                    f"{resolved} has {found}: pass the encoder it was trained on",
                    path,
                )
        elif (
            config.encoder
            and Path(config.encoder).expanduser().anchor
            and model_fingerprint(default_text_model()) == blob["encoder_fingerprint"]
        ):
            # a folder of the machine it was trained on, missing here: the packaged default
            # when it is the same model
            config = config.model_copy(update={"encoder": None})
        model = cls(config, blob["entity_labels"], blob["relation_labels"], blob["signatures"])
        missing, unexpected = model.load_state_dict(blob["state"], strict=False)
        wanted = set(model.trained_state())
        if unexpected or wanted & set(missing):
            raise ConfigError(
                "model file does not match its config (missing or extra weights)", path
            )
        model.trained_info = blob.get("trained")
        model.eval()
        return model

    @classmethod
    def load(cls, path: str | Path, encoder: str | None = None) -> JointExtractor:
        """A saved model; ``encoder`` replaces the base model's path (the same weights
        elsewhere). A missing or foreign file is a located :class:`ConfigError`."""
        path = Path(path)
        if not path.exists():
            raise ConfigError(
                "joint extractor model file not found (train one with kgforge train-extractor)",
                path,
            )
        try:
            blob = read_torch_file(path, weights_only=True, map_location="cpu")
        except Exception as exc:  # DataError names the problem; keep it one located line
            raise ConfigError(str(getattr(exc, "message", exc)), path) from None
        model = cls.from_blob(blob, path, encoder)
        device = config_device(model.config)
        return model.to(device)


def config_device(config: JointConfig) -> torch.device:
    from kgforge.device import resolve_device

    return resolve_device(config.device)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run torch on ``threads`` threads inside the block (None: leave it), restoring after."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
