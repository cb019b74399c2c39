"""Linking mentions to entities that exist already (``kgforge extract --link-to STORE|FILE``).

A reference graph is a kgforge store or an RDF file. Every subject in it with a label
(``rdfs:label``, ``skos:prefLabel``, ``schema:name``, ``foaf:name``) is a reference entity, with
its aliases (``skos:altLabel``, ``schema:alternateName``), its description (``dcterms:description``,
``rdfs:comment``, ``schema:description``) and its types (the labels or local names of its
``rdf:type``s). They are registered with the run's ``EntityResolver`` before any document, so
its candidate index (names, aliases, acronyms, name heads, surnames) finds them: a mention whose
candidates include a reference entity is ranked against them by context similarity (its
sentences and co-occurring entities against the reference description) and takes the best one's
IRI (rule ``link``) when that similarity reaches ``resolution.link_min_score``, the NIL
threshold; below it a new entity is minted. Each link is a ``kgf:MergeDecision`` with its score.
"""

from __future__ import annotations

from pathlib import Path

from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS

from kgforge.errors import KGForgeError
from kgforge.extract.resolve import EntityResolver, context_bag
from kgforge.graph.namespaces import KGF
from kgforge.graph.store import KnowledgeGraph

SCHEMA = Namespace("https://schema.org/")
SCHEMA_HTTP = Namespace("http://schema.org/")
LABELS = (RDFS.label, SKOS.prefLabel, SCHEMA.name, SCHEMA_HTTP.name, FOAF.name)
ALIASES = (SKOS.altLabel, SCHEMA.alternateName, SCHEMA_HTTP.alternateName)
DESCRIPTIONS = (DCTERMS.description, RDFS.comment, SCHEMA.description, SCHEMA_HTTP.description)


def _read(kg: KnowledgeGraph, resolver: EntityResolver) -> int:
    names: dict[URIRef, list[str]] = {}
    aliases: dict[URIRef, list[str]] = {}
    texts: dict[URIRef, list[str]] = {}
    types: dict[URIRef, dict[str, int]] = {}
    for preds, into in ((LABELS, names), (ALIASES, aliases), (DESCRIPTIONS, texts)):
        for p in preds:
            for s, _, o in kg.triples((None, p, None)):
                if isinstance(s, URIRef) and isinstance(o, Literal):
                    into.setdefault(s, []).append(str(o))
    type_names = {s: sorted(v)[0] for s, v in names.items()}
    classes: set[URIRef] = set()  # classes are not entities to link to
    for s, _, o in kg.triples((None, RDF.type, None)):
        if isinstance(o, URIRef):
            classes.add(o)
        if s in names and isinstance(o, URIRef) and not str(o).startswith(str(KGF)):
            name = type_names.get(o) or str(o).rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
            types.setdefault(s, {})[name] = 1
    count = 0
    for s in sorted(names.keys() - classes):
        labels = sorted(set(names[s]))
        all_names = labels + sorted(set(aliases.get(s, [])) - set(labels))
        contexts = sorted(set(texts.get(s, [])))
        bag = context_bag(contexts, all_names, [])
        resolver.known(s, all_names, types.get(s, {}), bag, reference=True, contexts=contexts)
        count += 1
    return count


def check_reference(source: str | Path) -> None:
    """Fail early (before a store is opened or created) on a reference that is not there."""
    path = Path(source)
    if not (path.is_file() or path.is_dir() or str(source).startswith(("http://", "https://"))):
        raise KGForgeError(f"--link-to {source}: no such store or RDF file")


def load_reference(source: str | Path, resolver: EntityResolver) -> int:
    """Register the entities of a reference store or RDF file with ``resolver`` as link targets;
    returns how many. A file is parsed whole first (a malformed one is a located error)."""
    check_reference(source)
    path = Path(source)
    if path.is_file():
        with KnowledgeGraph.open(":memory:") as kg:
            kg.load(path)
            return _read(kg, resolver)
    with KnowledgeGraph.open(source, read_only=True, create=False) as kg:
        return _read(kg, resolver)
