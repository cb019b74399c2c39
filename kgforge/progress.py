"""One switch for every progress bar kgforge shows.

Long work (encoding texts, training, ranking, extraction) shows a tqdm bar. Whether bars are
shown is one process-wide setting, so library functions do not thread a ``show_progress``
argument through their signatures:

- the environment variable ``KGFORGE_PROGRESS`` (``0``/``false``/``off`` hide the bars);
- ``kgforge.progress.set_progress(False)`` from Python, or the ``quiet()`` context manager;
- the CLI's ``--quiet``/``-q``, which calls ``set_progress(False)`` (and quiets the libraries'
  own bars and log lines below warnings).

Example:
    >>> from kgforge.progress import progress, quiet
    >>> with quiet():
    ...     total = sum(progress(range(3), desc="counting"))
    >>> total
    3
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

_FALSE = {"0", "false", "no", "off"}
_enabled: bool | None = None  # None: follow KGFORGE_PROGRESS


def progress_enabled() -> bool:
    """Whether progress bars are shown now."""
    if _enabled is not None:
        return _enabled
    return os.environ.get("KGFORGE_PROGRESS", "1").strip().lower() not in _FALSE


def set_progress(enabled: bool | None) -> None:
    """Show (True) or hide (False) every progress bar; None follows ``KGFORGE_PROGRESS`` again."""
    global _enabled
    _enabled = enabled


@contextmanager
def quiet() -> Iterator[None]:
    """Hide progress bars inside the block, restoring the previous setting afterwards."""
    global _enabled
    previous = _enabled
    _enabled = False
    try:
        yield
    finally:
        _enabled = previous


@contextmanager
def library_bars() -> Iterator[None]:
    """Inside the block, the model libraries' own bars (transformers' "Loading weights") follow
    kgforge's switch: they do not read it, so loading a model would show a bar under ``-q``,
    ``set_progress(False)`` or ``KGFORGE_PROGRESS=0``."""
    if progress_enabled():
        yield
        return
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar over ``iterable`` (or a manual one), hidden when progress is off.

    Args:
        iterable: what to iterate over; None for a bar driven by ``update()``.
        **kwargs: passed to tqdm (``desc``, ``total``, ``unit``, ``leave``, ...). An explicit
            ``disable=True`` hides this bar even when progress is on.
    """
    kwargs["disable"] = kwargs.get("disable", False) or not progress_enabled()
    return tqdm(iterable, **kwargs)
