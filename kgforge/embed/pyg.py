"""KGData as a PyTorch Geometric graph (:meth:`kgforge.embed.data.KGData.to_pyg`).

A knowledge graph here has one node type (entities) and typed edges, so the natural PyG form is
a homogeneous :class:`torch_geometric.data.Data` with an ``edge_type`` per edge (what
``RGCNConv``, ``FastRGCNConv`` and ``RGATConv`` take) rather than a ``HeteroData`` with one edge
store per relation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from torch_geometric.data import Data

    from kgforge.embed.data import KGData, Split


def to_pyg(
    data: KGData,
    splits: Split | Sequence[Split] = "train",
    features: bool | np.ndarray | torch.Tensor = False,
    text_model: str | None = None,
) -> Data:
    """The triples of ``splits`` as a PyG ``Data`` over all entities of ``data``.

    ``edge_index`` ``[2, E]`` runs head -> tail, ``edge_type`` ``[E]`` holds relation indices,
    ``num_nodes`` is the number of entities (node ``i`` is ``data.entities[i]``, so isolated
    entities, e.g. the unseen ones of an inductive split, keep their index). ``features=True``
    sets ``x`` to the frozen sentence-transformers features of the entity texts (cached on
    disk, :func:`kgforge.embed.features.encode_texts`); an array sets ``x`` to it. The ids and
    texts travel as ``entity_ids``, ``relation_ids`` and ``entity_text``.

    >>> graph = data.to_pyg()                                   # doctest: +SKIP
    >>> RGCNConv(384, 64, data.num_relations)(graph.x, graph.edge_index, graph.edge_type)
    """
    from torch_geometric.data import Data

    names = [splits] if isinstance(splits, str) else list(splits)
    triples = torch.cat([data.triples(name) for name in names]) if names else torch.empty(0, 3)
    triples = triples.long().reshape(-1, 3)
    graph = Data(
        edge_index=triples[:, [0, 2]].T.contiguous(),
        edge_type=triples[:, 1].contiguous(),
        num_nodes=data.num_entities,
    )
    if features is True:
        from kgforge.embed.features import encode_texts

        features = encode_texts(data.entity_text, model=text_model)
    if features is not False:
        x = torch.as_tensor(features, dtype=torch.float32)
        if x.shape[0] != data.num_entities:
            raise ValueError(f"features have {x.shape[0]} rows for {data.num_entities} entities")
        graph.x = x
    graph.entity_ids = list(data.entities)
    graph.relation_ids = list(data.relations)
    graph.entity_text = list(data.entity_text)
    return graph
