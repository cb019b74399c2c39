"""Training configs: pydantic models, YAML files, ``--set a.b=value`` overrides.

A config file mirrors :class:`TrainConfig`; unknown keys and bad values raise
:class:`~kgforge.errors.ConfigError` naming the field and the file.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from class_resolver import ClassResolver
from pydantic import Field, ValidationInfo, field_validator

from kgforge.device import resolve_device
from kgforge.errors import ConfigError
from kgforge.yamlconfig import (
    StrictModel,
    check_component,
    check_component_kwargs,
    checks_components,
    read_yaml_mapping,
    validate_config,
)

# what the trainer passes itself, so a config must not (the rest are the classes' parameters)
_RESERVED = {"encoder": ("entity_text", "dim"), "negative sampler": ("num_entities",)}


@functools.cache
def _resolvers() -> dict[str, ClassResolver]:
    """The component registries by what they hold (imported on first use: they need torch)."""
    from kgforge.embed.encoders import encoder_resolver
    from kgforge.embed.losses import loss_resolver
    from kgforge.embed.sampling import negative_sampler_resolver
    from kgforge.embed.scorers import scorer_resolver

    return {
        "encoder": encoder_resolver,
        "scorer": scorer_resolver,
        "loss": loss_resolver,
        "negative sampler": negative_sampler_resolver,
    }


def _name(what: str, name: str, info: ValidationInfo) -> str:
    return check_component(_resolvers()[what], name, what) if checks_components(info) else name


def _kwargs(what: str, name_field: str, kwargs: dict[str, Any], info: ValidationInfo) -> dict:
    name = info.data.get(name_field)
    if name is None or not checks_components(info):
        return kwargs
    resolver = _resolvers()[what]
    return check_component_kwargs(resolver, name, kwargs, what, _RESERVED.get(what, ()))


class ModelConfig(StrictModel):
    """The link predictor: entity encoder, scorer, embedding size."""

    encoder: str = "frozen"
    encoder_kwargs: dict[str, Any] = Field(default_factory=dict)
    scorer: str = "transe"
    scorer_kwargs: dict[str, Any] = Field(default_factory=dict)
    dim: int = Field(256, gt=0)
    inverse_relations: bool = False
    normalize: bool = False
    text_prior: bool | list[str] = False
    allow_self: bool = True

    @field_validator("encoder")
    @classmethod
    def _known_encoder(cls, name: str, info: ValidationInfo) -> str:
        return _name("encoder", name, info)

    @field_validator("scorer")
    @classmethod
    def _known_scorer(cls, name: str, info: ValidationInfo) -> str:
        return _name("scorer", name, info)

    @field_validator("encoder_kwargs")
    @classmethod
    def _encoder_kwargs(cls, kwargs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _kwargs("encoder", "encoder", kwargs, info)

    @field_validator("scorer_kwargs")
    @classmethod
    def _scorer_kwargs(cls, kwargs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _kwargs("scorer", "scorer", kwargs, info)


class TrainingConfig(StrictModel):
    """How to train: objective, loss, negatives, optimisation, hardware."""

    objective: Literal["negatives", "in_batch", "one_vs_all"] = "negatives"
    loss: str = "margin"
    loss_kwargs: dict[str, Any] = Field(default_factory=dict)
    negative_sampler: str = "uniform"
    negative_sampler_kwargs: dict[str, Any] = Field(default_factory=dict)
    num_negatives: int = Field(32, gt=0)
    num_candidates: int | None = Field(None, gt=0)
    batch_size: int = Field(256, gt=0)
    epochs: int = Field(10, ge=0)
    max_steps: int | None = Field(None, gt=0)
    lr: float = Field(1e-3, gt=0)
    encoder_lr: float | None = Field(None, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup: float = Field(0.0, ge=0, lt=1)
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    grad_accumulation: int = Field(1, gt=0)
    grad_clip: float | None = Field(None, gt=0)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    device: str = "auto"
    num_threads: int | None = Field(None, gt=0)
    log_every: int = Field(50, gt=0)

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, name: str, info: ValidationInfo) -> str:
        return _name("loss", name, info)

    @field_validator("negative_sampler")
    @classmethod
    def _known_sampler(cls, name: str, info: ValidationInfo) -> str:
        return _name("negative sampler", name, info)

    @field_validator("device")
    @classmethod
    def _usable_device(cls, name: str, info: ValidationInfo) -> str:
        if checks_components(info):
            try:  # a typo or a GPU this machine lacks fails now, not after encoding
                resolve_device(name)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return name

    @field_validator("loss_kwargs")
    @classmethod
    def _loss_kwargs(cls, kwargs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _kwargs("loss", "loss", kwargs, info)

    @field_validator("negative_sampler_kwargs")
    @classmethod
    def _sampler_kwargs(cls, kwargs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _kwargs("negative sampler", "negative_sampler", kwargs, info)


class CheckpointConfig(StrictModel):
    """When to write ``checkpoints/last.pt`` (always after a validation and at the end)."""

    every_steps: int | None = Field(500, gt=0)
    every_epochs: int | None = Field(None, gt=0)


class EvaluationConfig(StrictModel):
    """Validation during training (early stopping) and the final test evaluation."""

    protocol: Literal["dynamic", "transductive", "transfer"] = "dynamic"
    every_epochs: int | None = Field(1, gt=0)
    batch_size: int = Field(256, gt=0)
    patience: int | None = Field(None, gt=0)
    metric: Literal["mrr", "hits@1", "hits@3", "hits@10"] = "mrr"  # higher is better
    max_valid_triples: int | None = Field(None, gt=0)
    #: graph encoders: the context of validation and of the main result; results.json holds
    #: both ("none": text only, "split": with the split's other edges)
    context: Literal["none", "split"] = "none"
    final_valid: bool = True
    test: bool = True


class TrainConfig(StrictModel):
    """Everything ``kgforge train`` needs."""

    data: str | None = None
    output: str | None = None
    seed: int = 42
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in, nested mappings merged key by key."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_set(assignments: Iterable[str]) -> dict[str, Any]:
    """``["training.lr=0.01", ...]`` as a nested dict; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r} conflicts with another assignment")
        node[parts[-1]] = value
    return out


def load_config(
    source: TrainConfig | Mapping[str, Any] | str | Path,
    overrides: Mapping[str, Any] | None = None,
    set_values: Iterable[str] = (),
) -> TrainConfig:
    """A validated config from an object, a dict or a YAML file, with overrides applied.

    Relative ``data``/``output`` paths in a file are kept as written (relative to the working
    directory), like the CLI's options.
    """
    path: Path | None = None
    if isinstance(source, TrainConfig):
        raw: Any = source.model_dump()
    elif isinstance(source, Mapping):
        raw = dict(source)
    else:
        path = Path(source)
        raw = read_yaml_mapping(path)
    raw = deep_merge(raw, overrides or {})
    raw = deep_merge(raw, parse_set(set_values))
    return validate_config(TrainConfig, raw, path)


def dump_config(config: TrainConfig, path: str | Path) -> None:
    """Write ``config`` as YAML (the run's own copy, reusable as a config file)."""
    Path(path).write_text(yaml.safe_dump(config.model_dump(), sort_keys=False), encoding="utf-8")
