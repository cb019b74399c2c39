"""The static-embedding student: one vector per vocabulary token, a text is their mean.

No attention, so a text costs a tokenizer pass and an embedding-bag lookup. The token vectors
start as model2vec's recipe gives them (Tulkens and van Dongen, 2024): every vocabulary token run
through the teacher's transformer alone and mean-pooled, which places each token where the
teacher puts it; training against the teacher then corrects what averaging loses. (The
``model2vec`` package's own ``distill`` needs transformers < 5.4, older than kgforge's, so the
few lines of its first step live here.)

Example:
    >>> student = StaticStudent(default_text_model())          # doctest: +SKIP
    >>> student(["a small dog"]).shape                          # doctest: +SKIP
    torch.Size([1, 384])
"""

from __future__ import annotations

from typing import Literal

import torch

from kgforge.progress import progress
from kgforge.transfer.distill.base import Student, embedding_dim


class StaticStudent(Student):
    """Token vectors averaged: sentence-transformers' ``StaticEmbedding`` over the teacher's
    tokenizer, initialised from the teacher's output for each token alone.

    Args:
        text_model: the teacher's sentence-transformers model (name or path).
        init: ``teacher`` (each token's vector from the teacher) or ``random`` (a baseline).
        batch_size: vocabulary tokens through the teacher per batch while initialising.
    """

    def __init__(
        self,
        text_model: str,
        init: Literal["teacher", "random"] = "teacher",
        batch_size: int = 512,
    ) -> None:
        super().__init__(text_model)
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding

        from kgforge.models import load_sentence_model

        teacher = load_sentence_model(text_model, "cpu")
        tokenizer = teacher.tokenizer.backend_tokenizer
        if init == "teacher":
            weights = token_vectors(teacher, batch_size)
        elif init == "random":
            weights = torch.randn(len(teacher.tokenizer), embedding_dim(teacher)) * 0.1
        else:
            raise ValueError(f"init must be 'teacher' or 'random', got {init!r}")
        module = StaticEmbedding(tokenizer, embedding_weights=weights)
        module.embedding.sparse = True  # a step touches only its texts' tokens
        self.model = SentenceTransformer(modules=[module], device="cpu")

    def optimizer(self, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        """Sparse Adam: updates the rows of the step's tokens only (no weight decay)."""
        return torch.optim.SparseAdam(list(self.parameters()), lr=lr)


@torch.no_grad()
def token_vectors(teacher: object, batch_size: int = 512) -> torch.Tensor:
    """``[vocab, d]``: each token id through ``teacher`` (a sentence-transformers model with a
    BERT-style transformer first) as ``[CLS] token [SEP]``, mean-pooled over the three."""
    transformer = teacher[0].auto_model  # type: ignore[index]
    tok = teacher.tokenizer  # type: ignore[attr-defined]
    n = len(tok)
    cls, sep = tok.cls_token_id, tok.sep_token_id
    was_training = transformer.training
    transformer.eval()
    out = []
    for start in progress(range(0, n, batch_size), desc="token vectors", unit="batch"):
        ids = torch.arange(start, min(start + batch_size, n))
        batch = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], 1)
        hidden = transformer(input_ids=batch, attention_mask=torch.ones_like(batch))
        out.append(hidden.last_hidden_state.mean(1))
    transformer.train(was_training)
    return torch.cat(out)
