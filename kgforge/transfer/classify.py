"""Entity classification from trained embeddings, and predicted labels written back into a graph.

An inductive link predictor embeds any entity from its text; a linear probe on those vectors
shows what link-prediction training put into them (Daza et al., 2021, BLP's entity
classification), and the same probe fills in labels the graph lacks:

- :func:`fit_classifier` trains a scikit-learn logistic regression (``C`` chosen on a dev split,
  then refit on train + dev, as BLP does) or a small MLP, and :func:`evaluate_classifier` reports
  accuracy, balanced accuracy and macro-F1 (:func:`plot_confusion` draws the confusion matrix);
- :func:`classify_entities` trains on the entities of a graph that have a label property
  (``rdf:type`` by default) and writes a label with its probability for every other entity into
  ``graph:predicted-types``: the fact ``<e> P <label>`` plus a ``kgf:PredictedStatement`` node
  (``rdf:subject/predicate/object``, ``kgf:score`` = probability, ``kgf:rank``, ``kgf:model``),
  replaced in one transaction so that a failed run keeps the previous predictions. Labels are
  never read from that graph (nor from ``graph:predicted``), so a model never trains on its own
  predictions.

Example::

    model = kgforge.LinkPredictor.load("runs/kg")
    with kgforge.KnowledgeGraph.open("kg") as kg:
        labels = kgforge.classify_entities(model, kg)    # PredictedLabel(entity, label, p)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rdflib import Literal as RDFLiteral
from rdflib import URIRef
from rdflib.namespace import RDF, XSD
from rdflib.term import Node

from kgforge.embed.data import entity_texts
from kgforge.embed.model import LinkPredictor
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import GRAPH, KGF, PREDICTED_GRAPH, PREFIXES, expand, statement_iri
from kgforge.graph.store import KnowledgeGraph

Kind = Literal["logreg", "mlp"]
KINDS = ("logreg", "mlp")
PREDICTED_TYPES_GRAPH = GRAPH["predicted-types"]  # labels predicted by a classifier
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)  # inverse L2 strengths tried for logistic regression
ALPHA_GRID = (1e-4, 1e-2)  # L2 strengths tried for the MLP


@dataclass(frozen=True)
class Scores:
    """Held-out quality of a classifier; ``confusion[i, j]`` counts true ``labels[i]`` predicted
    as ``labels[j]``."""

    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    labels: list[str]
    confusion: np.ndarray = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "macro_f1": self.macro_f1,
            "labels": self.labels,
            "confusion": self.confusion.tolist(),
        }


@dataclass
class FittedClassifier:
    """A fitted scikit-learn classifier, the hyper-parameter chosen on dev, and its dev score."""

    estimator: Any
    kind: str
    param: float
    dev_accuracy: float | None

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.estimator.classes_]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict(x)


def _estimator(kind: str, param: float, seed: int, n: int) -> Any:
    """A standardising pipeline; the MLP holds out 10% for early stopping only when that 10%
    is big enough (1000+ samples) to judge by."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logreg":
        clf = LogisticRegression(C=param, max_iter=2000)
    elif kind == "mlp":
        clf = MLPClassifier(
            hidden_layer_sizes=(256,),
            alpha=param,
            early_stopping=n >= 1000,
            max_iter=300,
            random_state=seed,
        )
    else:
        raise KGForgeError(f"unknown classifier {kind!r}: use one of {', '.join(KINDS)}")
    return make_pipeline(StandardScaler(), clf)


