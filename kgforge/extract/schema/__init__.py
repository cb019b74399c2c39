"""Schema-guided extraction: an ontology (Text2KGBench JSON or RDFS/OWL) and optional example
sentences in, triples that conform to the ontology out.

Modules: ``ontology`` (loading, domain/range checks), ``candidates`` (argument spans, dates,
surface forms), ``model`` (the frozen-encoder relation scorer), ``examples`` (training data),
``extractor`` (the ``kind: schema`` pipeline component), ``generative`` (an optional
OpenAI-compatible LLM backend), ``metrics`` and ``evaluate`` (Text2KGBench's scores).
See docs/schema.md.
"""
