"""YAML config files (extraction pipelines, training configs) read with errors that name the
file and line, so both layers report a broken file the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kgforge.errors import ConfigError


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping at the top of a YAML file (an empty file is an empty mapping)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"invalid YAML: {problem}", path, line) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("a config file must be a YAML mapping of fields", path)
    return raw
