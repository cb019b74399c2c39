"""Training the joint extractor (:mod:`kgforge.extract.trained.joint`) from gold JSONL
(``kgforge train-extractor``).

SpERT's recipe: per sentence and epoch, the gold entities and ``neg_spans`` random other spans
(of up to ``max_width`` words) train the span classifier (cross-entropy over the types and
"none"); the gold relations and up to ``neg_pairs`` ordered pairs of gold entities with no
relation train the relation classifier (one binary cross-entropy per relation type). AdamW with
one learning rate for the fine-tuned transformer layers and another for the heads, a linear
warm-up and decay.

The frozen lower layers' output for every training (and dev) sentence is computed once, so an
epoch runs only the top layers. After each epoch a checkpoint (the trained weights, the
optimizer and schedule, the epoch, the history) is written atomically beside the output;
``resume=True`` continues from it and gives the weights an uninterrupted run gives, because
shuffling, negative sampling and dropout are seeded per epoch.

Model selection (``JointConfig.select``): a dev file, when given, is scored after each epoch;
with ``select: best_dev`` (the default) the saved model is the epoch with the best dev strict
relation F1 (entity F1 breaks ties; on a full tie the earlier epoch stays), with ``select:
last``, or without a dev file, it is the last epoch's. The best epoch's weights are kept in the
checkpoint too, so a resumed run still saves the best epoch of the whole run. The summary, the
history and the model file (``trained``: epoch and dev scores) say which epoch was kept.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kgforge.errors import ConfigError
from kgforge.extract.gold import GoldSentence, read_gold
from kgforge.extract.trained.joint import (
    Encoded,
    JointConfig,
    JointExtractor,
    config_device,
    torch_threads,
)
from kgforge.extract.trained.spans import align, enumerate_spans
from kgforge.fileio import atomic_write, read_torch_file
from kgforge.progress import progress


@dataclass
class Example:
    """A training sentence: its encoding, gold entities as word spans with type indices, gold
    relations as (head entity, tail entity, relation index), and its lower-layer states."""

    text: str
    encoded: Encoded
    entities: list[tuple[int, int, int]]
    relations: list[tuple[int, int, int]]
    states: torch.Tensor | None = None


@dataclass
class JointSummary:
    """What ``train_joint`` did."""

    train_sentences: int
    epochs: int
    seconds: float
    dev: dict[str, float] | None
    skipped_entities: int
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int = 0
    #: the epoch whose weights were saved (1-based) and how it was chosen
    kept_epoch: int = 0
    select: str = "last"
    #: the last epoch's dev scores (``dev`` is the kept epoch's)
    last_dev: dict[str, float] | None = None

    def __str__(self) -> str:
        lines = [f"trained on {self.train_sentences} sentences for {self.epochs} epochs"]
        if self.resumed_from:
            lines[0] += f" (resumed after epoch {self.resumed_from})"
        if self.skipped_entities:
            lines.append(
                f"{self.skipped_entities} gold entities not on word boundaries or wider than "
                "max_width were left out"
            )

        def scores(d: dict[str, float]) -> str:
            return (
                f"relations strict F1 {100 * d['relation_f1']:.1f} "
                f"(P {100 * d['relation_p']:.1f}, R {100 * d['relation_r']:.1f}), "
                f"entities F1 {100 * d['entity_f1']:.1f}"
            )

        how = "best dev relation F1" if self.select == "best_dev" else "last epoch"
        lines.append(f"saved: epoch {self.kept_epoch} of {self.epochs} ({how})")
        if self.dev is not None:
            lines.append(f"dev (epoch {self.kept_epoch}, saved): {scores(self.dev)}")
            if self.last_dev is not None and self.kept_epoch != self.epochs:
                lines.append(f"dev (epoch {self.epochs}, last): {scores(self.last_dev)}")
        lines.append(f"{self.seconds:.0f} s")
        return "\n".join(lines)


def _rank(scores: dict[str, float]) -> tuple[float, float]:
    """What ``select: best_dev`` maximises: dev strict relation F1, then entity F1."""
    return (scores["relation_f1"], scores["entity_f1"])


def labels_of(sentences: Sequence[GoldSentence], min_count: int = 1):
    """Entity types, relation types and the (head type, tail type) signatures of each relation
    seen at least ``min_count`` times."""
    entity_labels = sorted({m.label for s in sentences for m in s.mentions})
    relation_labels = sorted({r.label for s in sentences for r in s.relations})
    counts = Counter(
        (r.label, s.mentions[r.head].label, s.mentions[r.tail].label)
        for s in sentences
        for r in s.relations
    )
    signatures: dict[str, list[tuple[str, str]]] = {}
    for (rel, h, t), c in sorted(counts.items()):
        if c >= min_count:
            signatures.setdefault(rel, []).append((h, t))
    return entity_labels, relation_labels, signatures


def make_examples(
    model: JointExtractor, sentences: Sequence[GoldSentence]
) -> tuple[list[Example], int]:
    """Tokenized examples with gold word spans; also how many gold entities could not be used
    (not on word boundaries, or wider than ``max_width``)."""
    encoded = model.tokenize([s.text for s in sentences])
    types = {t: k for k, t in enumerate(model.entity_labels)}
    rels = {r: k for k, r in enumerate(model.relation_labels)}
    examples, skipped = [], 0
    for s, e in zip(sentences, encoded, strict=True):
        spans = align([(m.start, m.end) for m in s.mentions], e.words)
        index: dict[int, int] = {}
        entities = []
        for k, (m, span) in enumerate(zip(s.mentions, spans, strict=True)):
            if span is None or span[1] - span[0] > model.config.max_width or m.label not in types:
                skipped += 1
                continue
            if (span[0], span[1]) in {(a, b) for a, b, _ in entities}:
                index[k] = next(n for n, (a, b, _) in enumerate(entities) if (a, b) == span)
                continue
            index[k] = len(entities)
            entities.append((span[0], span[1], types[m.label]))
        relations = sorted(
            {
                (index[r.head], index[r.tail], rels[r.label])
                for r in s.relations
                if r.head in index and r.tail in index and r.label in rels
            }
        )
        examples.append(Example(s.text, e, entities, relations))
    return examples, skipped


def cache_states(model: JointExtractor, examples: Sequence[Example], desc: str) -> None:
    """Each example's token states after the frozen lower layers, computed once (fp16 in
    memory: half the RAM; the top layers read them back as float32)."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].encoded.ids))
    batches = [order[i : i + 32] for i in range(0, len(order), 32)]
    for rows in progress(batches, desc=desc, unit="batch", leave=False):
        states = model.lower([examples[i].encoded for i in rows])
        for i, s in zip(rows, states, strict=True):
            examples[i].states = s.half().cpu()


