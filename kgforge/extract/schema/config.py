"""The ``kind: schema`` entry of a pipeline's ``relations:`` (validated by pydantic)::

    relations:
      - kind: schema
        ontology: ontologies/music.ttl     # Text2KGBench JSON or RDFS/OWL (any rdflib syntax)
        examples: examples/music.jsonl     # optional annotated sentences to train on
        encoder: null                      # sentence-transformers name or path (null: MiniLM)
        objective: strict_f1               # what dev thresholds are tuned for: strict_f1 (every
                                           #   triple counts) or f1 (Text2KGBench's filtered F1)
        dev_share: 0.2                     # thresholds: 1/dev_share-fold cross-validation
        seed: 0
        min_confidence: 0.0                # statements below are not written
        generative:                        # optional LLM backend instead of the trained scorer
          url: http://localhost:8000/v1    #   an OpenAI-compatible endpoint
          model: my-model
          api_key_env: OPENAI_API_KEY      #   the key is read from this variable, never stored
          timeout: 60

Paths are resolved against the YAML file's folder first, then the working folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from kgforge.yamlconfig import StrictModel


class GenerativeConfig(StrictModel):
    """An OpenAI-compatible chat endpoint that writes ``relation(subject, object)`` lines."""

    url: str
    model: str
    api_key_env: str | None = None
    timeout: float = Field(60.0, gt=0)
    max_tokens: int = Field(256, ge=1)


class SchemaRelations(StrictModel):
    """Schema-guided extraction (``kgforge.extract.schema``): an ontology in, triples that
    conform to it out."""

    kind: Literal["schema"]
    ontology: Path
    examples: Path | None = None
    encoder: str | None = None
    objective: Literal["strict_f1", "f1"] = "strict_f1"
    dev_share: float = Field(0.2, ge=0, lt=1)
    seed: int = 0
    min_confidence: float = Field(0.0, ge=0, le=1)
    generative: GenerativeConfig | None = None
