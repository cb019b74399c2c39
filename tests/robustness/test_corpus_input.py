"""Corpus input that broke runs (issue 12): byte order marks, control characters, invisible-only
documents, lone surrogates, corrupt and truncated gzip files."""

from __future__ import annotations

import gzip
import json
import random
import string
from pathlib import Path

import pytest

from kgforge.corpus import CorpusReader, read_corpus
from kgforge.errors import CorpusError

BOM = "\ufeff"


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")


def test_byte_order_mark_is_dropped_in_text_csv_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BOM + "Marie Curie was born in Warsaw.", encoding="utf-8")
    (tmp_path / "b.csv").write_text(BOM + "id,text\nc1,Chopin moved to Paris.\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_bytes(
        BOM.encode("utf-8") + _jsonl([{"id": "j1", "text": "Apple was founded by Jobs."}])
    )
    docs = {d.id: d.text for d in read_corpus(tmp_path)}
    assert docs == {
        "a.txt": "Marie Curie was born in Warsaw.",
        "c1": "Chopin moved to Paris.",  # the id column is found despite the BOM before it
        "j1": "Apple was founded by Jobs.",  # line 1 parses
    }


def test_control_characters_become_spaces_and_offsets_stay(tmp_path: Path) -> None:
    text = "Curie was born in Warsaw\x00 in 1867.\x1b[0m Tab\tand\nnewline stay."
    path = tmp_path / "c.jsonl"
    path.write_bytes(_jsonl([{"id": "x\x00", "text": text}]))
    (doc,) = read_corpus(path)
    assert doc.text == "Curie was born in Warsaw  in 1867. [0m Tab\tand\nnewline stay."
    assert len(doc.text) == len(text)
    assert doc.id == "x "


@pytest.mark.parametrize("invisible", ["\u200b\u200b\u200c", "\u200d \ufeff\n", "\x00\x00"])
def test_document_of_invisible_characters_is_empty(tmp_path: Path, invisible: str) -> None:
    (tmp_path / "z.txt").write_text(invisible, encoding="utf-8")
    (tmp_path / "r.jsonl").write_bytes(_jsonl([{"id": "r", "text": invisible}]))
    with pytest.raises(CorpusError, match=r"r\.jsonl:1 \(field 'text'\): text field empty"):
        list(read_corpus(tmp_path / "r.jsonl"))
    with pytest.raises(CorpusError, match=r"z\.txt:1: empty document"):
        list(read_corpus(tmp_path / "z.txt"))


def test_lone_surrogate_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    # json.dumps writes the lone surrogate as the escape \ud800, which json.loads accepts
    path.write_bytes(
        _jsonl([{"id": "ok", "text": "Fine."}, {"id": "bad", "text": "Broken \ud800 text."}])
    )
    with pytest.raises(CorpusError) as err:
        list(read_corpus(path))
    assert str(err.value).startswith(f"{path}:2 (field 'text'): lone surrogate U+D800")
    reader = CorpusReader(path, on_error="skip")
    assert [d.id for d in reader] == ["ok"]
    assert reader.stats.skipped == 1


def test_corrupt_gzip_files_are_located_and_skippable(tmp_path: Path) -> None:
    (tmp_path / "a.txt.gz").write_bytes(b"not gzip at all")
    (tmp_path / "b.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (tmp_path / "c.csv.gz").write_bytes(b"plain")
    (tmp_path / "d.txt").write_text("A good document.", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"a\.txt\.gz: corrupt or truncated gzip file"):
        list(read_corpus(tmp_path))
    reader = CorpusReader(tmp_path, on_error="skip")
    assert [d.id for d in reader] == ["d.txt"]
    assert reader.stats.skipped == 3
    assert [e.split(": ", 1)[0] for e in reader.stats.errors] == [
        str(tmp_path / "a.txt.gz"),
        f"{tmp_path / 'b.jsonl.gz'}:1",
        f"{tmp_path / 'c.csv.gz'}:1",
    ]


def test_truncated_gzip_names_the_line_and_keeps_what_was_read(tmp_path: Path) -> None:
    rng = random.Random(0)  # text that compresses badly, so half the file holds many lines
    words = ["".join(rng.choices(string.ascii_lowercase, k=8)) for _ in range(3000)]
    records = [{"id": f"d{i}", "text": " ".join(words[i * 10 : i * 10 + 10])} for i in range(300)]
    data = gzip.compress(_jsonl(records))
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    read: list[str] = []
    with pytest.raises(CorpusError, match="corrupt or truncated gzip file") as err:
        read.extend(d.id for d in read_corpus(path))
    assert 10 < err.value.line < 300
    assert read == [f"d{i}" for i in range(err.value.line - 1)]
