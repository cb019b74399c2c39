"""The one progress switch: environment variable, set_progress, quiet()."""

import pytest

from kgforge import progress as p


@pytest.fixture(autouse=True)
def _reset():
    p.set_progress(None)
    yield
    p.set_progress(None)


def test_env_var_hides_bars(monkeypatch):
    monkeypatch.setenv("KGFORGE_PROGRESS", "0")
    assert not p.progress_enabled()
    assert p.progress(range(2)).disable
    monkeypatch.setenv("KGFORGE_PROGRESS", "1")
    assert p.progress_enabled()


def test_set_progress_overrides_env(monkeypatch):
    monkeypatch.setenv("KGFORGE_PROGRESS", "1")
    p.set_progress(False)
    assert p.progress(range(2)).disable
    p.set_progress(None)
    assert not p.progress(range(2)).disable


def test_quiet_restores_previous_setting():
    p.set_progress(True)
    with p.quiet():
        assert not p.progress_enabled()
        assert list(p.progress(range(3))) == [0, 1, 2]
    assert p.progress_enabled()


def test_explicit_disable_wins():
    p.set_progress(True)
    assert p.progress(range(2), disable=True).disable


def test_model_loading_bars_follow_the_switch(capfd):
    """transformers' own "Loading weights" bar is hidden when kgforge's progress is off, and
    shown again (transformers' setting restored) once it is on."""
    from transformers.utils import logging as hf_logging

    from kgforge.models import default_text_model, open_sentence_model

    hf_logging.enable_progress_bar()
    with p.quiet():
        open_sentence_model(default_text_model(), "cpu")
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()
    p.set_progress(True)
    open_sentence_model(default_text_model(), "cpu")
    assert "Loading weights" in capfd.readouterr().err
