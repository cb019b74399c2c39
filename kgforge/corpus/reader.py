"""Streaming corpus readers: a folder of text files, JSONL, or CSV, each optionally gzip-compressed.

Documents are yielded one at a time and every file is read line by line, so memory stays constant
however large the corpus. Each document gets a stable id (its path relative to the corpus root for
text files, the id field or ``file:line`` for records) and a content hash of its text, which lets
an extraction run skip documents it has already seen.

Texts are cleaned as they are read: a UTF-8 byte order mark at the start of a file is dropped,
and control characters other than tabs and line breaks (NUL, ESC, C1 controls) become spaces, so
that offsets into the stored text stay one to one with the characters of the file otherwise.

A broken record (bad JSON, bad UTF-8, a lone surrogate, a missing text field or one with nothing
but whitespace and invisible characters, a duplicate id) and a corrupt or truncated ``.gz`` file
raise a ``CorpusError`` naming the file and line with ``on_error="fail"``; with
``on_error="skip"`` it is counted and described in ``CorpusStats`` and reading goes on (with the
next file, after a corrupt ``.gz``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Literal

from kgforge.errors import CorpusError

OnError = Literal["skip", "fail"]
Format = Literal["auto", "text", "jsonl", "csv"]

TEXT_SUFFIXES = (".txt", ".md", ".text", ".markdown")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv", ".tsv")


@dataclass(frozen=True)
class Document:
    """One corpus document: stable id, text, where it came from, and a hash of its text."""

    id: str
    text: str
    source: str
    line: int | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


_BOM = "\ufeff"
# C0 and C1 control characters except tab, line feed, vertical tab, form feed, carriage return
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_GZIP_ERRORS = (EOFError, OSError, zlib.error)  # gzip.BadGzipFile is an OSError


def clean_text(text: str) -> str:
    """``text`` with control characters (NUL, ESC, DEL, C1) replaced by spaces: same length."""
    return _CONTROL.sub(" ", text)


def is_blank(text: str) -> bool:
    """True when ``text`` has nothing but whitespace and invisible format characters (zero-width
    spaces and joiners, BOMs): nothing a pipeline could extract from."""
    return all(c.isspace() or unicodedata.category(c) in ("Cf", "Cc") for c in text)


def _surrogate_error(value: str, what: str) -> str | None:
    match = _SURROGATE.search(value)
    if match is None:
        return None
    return f"lone surrogate U+{ord(match.group()):04X} in the {what} at character {match.start()}"


def content_hash(text: str) -> str:
    """SHA-256 of the UTF-8 text: a document is unchanged exactly when this is."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class CorpusStats:
    """What a read saw: documents yielded and the records skipped (with their locations)."""

    documents: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    max_errors_kept: int = 100

    def record(self, error: CorpusError) -> None:
        self.skipped += 1
        if len(self.errors) < self.max_errors_kept:
            self.errors.append(str(error))