def _sample(ex: Example, config: JointConfig, rng: random.Random):
    """Spans (word spans, type index) and pairs (head, tail, multi-hot) of one sentence for one
    epoch: all gold ones plus sampled negatives."""
    gold = {(a, b): t for a, b, t in ex.entities}
    none = None  # filled by the caller: the "none" index
    candidates = [
        s for s in enumerate_spans(len(ex.encoded.words), config.max_width) if s not in gold
    ]
    negatives = rng.sample(candidates, min(config.neg_spans, len(candidates)))
    spans = [((a, b), t) for a, b, t in ex.entities] + [(s, none) for s in negatives]
    related: dict[tuple[int, int], set[int]] = {}
    for h, t, r in ex.relations:
        related.setdefault((h, t), set()).add(r)
    n = len(ex.entities)
    unrelated = [
        (h, t)
        for h in range(n)
        for t in range(n)
        if h != t
        and (h, t) not in related
        and (ex.entities[h][1] <= ex.entities[t][0] or ex.entities[t][1] <= ex.entities[h][0])
    ]
    pairs = [(h, t, rs) for (h, t), rs in sorted(related.items())]
    pairs += [
        (h, t, set()) for h, t in rng.sample(unrelated, min(config.neg_pairs, len(unrelated)))
    ]
    return spans, pairs


def batch_loss(
    model: JointExtractor, examples: Sequence[Example], rng: random.Random
) -> torch.Tensor:
    """SpERT's loss on a batch: span cross-entropy plus relation binary cross-entropy."""
    config = model.config
    none = len(model.entity_labels) - 1
    batch = [ex.encoded for ex in examples]
    hidden, _ = model.upper([ex.states for ex in examples])  # type: ignore[misc]
    spans, targets, pairs, pair_targets = [], [], [], []
    offset = 0
    for row, ex in enumerate(examples):
        sent_spans, sent_pairs = _sample(ex, config, rng)
        spans.append([s for s, _ in sent_spans])
        targets += [none if t is None else t for _, t in sent_spans]
        for h, t, rs in sent_pairs:  # gold entities come first in sent_spans
            pairs.append((row, offset + h, offset + t, sent_spans[h][0], sent_spans[t][0]))
            vec = torch.zeros(max(1, len(model.relation_labels)))
            for r in rs:
                vec[r] = 1.0
            pair_targets.append(vec)
        offset += len(sent_spans)
    with model.autocast():
        reps, logits = model.span_features(hidden, batch, spans)
        loss = nn.functional.cross_entropy(
            logits.float(), torch.tensor(targets, dtype=torch.long, device=hidden.device)
        )
        if pairs and model.relation_labels:
            rel_logits = model.pair_logits(hidden, batch, reps, pairs).float()
            target = torch.stack(pair_targets).to(hidden.device)
            loss = (
                loss
                + nn.functional.binary_cross_entropy_with_logits(
                    rel_logits, target, reduction="none"
                )
                .sum(1)
                .mean()
            )
    return loss


