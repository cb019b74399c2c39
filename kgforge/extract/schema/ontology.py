"""Ontologies for schema-guided extraction: classes, and relations with a domain and a range.

Two file forms load into the same :class:`Ontology`:

- the JSON form of Text2KGBench: ``{"title", "id", "concepts": [{"qid", "label"}],
  "relations": [{"pid", "label", "domain": qid, "range": qid or ""}]}``;
- RDFS/OWL in any syntax rdflib reads (Turtle, RDF/XML, N-Triples, JSON-LD): ``owl:Class`` /
  ``rdfs:Class`` with ``rdfs:subClassOf``, ``owl:ObjectProperty`` / ``owl:DatatypeProperty`` /
  ``rdf:Property`` with ``rdfs:domain`` / ``rdfs:range``, ``rdfs:label`` and ``rdfs:comment``.

A relation's ``name`` is its label with spaces replaced by ``_`` (``publication_date``): the
predicate the extractor writes and the benchmark compares. Example::

    >>> onto = load_ontology("ontologies/2_music_ontology.json")
    >>> onto.relation("composer").domain, onto.relation("composer").range
    ('Q2188189', 'Q5')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kgforge.errors import ConfigError


@dataclass(frozen=True)
class OntologyClass:
    """A class (a Text2KGBench concept): its id, label and direct superclasses."""

    id: str
    label: str
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class OntologyRelation:
    """A relation; ``domain``/``range`` are class ids or ``None`` (no constraint).

    ``literal`` marks a datatype property (its values are literals: dates, numbers, strings).
    """

    id: str
    label: str
    domain: str | None = None
    range: str | None = None
    description: str = ""
    literal: bool = False

    @property
    def name(self) -> str:
        """The predicate written and compared: the label with spaces as ``_`` (as given: a
        label that ends in a space keeps a trailing ``_``, as the benchmark's scorer has it)."""
        return self.label.replace(" ", "_")


@dataclass
class Ontology:
    """Classes and relations, with subclass closure for domain and range checks."""

    id: str
    title: str
    classes: dict[str, OntologyClass]
    relations: list[OntologyRelation]
    _ancestors: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for cid in self.classes:
            seen: set[str] = set()
            stack = [cid]
            while stack:
                c = stack.pop()
                if c in seen:
                    continue
                seen.add(c)
                if c in self.classes:
                    stack.extend(self.classes[c].parents)
            self._ancestors[cid] = seen

    @property
    def relation_names(self) -> list[str]:
        """Each relation name once, in file order (a label declared twice, with two domains,
        is one relation name: triples are compared by name)."""
        return list(dict.fromkeys(r.name for r in self.relations))

    def relation(self, name: str) -> OntologyRelation:
        """A relation by name (``publication_date``) or label (``publication date``)."""
        key = name.strip().replace(" ", "_")
        for r in self.relations:
            if r.name == name or r.name.strip("_") == key:
                return r
        raise KeyError(name)

    def class_label(self, cid: str | None) -> str:
        if cid is None:
            return "thing"
        c = self.classes.get(cid)
        return c.label.strip() if c is not None else cid

    def is_subclass(self, cid: str, of: str | None) -> bool:
        """``cid`` is ``of`` or below it; ``of=None`` (no constraint) accepts everything."""
        return of is None or of in self._ancestors.get(cid, {cid})

    def conforms(self, relation: str, subject_class: str | None, object_class: str | None) -> bool:
        """Whether a triple fits the ontology: a known relation, subject in its domain and
        object in its range (an untyped argument, ``None``, is only checked for the relation;
        a name declared twice accepts either declaration)."""
        key = relation.strip().replace(" ", "_")
        return any(
            (subject_class is None or self.is_subclass(subject_class, r.domain))
            and (object_class is None or self.is_subclass(object_class, r.range))
            for r in self.relations
            if r.name == relation or r.name.strip("_") == key
        )

    def relation_text(self, r: OntologyRelation) -> str:
        """The text a relation is embedded by: label, domain and range, description."""
        text = f"{self.class_label(r.domain)} {r.label.strip()} {self.class_label(r.range)}"
        return f"{text}: {r.description}" if r.description else text


def load_ontology(path: str | Path) -> Ontology:
    """Read an ontology file: ``.json`` in the Text2KGBench form, anything else with rdflib."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("ontology file does not exist", path)
    if path.suffix.lower() == ".json":
        return _load_json(path)
    return _load_rdf(path)


def _load_json(path: Path) -> Ontology:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid JSON: {exc}", path) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("relations"), list):
        raise ConfigError("an ontology needs a 'relations' list", path, field="relations")
    classes = {}
    for k, c in enumerate(raw.get("concepts", [])):
        if not isinstance(c, dict) or "qid" not in c or "label" not in c:
            raise ConfigError("a concept needs 'qid' and 'label'", path, field=f"concepts[{k}]")
        classes[str(c["qid"])] = OntologyClass(str(c["qid"]), str(c["label"]))
    relations = []
    for k, r in enumerate(raw["relations"]):
        if not isinstance(r, dict) or not r.get("label"):
            raise ConfigError("a relation needs a 'label'", path, field=f"relations[{k}]")
        relations.append(
            OntologyRelation(
                id=str(r.get("pid", r["label"])),
                label=str(r["label"]),
                domain=str(r["domain"]) if r.get("domain") else None,
                range=str(r["range"]) if r.get("range") else None,
                description=str(r.get("description", "")),
            )
        )
    return Ontology(str(raw.get("id", path.stem)), str(raw.get("title", "")), classes, relations)


def _load_rdf(path: Path) -> Ontology:
    from rdflib import Graph, URIRef
    from rdflib.namespace import OWL, RDF, RDFS

    g = Graph()
    try:
        g.parse(path)
    except Exception as exc:  # rdflib raises many parser-specific types
        raise ConfigError(f"cannot parse ontology: {exc}", path) from None

    def label(node: URIRef) -> str:
        value = g.value(node, RDFS.label)
        if value is not None:
            return str(value)
        text = str(node)
        return text.rsplit("#", 1)[-1].rsplit("/", 1)[-1]

    class_nodes = set(g.subjects(RDF.type, OWL.Class)) | set(g.subjects(RDF.type, RDFS.Class))
    class_nodes |= set(g.subjects(RDFS.subClassOf, None)) | set(g.objects(None, RDFS.subClassOf))
    classes = {}
    for node in sorted(n for n in class_nodes if isinstance(n, URIRef)):
        parents = tuple(
            sorted(str(p) for p in g.objects(node, RDFS.subClassOf) if isinstance(p, URIRef))
        )
        classes[str(node)] = OntologyClass(str(node), label(node), parents)
    kinds = {OWL.ObjectProperty: False, OWL.DatatypeProperty: True, RDF.Property: False}
    relations = []
    seen = set()
    for kind, is_literal in kinds.items():
        for node in sorted(n for n in g.subjects(RDF.type, kind) if isinstance(n, URIRef)):
            if node in seen:
                continue
            seen.add(node)
            domain, range_ = g.value(node, RDFS.domain), g.value(node, RDFS.range)
            literal = is_literal or (range_ is not None and str(range_).startswith(str(RDFS)))
            literal = literal or (range_ is not None and "XMLSchema#" in str(range_))
            relations.append(
                OntologyRelation(
                    id=str(node),
                    label=label(node),
                    domain=str(domain) if domain is not None else None,
                    range=str(range_) if range_ is not None and not literal else None,
                    description=str(g.value(node, RDFS.comment) or ""),
                    literal=literal,
                )
            )
    if not relations:
        raise ConfigError("the ontology declares no properties", path)
    onto = next(iter(g.subjects(RDF.type, OWL.Ontology)), None)
    title = str(g.value(onto, RDFS.label) or "") if onto is not None else ""
    return Ontology(path.stem, title, classes, relations)