def _base_suffix(path: Path) -> str:
    """The suffix that decides the format, looking through a trailing ``.gz``."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def _open_binary(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _format_of(path: Path, fmt: Format) -> str:
    if fmt != "auto":
        return fmt
    suffix = _base_suffix(path)
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise CorpusError(
        f"unknown corpus file type {suffix or '(none)'!r}; expected one of "
        f"{', '.join(TEXT_SUFFIXES + JSONL_SUFFIXES + CSV_SUFFIXES)} (optionally .gz)",
        path,
    )


def _strip_gz(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


class CorpusReader:
    """Iterate the documents of a corpus path (a file or a folder, walked in sorted order).

    ``id_field``/``text_field`` name the JSONL keys or CSV columns; ``fmt`` forces a format for
    files whose suffix does not tell it; ``id_prefix`` is put before every id (to keep two
    corpora with the same file names apart in one store). Iterating twice reads the corpus
    twice.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fmt: Format = "auto",
        id_field: str = "id",
        text_field: str = "text",
        on_error: OnError = "fail",
        encoding: str = "utf-8",
        id_prefix: str = "",
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise CorpusError("corpus path does not exist", self.path)
        if on_error not in ("skip", "fail"):
            raise CorpusError(f"on_error must be 'skip' or 'fail', not {on_error!r}")
        self.fmt = fmt
        self.id_field = id_field
        self.text_field = text_field
        self.on_error = on_error
        self.encoding = encoding
        self.id_prefix = id_prefix
        self.stats = CorpusStats()

    def files(self) -> list[Path]:
        """The corpus files in a stable order (hidden files and unknown suffixes are ignored)."""
        if self.path.is_file():
            return [self.path]
        known = TEXT_SUFFIXES + JSONL_SUFFIXES + CSV_SUFFIXES
        return sorted(
            p
            for p in self.path.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.path).parts)
            and (self.fmt != "auto" or _base_suffix(p) in known)
        )

    def _rel(self, path: Path) -> str:
        if self.path.is_file():
            return _strip_gz(path.name)
        return _strip_gz(path.relative_to(self.path).as_posix())

    def __iter__(self) -> Iterator[Document]:
        self.stats = CorpusStats(max_errors_kept=self.stats.max_errors_kept)
        seen: set[str] = set()
        for path in self.files():
            for item in self._read_file(path):
                if isinstance(item, CorpusError):
                    self.reject(item)
                    continue
                if self.id_prefix:
                    item = replace(item, id=self.id_prefix + item.id)
                if item.id in seen:
                    self.reject(CorpusError(f"duplicate document id {item.id!r}", path, item.line))
                    continue
                seen.add(item.id)
                self.stats.documents += 1
                yield item

    def reject(self, error: CorpusError) -> None:
        """Raise ``error`` (``on_error="fail"``) or count it as a skipped record (``"skip"``)."""
        if self.on_error == "fail":
            raise error
        self.stats.record(error)

    def _read_file(self, path: Path) -> Iterator[Document | CorpusError]:
        fmt = _format_of(path, self.fmt)
        if fmt == "text":
            yield self._read_text(path)
        elif fmt == "jsonl":
            yield from self._read_jsonl(path)
        else:
            yield from self._read_csv(path)

    def _read_text(self, path: Path) -> Document | CorpusError:
        try:
            with _open_binary(path) as fh:
                data = fh.read()
        except _GZIP_ERRORS as exc:
            return CorpusError(f"corrupt or truncated gzip file: {exc}", path)
        try:
            text = data.decode(self.encoding).removeprefix(_BOM)
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            return CorpusError(f"invalid {self.encoding} at byte {exc.start}", path, line)
        text = clean_text(text)
        if is_blank(text):
            return CorpusError("empty document", path, 1)
        return Document(id=self._rel(path), text=text, source=str(path))

    def _lines(self, path: Path) -> Iterator[tuple[int, bytes | CorpusError]]:
        """The raw lines of a file, numbered from 1, the first without a UTF-8 byte order mark;
        a corrupt or truncated gzip stream ends the file with an error at the line it hit."""
        lineno = 0
        try:
            with _open_binary(path) as fh:
                for lineno, raw in enumerate(fh, start=1):  # noqa: B007 (used after the loop)
                    yield lineno, raw.removeprefix(b"\xef\xbb\xbf") if lineno == 1 else raw
        except _GZIP_ERRORS as exc:
            yield (
                lineno + 1,
                CorpusError(f"corrupt or truncated gzip file: {exc}", path, lineno + 1),
            )

    def _read_jsonl(self, path: Path) -> Iterator[Document | CorpusError]:
        rel = self._rel(path)
        for lineno, raw in self._lines(path):
            if isinstance(raw, CorpusError):
                yield raw
                return
            try:
                line = raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                yield CorpusError(f"invalid {self.encoding} at byte {exc.start}", path, lineno)
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield CorpusError(f"bad JSON: {exc.msg} (column {exc.colno})", path, lineno)
                continue
            if not isinstance(record, dict):
                yield CorpusError("a JSONL record must be an object", path, lineno)
                continue
            yield self._record(record, rel, path, lineno)

    def _read_csv(self, path: Path) -> Iterator[Document | CorpusError]:
        rel = self._rel(path)
        bad_lines: set[int] = set()
        delimiter = "\t" if _base_suffix(path) == ".tsv" else ","
        broken: list[CorpusError] = []  # a corrupt gzip stream, which ends the file

        def decoded() -> Iterator[str]:
            for lineno, raw in self._lines(path):
                if isinstance(raw, CorpusError):
                    broken.append(raw)
                    return
                try:
                    yield raw.decode(self.encoding)
                except UnicodeDecodeError:
                    bad_lines.add(lineno)
                    yield raw.decode(self.encoding, errors="replace")

        csv.field_size_limit(2**30)  # documents can be longer than csv's 128 KiB default
        reader = csv.DictReader(decoded(), delimiter=delimiter)
        try:
            fields = reader.fieldnames or []
        except csv.Error as exc:
            yield CorpusError(f"bad CSV header: {exc}", path, 1)
            return
        if broken and not fields:
            yield broken[0]
            return
        yield from self._csv_rows(reader, fields, bad_lines, rel, path)
        yield from broken

    def _csv_rows(
        self, reader: csv.DictReader, fields: list[str], bad_lines: set[int], rel: str, path: Path
    ) -> Iterator[Document | CorpusError]:
        if self.text_field not in fields:
            # Every record would fail: a wrong column name is one error, not one per row.
            raise CorpusError(
                f"no column {self.text_field!r} (columns: {', '.join(fields)})",
                path,
                1,
                self.text_field,
            )
        first = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield CorpusError(f"bad CSV: {exc}", path, reader.line_num)
                first = reader.line_num + 1
                continue
            span = range(first, reader.line_num + 1)
            start, first = first, reader.line_num + 1
            if bad_lines.intersection(span):
                yield CorpusError(f"invalid {self.encoding}", path, min(bad_lines & set(span)))
                continue
            if None in row:
                yield CorpusError("more fields than the header", path, start)
                continue
            yield self._record(row, rel, path, start)

    def _record(self, record: dict, rel: str, path: Path, lineno: int) -> Document | CorpusError:
        text = record.get(self.text_field)
        if isinstance(text, str):
            text = clean_text(text)
        if not isinstance(text, str) or is_blank(text):
            what = "missing" if text is None else "empty or not a string"
            return CorpusError(f"text field {what}", path, lineno, self.text_field)
        doc_id = record.get(self.id_field)
        doc_id = f"{rel}:{lineno}" if doc_id is None or doc_id == "" else clean_text(str(doc_id))
        for value, name, what in ((text, self.text_field, "text"), (doc_id, self.id_field, "id")):
            problem = _surrogate_error(value, what)
            if problem is not None:
                return CorpusError(problem, path, lineno, name)
        return Document(id=doc_id, text=text, source=str(path), line=lineno)


def read_corpus(path: str | Path, **options) -> CorpusReader:
    """A ``CorpusReader`` over ``path``; see its docstring for the options."""
    return CorpusReader(path, **options)
