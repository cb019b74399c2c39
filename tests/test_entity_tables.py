"""What each entity encoder keeps per entity, and where: the facts docs/link-prediction.md
("Entity tables larger than a device") states for graphs whose entity table does not fit one
device. Text encoders have no trained entity table; what they keep per entity is a
non-persistent buffer, so checkpoints do not grow with the graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgforge.embed import encoders
from kgforge.embed.encoders import FrozenTextEncoder, LookupEncoder, TransformerEncoder


def _state(module: torch.nn.Module) -> tuple[int, int, int]:
    """Bytes of parameters, of buffers, and of the saved weights (``state_dict``)."""
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    buffers = sum(b.numel() * b.element_size() for b in module.buffers())
    saved = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    return params, buffers, saved


def _per_entity(build, small: int = 10, large: int = 60) -> tuple[float, float, float]:
    a, b = _state(build(small)), _state(build(large))
    return tuple((y - x) / (large - small) for x, y in zip(a, b, strict=True))


def texts(n: int) -> list[str]:
    return [f"entity {i}, a thing of kind {i % 7}" for i in range(n)]


def test_lookup_tables_grow_with_the_entities() -> None:
    params, buffers, saved = _per_entity(lambda n: LookupEncoder(texts(n), dim=32))
    assert (params, buffers, saved) == (32 * 4, 0, 32 * 4)


def test_frozen_features_are_an_unsaved_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    monkeypatch.setattr(
        encoders,
        "encode_texts",
        lambda t, **_: rng.standard_normal((len(t), 384)).astype(np.float32),
    )
    params, buffers, saved = _per_entity(lambda n: FrozenTextEncoder(texts(n), dim=32))
    assert (params, buffers, saved) == (0, 384 * 4, 0)  # 1.5 GB per million, never saved
    enc = FrozenTextEncoder(texts(5), dim=32).to(torch.float64)
    assert enc.features.dtype == torch.float64  # the buffer moves (and casts) with the model


def test_transformer_encoders_keep_token_ids_only() -> None:
    params, buffers, saved = _per_entity(
        lambda n: TransformerEncoder(texts(n), dim=32, max_length=16)
    )
    assert (params, buffers, saved) == (0, 2 * 16 * 8, 0)  # ids + mask, int64, unsaved