def strict_scores(
    gold: Sequence[GoldSentence], predicted: Sequence[tuple[Sequence, Sequence]]
) -> dict[str, float]:
    """Strict micro P/R/F1 of entities (span and type) and relations (both spans and types and
    the relation type), as ``kgforge evaluate-extraction`` counts them."""
    counts = {"entity": [0, 0, 0], "relation": [0, 0, 0]}
    for s, (mentions, relations) in zip(gold, predicted, strict=True):
        g_ent = {(m.start, m.end, m.label) for m in s.mentions}
        p_ent = {(m.start, m.end, m.label) for m in mentions}

        def rel_set(ms, rs):
            return {
                (ms[r.head].start, ms[r.head].end, ms[r.head].label,
                 ms[r.tail].start, ms[r.tail].end, ms[r.tail].label, r.label)
                for r in rs
            }  # fmt: skip

        g_rel, p_rel = rel_set(s.mentions, s.relations), rel_set(mentions, relations)
        for key, g, p in (("entity", g_ent, p_ent), ("relation", g_rel, p_rel)):
            counts[key][0] += len(g & p)
            counts[key][1] += len(p)
            counts[key][2] += len(g)
    out = {}
    for key, (tp, n_pred, n_gold) in counts.items():
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        out[f"{key}_p"], out[f"{key}_r"] = p, r
        out[f"{key}_f1"] = 2 * p * r / (p + r) if p + r else 0.0
    return out


