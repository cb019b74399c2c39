"""Distillation configs: pydantic models read from YAML (``pipelines/distill_*.yaml``).

Unknown keys, bad values and unknown student or loss names raise
:class:`~kgforge.errors.ConfigError` naming the field and the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kgforge.embed.config import deep_merge, parse_set
from kgforge.errors import ConfigError
from kgforge.transfer.distill import loss_resolver, student_resolver
from kgforge.yamlconfig import read_yaml_mapping


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def _known(resolver: Any, name: str) -> str:
    try:
        resolver.lookup(name)
    except (KeyError, ValueError):
        raise ValueError(
            f"unknown name {name!r}; known: {', '.join(sorted(resolver.options))}"
        ) from None
    return name


class StudentConfig(_Strict):
    """Which student (``static``, ``layerdrop``) and its keyword arguments."""

    name: str = "static"
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _known(student_resolver, value)


class LossConfig(_Strict):
    """One weighted term of the loss (``mse``, ``cosine``, ``rkd_distance``, ``rkd_angle``,
    ``score_kd``)."""

    name: str
    weight: float = Field(1.0, ge=0)
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _known(loss_resolver, value)


class DistillTrainingConfig(_Strict):
    """How to train the student: texts of training entities, optionally extra texts."""

    epochs: int = Field(3, ge=0)
    batch_size: int = Field(128, gt=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine"] = "cosine"
    extra_texts: str | None = None  # a file of unlabelled texts, one per line
    max_entities: int | None = Field(None, gt=0)  # a seeded subsample of training entities
    num_threads: int | None = Field(None, gt=0)
    log_every: int = Field(50, gt=0)


class DistillEvaluationConfig(_Strict):
    """After training: validation (and optionally test) MRR and texts/s of both encoders."""

    protocol: Literal["dynamic", "transductive", "transfer"] = "dynamic"
    batch_size: int = Field(256, gt=0)
    valid: bool = True
    max_valid_triples: int | None = Field(None, gt=0)  # a seeded subsample, as in training
    test: bool = False
    speed_texts: int = Field(2000, ge=0)  # validation-entity texts timed on one thread


class DistillConfig(_Strict):
    """Everything ``kgforge distill`` needs."""

    teacher: str | None = None  # a saved model or a `kgforge train` output folder
    data: str | None = None
    output: str | None = None
    seed: int = 0
    student: StudentConfig = Field(default_factory=StudentConfig)
    losses: list[LossConfig] = Field(
        default_factory=lambda: [LossConfig(name="mse", kwargs={"target": "features"})],
        min_length=1,
    )
    training: DistillTrainingConfig = Field(default_factory=DistillTrainingConfig)
    evaluation: DistillEvaluationConfig = Field(default_factory=DistillEvaluationConfig)


def load_distill_config(
    source: DistillConfig | Mapping[str, Any] | str | Path,
    overrides: Mapping[str, Any] | None = None,
    set_values: Iterable[str] = (),
) -> DistillConfig:
    """A validated config from an object, a dict or a YAML file, with overrides applied."""
    path: Path | None = None
    if isinstance(source, DistillConfig):
        raw: Any = source.model_dump()
    elif isinstance(source, Mapping):
        raw = dict(source)
    else:
        path = Path(source)
        raw = read_yaml_mapping(path)
    raw = deep_merge(deep_merge(raw, overrides or {}), parse_set(set_values))
    try:
        return DistillConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{err['msg']}{more}", path, field=field) from None
