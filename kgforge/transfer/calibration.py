"""Scores into probabilities: Platt scaling or isotonic regression on validation triples.

A link predictor's scores are comparable within one query but say nothing absolute ("5.49" for
a wrong link next to "5.92" for a right one). Calibration learns a monotone map from score to
probability on held-out triples: each validation triple ``(h, r, t)`` gives its own score as a
positive and, as a negative, the best-scored candidate that no split states (for the tail of
``(h, r, ?)`` and for the head of ``(?, r, t)``). The probability then reads "a top candidate with
this score is the true one rather than the strongest wrong one": one positive per negative, so
0.5 is a coin toss. Platt (Platt, 1999) fits ``p = sigmoid(a s + b)`` with ``a >= 0``; isotonic
regression (Zadrozny and Elkan, 2002) a non-decreasing step function; both via scikit-learn.

Example::

    cal = fit_calibrator(model, KGData.load_dir("data"))   # the valid split
    cal.save("runs/kg/calibration.json")
    cal([3.1, 5.9])                                        # -> array([0.12, 0.81])
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from kgforge.embed.data import KGData
from kgforge.embed.model import LinkPredictor
from kgforge.errors import DataError, KGForgeError
from kgforge.fileio import atomic_write

logger = logging.getLogger(__name__)

Method = Literal["platt", "isotonic"]
METHODS = ("platt", "isotonic")
CALIBRATION_FILE = "calibration.json"
FEW_POSITIVES = 50  # below this many true triples a warning says the fit is rough


@dataclass
class Calibrator:
    """A fitted monotone map from model scores to probabilities in ``[0, 1]``.

    Attributes:
        method: "platt" or "isotonic".
        params: Platt's ``a``, ``b``; isotonic's thresholds ``x`` and values ``y``.
        fitted_on: the split and how many positive and negative scores were used.
    """

    method: str
    params: dict[str, Any]
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def __call__(self, scores: Any) -> np.ndarray:
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.params["a"] * s + self.params["b"])))
        return np.interp(s, self.params["x"], self.params["y"])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        text = json.dumps(asdict(self), indent=2) + "\n"
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Calibrator:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(raw["method"], raw["params"], raw.get("fitted_on", {}))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"not a calibration file ({exc})", path) from None


def calibration_scores(
    model: LinkPredictor, data: KGData, split: str = "valid", max_triples: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels (1 true, 0 the best wrong candidate) of ``split``'s triples, both
    directions; at most ``max_triples`` triples (a seeded sample)."""
    triples = _model_triples(model, data, data.triples(split))
    if len(triples) == 0:
        raise KGForgeError(f"no {split} triples the model knows: nothing to calibrate on")
    if len(triples) > max_triples:
        g = torch.Generator().manual_seed(seed)
        triples = triples[torch.randperm(len(triples), generator=g)[:max_triples]]
    known = _model_triples(model, data, data.all_triples())
    tails: dict[tuple[int, int], list[int]] = {}
    heads: dict[tuple[int, int], list[int]] = {}
    for h, r, t in known.tolist():
        tails.setdefault((h, r), []).append(t)
        heads.setdefault((r, t), []).append(h)
    scores, labels = [], []
    model.eval()
    with torch.no_grad():
        for batch in triples.split(256):
            rows = torch.arange(len(batch))
            for side in ("tail", "head"):
                if side == "tail":
                    s = model.score_t(batch[:, :2]).float()
                    target, trues = batch[:, 2], [tails[(h, r)] for h, r in batch[:, :2].tolist()]
                else:
                    s = model.score_h(batch[:, 1:]).float()
                    target, trues = batch[:, 0], [heads[(r, t)] for r, t in batch[:, 1:].tolist()]
                positive = s[rows, target.to(s.device)]
                for i, answers in enumerate(trues):
                    s[i, answers] = float("-inf")
                negative = s.max(dim=1).values
                scores += [positive.cpu(), negative.cpu()]
                labels += [torch.ones(len(batch)), torch.zeros(len(batch))]
    score = torch.cat(scores).numpy().astype(np.float64)
    label = torch.cat(labels).numpy()
    finite = np.isfinite(score)
    return score[finite], label[finite]


def fit_calibrator(
    model: LinkPredictor,
    data: KGData,
    split: str = "valid",
    method: Method = "platt",
    max_triples: int = 2000,
    seed: int = 0,
) -> Calibrator:
    """Fit a :class:`Calibrator` on ``split`` of ``data`` (see the module docstring)."""
    if method not in METHODS:
        raise KGForgeError(f"unknown calibration method {method!r}: use {' or '.join(METHODS)}")
    score, label = calibration_scores(model, data, split, max_triples, seed)
    if len(set(label.tolist())) < 2:
        raise KGForgeError(f"the {split} split gives one kind of example only: cannot calibrate")
    fitted_on = {"split": split, "positives": int(label.sum()), "negatives": int((1 - label).sum())}
    if fitted_on["positives"] < FEW_POSITIVES:
        logger.warning(
            "calibrating on %d %s scores only: the probabilities are rough", len(label), split
        )
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        iso.fit(score, label)
        params = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        return Calibrator("isotonic", params, fitted_on)
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4).fit(score.reshape(-1, 1), label)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if a < 0:  # scores that rank wrong candidates higher: no monotone evidence, a constant
        a, b = 0.0, float(np.log(label.mean() / (1 - label.mean())))
    return Calibrator("platt", {"a": a, "b": b}, fitted_on)


def _model_triples(model: LinkPredictor, data: KGData, triples: torch.Tensor) -> torch.Tensor:
    """``data``'s index triples as the model's indices (rows it does not know are left out)."""
    e = torch.tensor([model.entity_index.get(x, -1) for x in data.entities], dtype=torch.long)
    r = torch.tensor([model.relation_index.get(x, -1) for x in data.relations], dtype=torch.long)
    if len(triples) == 0:
        return triples
    out = torch.stack([e[triples[:, 0]], r[triples[:, 1]], e[triples[:, 2]]], dim=1)
    return out[(out >= 0).all(dim=1)]
