"""Link-prediction datasets from a knowledge graph kgforge extracted, without text leakage.

:meth:`kgforge.embed.data.KGData.from_graph` (and ``kgforge dataset``) build on this module:

- **Facts**: the distinct ``(s, p, o)`` with ``p`` in the REL namespace and IRIs at both ends,
  from every graph except the entity records and the predicted links (a model never trains on
  its own predictions). *Type statements* ("X is a physicist": ``rdf:type`` to a ``type:``
  class, ``kgf:isA`` or ``rel:is_a``) are left out unless ``keep_types``: they are most of what
  the default extractor writes and would otherwise dominate the relations. Predicates with
  fewer than ``min_relation_count`` distinct triples are dropped. Every drop is reported.
- **Split**: transductive (held-out triples whose entities and relation keep a training triple,
  :func:`kgforge.embed.split.random_split`) or inductive (held-out entities,
  :func:`kgforge.embed.split.make_inductive_split`). Shares left unset adapt to the graph: 10%
  each, raised towards 20% on a small graph so that valid and test reach :data:`USEFUL_HELD_OUT`
  triples, and cut to what the graph allows (with a warning). Shares given explicitly are held
  exactly, or it is an error that says what the graph allows.
- **Leakage-free entity text**: an entity's text is ``label: description`` (the description is
  the sentences that mention it, :mod:`kgforge.extract.rdf`). Each statement's provenance node
  names the sentence it was extracted from (``kgf:sentence``); every sentence that supports a
  valid or test triple is removed from the text of both of that triple's entities, for
  training and evaluation alike, so a model cannot score a held-out triple by reading the
  sentence it came from. The removed sentences are listed in ``excluded_sentences.tsv`` of the
  data directory (:meth:`DatasetReport.write`).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from kgforge.embed.split import check_fractions, make_inductive_split, random_split
from kgforge.errors import DataError
from kgforge.fileio import atomic_write

if TYPE_CHECKING:
    from kgforge.graph.store import KnowledgeGraph

Triple = tuple[str, str, str]

USEFUL_HELD_OUT = 100  # valid/test triples below which a warning says the metrics are noise
DEFAULT_SHARE = 0.1  # valid and test shares when none are given
MAX_ADAPTED_SHARE = 0.2  # how far an unset share may rise on a small graph
IS_A_TEXT = "is a"
_UNSAFE = re.compile(r"[\t\r\n]+")


# -- text helpers (shared with kgforge.embed.data) ----------------------------------------------
def clean_text(text: str) -> str:
    """Tabs and newlines would break the line format: they become single spaces."""
    return _UNSAFE.sub(" ", text).strip()


def readable_relation(relation: str) -> str:
    """``"born_in"`` -> ``"born in"``."""
    return " ".join(relation.replace("_", " ").split()) or relation


def label_from_iri(iri: str) -> str:
    """A readable label for an IRI without a record: its last segment, minus a mint hash."""
    local = re.split(r"[/#]", iri.rstrip("/#"))[-1]
    local = re.sub(r"_[0-9a-f]{8}$", "", local)
    return readable_relation(local) or iri


def entity_records(kg: KnowledgeGraph) -> dict[str, tuple[str, str]]:
    """``(label, description)`` of every entity record, by entity IRI (description may be "")."""
    from rdflib.namespace import DCTERMS, RDFS

    from kgforge.graph.namespaces import ENTITIES_GRAPH

    labels: dict[str, list[str]] = {}
    descriptions: dict[str, list[str]] = {}
    for s, _, o in kg.triples((None, RDFS.label, None), graph=ENTITIES_GRAPH):
        labels.setdefault(str(s), []).append(str(o))
    for s, _, o in kg.triples((None, DCTERMS.description, None), graph=ENTITIES_GRAPH):
        descriptions.setdefault(str(s), []).append(str(o))
    return {
        iri: (clean_text(sorted(names)[0]), clean_text(" ".join(sorted(descriptions.get(iri, [])))))
        for iri, names in labels.items()
    }


def join_text(label: str, description: str) -> str:
    """What text encoders read: ``label: description`` (the label alone without one)."""
    return f"{label}: {description}" if description else label


# -- reading the graph ---------------------------------------------------------------------------
@dataclass
class GraphFacts:
    """What a dataset is made of, read from a graph in one pass."""

    facts: list[Triple]  # distinct REL facts and (typed as such) type statements, in order
    type_facts: set[Triple]  # the type statements among them
    support: dict[Triple, set[str]]  # the sentences each fact was extracted from
    records: dict[str, tuple[str, str]]  # entity IRI -> (label, description)
    labels: dict[str, str]  # rdfs:label of relations and classes (any graph)


def type_predicates() -> frozenset[str]:
    """Predicates that state an entity's class rather than a relation between entities."""
    from rdflib.namespace import RDF

    from kgforge.graph.namespaces import KGF, REL

    return frozenset({str(RDF.type), str(KGF.isA), str(REL.is_a)})


