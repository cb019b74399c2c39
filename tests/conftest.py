"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, where the development data sets live (skip the test without it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def one_thread_and_private_cache(monkeypatch, tmp_path_factory):
    """Tiny models run fastest on one thread (and do not fight other processes for cores);
    features go to a cache of the test session, not the user's."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("KGFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    yield
    torch.set_num_threads(threads)
