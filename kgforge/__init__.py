"""kgforge: text to knowledge graph to inductive entity embeddings."""
__version__ = "0.1.0"
