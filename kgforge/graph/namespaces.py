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
from collections.abc import Container, Iterable, Iterator, Sequence

from rdflib import Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

from kgforge.errors import KGForgeError

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


# -- names as people type them: CURIEs, <IRI>s and IRIs -------------------------------------
_BY_LENGTH = sorted(
    ((str(ns), prefix) for prefix, ns in PREFIXES.items()), key=lambda x: -len(x[0])
)
_CURIE = re.compile(r"^([A-Za-z][\w.-]*):(\S*)$")


def shorten(iri: str) -> str:
    """``prefix:local`` where one of kgforge's prefixes fits ``iri``, else ``<iri>``: the form
    every command prints, and that :func:`expand` reads back."""
    for ns, prefix in _BY_LENGTH:
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns) :]}"
    return f"<{iri}>"


def expand(name: str) -> str | None:
    """The IRI that a printed name stands for, or None when ``name`` is not written as one.

    ``ent:belfast_86ed1549`` (any prefix of :data:`PREFIXES`), ``<https://...>`` and absolute
    IRIs (``scheme:...`` without spaces) are names; anything else (a bare word, free text) is not.
    """
    name = name.strip()
    if name.startswith("<") and name.endswith(">") and " " not in name:
        return name[1:-1]
    match = _CURIE.match(name)
    if match is None:
        return None
    prefix, local = match.groups()
    if prefix in PREFIXES:
        return str(PREFIXES[prefix]) + local
    if local.startswith("//") or prefix in ("urn", "mailto", "file", "tag", "did"):
        return name
    return None


def lookup(
    name: str, known: Container[str] | Iterable[str], default: Namespace | None = None
) -> str | None:
    """The form of ``name`` that ``known`` holds, trying ``name`` itself, its expansion
    (:func:`expand`), ``default[name]`` for a bare name and a CURIE's local part when its
    namespace is ``default``; None when none of them is known."""
    container = known if isinstance(known, Container) else set(known)
    for candidate in _candidates(name, default):
        if candidate in container:
            return candidate
    return None


def resolve(
    name: str,
    known: Container[str] | Iterable[str],
    what: str,
    default: Namespace | None = None,
) -> str:
    """Like :func:`lookup`, but an unknown name is a ``KGForgeError`` that names it and
    suggests the closest known names (in their printed form).

    Example: ``resolve("rel:city_in", model.relation_index, "relation", REL)`` gives
    ``"https://w3id.org/kgforge/relation/city_in"``.
    """
    found = lookup(name, known, default)
    if found is not None:
        return found
    raise UnknownNameError(name, what, close_names(name, known))


def close_names(name: str, known: Iterable[str] | Container[str], n: int = 3) -> list[str]:
    """Up to ``n`` known names (printed form) spelled most like ``name``."""
    import difflib

    if not isinstance(known, Iterable):
        return []
    printed = {_printed(k): k for k in known}
    target = _printed(expand(name) or name)
    matches = difflib.get_close_matches(target, list(printed), n=n, cutoff=0.6)
    if not matches:  # the local parts alone (a right slug in the wrong namespace, no hash)
        local = target.rpartition(":")[2]
        by_local = {p.rpartition(":")[2]: p for p in printed}
        matches = [by_local[m] for m in difflib.get_close_matches(local, list(by_local), n, 0.6)]
    return matches


def _printed(name: str) -> str:
    return shorten(name) if expand(name) == name else name


def _candidates(name: str, default: Namespace | None) -> Iterator[str]:
    yield name
    full = expand(name)
    if full is not None:
        yield full
        if default is not None and full.startswith(str(default)):
            yield full[len(str(default)) :]
    elif default is not None and not any(c.isspace() for c in name):
        yield str(default) + name


class UnknownNameError(KGForgeError):
    """A name (entity, relation, type, graph) that is not there; says which, and what is close."""

    def __init__(self, name: str, what: str, close: Sequence[str] = ()) -> None:
        self.name, self.what, self.close = name, what, list(close)
        hint = f"; did you mean {', '.join(self.close)}?" if self.close else ""
        written = expand(name)
        form = f" (read as <{written}>)" if written not in (None, name) else ""
        super().__init__(f"unknown {what} {name!r}{form}{hint}")
