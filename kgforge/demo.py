"""``make demo``: extract the shipped sample corpus into an on-disk graph and query it.

Run ``python -m kgforge.demo [WORKDIR]`` (default ``./.kgforge-demo``). A second run skips the
unchanged documents. The queries printed are the ones the README explains.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# a checkout keeps the corpus at the top level, an installed wheel inside the package
SAMPLE = next(
    (d for d in (_PACKAGE.parent / "data" / "sample", _PACKAGE / "data" / "sample") if d.is_dir()),
    _PACKAGE / "data" / "sample",
)

QUERIES: list[tuple[str, str, dict[str, str]]] = [
    (
        "Entities linked to the most other entities (over all documents)",
        """SELECT ?entity (SAMPLE(?tl) AS ?type) (COUNT(DISTINCT ?x) AS ?degree) WHERE {
  { ?e ?p ?x } UNION { ?x ?p ?e }
  FILTER(STRSTARTS(STR(?p), STR(rel:)))
  GRAPH graph:entities {
    ?e rdfs:label ?entity ; a ?t . ?t rdfs:label ?tl }
} GROUP BY ?entity ORDER BY DESC(?degree) ?entity LIMIT 8""",
        {},
    ),
    (
        "Statements with their provenance (document, confidence, sentence)",
        """SELECT ?subject ?relation ?object ?doc ?confidence ?sentence WHERE {
  ?st a kgf:Statement ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
      prov:wasDerivedFrom ?d ; kgf:confidence ?confidence ; kgf:sentence ?sentence .
  ?d kgf:docId ?doc .
  FILTER(STRSTARTS(STR(?p), STR(rel:)))
  BIND(STRAFTER(STR(?p), STR(rel:)) AS ?relation)
  GRAPH graph:entities { ?s rdfs:label ?subject . ?o rdfs:label ?object }
} ORDER BY DESC(?confidence) ?doc ?subject LIMIT 8""",
        {},
    ),
    (
        "Which documents support 'Marie Curie born_in Warsaw'?",
        """SELECT ?doc ?sentence WHERE {
  GRAPH graph:entities { ?s rdfs:label "Marie Curie" . ?o rdfs:label "Warsaw" }
  ?st rdf:subject ?s ; rdf:predicate rel:born_in ; rdf:object ?o ;
      prov:wasDerivedFrom ?d ; kgf:sentence ?sentence .
  ?d kgf:docId ?doc .
} ORDER BY ?doc""",
        {},
    ),
    (
        "Everything extracted from document 'marie_curie.txt'",
        """SELECT ?subject ?predicate ?object WHERE {
  ?d kgf:docId "marie_curie.txt" .
  GRAPH ?d { ?s ?p ?o FILTER(STRSTARTS(STR(?p), STR(rel:)) || ?p = kgf:isA) }
  GRAPH graph:entities { ?s rdfs:label ?subject }
  OPTIONAL { GRAPH graph:entities { ?o rdfs:label ?ol } }
  OPTIONAL { GRAPH ?d { ?o rdfs:label ?tl } }
  BIND(COALESCE(?ol, ?tl) AS ?object)
  BIND(IF(?p = kgf:isA, "is_a", STRAFTER(STR(?p), STR(rel:))) AS ?predicate)
} ORDER BY ?subject ?predicate ?object""",
        {},
    ),
    (
        "Entity record: labels, aliases and the description used for embeddings",
        """SELECT ?label (GROUP_CONCAT(DISTINCT ?alias; separator=", ") AS ?aliases) ?description
WHERE { GRAPH graph:entities {
  ?e rdfs:label ?label ; dcterms:description ?description .
  OPTIONAL { ?e skos:altLabel ?alias }
  FILTER(?label IN ("Marie Curie", "Steve Jobs"))
} } GROUP BY ?label ?description ORDER BY ?label""",
        {},
    ),
]


def main(workdir: str | Path = ".kgforge-demo", corpus: str | Path = SAMPLE) -> None:
    """Extract ``corpus`` into ``workdir/store`` and print the demo queries as tables."""
    from kgforge.extract.run import extract
    from kgforge.graph.results import format_result
    from kgforge.graph.store import KnowledgeGraph

    Path(workdir).mkdir(parents=True, exist_ok=True)
    store = Path(workdir) / "store"
    print(f"Extracting {corpus} into {store} with the default pipeline ...")
    summary = extract(corpus, store, "default")
    print(summary, end="\n\n")
    with KnowledgeGraph.open(store, read_only=True) as kg:
        stats = kg.stats()
        print("Store: " + ", ".join(f"{v} {k}" for k, v in stats.items()), end="\n\n")
        for title, sparql, bindings in QUERIES:
            print(f"== {title}")
            print(format_result(kg.query(sparql, **bindings), "table"), end="\n\n")
    print(f"Query it yourself: kgforge query {store} 'SELECT ...'")


if __name__ == "__main__":
    main(*sys.argv[1:2])
