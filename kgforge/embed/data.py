"""Link-prediction data: entities with text, relations, and train/valid/test triples.

One in-memory form, :class:`KGData`, for three sources:

- a data directory in the layout of BLP's WN18RR split (``train.tsv``, ``valid.tsv``,
  ``test.tsv`` with ``head<TAB>relation<TAB>tail``; ``entity2text.tsv`` with ``id<TAB>text``;
  ``relation2text.tsv`` with ``id<TAB>text``);
- a :class:`~kgforge.graph.store.KnowledgeGraph` (REL-namespace facts, text from the entity
  records' labels and descriptions);
- PyKEEN ``TriplesFactory`` objects (and back), so PyKEEN users can bring or take their data.

Indices are positions: entity ``i`` is ``entities[i]``, its text ``entity_text[i]``. When read
from a directory the entity order is the order of ``entity2text.tsv``, so indices (and cached
text features) are stable across runs. Bad input is a :class:`~kgforge.errors.DataError` that
names the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch

from kgforge.embed.dataset import (
    DatasetReport,
    build_dataset,
    clean_text,
    entity_records,
    join_text,
    readable_relation,
)
from kgforge.errors import ConfigError, DataError
from kgforge.fileio import atomic_write

if TYPE_CHECKING:
    import numpy as np
    from pykeen.triples import CoreTriplesFactory
    from torch_geometric.data import Data

    from kgforge.graph.store import KnowledgeGraph

Split = Literal["train", "valid", "test"]
SPLITS: tuple[Split, ...] = ("train", "valid", "test")


def _empty_triples() -> torch.Tensor:
    return torch.empty((0, 3), dtype=torch.long)


@dataclass(eq=False)
class KGData:
    """Entities and relations with text, and index triples ``(head, relation, tail)`` per split.

    Load one with :meth:`KGData.load_dir` or :meth:`KGData.from_graph`.

    Args:
        entities: entity ids (row ``i`` of the triples' head/tail columns is ``entities[i]``).
        relations: relation ids.
        entity_text: one text per entity (what text encoders read).
        relation_text: one text per relation.
        train: ``(n, 3)`` long tensor of index triples.
        valid: the same for validation.
        test: the same for testing.
        report: what :meth:`from_graph` built and left out (``None`` for other sources).
    """

    entities: list[str]
    relations: list[str]
    entity_text: list[str]
    relation_text: list[str]
    train: torch.Tensor = field(default_factory=_empty_triples)
    valid: torch.Tensor = field(default_factory=_empty_triples)
    test: torch.Tensor = field(default_factory=_empty_triples)
    report: DatasetReport | None = field(default=None, repr=False)
    entity_to_id: dict[str, int] = field(init=False, repr=False)
    relation_to_id: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.entity_text) != len(self.entities):
            raise DataError("entity_text must have one text per entity")
        if len(self.relation_text) != len(self.relations):
            raise DataError("relation_text must have one text per relation")
        self.entity_to_id = {e: i for i, e in enumerate(self.entities)}
        self.relation_to_id = {r: i for i, r in enumerate(self.relations)}
        if len(self.entity_to_id) != len(self.entities):
            raise DataError("entity ids must be unique")
        if len(self.relation_to_id) != len(self.relations):
            raise DataError("relation ids must be unique")
        for name in SPLITS:
            triples = torch.as_tensor(getattr(self, name), dtype=torch.long).reshape(-1, 3)
            if triples.numel():
                h, r, t = triples.unbind(1)
                if min(h.min(), t.min()) < 0 or max(h.max(), t.max()) >= self.num_entities:
                    raise DataError(f"{name} triples hold entity indices out of range")
                if r.min() < 0 or r.max() >= self.num_relations:
                    raise DataError(f"{name} triples hold relation indices out of range")
            setattr(self, name, triples)

    # -- basic views -----------------------------------------------------------------------
    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def triples(self, split: Split) -> torch.Tensor:
        """The index triples ``[n, 3]`` of one split."""
        if split not in SPLITS:
            raise ConfigError(
                f"unknown split {split!r}; expected one of {', '.join(SPLITS)}", field="split"
            )
        return getattr(self, split)

    def split_entities(self, split: Split) -> torch.Tensor:
        """Sorted indices of the entities that occur (as head or tail) in ``split``."""
        return torch.unique(self.triples(split)[:, [0, 2]])

    def all_triples(self) -> torch.Tensor:
        """Train, valid and test triples together (the known triples for filtered ranking)."""
        return torch.cat([self.train, self.valid, self.test])

    def to_pyg(
        self,
        splits: Split | Sequence[Split] = "train",
        features: bool | np.ndarray | torch.Tensor = False,
        text_model: str | None = None,
    ) -> Data:
        """The triples of ``splits`` as a PyTorch Geometric ``Data`` over all entities.

        ``edge_index`` ``[2, E]`` runs head -> tail, ``edge_type`` ``[E]`` holds relation
        indices, ``num_nodes`` is the number of entities (node ``i`` is ``self.entities[i]``, so
        isolated entities, e.g. the unseen ones of an inductive split, keep their index): the
        homogeneous form ``RGCNConv``, ``FastRGCNConv`` and ``RGATConv`` take (one node type,
        typed edges, so no ``HeteroData``). ``features=True`` sets ``x`` to the frozen
        sentence-transformers features of the entity texts (cached on disk,
        :func:`kgforge.embed.features.encode_texts`); an array sets ``x`` to it. The ids and
        texts travel as ``entity_ids``, ``relation_ids`` and ``entity_text``.

        >>> graph = data.to_pyg()                                   # doctest: +SKIP
        >>> RGCNConv(384, 64, data.num_relations)(graph.x, graph.edge_index, graph.edge_type)
        """
        from torch_geometric.data import Data  # slow to import: only when asked for

        names = [splits] if isinstance(splits, str) else list(splits)
        parts = [self.triples(name) for name in names]
        triples = (torch.cat(parts) if parts else torch.empty(0, 3)).long().reshape(-1, 3)
        graph = Data(
            edge_index=triples[:, [0, 2]].T.contiguous(),
            edge_type=triples[:, 1].contiguous(),
            num_nodes=self.num_entities,
        )
        if features is True:
            from kgforge.embed.features import encode_texts

            features = encode_texts(self.entity_text, model=text_model)
        if features is not False:
            x = torch.as_tensor(features, dtype=torch.float32)
            if x.shape[0] != self.num_entities:
                raise DataError(f"features have {x.shape[0]} rows for {self.num_entities} entities")
            graph.x = x
        graph.entity_ids = list(self.entities)
        graph.relation_ids = list(self.relations)
        graph.entity_text = list(self.entity_text)
        return graph

    def labeled_triples(self, split: Split) -> list[tuple[str, str, str]]:
        """The triples of ``split`` as ``(head id, relation id, tail id)`` strings."""
        return [
            (self.entities[h], self.relations[r], self.entities[t])
            for h, r, t in self.triples(split).tolist()
        ]

    def __repr__(self) -> str:
        return (
            f"KGData(entities={self.num_entities}, relations={self.num_relations}, "
            f"train={len(self.train)}, valid={len(self.valid)}, test={len(self.test)})"
        )

    # -- directory layout ------------------------------------------------------------------
    @classmethod
    def load_dir(cls, path: str | Path, require_text: bool = True) -> KGData:
        """Read a data directory (``train.tsv`` required; ``valid.tsv``/``test.tsv`` optional).

        With ``require_text`` (the default) ``entity2text.tsv`` and ``relation2text.tsv`` must
        exist and cover every id used in the triples. Without it, missing text files are
        allowed: ids then come from the triples in order of appearance and serve as their own
        text (useful for splitting raw triples).
        """
        root = Path(path)
        if not root.is_dir():
            raise DataError("not a data directory", root)
        if not (root / "train.tsv").is_file():
            raise DataError("missing train.tsv", root)
        entity_file, relation_file = root / "entity2text.tsv", root / "relation2text.tsv"
        for text_file in (entity_file, relation_file):
            if require_text and not text_file.is_file():
                raise DataError(f"missing {text_file.name} (entity and relation text)", root)
        entities, entity_text = _read_text_file(entity_file) if entity_file.is_file() else ([], [])
        relations, relation_text = (
            _read_text_file(relation_file) if relation_file.is_file() else ([], [])
        )
        entity_to_id = {e: i for i, e in enumerate(entities)}
        relation_to_id = {r: i for i, r in enumerate(relations)}
        # without a text file the ids come from the triples, in order of appearance
        grow_entities = not entity_file.is_file()
        grow_relations = not relation_file.is_file()
        splits: dict[str, torch.Tensor] = {}
        for name in SPLITS:
            file = root / f"{name}.tsv"
            if not file.is_file():
                splits[name] = _empty_triples()
                continue
            rows = []
            for line_no, parts in _read_tsv(file, 3):
                h, r, t = parts
                rows.append(
                    (
                        _lookup(h, entity_to_id, entities, grow_entities, file, line_no, "head"),
                        _lookup(
                            r, relation_to_id, relations, grow_relations, file, line_no, "relation"
                        ),
                        _lookup(t, entity_to_id, entities, grow_entities, file, line_no, "tail"),
                    )
                )
            splits[name] = torch.tensor(rows, dtype=torch.long).reshape(-1, 3)
        if grow_entities:
            entity_text = list(entities)
        if grow_relations:
            relation_text = [readable_relation(r) for r in relations]
        return cls(entities, relations, entity_text, relation_text, **splits)

    def to_dir(self, path: str | Path) -> Path:
        """Write the five files of the data-directory layout; returns the directory.

        Data built by :meth:`from_graph` also writes its report: ``dataset.json`` and
        ``excluded_sentences.tsv`` (the sentences taken out of entity texts).
        """
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise DataError("exists and is not a directory: choose another output", root)
        root.mkdir(parents=True, exist_ok=True)
        _write_lines(
            root / "entity2text.tsv",
            (
                f"{clean_text(e)}\t{clean_text(t)}"
                for e, t in zip(self.entities, self.entity_text, strict=True)
            ),
        )
        _write_lines(
            root / "relation2text.tsv",
            (
                f"{clean_text(r)}\t{clean_text(t)}"
                for r, t in zip(self.relations, self.relation_text, strict=True)
            ),
        )
        for name in SPLITS:
            _write_lines(root / f"{name}.tsv", ("\t".join(t) for t in self.labeled_triples(name)))
        if self.report is not None:
            self.report.write(root)
        return root

    # -- knowledge graphs ------------------------------------------------------------------
    @classmethod
    def from_graph(
        cls,
        kg: KnowledgeGraph,
        graphs: Sequence[str] | None = None,
        valid_fraction: float | None = None,
        test_fraction: float | None = None,
        seed: int = 0,
        inductive: bool = False,
        min_relation_edges: int = 1,
        keep_types: bool = False,
        min_relation_count: int = 1,
        leakage_free: bool = True,
    ) -> KGData:
        """Link-prediction data from the facts of a knowledge graph (``kgforge dataset``).

        What is read, dropped and held out is described in :mod:`kgforge.embed.dataset`; the
        returned data's ``report`` (a :class:`~kgforge.embed.dataset.DatasetReport`) says
        what was built, what was left out and why, and :meth:`to_dir` writes it beside the
        triples (``dataset.json``, ``excluded_sentences.tsv``).

        Args:
            kg: the knowledge graph.
            graphs: named graphs to read facts from (default: all but the entity records and
                the predicted links).
            valid_fraction: share of triples (of entities with ``inductive``; a whole number
                is a count of entities) held out for validation; ``None`` adapts to the graph.
            test_fraction: the same for testing.
            seed: random seed (same seed, same split).
            inductive: hold out entities (BLP protocol) instead of triples.
            min_relation_edges: training edges every relation keeps (inductive only).
            keep_types: keep type statements (``is_a``) as a relation.
            min_relation_count: drop predicates with fewer distinct triples.
            leakage_free: take every sentence that supports a valid or test triple out of the
                text of that triple's entities.

        >>> data = KGData.from_graph(kg, inductive=True)        # doctest: +SKIP
        >>> print(data.report.summary())
        """
        built = build_dataset(
            kg,
            graphs=graphs,
            valid_fraction=valid_fraction,
            test_fraction=test_fraction,
            seed=seed,
            inductive=inductive,
            min_relation_edges=min_relation_edges,
            keep_types=keep_types,
            min_relation_count=min_relation_count,
            leakage_free=leakage_free,
        )
        return cls(
            built.entities,
            built.relations,
            built.entity_text,
            built.relation_text,
            built.train,
            built.valid,
            built.test,
            report=built.report,
        )

    def with_splits(self, train: torch.Tensor, valid: torch.Tensor, test: torch.Tensor) -> KGData:
        """The same entities and relations with other triples."""
        return KGData(
            list(self.entities),
            list(self.relations),
            list(self.entity_text),
            list(self.relation_text),
            train,
            valid,
            test,
        )

    # -- PyKEEN ----------------------------------------------------------------------------
    def to_triples_factory(self, split: Split = "train") -> CoreTriplesFactory:
        """A PyKEEN ``TriplesFactory`` of one split, sharing this data's id maps.

        All splits map to the same ids, as PyKEEN's pipeline expects of training, validation
        and testing factories.
        """
        from pykeen.triples import TriplesFactory

        return TriplesFactory(
            mapped_triples=self.triples(split).clone(),
            entity_to_id=dict(self.entity_to_id),
            relation_to_id=dict(self.relation_to_id),
        )

    @classmethod
    def from_triples_factory(
        cls,
        train_tf: CoreTriplesFactory,
        valid_tf: CoreTriplesFactory | None = None,
        test_tf: CoreTriplesFactory | None = None,
        entity_text: Mapping[str, str] | Sequence[str] | None = None,
        relation_text: Mapping[str, str] | Sequence[str] | None = None,
    ) -> KGData:
        """Data from PyKEEN factories that share id maps (as ``TriplesFactory.split`` makes).

        Text is given per label (a mapping) or per id (a sequence); by default the labels
        themselves (relation labels with underscores read as spaces).
        """
        entity_to_id = getattr(train_tf, "entity_to_id", None)
        relation_to_id = getattr(train_tf, "relation_to_id", None)
        if entity_to_id is None:  # a CoreTriplesFactory without labels
            entity_to_id = {str(i): i for i in range(train_tf.num_entities)}
            relation_to_id = {str(i): i for i in range(train_tf.num_relations)}
        entities = _labels_by_id(entity_to_id, train_tf.num_entities)
        relations = _labels_by_id(relation_to_id, train_tf.num_relations)
        splits: dict[str, torch.Tensor] = {}
        for name, tf in (("train", train_tf), ("valid", valid_tf), ("test", test_tf)):
            if tf is None:
                continue
            if tf is not train_tf and getattr(tf, "entity_to_id", entity_to_id) != entity_to_id:
                raise DataError(f"the {name} factory has other entity ids than the training one")
            splits[name] = tf.mapped_triples.clone().long()
        return cls(
            entities,
            relations,
            _texts(entities, entity_text, lambda e: e),
            _texts(relations, relation_text, readable_relation),
            **splits,
        )


# -- graph helpers --------------------------------------------------------------------------
def entity_texts(kg: KnowledgeGraph) -> dict[str, str]:
    """The text of every entity record of a graph, ``label: description``, by entity IRI: what
    text encoders read, for entities seen in training and for those added since."""
    return {iri: join_text(*parts) for iri, parts in entity_records(kg).items()}


# -- file helpers ---------------------------------------------------------------------------
def _read_tsv(path: Path, num_fields: int) -> Iterable[tuple[int, list[str]]]:
    """``(line number, fields)`` of a tab-separated file; blank lines are skipped."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for line_no, line in enumerate(handle, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                parts = line.split("\t")
                if len(parts) != num_fields:
                    raise DataError(
                        f"expected {num_fields} tab-separated fields, found {len(parts)}",
                        path,
                        line_no,
                    )
                parts = [p.strip() for p in parts]
                if not parts[0]:
                    raise DataError("empty id", path, line_no)
                yield line_no, parts
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path) from exc


