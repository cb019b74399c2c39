"""The top-level API: one name per thing, listed by dir(), documented."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import kgforge

NAMES = """
import kgforge, types
before = (isinstance(kgforge.extract, types.ModuleType), kgforge.extract_corpus.__module__)
import kgforge.extract.run
after = (isinstance(kgforge.extract, types.ModuleType), kgforge.extract_corpus.__module__)
print(before == after == (True, "kgforge.extract.run"), callable(kgforge.extract))
"""


def test_a_package_is_a_package_and_a_function_a_function() -> None:
    """``kgforge.extract`` is the subpackage whether or not its modules were imported (a fresh
    interpreter, so nothing is imported yet); the run function is ``kgforge.extract_corpus``."""
    out = subprocess.run(
        [sys.executable, "-c", NAMES], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["True", "False"]


def test_dir_lists_the_public_names() -> None:
    listed = dir(kgforge)
    for name in kgforge.__all__:
        assert name in listed
        assert getattr(kgforge, name) is not None
    for layer in ("corpus", "extract", "graph", "embed", "transfer"):
        assert layer in listed and isinstance(getattr(kgforge, layer), types.ModuleType)
    assert "_EXPORTS" not in kgforge.__all__


def test_public_api_has_args_and_returns() -> None:
    """Every exported function documents its arguments and result, every class its
    constructor's arguments (the API reference, docs/api.md, is generated from these)."""
    missing = []
    for name in kgforge.__all__:
        obj = getattr(kgforge, name)
        if isinstance(obj, str):
            continue
        doc = inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            init = inspect.getdoc(obj.__init__) if "__init__" in vars(obj) else ""
            if "Args:" not in doc and "Args:" not in (init or ""):
                missing.append(f"{name}: no Args")
        else:
            missing += [f"{name}: no {part}" for part in ("Args:", "Returns:") if part not in doc]
    assert not missing, "\n".join(missing)
