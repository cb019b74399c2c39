"""Transfer: reuse trained embeddings downstream (predicted links written back into the graph)."""
