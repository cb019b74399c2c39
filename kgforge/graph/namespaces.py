"""Namespaces of kgforge's RDF model and minting of stable, readable, collision-free IRIs.

Every IRI kgforge writes is made here, so that extraction, the trainer and the transfer modules
agree on them. An IRI is ``<namespace><slug>`` where the slug is the label lower-cased and
reduced to ``[a-z0-9_]``; a short hash of the exact key is appended so that labels that slug the
same ("C++" and "C") never collide, and the same key always gives the same IRI.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from rdflib import Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

BASE = "https://w3id.org/kgforge/"
KGF = Namespace(BASE + "ns#")  # vocabulary: classes and properties of kgforge's model
ENT = Namespace(BASE + "entity/")  # entities
REL = Namespace(BASE + "relation/")  # relation predicates between entities
TYPE = Namespace(BASE + "type/")  # entity types (classes)
DOC = Namespace(BASE + "doc/")  # documents (also the name of each document's graph)
STMT = Namespace(BASE + "statement/")  # statement nodes carrying provenance
GRAPH = Namespace(BASE + "graph/")  # named graphs that are not documents

ENTITIES_GRAPH = GRAPH["entities"]  # consolidated entity records (label, type, aliases, text)
RELATIONS_GRAPH = GRAPH["relations"]  # canonical relations: surface predicate -> canonical
PREDICTED_GRAPH = GRAPH["predicted"]  # links predicted by a trained model

# the one set of prefixes: predeclared in every query and update, bound in exports, used to
# shorten IRIs in tables, and written in the demo's and the docs' queries
PREFIXES: dict[str, Namespace] = {
    "kgf": KGF,
    "ent": ENT,
    "rel": REL,
    "type": TYPE,
    "doc": DOC,
    "stmt": STMT,
    "graph": GRAPH,
    "rdf": RDF,
    "rdfs": RDFS,
    "skos": SKOS,
    "prov": PROV,
    "dcterms": DCTERMS,
    "owl": OWL,
    "xsd": XSD,
}

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(label: str, max_len: int = 48) -> str:
    """Readable ASCII slug of a label ("Barack Obama" -> "barack_obama")."""
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    slug = _NON_SLUG.sub("_", text.lower()).strip("_")
    return slug[:max_len].rstrip("_") or "x"


def short_hash(key: str, length: int = 8) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:length]


def mint(namespace: Namespace, *key: str) -> URIRef:
    """IRI in ``namespace`` for the key parts; the first part gives the readable slug."""
    joined = "\x1f".join(key)
    return namespace[f"{slugify(key[0])}_{short_hash(joined)}"]


def entity_iri(label: str, type_: str | None = None) -> URIRef:
    """The IRI of an entity, keyed by its normalised label and type."""
    return mint(ENT, " ".join(label.split()).casefold(), (type_ or "").casefold())


def relation_iri(label: str) -> URIRef:
    """Relation predicates are readable without a hash: their labels are slugs already."""
    return REL[slugify(label, max_len=64)]


def type_iri(label: str) -> URIRef:
    return TYPE[slugify(label, max_len=64)]


def document_iri(doc_id: str) -> URIRef:
    """The IRI of a document, which is also the name of the graph holding its statements."""
    return mint(DOC, doc_id)


def statement_iri(doc_id: str, *key: str) -> URIRef:
    return mint(STMT, doc_id, *key)


def sparql_prefixes() -> str:
    """PREFIX lines for all of kgforge's namespaces, to prepend to user queries."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())
