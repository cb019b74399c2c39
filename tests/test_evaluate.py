"""The rank-based evaluator: tie handling, filtering, protocols, and parity with PyKEEN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kgforge.embed.data import KGData
from kgforge.embed.evaluate import KnownTargets, evaluate, rank_true
from kgforge.embed.pykeen_interop import PyKEENModelAdapter
from kgforge.embed.split import random_split


def brute_force_rank(scores: list[float], true: int, excluded: set[int]) -> float:
    """Realistic rank by definition: one comparison at a time."""
    s = scores[true]
    others = [x for j, x in enumerate(scores) if j != true and j not in excluded]
    optimistic = 1 + sum(x > s for x in others)
    pessimistic = 1 + sum(x >= s for x in others)
    return (optimistic + pessimistic) / 2


def test_rank_true_matches_definition_with_ties_and_filters() -> None:
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (40, 30), generator=g).float()  # many ties
    true = torch.randint(0, 30, (40,), generator=g)
    mask = torch.rand(40, 30, generator=g) < 0.3
    mask[torch.arange(40), true] |= torch.rand(40, generator=g) < 0.5  # true entry filtered too
    rows, cols = mask.nonzero(as_tuple=True)
    ranks = rank_true(scores.clone(), true, rows, cols)
    for b in range(40):
        excluded = set(cols[rows == b].tolist())
        assert ranks[b].item() == brute_force_rank(scores[b].tolist(), true[b].item(), excluded)
    unfiltered = rank_true(scores.clone(), true)
    for b in range(40):
        assert unfiltered[b].item() == brute_force_rank(scores[b].tolist(), true[b].item(), set())


def test_known_targets_lookup_matches_a_dict() -> None:
    g = torch.Generator().manual_seed(1)
    keys = torch.randint(0, 25, (200,), generator=g)
    targets = torch.randint(0, 50, (200,), generator=g)
    index = KnownTargets(keys, targets, 50)
    expected: dict[int, set[int]] = {}
    for k, t in zip(keys.tolist(), targets.tolist(), strict=True):
        expected.setdefault(k, set()).add(t)
    query = torch.tensor([3, 99, 0, 3, 24, -1])
    rows, found = index.lookup(query)
    for i, q in enumerate(query.tolist()):
        got = found[rows == i].tolist()
        assert sorted(got) == sorted(expected.get(q, set()))  # no duplicates


class ConstantScorer:
    """Scores every candidate the same: the realistic rank is the middle of the list."""

    def score_t(self, hr: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(len(hr), 60 if candidates is None else len(candidates))

    score_h = score_t


class OracleScorer:
    """Scores known true answers high: filtered ranking must put each test answer first."""

    def __init__(self, data: KGData) -> None:
        self.known = {tuple(t) for t in data.all_triples().tolist()}

    def score_t(self, hr: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        cands = candidates.tolist() if candidates is not None else range(60)
        return torch.tensor(
            [[float((h, r, t) in self.known) for t in cands] for h, r in hr.tolist()]
        )

    def score_h(self, rt: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        cands = candidates.tolist() if candidates is not None else range(60)
        return torch.tensor(
            [[float((h, r, t) in self.known) for h in cands] for r, t in rt.tolist()]
        )


@pytest.fixture(scope="module")
def small_data() -> KGData:
    """60 entities of which 50 occur in triples; a random transductive split."""
    g = torch.Generator().manual_seed(0)
    m = 500
    triples = torch.stack(
        [torch.randint(50, (m,), generator=g), torch.randint(4, (m,), generator=g),
         torch.randint(50, (m,), generator=g)], 1,
    )  # fmt: skip
    train, valid, test = random_split(torch.unique(triples, dim=0), 0.1, 0.15, seed=1)
    names = [f"e{i}" for i in range(60)]
    rels = [f"r{i}" for i in range(4)]
    return KGData(names, rels, names, rels, train, valid, test)


def test_protocols_choose_candidates(small_data: KGData) -> None:
    ends = {
        p: evaluate(ConstantScorer(), small_data, protocol=p)
        for p in ("transductive", "dynamic", "transfer")
    }
    assert ends["transductive"]["num_candidates"] == 60
    assert ends["dynamic"]["num_candidates"] == 50
    assert ends["transfer"]["num_candidates"] == len(small_data.split_entities("test"))
    # unfiltered, a constant scorer ties with everything: rank (C + 1) / 2
    flat = evaluate(ConstantScorer(), small_data, filtered=False)
    assert flat["both"]["mr"] == pytest.approx((50 + 1) / 2)
    assert flat["num_triples"] == len(small_data.test)
    oracle = evaluate(OracleScorer(small_data), small_data, protocol="transductive")  # fmt: skip
    for side in ("both", "head", "tail"):
        assert oracle[side]["mrr"] == 1.0 and oracle[side]["hits@1"] == 1.0
    unfiltered = evaluate(OracleScorer(small_data), small_data, filtered=False)  # fmt: skip
    assert unfiltered["both"]["mrr"] < 1.0
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate(ConstantScorer(), small_data, protocol="closed-world")


@pytest.mark.parametrize("model_name", ["TransE", "DistMult"])
def test_parity_with_pykeen_rank_based_evaluator(small_data: KGData, model_name: str) -> None:
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.models import model_resolver
    from pykeen.training import SLCWATrainingLoop

    factory = small_data.to_triples_factory("train")
    model = model_resolver.make(model_name, triples_factory=factory, embedding_dim=8, random_seed=0)
    SLCWATrainingLoop(model=model, triples_factory=factory).train(
        triples_factory=factory, num_epochs=2, batch_size=128, use_tqdm=False
    )
    filters = [small_data.train, small_data.valid]
    cases = [
        ("transductive", None),
        ("transfer", small_data.split_entities("test").tolist()),
    ]
    for protocol, restrict in cases:
        theirs = RankBasedEvaluator(filtered=True).evaluate(
            model, small_data.test, additional_filter_triples=filters, batch_size=64,
            use_tqdm=False, restrict_entities_to=restrict,
        )  # fmt: skip
        for fast in (True, False):  # kgforge's distance matrix and PyKEEN's own scoring
            ours = evaluate(PyKEENModelAdapter(model, fast=fast), small_data, protocol=protocol,
                            batch_size=7)  # fmt: skip
            for side in ("both", "head", "tail"):
                for key, name in [
                    ("mrr", "inverse_harmonic_mean_rank"),
                    ("mr", "arithmetic_mean_rank"),
                    ("hits@1", "hits_at_1"),
                    ("hits@3", "hits_at_3"),
                    ("hits@10", "hits_at_10"),
                ]:
                    expected = theirs.get_metric(f"{side}.realistic.{name}")
                    tolerance = 1e-4 * (expected if key == "mr" else 1)  # MR is a count
                    assert ours[side][key] == pytest.approx(expected, abs=tolerance), (
                        protocol, fast, side, key,
                    )  # fmt: skip


def test_evaluate_command_on_a_trained_model(tmp_path: Path) -> None:
    from tiny_kg import write_tiny_kg
    from typer.testing import CliRunner

    from kgforge.cli import app
    from kgforge.embed.model import LinkPredictor

    data_dir = write_tiny_kg(tmp_path / "data")
    data = KGData.load_dir(data_dir)
    model = LinkPredictor.from_data(data, encoder="lookup", dim=8)
    model.save(tmp_path / "run" / "model")
    result = CliRunner().invoke(
        app, ["evaluate", str(tmp_path / "run"), "--data", str(data_dir), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    direct = evaluate(model, data)
    assert printed["both"] == pytest.approx(direct["both"])
    assert set(printed["tail"]) == {"mrr", "mr", "hits@1", "hits@3", "hits@10"}
    bad = CliRunner().invoke(
        app, ["evaluate", str(tmp_path / "run"), "--data", str(data_dir), "--protocol", "x"]
    )
    assert bad.exit_code != 0
