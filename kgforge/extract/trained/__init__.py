"""Trained entity-type and relation classifiers over a frozen sentence-transformers encoder.

Both models keep the transformer frozen and train only a small MLP head on its contextual
word-piece vectors, so they train on a CPU in minutes and ship as files of a few MB. One module
per job:

- ``encoder``: :class:`TokenEncoder`, the frozen encoder's word-piece vectors (cached on disk);
- ``head``: the MLP head, its training loop, and saving/loading (:class:`TrainedHead`);
- ``entity_types``: :class:`EntityTypeClassifier` re-types and completes the mentions a spaCy
  pipeline found: it scores those mentions and every capitalised or numeric span of up to
  ``max_width`` words as one of the trained types or "none" (features: the span's first, last
  and mean word-piece vectors, its width, and the label spaCy gave it), then keeps the best
  non-overlapping spans;
- ``relations``: :class:`RelationClassifier` encodes each pair of mentions of a sentence once,
  with both mentions marked by their types (``@ * person * Bill Gates @``), and classifies each
  ordered pair as one of the trained relations or "none" from the marker and span vectors of
  head and tail, the context between them and the whole sentence. Relation labels are only
  predicted for (head type, tail type) signatures seen in training;
- ``training``: :func:`train_from_gold`, both models from a gold JSONL file;
- ``joint``: :class:`JointExtractor`, a SpERT-style joint entity and relation model on a
  *fine-tuned* transformer (top layers over cached lower-layer states): candidate spans from
  ``spans``, training (negative sampling, checkpoints, resume) in ``joint_training``.
"""

from kgforge.extract.trained.encoder import TokenEncoder
from kgforge.extract.trained.entity_types import EntityTypeClassifier
from kgforge.extract.trained.joint import JointConfig, JointExtractor
from kgforge.extract.trained.relations import RelationClassifier

__all__ = [
    "EntityTypeClassifier",
    "JointConfig",
    "JointExtractor",
    "RelationClassifier",
    "TokenEncoder",
]
