"""kgforge: text to knowledge graph to inductive entity embeddings.

The top-level names are imported lazily, so ``import kgforge`` stays fast and a user who only
queries graphs never loads torch or spaCy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "KnowledgeGraph": "kgforge.graph.store",
    "extract": "kgforge.extract.run",
    "load_pipeline": "kgforge.extract.pipeline",
    "train": "kgforge.embed.pipeline",
    "evaluate": "kgforge.embed.evaluate",
    "KGData": "kgforge.embed.data",
    "LinkPredictor": "kgforge.embed.model",
    "BernoulliNegativeSampler": "kgforge.embed.sampling",
    "LMClusterNegativeSampler": "kgforge.embed.pykeen_samplers",
    "LMNearestNegativeSampler": "kgforge.embed.pykeen_samplers",
    "predict_links": "kgforge.transfer.links",
    "classify_entities": "kgforge.transfer.classify",
    "EntityIndex": "kgforge.transfer.retrieval",
    "distill": "kgforge.transfer.distill.pipeline",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kgforge' has no attribute {name!r}")
