"""Corpus readers: formats, gzip, stable ids and hashes, and located errors for broken records."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kgforge.corpus import CorpusReader, content_hash, read_corpus
from kgforge.errors import CorpusError


def _write(path: Path, data: str | bytes, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def test_folder_of_text_and_markdown_with_gzip(tmp_path: Path) -> None:
    _write(tmp_path / "b.txt", "Second doc.")
    _write(tmp_path / "a.md", "# Title\nFirst doc.", gz=True)
    _write(tmp_path / "sub" / "c.txt", "Third doc.")
    _write(tmp_path / ".hidden.txt", "ignored")
    _write(tmp_path / "notes.bin", b"\x00ignored")
    docs = list(read_corpus(tmp_path))
    assert [d.id for d in docs] == ["a.md", "b.txt", "sub/c.txt"]
    assert docs[0].text == "# Title\nFirst doc."
    assert docs[1].content_hash == content_hash("Second doc.")
    # ids and hashes are stable across reads
    assert [(d.id, d.content_hash) for d in read_corpus(tmp_path)] == [
        (d.id, d.content_hash) for d in docs
    ]


def test_jsonl_configurable_fields_and_fallback_id(tmp_path: Path) -> None:
    lines = [
        {"doc": "x1", "body": "Alpha text."},
        {"body": "No id here."},
        {"doc": 7, "body": "Numeric id."},
    ]
    path = _write(tmp_path / "c.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n", gz=True)
    docs = list(CorpusReader(path, id_field="doc", text_field="body"))
    assert [d.id for d in docs] == ["x1", "c.jsonl:2", "7"]
    assert [d.line for d in docs] == [1, 2, 3]


def test_csv_with_multiline_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv", 'id,text\nd1,"one\nline two"\nd2,plain\n')
    docs = list(read_corpus(path))
    assert [(d.id, d.text, d.line) for d in docs] == [
        ("d1", "one\nline two", 2),
        ("d2", "plain", 4),
    ]


@pytest.mark.parametrize(
    ("name", "content", "line", "needle"),
    [
        ("bad.jsonl", b'{"id": 1, "text": "ok"}\n{"id": 2, "text": \n', 2, "bad JSON"),
        (
            "enc.jsonl",
            b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "caf\xe9"}\n',
            2,
            "invalid utf-8",
        ),
        (
            "miss.jsonl",
            b'{"id": 1, "text": "ok"}\n{"id": 2, "body": "x"}\n',
            2,
            "text field missing",
        ),
        ("dup.jsonl", b'{"id": 1, "text": "ok"}\n{"id": 1, "text": "again"}\n', 2, "duplicate"),
        ("enc.csv", b"id,text\n1,ok\n2,caf\xe9\n", 3, "invalid utf-8"),
        ("enc.txt", b"fine line\nbad \xff byte\n", 2, "invalid utf-8"),
    ],
)
def test_broken_record_fails_with_file_and_line(
    tmp_path: Path, name: str, content: bytes, line: int, needle: str
) -> None:
    path = _write(tmp_path / name, content)
    with pytest.raises(CorpusError) as info:
        list(read_corpus(path))
    assert info.value.line == line
    assert info.value.path == str(path)
    assert needle in str(info.value)
    assert f"{name}:{line}" in str(info.value)


def test_skip_mode_counts_broken_records(tmp_path: Path) -> None:
    content = b'{"id": 1, "text": "ok"}\n{oops\n{"id": 3}\n{"id": 4, "text": "fine"}\n'
    reader = read_corpus(_write(tmp_path / "c.jsonl", content), on_error="skip")
    assert [d.id for d in reader] == ["1", "4"]
    assert reader.stats.documents == 2
    assert reader.stats.skipped == 2
    assert ":2" in reader.stats.errors[0] and ":3" in reader.stats.errors[1]


def test_wrong_csv_column_is_one_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv", "id,body\n1,x\n")
    with pytest.raises(CorpusError, match="no column 'text'"):
        list(read_corpus(path, on_error="skip"))


def test_missing_path_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="unknown corpus file type"):
        list(read_corpus(_write(tmp_path / "x.bin", b"data")))
