"""kgforge's LM samplers as PyKEEN negative samplers.

They delegate to the same core code as kgforge's trainer (:mod:`kgforge.embed.sampling.lm`), so
both trainers see the same negatives. Use them like any PyKEEN sampler::

    from pykeen.pipeline import pipeline
    import kgforge

    pipeline(
        training=train_tf, testing=test_tf, model="TransE",
        negative_sampler=kgforge.PyKEENLMClusterNegativeSampler,
        negative_sampler_kwargs=dict(
            num_negs_per_pos=32,
            triples_factory=train_tf,    # label -> id mapping (and the texts, if no entity_text)
            entity_text=label_to_text,   # Mapping label -> text, or a Sequence ordered by id
        ),
    )

Where the text comes from (PyKEEN hands samplers only the mapped triples):

- ``entity_text`` as a sequence: one text per entity id;
- ``entity_text`` as a mapping from entity label to text, with ``triples_factory`` giving the
  label-to-id mapping (labels without text fall back to the label itself);
- no ``entity_text``: the labels of ``triples_factory`` are the text (fine when labels are names);
- ``embeddings``: precomputed ``[num_entities, d]`` vectors, no text needed.

``filtered=True`` uses kgforge's filter: negatives that are known training triples are redrawn
(from the pool, then uniformly), not dropped, so each positive keeps ``num_negs_per_pos``
negatives. Pass an explicit ``filterer`` to use PyKEEN's dropping filter instead.
``curriculum_epochs`` drives :class:`PyKEENLMNearestNegativeSampler`'s ``ratio_start`` curriculum (PyKEEN
tells samplers nothing about progress, so the sampler counts the triples it has corrupted).
For the Bernoulli baseline use PyKEEN's own ``BernoulliNegativeSampler``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from pykeen.sampling import NegativeSampler as PyKEENNegativeSampler
from pykeen.triples import CoreTriplesFactory

from kgforge.embed.sampling import Side, lm
from kgforge.errors import DataError


class _LMSamplerAdapter(PyKEENNegativeSampler):
    """A PyKEEN sampler wrapping one of kgforge's LM pool samplers."""

    core_class: ClassVar[type[lm.LMPoolNegativeSampler]]

    def __init__(
        self,
        *,
        mapped_triples: torch.Tensor,
        num_entities: int | None = None,
        num_relations: int | None = None,
        num_negs_per_pos: int | None = None,
        filtered: bool = False,
        filterer: Any = None,
        filterer_kwargs: Mapping[str, Any] | None = None,
        entity_text: Sequence[str] | Mapping[str, str] | None = None,
        triples_factory: CoreTriplesFactory | None = None,
        embeddings: np.ndarray | torch.Tensor | None = None,
        corrupt: Side = "both",
        seed: int | None = None,
        curriculum_epochs: int | None = None,
        **sampler_kwargs: Any,
    ) -> None:
        """Build the pools once; ``sampler_kwargs`` go to the kgforge sampler (see its doc)."""
        super().__init__(
            mapped_triples=mapped_triples,
            num_entities=num_entities,
            num_relations=num_relations,
            num_negs_per_pos=num_negs_per_pos,
            filterer=filterer,
            filterer_kwargs=filterer_kwargs,
        )
        texts = None if embeddings is not None else _entity_texts(entity_text, triples_factory)
        self.core = self.core_class(
            self.num_entities,
            num_negatives=self.num_negs_per_pos,
            corrupt=corrupt,
            filtered=filtered and filterer is None,
            seed=seed,
            embeddings=embeddings,
            **sampler_kwargs,
        ).fit(mapped_triples, texts)
        self.curriculum_epochs = curriculum_epochs
        self._epoch_size = max(len(mapped_triples), 1)
        self._seen = 0

    def corrupt_batch(self, positive_batch: torch.Tensor) -> torch.Tensor:
        """Negatives ``(*batch_dims, num_negs_per_pos, 3)`` from the kgforge sampler."""
        flat = positive_batch.reshape(-1, 3)
        if self.curriculum_epochs:
            self.core.step(self._seen / (self.curriculum_epochs * self._epoch_size))
            self._seen += len(flat)
        negatives = self.core.sample(flat)
        return negatives.reshape(*positive_batch.shape[:-1], self.num_negs_per_pos, 3)


