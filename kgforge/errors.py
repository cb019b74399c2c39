"""Errors users see. Each names where the problem is (file, line, field, query position).

The CLI prints ``KGForgeError`` as one line and exits non-zero; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class KGForgeError(Exception):
    """Base class: a problem with the user's input or environment, not a bug in kgforge."""


class LocatedError(KGForgeError):
    """An error at a place in a file: ``file:line: message`` (line and field optional)."""

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        where = self.path or ""
        if line is not None:
            where += f":{line}" if where else f"line {line}"
        if field is not None:
            where += f" (field {field!r})"
        super().__init__(f"{where}: {message}" if where else message)


class RDFSyntaxError(LocatedError):
    """A malformed RDF file."""


class UnknownFormatError(KGForgeError):
    """An RDF or output format kgforge does not know."""


class QueryError(KGForgeError):
    """A SPARQL query or update that does not parse or fails to run."""


class EndpointError(KGForgeError):
    """A remote SPARQL endpoint that cannot be reached or answers with an error."""


class StoreLockedError(KGForgeError):
    """An on-disk store already opened for writing by another process."""


class CorpusError(LocatedError):
    """A corpus record that cannot be read (bad JSON, bad encoding, missing field)."""


class DataError(LocatedError, ValueError):
    """A link-prediction data file with a malformed line, unknown id or missing text (a
    ``ValueError`` too, so callers of the library functions that raised one still catch it)."""


class ConfigError(LocatedError, ValueError):
    """A pipeline or training config, or a function argument, that does not validate (a
    ``ValueError`` too)."""


class NonFiniteError(KGForgeError):
    """A model whose loss or scores are not finite numbers (training diverged)."""


class NonFiniteLossError(NonFiniteError):
    """Training stopped: the loss (or the weights) became NaN or infinite."""