def _read_text_file(path: Path) -> tuple[list[str], list[str]]:
    """Ids and texts of an ``id<TAB>text`` file; duplicate ids and empty texts are errors."""
    ids: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
    for line_no, (key, text) in _read_tsv(path, 2):
        if key in seen:
            raise DataError(f"duplicate id {key!r} (first on line {seen[key]})", path, line_no)
        if not text:
            raise DataError(f"missing text for {key!r}", path, line_no)
        seen[key] = line_no
        ids.append(key)
        texts.append(text)
    return ids, texts


def _lookup(
    key: str,
    index: dict[str, int],
    ids: list[str],
    grow: bool,
    path: Path,
    line_no: int,
    role: str,
) -> int:
    found = index.get(key)
    if found is not None:
        return found
    if not key:
        raise DataError(f"empty {role}", path, line_no, role)
    if not grow:
        text_file = "relation2text.tsv" if role == "relation" else "entity2text.tsv"
        raise DataError(f"unknown {role} id {key!r} (not in {text_file})", path, line_no, role)
    index[key] = len(ids)
    ids.append(key)
    return index[key]


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="\n") as handle:
            for line in lines:
                handle.write(line + "\n")

    atomic_write(path, write)


def _labels_by_id(label_to_id: Mapping[str, int], count: int) -> list[str]:
    labels = [""] * count
    for label, i in label_to_id.items():
        labels[i] = label
    missing = [i for i, label in enumerate(labels) if not label]
    if missing:
        raise DataError(f"the id map has no label for ids {missing[:5]}")
    return labels


def _texts(
    labels: list[str],
    given: Mapping[str, str] | Sequence[str] | None,
    default: Callable[[str], str],
) -> list[str]:
    if given is None:
        return [default(label) for label in labels]
    if isinstance(given, Mapping):
        missing = [label for label in labels if not given.get(label)]
        if missing:
            raise DataError(f"missing text for {len(missing)} ids, e.g. {missing[:3]}")
        return [given[label] for label in labels]
    if len(given) != len(labels):
        raise DataError(f"expected {len(labels)} texts, got {len(given)}")
    return list(given)
