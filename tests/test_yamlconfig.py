"""Both kinds of config (extraction pipelines, training) report broken YAML files alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgforge.embed.config import load_config as load_train_config
from kgforge.errors import ConfigError
from kgforge.extract.config import load_config as load_pipeline_config


@pytest.mark.parametrize("load", [load_pipeline_config, load_train_config])
def test_broken_yaml_names_file_and_line(load, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: [unclosed\nother: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML") as err:
        load(bad)
    assert err.value.path == str(bad) and err.value.line in (2, 3)


@pytest.mark.parametrize("load", [load_pipeline_config, load_train_config])
def test_not_a_mapping_and_missing_file(load, tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load(listing)
    with pytest.raises(ConfigError, match="cannot read config") as err:
        load(tmp_path / "missing.yaml")
    assert err.value.path == str(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        ("relations:\n  - kind: patern\n", "relations.0", "did you mean 'patterns'?"),
        ("relations:\n  - kind: patterns\n    patterns: [svo, pasive]\n",
         "relations.0.patterns.1", "did you mean 'passive'?"),
        ("relations:\n  - kind: patterns\n    confidense: {svo: 0.5}\n",
         "relations.0.confidense", "did you mean 'confidence'?"),
        ("spacy:\n  sentences: recrd\nrelations:\n  - kind: patterns\n",
         "spacy.sentences", "did you mean 'record'?"),
        ("resolutoin: {}\nrelations:\n  - kind: patterns\n", "resolutoin", "'resolution'?"),
    ],
)  # fmt: skip
def test_pipeline_names_are_checked_with_suggestions(tmp_path: Path, text, field, hint) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_pipeline_config(bad)
    assert err.value.field == field and err.value.path == str(bad)
    assert hint in err.value.message


@pytest.mark.parametrize(
    ("raw", "field", "hint"),
    [
        ({"model": {"scorer": "transee"}}, "model.scorer", "did you mean 'transe'?"),
        ({"model": {"encoder": "frozn"}}, "model.encoder", "did you mean 'frozen'?"),
        ({"training": {"loss": "nope"}}, "training.loss", "known: bce, ce, crossentropy"),
        ({"training": {"negative_sampler": "lmclustr"}}, "training.negative_sampler",
         "did you mean 'lmcluster'?"),
        ({"model": {"encoder": "frozen", "encoder_kwargs": {"hiden": 3}}},
         "model.encoder_kwargs", "did you mean 'hidden'?"),
        ({"model": {"encoder_kwargs": {"dim": 3}}}, "model.encoder_kwargs", "set by kgforge"),
        ({"model": {"scorer": "transe", "scorer_kwargs": {"q": 2}}}, "model.scorer_kwargs",
         "takes: p"),
        ({"training": {"negative_sampler": "lmcluster",
                       "negative_sampler_kwargs": {"n_cluster": 8}}},
         "training.negative_sampler_kwargs", "did you mean 'n_clusters'?"),
        ({"training": {"loss": "margin", "loss_kwargs": {"margn": 1}}}, "training.loss_kwargs",
         "did you mean 'margin'?"),
        ({"model": {"encoder": "frozen", "encoder_kwargs": {"hidden": "big"}}},
         "model.encoder_kwargs", "'hidden' takes int, not 'big'"),
        ({"training": {"loss": "margin", "loss_kwargs": {"margin": "wide"}}},
         "training.loss_kwargs", "'margin' takes float"),
        ({"training": {"negative_sampler": "lmcluster",
                       "negative_sampler_kwargs": {"n_clusters": 2.5}}},
         "training.negative_sampler_kwargs", "'n_clusters' takes int | None, not 2.5"),
        ({"evaluation": {"metric": "mr"}}, "evaluation.metric", "'mrr'"),
        ({"training": {"lr": float("nan")}}, "training.lr", "finite"),
        ({"training": {"device": "gpu"}}, "training.device", "unknown device 'gpu'"),
    ],
)  # fmt: skip
def test_training_components_are_checked_when_loaded(raw, field, hint) -> None:
    with pytest.raises(ConfigError) as err:
        load_train_config(raw)
    assert err.value.field == field
    assert hint in err.value.message


def test_valid_component_kwargs_pass() -> None:
    cfg = load_train_config(
        {
            "model": {"encoder": "frozen", "encoder_kwargs": {"hidden": 8, "layers": 1}},
            "training": {
                "negative_sampler": "lmnearest",
                "negative_sampler_kwargs": {"k": 4, "ratio": 0.5, "filtered": True},
                "loss": "ce",
                "loss_kwargs": {"label_smoothing": 0.1},
            },
        }
    )
    assert cfg.training.negative_sampler_kwargs["k"] == 4
