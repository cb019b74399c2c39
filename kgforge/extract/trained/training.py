"""Training both classifiers of a classifier pipeline from gold JSONL (``kgforge
train-relations``)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from kgforge.errors import ConfigError
from kgforge.extract.gold import read_gold
from kgforge.extract.pipeline import ExtractionPipeline, load_pipeline
from kgforge.extract.trained.encoder import TokenEncoder
from kgforge.extract.trained.entity_types import EntityTypeClassifier
from kgforge.extract.trained.relations import RelationClassifier


@dataclass
class TrainSummary:
    """What ``train_from_gold`` did: sizes, held-out scores and wall time."""

    train_sentences: int
    held_out_sentences: int
    tuned_on: str
    relation_f1: float
    entity_f1: float | None
    seconds: float

    def __str__(self) -> str:
        lines = [
            f"trained on {self.train_sentences} sentences, early stopping on "
            f"{self.held_out_sentences} ({self.tuned_on})",
            f"relations (gold mentions), best held-out strict F1: {100 * self.relation_f1:.1f}",
        ]
        if self.entity_f1 is not None:
            lines.append(f"entity types, best held-out strict F1: {100 * self.entity_f1:.1f}")
        lines.append(f"{self.seconds:.0f} s")
        return "\n".join(lines)


def train_from_gold(
    train_path: str | Path,
    output: str | Path,
    dev_path: str | Path | None = None,
    entity_output: str | Path | None = None,
    encoder: str | None = None,
    pipeline: str | Path | ExtractionPipeline = "conll04",
    held_out: float = 0.15,
    epochs: int = 40,
    seed: int = 0,
) -> TrainSummary:
    """Train the relation classifier (and optionally the entity-type refiner) on gold JSONL.

    Early stopping uses ``dev_path`` when given, else a seeded ``held_out`` fraction of the
    training sentences (so the dev set stays unseen). The refiner learns from the mentions that
    ``pipeline``'s spaCy model and type mapping produce; encoder outputs are cached on disk.
    """
    start = time.perf_counter()
    train = read_gold(train_path)
    if dev_path is not None:
        tune, tuned_on = read_gold(dev_path), str(dev_path)
    else:
        if not 0 < held_out < 1:
            raise ConfigError(f"held-out fraction must be in (0, 1), not {held_out}")
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        cut = max(1, int(held_out * len(train)))
        tune = [train[i] for i in order[:cut]]
        train = [train[i] for i in sorted(order[cut:])]
        tuned_on = f"{held_out:.0%} of {train_path}"
    token_encoder = TokenEncoder(encoder, cache=True)

    relations = RelationClassifier(encoder=encoder, epochs=epochs, seed=seed)
    relations.encoder = token_encoder
    relations.fit(train, tune)
    relations.save(output)
    entity_f1 = None
    if entity_output is not None:
        if isinstance(pipeline, str | Path):
            pipeline = load_pipeline(pipeline)
        types = EntityTypeClassifier(encoder=encoder, epochs=epochs, seed=seed)
        types.encoder = token_encoder
        train_texts, tune_texts = [s.text for s in train], [s.text for s in tune]
        types.fit(
            list(zip(train_texts, pipeline.spacy_mentions(train_texts), strict=True)),
            [s.mentions for s in train],
            (
                list(zip(tune_texts, pipeline.spacy_mentions(tune_texts), strict=True)),
                [s.mentions for s in tune],
            ),
        )
        types.save(entity_output)
        entity_f1 = types.held_out_f1
    return TrainSummary(
        len(train),
        len(tune),
        tuned_on,
        relations.held_out_f1,
        entity_f1,
        time.perf_counter() - start,
    )