def fit_classifier(
    x_train: np.ndarray,
    y_train: Sequence[str],
    x_dev: np.ndarray | None = None,
    y_dev: Sequence[str] | None = None,
    kind: Kind = "logreg",
    grid: Sequence[float] | None = None,
    seed: int = 0,
) -> FittedClassifier:
    """Fit ``kind`` on standardised vectors: each value of ``grid`` (``C`` for logistic
    regression, L2 ``alpha`` for the MLP) is fitted on train and scored by dev accuracy; the best
    is refit on train + dev. Without a dev split the middle of the grid is used.

    Args:
        x_train, y_train: training vectors ``[n, d]`` and their labels.
        x_dev, y_dev: the dev split that picks the hyper-parameter.
        kind: ``logreg`` or ``mlp``.
        grid: values to try (default ``C_GRID`` / ``ALPHA_GRID``).
    """
    if kind not in KINDS:
        raise KGForgeError(f"unknown classifier {kind!r}: use one of {', '.join(KINDS)}")
    y_train = np.asarray(y_train, dtype=object)
    if len(set(y_train)) < 2:
        raise KGForgeError("need at least two distinct labels to train a classifier")
    values = list(grid if grid is not None else (C_GRID if kind == "logreg" else ALPHA_GRID))
    if x_dev is None or y_dev is None or len(y_dev) == 0:
        param = values[len(values) // 2]
        est = _estimator(kind, param, seed, len(y_train)).fit(x_train, y_train)
        return FittedClassifier(est, kind, param, None)
    y_dev = np.asarray(y_dev, dtype=object)
    dev_scores = []
    for value in values:
        est = _estimator(kind, value, seed, len(y_train)).fit(x_train, y_train)
        dev_scores.append(float(np.mean(est.predict(x_dev) == y_dev)))
    best = int(np.argmax(dev_scores))  # first best: the strongest regularisation among ties
    x_all = np.concatenate([x_train, x_dev])
    y_all = np.concatenate([y_train, y_dev])
    est = _estimator(kind, values[best], seed, len(y_all)).fit(x_all, y_all)
    return FittedClassifier(est, kind, values[best], dev_scores[best])


def evaluate_classifier(
    clf: FittedClassifier, x: np.ndarray, y: Sequence[str], labels: Sequence[str] | None = None
) -> Scores:
    """Accuracy, balanced accuracy (mean recall over the true classes) and macro-F1 on ``x``."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

    y = np.asarray(y, dtype=object)
    pred = clf.predict(x)
    names = sorted(set(y) | set(pred)) if labels is None else list(labels)
    return Scores(
        accuracy=float(np.mean(pred == y)),
        balanced_accuracy=float(balanced_accuracy_score(y, pred)),
        macro_f1=float(f1_score(y, pred, labels=sorted(set(y)), average="macro", zero_division=0)),
        labels=[str(n) for n in names],
        confusion=confusion_matrix(y, pred, labels=names),
    )


def plot_confusion(scores: Scores, path: str | Path, title: str = "") -> Path:
    """Save the row-normalised confusion matrix of ``scores`` as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = scores.confusion.astype(float)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    n = len(scores.labels)
    size = max(4.0, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), scores.labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), scores.labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {scores.accuracy:.3f}, macro-F1 {scores.macro_f1:.3f}")
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def entity_vectors(
    model: LinkPredictor, entities: Sequence[str], texts: dict[str, str]
) -> np.ndarray:
    """Vectors ``[n, dim]``: a trained entity's own representation, others embedded from text."""
    import torch

    known = [i for i, e in enumerate(entities) if e in model.entity_index]
    new = [i for i, e in enumerate(entities) if e not in model.entity_index]
    if new and not model.encoder.inductive:
        raise KGForgeError("this model has a lookup encoder: it cannot embed new entities")
    for i in new:
        if entities[i] not in texts:
            raise KGForgeError(
                f"entity {entities[i]}: no record with a label in the graph to embed"
            )
    model.eval()
    parts, order = [], []
    if known:
        ids = torch.tensor([model.entity_index[entities[i]] for i in known], device=model.device)
        parts.append(model.all_entity_repr()[ids])
        order += known
    if new:
        parts.append(model.embed_texts([texts[entities[i]] for i in new]))
        order += new
    out = torch.cat(parts).float().cpu().numpy()
    return out[np.argsort(order)]


def expand_property(name: str) -> str:
    """A full IRI from ``prefix:name`` (kgforge's prefixes: ``rdf:type``, ``kgf:...``), ``<IRI>``
    or an IRI (:func:`kgforge.graph.namespaces.expand`)."""
    iri = expand(name)
    if iri is None:
        known = ", ".join(sorted(PREFIXES))
        raise KGForgeError(f"label property {name!r}: give an IRI or prefix:name ({known})")
    return iri


@dataclass(frozen=True)
class PredictedLabel:
    entity: str
    label: str
    probability: float


def graph_labels(kg: KnowledgeGraph, label_property: str = str(RDF.type)) -> dict[str, list[Node]]:
    """The values (IRIs or literals) of ``label_property`` for each subject, outside the graphs
    of predictions and without kgforge's own classes (``kgf:Entity``)."""
    excluded = {PREDICTED_GRAPH, PREDICTED_TYPES_GRAPH}
    out: dict[str, set[Node]] = {}
    for s, _, o, g in kg.quads((None, URIRef(label_property), None, None)):
        if getattr(g, "identifier", g) in excluded or str(o).startswith(str(KGF)):
            continue
        out.setdefault(str(s), set()).add(o)
    return {s: sorted(v, key=str) for s, v in out.items()}


