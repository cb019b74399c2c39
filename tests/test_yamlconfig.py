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
