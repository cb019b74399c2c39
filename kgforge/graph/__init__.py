"""The graph layer: RDF storage (embedded Oxigraph, memory, remote SPARQL) and its namespaces."""
