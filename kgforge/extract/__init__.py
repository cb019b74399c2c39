"""Extraction: corpus -> spaCy pipeline -> statements with provenance in a knowledge graph.

A run is ``kgforge.extract_corpus(corpus, store, pipeline="default", workers=1, ...)``, the
function ``kgforge.extract.run.extract``; ``kgforge.extract`` is this package and nothing else.
"""
