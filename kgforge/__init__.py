"""kgforge: text to knowledge graph to inductive entity embeddings.

The top-level names are imported lazily, so ``import kgforge`` stays fast and a user who only
queries graphs never loads torch or spaCy. Each name means one thing: the layers are the
subpackages (``kgforge.extract``, ``kgforge.graph``, ...), the functions and classes have names
of their own (``kgforge.extract_corpus`` runs an extraction; it is
``kgforge.extract.run.extract``).

Example:
    >>> import kgforge
    >>> "KnowledgeGraph" in dir(kgforge)
    True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    "KnowledgeGraph": ("kgforge.graph.store", "KnowledgeGraph"),
    "extract_corpus": ("kgforge.extract.run", "extract"),
    "load_pipeline": ("kgforge.extract.pipeline", "load_pipeline"),
    "train": ("kgforge.embed.pipeline", "train"),
    "evaluate": ("kgforge.embed.evaluate", "evaluate"),
    "KGData": ("kgforge.embed.data", "KGData"),
    "LinkPredictor": ("kgforge.embed.model", "LinkPredictor"),
    "BernoulliNegativeSampler": ("kgforge.embed.sampling", "BernoulliNegativeSampler"),
    "PyKEENLMClusterNegativeSampler": (
        "kgforge.embed.pykeen_samplers",
        "PyKEENLMClusterNegativeSampler",
    ),
    "PyKEENLMNearestNegativeSampler": (
        "kgforge.embed.pykeen_samplers",
        "PyKEENLMNearestNegativeSampler",
    ),
    "predict_links": ("kgforge.transfer.links", "predict_links"),
    "classify_entities": ("kgforge.transfer.classify", "classify_entities"),
    "EntityIndex": ("kgforge.transfer.retrieval", "EntityIndex"),
    "distill": ("kgforge.transfer.distill.pipeline", "distill"),
}
# the layers and shared modules, importable as attributes too (``kgforge.graph.store``)
_SUBMODULES = ("corpus", "extract", "graph", "embed", "transfer", "errors", "progress")

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        return getattr(importlib.import_module(module), attribute)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'kgforge' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names and subpackages, for ``dir()`` and tab completion."""
    return sorted({*globals(), *__all__, *_SUBMODULES})
