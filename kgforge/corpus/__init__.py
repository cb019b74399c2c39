"""Corpus readers: folders of text files, JSONL and CSV (optionally gzipped), streamed."""

from kgforge.corpus.reader import (
    CorpusReader,
    CorpusStats,
    Document,
    content_hash,
    read_corpus,
)

__all__ = ["CorpusReader", "CorpusStats", "Document", "content_hash", "read_corpus"]