def read_graph(kg: KnowledgeGraph, graphs: Sequence[str] | None = None) -> GraphFacts:
    """Facts, type statements, their supporting sentences and the entity records of ``kg``.

    ``graphs`` (named-graph IRIs) limits facts and provenance to those graphs; by default every
    graph but the entity records and the predicted links.
    """
    from rdflib import URIRef
    from rdflib.namespace import RDF, RDFS

    from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF, PREDICTED_GRAPH, REL, TYPE

    rel_prefix, type_prefix, rdf_type = str(REL), str(TYPE), str(RDF.type)
    typing = type_predicates()
    excluded = {str(ENTITIES_GRAPH), str(PREDICTED_GRAPH)}
    allowed = None if graphs is None else {str(g) for g in graphs}

    def wanted(graph: object) -> bool:
        name = str(getattr(graph, "identifier", graph))
        return name in allowed if allowed is not None else name not in excluded

    seen: dict[Triple, None] = {}
    type_facts: set[Triple] = set()
    for s, p, o, g in kg.quads((None, None, None, None)):
        if not (isinstance(s, URIRef) and isinstance(o, URIRef)) or not wanted(g):
            continue
        pred = str(p)
        if pred in typing:
            if pred == rdf_type and not str(o).startswith(type_prefix):
                continue  # kgf:Document, kgf:Statement, ...: bookkeeping, not a class
            type_facts.add((str(s), pred, str(o)))
        elif not pred.startswith(rel_prefix):
            continue
        seen.setdefault((str(s), pred, str(o)), None)
    support: dict[Triple, set[str]] = defaultdict(set)
    rows = kg.query(
        "SELECT ?g ?s ?p ?o ?sentence WHERE { GRAPH ?g { ?st a kgf:Statement ; rdf:subject ?s ; "
        "rdf:predicate ?p ; rdf:object ?o ; kgf:sentence ?sentence } }"
    )
    for row in rows:
        triple = (str(row.s), str(row.p), str(row.o))
        if triple in seen and wanted(row.g):
            support[triple].add(" ".join(str(row.sentence).split()))
    labels = {
        str(s): clean_text(str(o))
        for s, _, o in kg.triples((None, RDFS.label, None))
        if str(s).startswith((rel_prefix, type_prefix)) or str(s) == str(KGF.isA)
    }
    return GraphFacts(list(seen), type_facts, dict(support), entity_records(kg), labels)


# -- the report ----------------------------------------------------------------------------------
STORE_ENTITIES_FILE = "store_entities.txt"
"""The entities that had a record in the store when a dataset was built, one IRI a line: what
``predict-links`` does not count as added since training."""


@dataclass
class ExcludedSentence:
    """A sentence taken out of an entity's text because it supports a held-out triple."""

    entity: str
    split: str
    head: str
    relation: str
    tail: str
    sentence: str