def evaluate_examples(
    model: JointExtractor, gold: Sequence[GoldSentence], examples: Sequence[Example]
) -> dict[str, float]:
    """Strict scores of ``model`` on gold sentences, from their cached lower-layer states."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].encoded.ids))
    predicted: list[Any] = [None] * len(examples)
    for k in range(0, len(order), 32):
        rows = [i for i in order[k : k + 32] if examples[i].encoded.words]
        for i in order[k : k + 32]:
            predicted[i] = ([], [])
        if not rows:
            continue
        found = model.predict_states(
            [examples[i].encoded for i in rows],
            [examples[i].text for i in rows],
            [examples[i].states for i in rows],  # type: ignore[misc]
        )
        for i, res in zip(rows, found, strict=True):
            predicted[i] = res
    return strict_scores(gold, predicted)


def checkpoint_path(output: str | Path) -> Path:
    """Where training keeps its checkpoint: ``OUTPUT.ckpt`` beside the model file."""
    output = Path(output)
    return output.with_name(output.name + ".ckpt")


def _schedule(config: JointConfig, total: int):
    warm = max(1, int(config.warmup * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return factor


def train_joint(
    train_path: str | Path | Sequence[GoldSentence],
    output: str | Path,
    config: JointConfig | None = None,
    dev_path: str | Path | Sequence[GoldSentence] | None = None,
    resume: bool = False,
    stop_after: int | None = None,
) -> JointSummary:
    """Train a joint extractor on gold JSONL (CoNLL04 format) and save it to ``output``.

    ``dev_path``: gold sentences scored after every epoch; with ``config.select ==
    "best_dev"`` the saved model is the epoch with the best dev strict relation F1 (else the
    last epoch's). ``resume``: continue from ``OUTPUT.ckpt`` (written after every epoch) when it exists.
    ``stop_after``: stop after that many epochs in total (the schedule still plans for
    ``config.epochs``; resuming later finishes the run), as an interrupted run would.
    """
    config = config or JointConfig()
    start = time.perf_counter()
    train = read_gold(train_path) if isinstance(train_path, str | Path) else list(train_path)
    if not train:
        raise ConfigError(
            "no training sentences", train_path if isinstance(train_path, str | Path) else None
        )
    dev = None
    if dev_path is not None:
        dev = read_gold(dev_path) if isinstance(dev_path, str | Path) else list(dev_path)
    ckpt_path = checkpoint_path(output)
    ckpt = None
    if resume and ckpt_path.exists():
        ckpt = read_torch_file(ckpt_path, weights_only=True, map_location="cpu")
        if ckpt.get("config") != config.model_dump(mode="json"):
            raise ConfigError(
                "the checkpoint was made with other settings: rerun without --resume, or with "
                "the same settings",
                ckpt_path,
            )
    with torch_threads(config.threads):
        random.seed(config.seed)
        torch.manual_seed(config.seed)
        entity_labels, relation_labels, signatures = labels_of(train, config.signature_min_count)
        model = JointExtractor(config, entity_labels, relation_labels, signatures)
        model.to(config_device(config))
        examples, skipped = make_examples(model, train)
        examples = [ex for ex in examples if ex.encoded.words]
        cache_states(model, examples, "caching lower layers (train)")
        dev_examples = None
        if dev is not None:
            dev_examples, _ = make_examples(model, dev)
            cache_states(model, dev_examples, "caching lower layers (dev)")
        steps_per_epoch = math.ceil(len(examples) / config.batch_size)
        total = steps_per_epoch * config.epochs
        optimizer = torch.optim.AdamW(
            [
                {"params": model.encoder_parameters(), "lr": config.lr_encoder},
                {"params": model.heads_parameters(), "lr": config.lr_heads},
            ],
            weight_decay=config.weight_decay,
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, total))
        history: list[dict[str, Any]] = []
        first = 0
        by_dev = config.select == "best_dev" and dev is not None
        best: dict[str, Any] | None = None  # {"epoch", "dev", "state"} of the best dev epoch
        if ckpt is not None:
            model.load_state_dict(ckpt["state"], strict=False)
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            history = list(ckpt["history"])
            first = int(ckpt["epoch"])
            best = ckpt.get("best")
            if by_dev and best is None and first:
                raise ConfigError(
                    "the checkpoint has no best dev epoch (made without a dev file): resume "
                    "with the same --dev, or with --set select=last",
                    ckpt_path,
                )
        last = config.epochs if stop_after is None else min(config.epochs, stop_after)
        for epoch in progress(
            range(first, last), desc="epochs", unit="epoch", initial=first, total=config.epochs
        ):
            rng = random.Random(config.seed * 1_000_003 + epoch)
            torch.manual_seed(config.seed * 1_000_003 + epoch)
            model.train()
            order = list(range(len(examples)))
            rng.shuffle(order)
            # similar lengths together (less padding), batches in random order
            chunks = [
                order[i : i + 50 * config.batch_size]
                for i in range(0, len(order), 50 * config.batch_size)
            ]
            batches = []
            for chunk in chunks:
                chunk.sort(key=lambda i: len(examples[i].encoded.ids))
                batches += [
                    chunk[i : i + config.batch_size]
                    for i in range(0, len(chunk), config.batch_size)
                ]
            rng.shuffle(batches)
            total_loss, bar = (
                0.0,
                progress(batches, desc=f"epoch {epoch + 1}", unit="batch", leave=False),
            )
            for n, rows in enumerate(bar, 1):
                optimizer.zero_grad()
                loss = batch_loss(model, [examples[i] for i in rows], rng)
                loss.backward()
                nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], config.grad_clip
                )
                optimizer.step()
                scheduler.step()
                total_loss += loss.item()
                bar.set_postfix(loss=f"{total_loss / n:.3f}")
            entry: dict[str, Any] = {"epoch": epoch + 1, "loss": total_loss / max(1, len(batches))}
            trained = model.trained_state()
            if dev is not None and dev_examples is not None:
                entry["dev"] = evaluate_examples(model, dev, dev_examples)
                if by_dev and (best is None or _rank(entry["dev"]) > _rank(best["dev"])):
                    best = {"epoch": epoch + 1, "dev": entry["dev"], "state": trained}
            history.append(entry)
            state = {
                "config": config.model_dump(mode="json"),
                "epoch": epoch + 1,
                "state": trained,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": history,
                "best": best,
            }
            atomic_write(ckpt_path, lambda tmp, state=state: torch.save(state, tmp))
        kept, kept_dev = last, history[last - 1].get("dev") if history else None
        if by_dev and best is not None:
            model.load_state_dict(best["state"], strict=False)
            kept, kept_dev = int(best["epoch"]), best["dev"]
        for entry in history:
            entry["kept"] = entry["epoch"] == kept
        model.eval()
        model.save(output, trained={"epoch": kept, "of": last, "select": config.select,
                                    "dev": kept_dev})  # fmt: skip
    return JointSummary(
        len(examples),
        last,
        time.perf_counter() - start,
        kept_dev,
        skipped,
        history,
        resumed_from=first,
        kept_epoch=kept,
        select="best_dev" if by_dev else "last",
        last_dev=history[-1].get("dev") if history else None,
    )