class PyKEENLMClusterNegativeSampler(_LMSamplerAdapter):
    """LEMON for PyKEEN: negatives from the anchor's LM cluster and its nearest clusters.

    Extra keywords (``n_clusters``, ``neighbor_clusters``, ``pca_dim``, ``cos_floor``, ``anchor``,
    ``text_model``, ``cache_dir``, ...) are those of
    :class:`kgforge.embed.sampling.LMClusterNegativeSampler`.

    Args:
        mapped_triples: the training triples, as PyKEEN passes them.
        num_entities: entities to draw from (default: PyKEEN's, from ``mapped_triples``).
        num_relations: relations (default: PyKEEN's).
        num_negs_per_pos: negatives per positive triple.
        filtered: drop negatives that are training triples (kgforge's own filter, used only
            when no ``filterer`` is given).
        filterer: a PyKEEN filterer, by name or class.
        filterer_kwargs: its keyword arguments.
        entity_text: the entities' texts (a list by index or a mapping by label).
        triples_factory: PyKEEN's triples factory (labels and text source).
        embeddings: precomputed entity vectors instead of encoding ``entity_text``.
        corrupt: the side to replace: "head", "tail", "both" or "bernoulli".
        seed: random seed.
        curriculum_epochs: the training's ``num_epochs``, for samplers with a curriculum.
        **sampler_kwargs: the extra keywords above.
    """

    core_class = lm.LMClusterNegativeSampler


class PyKEENLMNearestNegativeSampler(_LMSamplerAdapter):
    """LM hard negatives for PyKEEN: the anchor's nearest entities, mixed with uniform draws.

    Extra keywords (``k``, ``ratio``, ``ratio_start``, ``anchor``, ``text_model``, ...) are those
    of :class:`kgforge.embed.sampling.LMNearestNegativeSampler`; with ``ratio_start``, also
    pass ``curriculum_epochs`` (the training's ``num_epochs``).

    Args:
        mapped_triples: the training triples, as PyKEEN passes them.
        num_entities: entities to draw from (default: PyKEEN's, from ``mapped_triples``).
        num_relations: relations (default: PyKEEN's).
        num_negs_per_pos: negatives per positive triple.
        filtered: drop negatives that are training triples (kgforge's own filter, used only
            when no ``filterer`` is given).
        filterer: a PyKEEN filterer, by name or class.
        filterer_kwargs: its keyword arguments.
        entity_text: the entities' texts (a list by index or a mapping by label).
        triples_factory: PyKEEN's triples factory (labels and text source).
        embeddings: precomputed entity vectors instead of encoding ``entity_text``.
        corrupt: the side to replace: "head", "tail", "both" or "bernoulli".
        seed: random seed.
        curriculum_epochs: the training's ``num_epochs``, for samplers with a curriculum.
        **sampler_kwargs: the extra keywords above.
    """

    core_class = lm.LMNearestNegativeSampler


def _entity_texts(
    entity_text: Sequence[str] | Mapping[str, str] | None,
    triples_factory: CoreTriplesFactory | None,
) -> list[str]:
    """One text per entity id, from ``entity_text`` and/or the factory's labels."""
    labels = getattr(triples_factory, "entity_id_to_label", None)
    if isinstance(entity_text, Mapping):
        if labels is None:
            raise DataError(
                "entity_text given as a label -> text mapping needs triples_factory= "
                "(a TriplesFactory with entity labels) to map labels to ids"
            )
        return [entity_text.get(labels[i], labels[i]) for i in range(len(labels))]
    if entity_text is not None:
        return [str(t) for t in entity_text]
    if labels is None:
        raise DataError(
            "LM negative samplers need entity text: pass negative_sampler_kwargs with "
            "entity_text=..., triples_factory=<a labeled TriplesFactory>, or embeddings=..."
        )
    return [labels[i] for i in range(len(labels))]
