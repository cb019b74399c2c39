"""A tiny generated knowledge graph that link predictors must learn (shared by the embed tests).

Entities ``e0 .. e{n-1}`` fall into groups; each group also has a group entity. Relations:
``member_of`` (entity -> its group entity) and the symmetric ``related_to`` (between entities
of the same group). Entity text names the group, so text encoders can place unseen entities.
"""

from __future__ import annotations

import random
from pathlib import Path

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
ANIMALS = ["fox", "owl", "cat", "eel", "bat", "yak", "ram", "elk", "emu", "gnu"]


def write_tiny_kg(
    directory: Path, groups: int = 6, per_group: int = 10, heldout: int = 0, seed: int = 0
) -> Path:
    """Write a data directory; ``heldout`` entities per group appear only in valid/test."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    text: dict[str, str] = {}
    train, valid, test = [], [], []
    for g in range(groups):
        group = f"g{g}"
        text[group] = f"the {COLOURS[g]} group, a collection of {COLOURS[g]} things"
        members = [f"e{g * per_group + i}" for i in range(per_group)]
        for i, e in enumerate(members):
            text[e] = (
                f"a {COLOURS[g]} {ANIMALS[i % len(ANIMALS)]}, member of the {COLOURS[g]} group"
            )
        seen, unseen = members[: per_group - heldout], members[per_group - heldout :]
        pairs = set()
        for e in seen:
            train.append((e, "member_of", group))
            for other in rng.sample([m for m in seen if m != e], 3):
                pairs.update({(e, other), (other, e)})
        train.extend((a, "related_to", b) for a, b in sorted(pairs))
        for k, e in enumerate(unseen):
            target = valid if k % 2 == 0 else test
            target.append((e, "member_of", group))
            target.append((e, "related_to", rng.choice(seen)))
    if not heldout:  # transductive: hold out some train triples instead
        rng.shuffle(train)
        n = max(2, len(train) // 8)
        valid, test, train = train[:n], train[n : 2 * n], train[2 * n :]
        # keep every entity in train
        present = {x for h, _, t in train for x in (h, t)}
        for split in (valid, test):
            for triple in list(split):
                if triple[0] not in present or triple[2] not in present:
                    split.remove(triple)
                    train.append(triple)
                    present.update((triple[0], triple[2]))

    def write(name: str, rows: list[tuple[str, ...]]) -> None:
        (directory / name).write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")

    write("train.tsv", train)
    write("valid.tsv", valid)
    write("test.tsv", test)
    write("entity2text.tsv", sorted(text.items()))
    write("relation2text.tsv", [("member_of", "member of"), ("related_to", "related to")])
    return directory