@dataclass
class DatasetReport:
    """What :meth:`KGData.from_graph` built and left out, and why (``kgforge dataset`` prints it).

    Attributes:
        entities, relations: how many of each the dataset holds.
        triples: triples per split.
        inductive: whether entities (not triples) were held out.
        shares: the valid and test shares used (of entities if inductive, else of triples).
        held_out_entities: entities held out per split (inductive only).
        type_statements: type statements in the graph, and whether they were kept.
        dropped_relations: relation -> (triples, reason) for every predicate left out.
        excluded: every sentence taken out of an entity's text.
        name_leaks: held-out triples whose other entity's label still occurs in an entity's text
            (in a sentence that supports no held-out triple: co-mentions are not leakage by the
            rule above, but they make a text-only model's task easier).
        warnings: what makes the dataset less useful than it looks.
    """

    entities: int = 0
    relations: int = 0
    triples: dict[str, int] = field(default_factory=dict)
    inductive: bool = False
    shares: dict[str, float] = field(default_factory=dict)
    held_out_entities: dict[str, int] = field(default_factory=dict)
    type_statements: int = 0
    types_kept: bool = False
    dropped_relations: dict[str, tuple[int, str]] = field(default_factory=dict)
    excluded: list[ExcludedSentence] = field(default_factory=list)
    name_leaks: int = 0
    warnings: list[str] = field(default_factory=list)
    store_entities: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        """A few lines for people: counts, drops, exclusions, warnings."""
        t = self.triples
        kind = "inductive (held-out entities)" if self.inductive else "transductive"
        lines = [
            f"{self.entities} entities, {self.relations} relations; triples: train "
            f"{t.get('train', 0)}, valid {t.get('valid', 0)}, test {t.get('test', 0)} ({kind}; "
            f"shares valid {self.shares.get('valid', 0):.3g}, test {self.shares.get('test', 0):.3g})"
        ]
        if self.inductive:
            lines.append(
                f"held-out entities: valid {self.held_out_entities.get('valid', 0)}, "
                f"test {self.held_out_entities.get('test', 0)}"
            )
        if self.type_statements:
            how = "kept as relations" if self.types_kept else "dropped (--keep-types keeps them)"
            lines.append(f"type statements (is_a): {self.type_statements}, {how}")
        if self.dropped_relations:
            by_reason = Counter(reason for _, reason in self.dropped_relations.values())
            count = Counter()
            for n, reason in self.dropped_relations.values():
                count[reason] += n
            for reason, k in sorted(by_reason.items()):
                lines.append(f"dropped {k} relations ({count[reason]} triples): {reason}")
        sentences = {(e.entity, e.sentence) for e in self.excluded}
        lines.append(
            f"leakage-free text: {len(sentences)} sentences taken out of "
            f"{len({e.entity for e in self.excluded})} entities' text (they support valid/test "
            f"triples); held-out triples whose other entity is still named in the text: "
            f"{self.name_leaks}"
        )
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("excluded")
        out["store_entities"] = len(out["store_entities"])  # the IRIs: store_entities.txt
        out["excluded_sentences"] = len(self.excluded)
        out["dropped_relations"] = {
            r: {"triples": n, "reason": why} for r, (n, why) in self.dropped_relations.items()
        }
        return out

    def write(self, root: Path) -> None:
        """``dataset.json`` (this report), ``excluded_sentences.tsv`` and ``store_entities.txt``
        (every entity with a record in the store then: what ``predict-links`` does not count as
        new) in a data directory."""
        text = json.dumps(self.to_json(), indent=2) + "\n"
        atomic_write(root / "dataset.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
        known = "".join(f"{iri}\n" for iri in self.store_entities)
        atomic_write(
            root / STORE_ENTITIES_FILE, lambda tmp: tmp.write_text(known, encoding="utf-8")
        )
        rows = ["entity\tsplit\thead\trelation\ttail\tsentence"] + [
            "\t".join(clean_text(x) for x in (e.entity, e.split, e.head, e.relation, e.tail))
            + "\t"
            + clean_text(e.sentence)
            for e in self.excluded
        ]
        body = "\n".join(rows) + "\n"
        atomic_write(
            root / "excluded_sentences.tsv", lambda tmp: tmp.write_text(body, encoding="utf-8")
        )


# -- building ------------------------------------------------------------------------------------
@dataclass
class BuiltDataset:
    """Ids, texts and index triples, ready for :class:`kgforge.embed.data.KGData`."""

    entities: list[str]
    relations: list[str]
    entity_text: list[str]
    relation_text: list[str]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    report: DatasetReport


def build_dataset(
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
) -> BuiltDataset:
    """Read, filter and split a graph's facts; entity text without held-out evidence.

    See the module docstring; :meth:`KGData.from_graph` documents the arguments.
    """
    if min_relation_count < 1:
        raise DataError(f"min_relation_count must be at least 1, got {min_relation_count}")
    if not inductive:  # before the graph is read (inductive counts need its entities)
        check_fractions(valid_fraction or 0.0, test_fraction or 0.0)
    read = read_graph(kg, graphs)
    report = DatasetReport(inductive=inductive, types_kept=keep_types)
    report.type_statements = len(read.type_facts)
    report.store_entities = sorted(read.records)
    facts = [f for f in read.facts if keep_types or f not in read.type_facts]
    per_relation = Counter(r for _, r, _ in facts)
    rare = {r for r, n in per_relation.items() if n < min_relation_count}
    for r in sorted(rare):
        report.dropped_relations[r] = (
            per_relation[r],
            f"fewer than --min-relation-count {min_relation_count} triples",
        )
    facts = [f for f in facts if f[1] not in rare]
    if not facts:
        hint = ""
        if read.type_facts and not keep_types:
            hint = f" ({len(read.type_facts)} type statements are left out: keep_types keeps them)"
        elif rare:
            hint = " (every relation is below min_relation_count)"
        raise DataError(f"the knowledge graph holds no entity-to-entity facts to learn from{hint}")

    entities = sorted({x for h, _, t in facts for x in (h, t)})
    relations = sorted({r for _, r, _ in facts})
    e_id = {e: i for i, e in enumerate(entities)}
    r_id = {r: i for i, r in enumerate(relations)}
    triples = torch.tensor([(e_id[h], r_id[r], e_id[t]) for h, r, t in facts], dtype=torch.long)
    train, valid, test = _split(triples, report, valid_fraction, test_fraction, seed, inductive,
                                min_relation_edges)  # fmt: skip
    report.entities, report.relations = len(entities), len(relations)
    report.triples = {"train": len(train), "valid": len(valid), "test": len(test)}

    parts = {
        e: read.records.get(e, (read.labels.get(e) or label_from_iri(e), "")) for e in entities
    }
    labels = {e: label for e, (label, _) in parts.items()}
    descriptions = {e: " ".join(desc.split()) for e, (_, desc) in parts.items()}
    held = [
        (name, entities[h], relations[r], entities[t])
        for name, split in (("valid", valid), ("test", test))
        for h, r, t in split.tolist()
    ]
    if leakage_free:
        for name, h, r, t in held:
            for sentence in sorted(read.support.get((h, r, t), ())):
                for e in dict.fromkeys((h, t)):
                    if sentence and sentence in descriptions[e]:
                        descriptions[e] = " ".join(descriptions[e].replace(sentence, " ").split())
                        report.excluded.append(ExcludedSentence(e, name, h, r, t, sentence))
    texts = {e: join_text(labels[e], descriptions[e]) for e in entities}
    report.name_leaks = sum(
        _names(labels[t], texts[h]) or _names(labels[h], texts[t]) for _, h, _, t in held
    )
    for name in ("valid", "test"):
        n = report.triples[name]
        if n == 0 and report.shares[name]:
            report.warnings.append(
                f"no {name} triples could be held out: a model trains on this data but cannot "
                "be evaluated on it; more text gives a bigger graph"
            )
        elif 0 < n < USEFUL_HELD_OUT:
            report.warnings.append(
                f"{name} has {n} triples (under {USEFUL_HELD_OUT}): its MRR is noise, compare "
                "models on it with care; more text gives a bigger graph"
            )
    typing = type_predicates()
    relation_text = [
        IS_A_TEXT if r in typing else read.labels.get(r) or label_from_iri(r) for r in relations
    ]
    return BuiltDataset(
        entities,
        relations,
        [texts[e] for e in entities],
        relation_text,
        train,
        valid,
        test,
        report,
    )


def _names(label: str, text: str) -> bool:
    """Whether ``label`` occurs in ``text`` as a word sequence (case-insensitive)."""
    return (
        len(label) > 2 and re.search(rf"\b{re.escape(label.lower())}\b", text.lower()) is not None
    )


def _split(
    triples: torch.Tensor,
    report: DatasetReport,
    valid_fraction: float | None,
    test_fraction: float | None,
    seed: int,
    inductive: bool,
    min_relation_edges: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train/valid/test with the given shares, or shares adapted to the graph when unset."""
    n = len(triples)
    adapted = DEFAULT_SHARE
    if not inductive and n:  # raise unset shares on small graphs, towards USEFUL_HELD_OUT
        adapted = min(MAX_ADAPTED_SHARE, max(DEFAULT_SHARE, USEFUL_HELD_OUT / n))
    shares = {
        "valid": adapted if valid_fraction is None else valid_fraction,
        "test": adapted if test_fraction is None else test_fraction,
    }
    explicit = {"valid": valid_fraction is not None, "test": test_fraction is not None}
    report.shares = dict(shares)
    if inductive:
        split = make_inductive_split(
            triples,
            num_test_entities=shares["test"],
            num_valid_entities=shares["valid"],
            min_relation_edges=min_relation_edges,
            seed=seed,
            allow_fewer=True,
        )
        num_entities = len(torch.unique(triples[:, [0, 2]]))
        got = {"valid": len(split.valid_entities), "test": len(split.test_entities)}
        report.held_out_entities = got
        for name in ("test", "valid"):
            share = shares[name]
            want = int(share) if float(share).is_integer() else int(round(share * num_entities))
            if got[name] < want:
                if explicit[name]:
                    raise DataError(
                        f"could hold out only {got[name]} of {want} {name} entities of "
                        f"{num_entities} without leaving a neighbour without training triples "
                        f"or a relation below {min_relation_edges} edges: ask for at most "
                        f"{got[name]} (--{name} {got[name]}; {name}_fraction), leave --{name} unset to take what "
                        "the graph allows, or split transductively (without --inductive)"
                    )
                report.warnings.append(
                    f"held out {got[name]} {name} entities, not the {want} asked: the graph is "
                    "too sparse for more (each needs its neighbours to keep training triples)"
                )
        return split.train, split.valid, split.test
    train, valid, test = random_split(triples, shares["valid"], shares["test"], seed)
    for name, part in (("test", test), ("valid", valid)):
        want = int(round(n * shares[name]))
        if len(part) < want:
            if explicit[name]:
                could = len(part) / n if n else 0.0
                raise DataError(
                    f"could hold out only {len(part)} of {want} {name} triples of {n}: each "
                    "needs its head, tail and relation to keep another training triple; ask "
                    f"for at most --{name} {could:.3f} ({name}_fraction), leave --{name} unset to take what the "
                    "graph allows, or extract more text"
                )
            report.warnings.append(
                f"held out {len(part)} {name} triples, not the {want} asked: most entities have "
                "a single triple, which must stay in training"
            )
    return train, valid, test


def excluded_sentences(path: str | Path) -> Iterable[ExcludedSentence]:
    """Read back ``excluded_sentences.tsv`` of a data directory."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        yield ExcludedSentence(*line.split("\t", 5))
