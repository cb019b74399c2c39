"""A mapping that keeps its recently used entries in memory and the others on disk.

Why: an extraction run's per-entity state (the resolver's senses and name indexes, a fresh
store's entity records) grows with the entities of the corpus. With :class:`SpillDict` the memory
it takes is bounded by ``capacity`` entries whatever the corpus size; the rest waits, pickled, in
a private temporary SQLite database (in ``$SQLITE_TMPDIR`` / ``$TMPDIR``, deleted when the
mapping is closed or collected). Runs whose state fits never open the database.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, TypeVar

K = TypeVar("K", bound=str)
V = TypeVar("V")

_MISSING: Any = object()


class SpillDict(MutableMapping[K, V]):
    """A dict whose least recently used entries beyond ``capacity`` are moved to disk.

    An entry is either in memory or on disk, never both: reading one from disk brings it back
    (and may move others out), so a value may be changed in place after it is read, as long as
    that happens before ``capacity`` other entries are touched. Entries move out in chunks of
    ``capacity // 8`` so that the disk is written in few transactions. Keys are strings (or
    ``str`` subclasses such as rdflib's ``URIRef``, kept as they were); values are anything
    ``pickle`` takes.

    Args:
        capacity: entries kept in memory; None keeps all (a plain dict, no disk).
        default_factory: as ``collections.defaultdict``'s: ``d[missing]`` stores and returns
            ``default_factory()`` (``get`` and ``in`` never create entries).

    Example:
        >>> d = SpillDict(capacity=8)
        >>> for i in range(100):
        ...     d[str(i)] = [i]
        >>> d["3"].append(-3)  # read back from disk, changed in place
        >>> len(d), d["3"], d.in_memory <= 9
        (100, [3, -3], True)
    """

    def __init__(
        self, capacity: int | None = None, default_factory: Callable[[], V] | None = None
    ) -> None:
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.default_factory = default_factory
        self._hot: OrderedDict[K, V] = OrderedDict()
        self._db: sqlite3.Connection | None = None
        self._cold = 0  # entries on disk

    @property
    def in_memory(self) -> int:
        """Entries held in memory now."""
        return len(self._hot)

    @property
    def on_disk(self) -> int:
        """Entries moved to disk."""
        return self._cold

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            # "": a private temporary on-disk database, deleted when the connection closes
            self._db = sqlite3.connect("", isolation_level=None)
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)")
        return self._db

    def _take(self, key: K) -> Any:
        """The value of ``key`` removed from disk, or ``_MISSING``."""
        if not self._cold:
            return _MISSING
        db = self._conn()
        row = db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            return _MISSING
        db.execute("DELETE FROM kv WHERE k = ?", (key,))
        self._cold -= 1
        return pickle.loads(row[0])[1]

    def _put(self, key: K, value: V) -> None:
        hot = self._hot
        hot[key] = value
        if self.capacity is not None and len(hot) > self.capacity + max(1, self.capacity // 8):
            rows = []
            while len(hot) > self.capacity:
                k, v = hot.popitem(last=False)
                rows.append((k, pickle.dumps((k, v), pickle.HIGHEST_PROTOCOL)))
            db = self._conn()
            db.execute("BEGIN")
            db.executemany("INSERT INTO kv (k, v) VALUES (?, ?)", rows)
            db.execute("COMMIT")
            self._cold += len(rows)

    def __getitem__(self, key: K) -> V:
        hot = self._hot
        try:
            value = hot[key]
        except KeyError:
            value = self._take(key)
            if value is _MISSING:
                if self.default_factory is None:
                    raise KeyError(key) from None
                value = self.default_factory()
            self._put(key, value)
            return value
        hot.move_to_end(key)
        return value

    def get(self, key: K, default: Any = None) -> Any:
        hot = self._hot
        if key in hot:
            hot.move_to_end(key)
            return hot[key]
        value = self._take(key)
        if value is _MISSING:
            return default
        self._put(key, value)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        if key in self._hot:
            self._hot[key] = value
            self._hot.move_to_end(key)
            return
        self._take(key)
        self._put(key, value)

    def __delitem__(self, key: K) -> None:
        if key in self._hot:
            del self._hot[key]
        elif self._take(key) is _MISSING:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if key in self._hot:
            return True
        if not self._cold:
            return False
        found = self._conn().execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone()
        return found is not None

    def __len__(self) -> int:
        return len(self._hot) + self._cold

    def _disk_items(self) -> Iterator[tuple[K, V]]:
        if self._cold:
            for (blob,) in self._conn().execute("SELECT v FROM kv"):
                yield pickle.loads(blob)

    def __iter__(self) -> Iterator[K]:
        """Keys in memory, then those on disk (without moving any; do not change the mapping
        while iterating)."""
        yield from list(self._hot)
        for key, _ in self._disk_items():
            yield key

    def items(self) -> Iterator[tuple[K, V]]:  # type: ignore[override]
        """Every entry, read where it lies (entries on disk are not brought back)."""
        yield from list(self._hot.items())
        yield from self._disk_items()

    def values(self) -> Iterator[V]:  # type: ignore[override]
        for _, value in self.items():
            yield value

    def close(self) -> None:
        """Drop every entry and the database file."""
        self._hot.clear()
        self._cold = 0
        if self._db is not None:
            self._db.close()
            self._db = None
