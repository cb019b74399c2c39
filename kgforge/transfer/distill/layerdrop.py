"""The layer-drop student: the teacher's transformer with only some of its layers kept.

As in sentence-transformers' layer-reduction distillation example (Reimers and Gurevych,
2020): the kept layers keep their trained weights, so the student starts close to the teacher
and training against it recovers most of what the dropped layers did. Cost per text falls about
in proportion to the layers dropped.

Example:
    >>> student = LayerDropStudent(default_text_model(), layers=3)   # doctest: +SKIP
    >>> student.kept                                                  # doctest: +SKIP
    [0, 2, 5]
"""

from __future__ import annotations

import numpy as np
from torch import nn

from kgforge.errors import KGForgeError
from kgforge.models import open_sentence_model
from kgforge.transfer.distill.base import Student


class LayerDropStudent(Student):
    """The teacher's sentence-transformers model with ``layers`` of its transformer layers.

    Args:
        text_model: the teacher's sentence-transformers model (name or path).
        layers: how many layers to keep, spread evenly from the first to the last.
        keep: the layer indices to keep instead (overrides ``layers``).
        max_seq_length: truncate texts to this many tokens (default: the teacher's); cost per
            text falls with it too, which matters for long texts such as Freebase descriptions.
    """

    def __init__(
        self,
        text_model: str,
        layers: int = 3,
        keep: list[int] | None = None,
        max_seq_length: int | None = None,
    ) -> None:
        super().__init__(text_model)
        self.model = open_sentence_model(text_model, "cpu")  # its own: layers are dropped
        if max_seq_length is not None:
            if max_seq_length < 2:
                raise KGForgeError(f"max_seq_length must be at least 2, got {max_seq_length}")
            self.model.max_seq_length = max_seq_length
        transformer = self.model[0].auto_model
        stack = getattr(getattr(transformer, "encoder", None), "layer", None)
        if stack is None:
            raise KGForgeError(f"layer drop needs a BERT-style model (encoder.layer): {text_model}")
        total = len(stack)
        if keep is None:
            if not 1 <= layers <= total:
                raise KGForgeError(f"layers must be in 1..{total}, got {layers}")
            keep = sorted({int(round(x)) for x in np.linspace(0, total - 1, layers)})
        if not keep or any(not 0 <= i < total for i in keep):
            raise KGForgeError(f"keep must list layer indices in 0..{total - 1}, got {keep}")
        self.kept = list(keep)
        transformer.encoder.layer = nn.ModuleList([stack[i] for i in self.kept])
        transformer.config.num_hidden_layers = len(self.kept)