def classify_entities(
    model: LinkPredictor,
    kg: KnowledgeGraph,
    label_property: str = str(RDF.type),
    kind: Kind = "logreg",
    dev_fraction: float = 0.2,
    min_probability: float = 0.0,
    write: bool = True,
    model_name: str = "",
    seed: int = 0,
) -> list[PredictedLabel]:
    """Train on the graph's entities that have ``label_property`` and predict it for every other
    entity with a record; writes the predictions to ``graph:predicted-types`` (replacing it, in
    one transaction) unless ``write`` is false. Returns them sorted by entity.

    An entity with several values trains once per value. ``C`` (or the MLP's ``alpha``) is chosen
    on a stratified ``dev_fraction`` of the labelled entities, then refit on all of them.
    Predictions below ``min_probability`` are dropped.

    Args:
        model: a trained model whose entity vectors are the features.
        kg: the store with the entity records and their labels.
        label_property: the property whose values are the classes (default ``rdf:type``).
        kind: the probe: "logreg" or "mlp".
        dev_fraction: the labelled share held out to choose the regularisation.
        min_probability: drop predictions below this probability.
        write: write the predictions into ``graph:predicted-types``.
        model_name: recorded with each written prediction.
        seed: random seed of the dev split.

    Returns:
        The predicted labels, sorted by entity.
    """
    label_property = expand_property(label_property)
    texts = entity_texts(kg)
    labels = {e: v for e, v in graph_labels(kg, label_property).items() if e in texts}
    if not labels:
        raise KGForgeError(f"no entity with a record has a value of {label_property}")
    values = {str(v) for vs in labels.values() for v in vs}  # classes are not instances
    targets = sorted(e for e in texts if e not in labels and e not in values)
    labelled = sorted(labels)
    rows = [(e, str(lab)) for e in labelled for lab in labels[e]]
    terms = {str(lab): lab for values in labels.values() for lab in values}
    y = np.array([lab for _, lab in rows], dtype=object)
    if len(set(y)) < 2:
        raise KGForgeError(f"{label_property} has a single value ({y[0]}): nothing to classify")
    vectors = entity_vectors(model, labelled + targets, texts)
    x_lab = vectors[: len(labelled)][[labelled.index(e) for e, _ in rows]]
    train_idx, dev_idx = _dev_split(y, dev_fraction, seed)
    clf = fit_classifier(
        x_lab[train_idx],
        y[train_idx],
        x_lab[dev_idx] if len(dev_idx) else None,
        y[dev_idx] if len(dev_idx) else None,
        kind=kind,
        seed=seed,
    )
    predicted: list[PredictedLabel] = []
    if targets:
        proba = clf.predict_proba(vectors[len(labelled) :])
        best = proba.argmax(axis=1)
        for entity, j, p in zip(targets, best, proba[np.arange(len(best)), best], strict=True):
            if p >= min_probability:
                predicted.append(PredictedLabel(entity, clf.classes[j], float(p)))
    if write:
        _write(kg, predicted, label_property, terms, model_name)
    return predicted


def _dev_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/dev indices; no dev split when some class is too small for one."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    _, counts = np.unique(y, return_counts=True)
    n_dev = int(round(fraction * len(y)))
    if fraction <= 0 or counts.min() < 2 or n_dev < len(counts) or len(y) - n_dev < len(counts):
        return idx, idx[:0]
    train, dev = train_test_split(idx, test_size=n_dev, stratify=y, random_state=seed)
    return np.sort(train), np.sort(dev)


def _write(
    kg: KnowledgeGraph,
    labels: list[PredictedLabel],
    label_property: str,
    terms: dict[str, Node],
    model_name: str,
) -> None:
    prop = URIRef(label_property)
    quads = []
    for item in labels:
        e, value = URIRef(item.entity), terms[item.label]
        node = statement_iri("predicted-types", item.entity, label_property, item.label)
        quads += [
            (e, prop, value),
            (node, RDF.type, KGF.PredictedStatement),
            (node, RDF.subject, e),
            (node, RDF.predicate, prop),
            (node, RDF.object, value),
            (node, KGF.score, RDFLiteral(item.probability, datatype=XSD.double)),
            (node, KGF.rank, RDFLiteral(1)),
            (node, KGF.model, RDFLiteral(model_name)),
        ]
    kg.replace_graph(PREDICTED_TYPES_GRAPH, quads)
