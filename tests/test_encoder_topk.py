"""TransformerEncoder with ``trainable_layers``: cached frozen layers, only the top ones trained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgforge.embed.encoders import TransformerEncoder
from kgforge.errors import KGForgeError
from tests.conftest import tiny_bert as make_tiny_bert

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")

TEXTS = [
    "dog, a domesticated carnivorous mammal",
    "cat",
    "poodle, an intelligent dog with a heavy curly coat; often shown at dog shows",
    "canine, any of various fissiped mammals with nonretractile claws",
    "",
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A randomly initialised 3-layer BERT (hidden size 32) with MiniLM's tokenizer, on disk."""
    return str(make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), layers=3, max_positions=64))


def make(tiny_bert: str, cache: Path, pooling: str = "mean", k: int = 1) -> TransformerEncoder:
    torch.manual_seed(1)  # same projection every time
    return TransformerEncoder(
        TEXTS,
        dim=8,
        text_model=tiny_bert,
        pooling=pooling,
        max_length=24,
        trainable_layers=k,
        cache_dir=str(cache),
    )


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_cached_lower_layers_give_the_full_forward(tiny_bert, tmp_path, pooling):
    encoder = make(tiny_bert, tmp_path, pooling).eval()
    with torch.no_grad():
        cached = encoder(torch.tensor([2, 0, 4, 1, 3, 2]))
        full = encoder.encode_texts([TEXTS[i] for i in (2, 0, 4, 1, 3, 2)])  # whole model
    assert cached.shape == (6, 8)
    # the cache holds fp16 token states
    torch.testing.assert_close(cached, full, atol=5e-3, rtol=5e-3)

    files = list(tmp_path.rglob("*.pt"))
    assert len(files) == 1
    again = make(tiny_bert, tmp_path, pooling).eval()  # reads the cache file
    assert list(tmp_path.rglob("*.pt")) == files
    with torch.no_grad():
        torch.testing.assert_close(again(torch.arange(len(TEXTS))), cached[[1, 3, 0, 4, 2]])


def test_only_the_top_layers_and_projection_learn(tiny_bert, tmp_path):
    encoder = make(tiny_bert, tmp_path, k=2).train()
    encoder(torch.arange(len(TEXTS))).pow(2).sum().backward()
    trained = {n for n, p in encoder.named_parameters() if p.grad is not None}
    expected = {
        n
        for n, _ in encoder.named_parameters()
        if n.startswith(
            ("transformer.encoder.layer.1.", "transformer.encoder.layer.2.", "project.")
        )
    }
    assert trained == expected
    assert all(encoder.get_parameter(n).grad.abs().sum() > 0 for n in trained)
    assert {n for n, p in encoder.named_parameters() if p.requires_grad} == expected


def test_trainable_layers_out_of_range(tiny_bert, tmp_path):
    with pytest.raises(KGForgeError, match="trainable_layers"):
        make(tiny_bert, tmp_path, k=4)
