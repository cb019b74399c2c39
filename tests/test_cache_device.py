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


def test_a_model_folder_is_keyed_by_its_files_not_its_location(tmp_path: Path) -> None:
    """The same weights installed in two environments share one feature cache; edited weights
    or configs get their own."""
    for name in ("a", "b"):
        (tmp_path / name / "model").mkdir(parents=True)
        (tmp_path / name / "model" / "config.json").write_text('{"dim": 4}')
        (tmp_path / name / "model" / "weights.bin").write_bytes(b"1234")
    a, b = (str(tmp_path / name / "model") for name in ("a", "b"))
    assert model_cache_dir(a) == model_cache_dir(b)
    (tmp_path / "b" / "model" / "config.json").write_text('{"dim": 5}')
    assert model_cache_dir(a) != model_cache_dir(b)
    (tmp_path / "b" / "model" / "config.json").write_text('{"dim": 4}')
    (tmp_path / "b" / "model" / "weights.bin").write_bytes(b"12345")
    assert model_cache_dir(a) != model_cache_dir(b)
    assert model_cache_dir("org/hub-name") != model_cache_dir("org/other-name")
