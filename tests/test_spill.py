"""SpillDict: a dict whose least recently used entries wait on disk."""

from __future__ import annotations

import random

import pytest
from rdflib import URIRef

from kgforge.spill import SpillDict


def test_behaves_as_a_dict_under_random_operations() -> None:
    rng = random.Random(0)
    ref: dict[str, list[int]] = {}
    d: SpillDict[str, list[int]] = SpillDict(capacity=8)
    for step in range(3000):
        key = str(rng.randrange(60))
        op = rng.random()
        if op < 0.4:
            d[key] = ref[key] = [step]
        elif op < 0.6 and key in ref:
            d[key].append(step)  # in place, also on an entry read back from disk
            ref[key].append(step)
        elif op < 0.7 and key in ref:
            del d[key], ref[key]
        else:
            assert d.get(key) == ref.get(key)
            assert (key in d) == (key in ref)
        assert len(d) == len(ref)
        assert d.in_memory <= 9  # capacity + capacity // 8
    assert d.on_disk > 0
    assert dict(d.items()) == ref
    assert sorted(d) == sorted(ref)
    assert sorted(map(tuple, d.values())) == sorted(map(tuple, ref.values()))


def test_default_factory_keys_and_missing_entries() -> None:
    d: SpillDict[URIRef, list[int]] = SpillDict(capacity=1, default_factory=list)
    for i in range(5):
        d[URIRef(f"urn:e{i}")].append(i)
    assert d.on_disk >= 3
    back = next(k for k, _ in d.items() if k == URIRef("urn:e0"))
    assert isinstance(back, URIRef)  # keys come back with their type
    assert d[URIRef("urn:e0")] == [0]
    assert d.get(URIRef("urn:none")) is None and URIRef("urn:none") not in d
    assert len(d) == 5  # get and in create nothing
    with pytest.raises(KeyError):
        del d[URIRef("urn:none")]
    plain: SpillDict[str, int] = SpillDict()
    with pytest.raises(KeyError):
        plain["x"]
    for i in range(1000):
        plain[str(i)] = i
    assert plain.on_disk == 0 and plain.in_memory == 1000  # no capacity: never on disk
    with pytest.raises(ValueError, match="capacity"):
        SpillDict(capacity=0)
    d.close()
    assert len(d) == 0
