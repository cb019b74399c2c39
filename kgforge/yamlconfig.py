"""Config files (extraction pipelines, training configs): one strict pydantic base, one YAML
reader and one converter of validation errors, so both kinds report a broken file the same way:
``ConfigError`` naming the file, line or field, with the nearest valid name for a misspelt one.

Component names (scorers, losses, samplers, encoders, ...) are checked when a config is loaded,
against the class-resolver registries, with :func:`check_component` and
:func:`check_component_kwargs`, so a typo fails at once instead of as a traceback minutes later.
The registries live in modules that import torch, so :func:`validate_config` validates twice:
first the structure (fast: a wrong number or key is reported without importing torch), then,
with :data:`COMPONENTS` in the validation context, the component validators too.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from class_resolver import ClassResolver
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, ValidationInfo

from kgforge.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

COMPONENTS = "check_components"
"""Validation-context key: set, field validators also look component names up."""


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, numbers must be finite
    (``lr: inf`` is a typo, not a setting), ``model_*`` field names are allowed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, protected_namespaces=())


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


def nearest(word: object, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` (difflib), or ``""``."""
    close = difflib.get_close_matches(str(word).lower(), [c.lower() for c in choices], n=1)
    if not close:
        return ""
    original = {c.lower(): c for c in choices}
    return f"; did you mean {original[close[0]]!r}?"


def validate_config(model: type[M], raw: Mapping[str, Any], path: str | Path | None = None) -> M:
    """``model.model_validate(raw)`` (structure first, then components: see the module
    docstring), its first error raised as a :class:`ConfigError` with the field's dotted path
    (union members chosen by a tag left out) and a suggestion."""
    _validate(model, raw, path, None)
    return _validate(model, raw, path, {COMPONENTS: True})


def checks_components(info: ValidationInfo) -> bool:
    """Whether a field validator runs in the pass that looks components up."""
    return bool(info.context and info.context.get(COMPONENTS))


def _validate(
    model: type[M], raw: Mapping[str, Any], path: str | Path | None, context: dict | None
) -> M:
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _user_loc(err["loc"], raw)
        msg = err["msg"].removeprefix("Value error, ") + _suggestion(err, model, loc)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        field = ".".join(str(p) for p in loc) or None
        raise ConfigError(msg + more, path, field=field) from None


def _user_loc(loc: tuple[Any, ...], raw: Any) -> list[Any]:
    """The error location as the user wrote it: pydantic adds the tag of a tagged union
    (``relations.0.patterns.patterns``), which is no key of the input, so it is dropped."""
    out: list[Any] = []
    node = raw
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, Mapping):
            if part in node or last:
                out.append(part)
                node = node.get(part)
            continue  # a union tag
        if isinstance(node, list) and isinstance(part, int):
            out.append(part)
            node = node[part] if 0 <= part < len(node) else None
            continue
        if last or isinstance(part, int):
            out.append(part)
        node = None
    return out


def _suggestion(err: Mapping[str, Any], model: type[BaseModel], loc: list[Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in ("literal_error", "enum", "union_tag_invalid"):
        expected = str(ctx.get("expected") or ctx.get("expected_tags") or "")
        return nearest(ctx.get("tag", err.get("input")), re.findall(r"'([^']*)'", expected))
    if kind == "extra_forbidden" and loc:
        return nearest(loc[-1], _fields_at(model, loc[:-1]))
    return ""


def _fields_at(model: type[BaseModel], loc: list[Any]) -> set[str]:
    """Field names of the config section at ``loc`` (following fields, lists, optionals; of
    every member where it is a union), for suggestions; empty where that cannot be told."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            args = typing.get_args(annotation)
            annotation = args[0] if args else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = annotation.model_fields.get(part)
            annotation = info.annotation if info is not None else None
        else:
            return set()
    annotation = _unwrap(annotation)
    members = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    return {
        name
        for member in members
        if isinstance(member, type) and issubclass(member, BaseModel)
        for name in member.model_fields
    }


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``X | None`` and ``Annotated[X, ...]``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif _is_union(annotation):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


# -- component names and kwargs ---------------------------------------------------------------
def check_component(resolver: ClassResolver, name: str, what: str) -> str:
    """``name`` if ``resolver`` knows it; else a ``ValueError`` (pydantic reports it for the
    field) listing the known names and the nearest one."""
    try:
        resolver.lookup(name)
    except (KeyError, ValueError, TypeError):
        known = sorted({*resolver.lookup_dict, *resolver.synonyms})
        hint = nearest(resolver.normalize(name), known)
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(known)}{hint}") from None
    return name


def component_parameters(cls: type) -> set[str] | None:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up the class hierarchy
    (None when some class takes arbitrary ones)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            return names
        params = inspect.signature(init).parameters.values()
        names.update(
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        )
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names
    return None


def check_component_kwargs(
    resolver: ClassResolver,
    name: str,
    kwargs: Mapping[str, Any],
    what: str,
    reserved: Iterable[str] = (),
) -> dict[str, Any]:
    """``kwargs`` if the ``name`` component's class takes them all; else a ``ValueError``
    naming the unknown one and the nearest parameter. ``reserved`` are set by kgforge itself."""
    try:
        cls = resolver.lookup(name)
    except (KeyError, ValueError, TypeError):
        return dict(kwargs)  # the name's own check reports it
    accepted = component_parameters(cls)
    reserved = set(reserved)
    for key in kwargs:
        if key in reserved:
            raise ValueError(f"{key!r} is set by kgforge for the {what}, not in its kwargs")
        if accepted is not None and key not in accepted:
            options = sorted(accepted - reserved)
            raise ValueError(
                f"the {name!r} {what} takes no argument {key!r}; it takes: "
                f"{', '.join(options) or 'none'}{nearest(key, options)}"
            )
    hints = component_types(cls)
    for key, value in kwargs.items():
        adapter = _adapter(hints.get(key))
        if adapter is None:
            continue
        try:
            adapter.validate_python(value)
        except ValidationError:
            expected = getattr(hints[key], "__name__", None) or str(hints[key])
            raise ValueError(
                f"the {name!r} {what}'s argument {key!r} takes {expected}, not {value!r}"
            ) from None
    return dict(kwargs)


def component_types(cls: type) -> dict[str, Any]:
    """The annotated types of the keyword arguments ``cls(...)`` accepts (the nearest class's
    annotation wins; a class whose hints do not resolve adds none)."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            hints.update(typing.get_type_hints(init))
        except Exception:  # noqa: BLE001 - a hint naming a type only imported for checking
            continue
    hints.pop("return", None)
    return hints


@functools.lru_cache(maxsize=256)
def _adapter(annotation: Any) -> TypeAdapter | None:
    """A pydantic validator for a parameter's type, or None when pydantic cannot check it (a
    tensor, a module, a callable): those values are left to the class."""
    if annotation is None or annotation is Any:
        return None
    try:
        return TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - pydantic has no schema for arbitrary classes
        return None
