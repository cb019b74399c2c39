"""One place for cache folders (kgforge.cache) and one rule for devices (kgforge.device)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgforge.cache import cache_home, cache_path
from kgforge.device import resolve_device
from kgforge.embed.encoders import hidden_cache_path
from kgforge.embed.features import model_cache_dir
from kgforge.errors import ConfigError


def test_every_cache_lives_under_kgforge_cache(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KGFORGE_CACHE", str(tmp_path))
    assert cache_home() == tmp_path
    assert model_cache_dir("some/model").parent == tmp_path / "features"
    assert hidden_cache_path("m", 32, 5, ["a"], None).parent.parent == tmp_path / "hidden"
    assert cache_path("samplers") == tmp_path / "samplers"
    assert cache_path("samplers", tmp_path / "mine") == tmp_path / "mine" / "samplers"
    monkeypatch.delenv("KGFORGE_CACHE")
    assert cache_home() == Path.home() / ".cache" / "kgforge"


def test_resolve_device() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="unknown device 'gpu'"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
