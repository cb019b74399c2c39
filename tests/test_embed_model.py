"""Encoders, scorers, losses and the LinkPredictor: each learns a tiny generated KG."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from tiny_kg import write_tiny_kg

from kgforge.embed.losses import loss_resolver
from kgforge.embed.model import LinkPredictor
from kgforge.embed.pipeline import train
from kgforge.embed.scorers import scorer_resolver
from kgforge.errors import KGForgeError

SCORERS = ["transe", "distmult", "complex", "rotate", "simple"]
LOSSES = ["margin", "softplus", "bce", "nssa", "ce"]
ROOT = Path(__file__).resolve().parents[1]
RANDOM_MRR = 0.1  # ~ mean reciprocal rank of a random order over the 66 tiny entities


pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_kg(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="module")
def tiny_inductive(tmp_path_factory) -> Path:
    return write_tiny_kg(tmp_path_factory.mktemp("tiny_ind") / "data", heldout=2)


BASE = {
    "model": {"encoder": "lookup", "dim": 32, "scorer": "distmult"},
    "training": {"epochs": 20, "lr": 0.05, "batch_size": 64},
    "evaluation": {"protocol": "transductive", "every_epochs": None, "final_valid": False},
}


def run(data: Path, out: Path, **sections) -> dict:
    cfg = copy.deepcopy(BASE)
    for key, value in sections.items():
        cfg[key] = {**cfg[key], **value}
    return train(cfg, data=data, output=out)


def test_scorers_score_all_candidates_like_pykeen_pairwise():
    torch.manual_seed(0)
    h, r, cands = torch.randn(4, 8), torch.randn(4, 8), torch.randn(5, 8)
    for name in SCORERS:
        scorer = scorer_resolver.make(name)
        tails = scorer.score_tails(h, r, cands)
        heads = scorer.score_heads(cands, r, h)
        pair_tails = scorer(h.unsqueeze(1), r.unsqueeze(1), cands.unsqueeze(0))
        pair_heads = scorer(cands.unsqueeze(0), r.unsqueeze(1), h.unsqueeze(1))
        assert tails.shape == (4, 5)
        torch.testing.assert_close(tails, pair_tails, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(heads, pair_heads, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", LOSSES)
def test_losses_reward_separation_and_respect_masks(name):
    loss = loss_resolver.make(name)
    pos = torch.tensor([3.0, 2.0])
    good = loss(pos, torch.full((2, 4), -3.0))
    bad = loss(pos, torch.full((2, 4), 5.0))
    assert good < bad
    # a masked-out negative does not count, whatever its score
    neg = torch.tensor([[-3.0, -3.0, 9.0, -3.0], [-3.0, -3.0, -3.0, 9.0]])
    mask = neg < 0
    assert torch.isclose(loss(pos, neg, mask), loss(pos, torch.full((2, 4), -3.0), mask))


# every scorer, every loss and every objective at least once
COMBINATIONS = [
    ("transe", "margin", "negatives"),
    ("distmult", "softplus", "negatives"),
    ("complex", "bce", "negatives"),
    ("rotate", "nssa", "negatives"),
    ("simple", "ce", "negatives"),
    ("distmult", "ce", "in_batch"),
    ("complex", "ce", "one_vs_all"),
]


@pytest.mark.parametrize(("scorer", "loss", "objective"), COMBINATIONS)
def test_scorers_losses_objectives_learn_tiny_kg(tiny, tmp_path, scorer, loss, objective):
    result = run(
        tiny,
        tmp_path / "out",
        model={"scorer": scorer},
        training={"loss": loss, "objective": objective},
    )
    assert result.test["both"]["mrr"] > 2.5 * RANDOM_MRR


def test_pair_scores_agree_with_ranking_scores_including_the_text_prior(tiny_inductive):
    from kgforge.embed.data import KGData

    data = KGData.load_dir(tiny_inductive)
    torch.manual_seed(0)
    model = LinkPredictor.from_data(
        data,
        encoder="frozen",
        encoder_kwargs={"hidden": 16},
        scorer="complex",
        dim=8,
        text_prior=True,
    )
    with torch.no_grad():
        model.prior.weight.normal_()
    model.eval()
    triples = data.train[:5]
    pair = model.score_hrt(triples)
    rows = torch.arange(5)
    tails = model.score_t(triples[:, :2])[rows, triples[:, 2]]
    heads = model.score_h(triples[:, 1:])[rows, triples[:, 0]]
    torch.testing.assert_close(pair, tails)
    torch.testing.assert_close(pair, heads)


def test_text_prior_channels_read_names_and_definitions():
    from kgforge.embed.prior import TextPrior

    texts = ["poodle, a curly dog", "dog, a domestic animal", "tulip, a spring flower"]
    prior = TextPrior(texts, num_relations=1, channels=["def_name", "name_def", "name_name"])
    with torch.no_grad():
        prior.weight.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
    scores = prior.score(prior.rep(torch.tensor([0])), torch.tensor([0]), prior.all)
    assert scores.argmax().item() == 1  # "dog" is named in the definition of "poodle"
    new = prior.rep(texts=["terrier, a small dog"])
    assert prior.score(new, torch.tensor([0]), prior.all)[0].argmax().item() == 1


def test_frozen_encoder_ranks_unseen_entities(tiny_inductive, tmp_path):
    result = run(
        tiny_inductive,
        tmp_path / "out",
        model={"encoder": "frozen", "encoder_kwargs": {"hidden": 64}, "inverse_relations": True},
        training={"objective": "one_vs_all", "loss": "ce", "epochs": 30, "lr": 0.01},
        evaluation={"protocol": "dynamic", "every_epochs": None},
    )
    lookup = run(
        tiny_inductive,
        tmp_path / "lookup",
        evaluation={"protocol": "dynamic", "every_epochs": None},
    )
    # the text encoder places unseen entities; a lookup table cannot
    assert result.test["both"]["mrr"] > 4 * RANDOM_MRR
    assert result.test["both"]["mrr"] > lookup.test["both"]["mrr"] + 0.2


def test_finetuned_transformer_encoder_learns(tiny_inductive, tmp_path):
    """The shipped BLP config (fine-tuned MiniLM, in-batch negatives), a few steps on tiny data."""
    result = train(
        ROOT / "pipelines" / "wn18rr_ind_finetune.yaml",
        data=tiny_inductive,
        output=tmp_path / "out",
        model={"encoder_kwargs": {"max_length": 16}, "dim": 32},
        training={"max_steps": 6, "batch_size": 32, "num_negatives": 8, "num_threads": 1},
        evaluation={"every_epochs": None, "final_valid": False},
    )
    assert result.test["both"]["mrr"] > 3 * RANDOM_MRR
    reloaded = LinkPredictor.load(result.output)
    assert reloaded.embed_texts(["a red fox"]).shape == (1, 32)


@pytest.mark.parametrize(
    "config", ["wn18rr_ind_finetune_cpu.yaml", "fb15k237_ind_finetune_cpu.yaml"]
)
def test_shipped_cpu_finetune_config_learns(tiny_inductive, tmp_path, config):
    """The CPU fine-tuning configs (top MiniLM layer over cached lower layers), on tiny data."""
    result = train(
        ROOT / "pipelines" / config,
        data=tiny_inductive,
        output=tmp_path / "out",
        model={"encoder_kwargs": {"max_length": 16}, "dim": 32},
        training={"epochs": 5, "batch_size": 32, "warmup": 0.0},
        evaluation={"every_epochs": None, "final_valid": False},
    )
    assert result.test["both"]["mrr"] > 3 * RANDOM_MRR
    trainable = [n for n, p in result.model.named_parameters() if p.requires_grad]
    assert any("layer.5." in n for n in trainable)  # MiniLM's top layer trained ...
    assert not any("layer.0." in n for n in trainable)  # ... its lower layers stayed frozen


def test_save_load_and_inference_api(tiny_inductive, tmp_path):
    result = run(
        tiny_inductive,
        tmp_path / "out",
        model={
            "encoder": "frozen",
            "encoder_kwargs": {"hidden": 64},
            "inverse_relations": True,
            "text_prior": True,
            "allow_self": False,
        },
        training={"objective": "one_vs_all", "loss": "ce", "epochs": 30, "lr": 0.01},
        evaluation={"protocol": "dynamic", "every_epochs": None},
    )
    model = result.model
    loaded = LinkPredictor.load(result.output / "model")
    hr = torch.tensor([[0, 0], [3, 1]])
    torch.testing.assert_close(model.score_t(hr), loaded.score_t(hr))
    # an entity given only by its text: the model puts it in the right group
    top = loaded.predict_tails("a green heron, member of the green group", "member_of", k=1)
    assert top[0].entity == "g1"
    heads = loaded.predict_heads("member_of", "g2", k=5)
    assert [p.score for p in heads] == sorted((p.score for p in heads), reverse=True)
    assert "e10" not in [p.entity for p in loaded.predict_tails("e10", "related_to", k=70)]
    by_id, by_text = loaded.score_triples(
        [("e10", "member_of", "g1"), ("e10", "member_of", "the red group, whatever")]
    )
    assert by_id > by_text
    assert loaded.embed_texts(["x", "y"]).shape == (2, 32)
    # batched: the same answers as one query at a time, chunked or not
    queries = ["e10", 3, "a blue heron, member of the blue group"]
    for heads in (False, True):
        batch = loaded.predict_batch(
            queries, ["member_of", "related_to"], k=4, heads=heads, chunk=2
        )
        one = loaded.predict_heads if heads else loaded.predict_tails
        for q, per_relation in zip(queries, batch, strict=True):
            for rel, got in zip(["member_of", "related_to"], per_relation, strict=True):
                want = one(rel, q, k=4) if heads else one(q, rel, k=4)
                assert [p.entity for p in got] == [p.entity for p in want]
                assert [p.score for p in got] == pytest.approx([p.score for p in want], abs=1e-5)


def test_lookup_model_rejects_text_entities(tiny, tmp_path):
    result = run(tiny, tmp_path / "out", training={"epochs": 1})
    with pytest.raises(KGForgeError, match="unknown entity"):
        result.model.predict_tails("a brand new entity", "member_of")
    with pytest.raises(KGForgeError, match="unknown relation"):
        result.model.predict_tails("e1", "no_such_relation")


def test_load_rejects_missing_or_corrupt_model(tmp_path):
    with pytest.raises(KGForgeError, match="not a saved kgforge model"):
        LinkPredictor.load(tmp_path)
    (tmp_path / "model.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "vocab.json").write_text("{}", encoding="utf-8")
    with pytest.raises(KGForgeError, match="corrupt"):
        LinkPredictor.load(tmp_path)


def _frozen_model(data_dir: Path, scorer: str = "complex", **kwargs) -> LinkPredictor:
    from kgforge.embed.data import KGData

    torch.manual_seed(0)
    return LinkPredictor.from_data(
        KGData.load_dir(data_dir),
        encoder="frozen",
        encoder_kwargs={"hidden": 16},
        scorer=scorer,
        dim=8,
        **kwargs,
    )


def test_entity_vectors_are_cached_until_the_weights_change(tiny_inductive):
    """Queries on an eval-mode model encode the entities once; any change of the weights (an
    in-place edit, an optimiser step, load_state_dict) or of the encoder's inputs re-encodes."""
    model = _frozen_model(tiny_inductive, text_prior=True)
    encoded: list[int] = []
    model.encoder.register_forward_hook(lambda m, args, out: encoded.append(len(args[0])))
    model.eval()
    model.predict_tails("e0", "member_of", k=3)
    model.predict_heads("member_of", "g1", k=3)
    model.predict_tails("a green heron, member of the green group", "member_of", k=3)
    assert sum(encoded) == model.num_entities  # three queries, one pass over the entities

    def fresh() -> torch.Tensor:
        """The vectors an uncached model gives now."""
        model.invalidate_cache()
        return model.all_entity_repr()

    with torch.no_grad():
        model.encoder.skip.weight.mul_(2.0)  # an in-place edit in eval mode
    cached = model.all_entity_repr()
    assert sum(encoded) == 2 * model.num_entities
    torch.testing.assert_close(cached, fresh())

    model.train()  # an optimiser step, then queries again
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.score_hrt(torch.tensor([[0, 0, 1]])).sum().backward()
    opt.step()
    model.eval()
    after_step = model.all_entity_repr()
    torch.testing.assert_close(after_step, fresh())
    assert not torch.equal(after_step, cached)

    other = _frozen_model(tiny_inductive, text_prior=True)  # other weights, same shapes
    with torch.no_grad():
        for p in other.parameters():
            p.normal_()
    model.load_state_dict(other.state_dict())
    other.eval()
    torch.testing.assert_close(model.all_entity_repr(), other.all_entity_repr())

    # new inputs to the encoder (e.g. entities' features replaced or extended) re-encode too
    model.encoder.features = torch.cat([model.encoder.features, model.encoder.features[:1]])
    model.entities.append("e_new")
    model.entity_text.append(model.entity_text[0])
    model.entity_index["e_new"] = len(model.entities) - 1
    assert model.all_entity_repr().shape[0] == model.num_entities


def test_cached_vectors_from_evaluation_serve_later_queries(tiny_inductive):
    """Vectors cached under torch.inference_mode (the evaluator) are reused outside it, also
    where autograd is on."""
    model = _frozen_model(tiny_inductive)
    model.eval()
    with torch.inference_mode():
        inside = model.all_entity_repr()
    outside = model.score_t(torch.tensor([[0, 0]]))  # grad mode: must not fail
    with torch.no_grad():
        vectors = inside.clone()
        want = model.tails_given(vectors[:1], torch.tensor([0]), vectors)
    torch.testing.assert_close(outside, want)


def test_entities_and_relations_by_every_printed_name(tiny_inductive):
    """Ids, CURIEs (``rel:member_of`` for a bare id too), ``<IRI>``s: one answer; a name that is
    not there is an error naming it with the close ones, never silently read as text."""
    from kgforge.graph.namespaces import ENT, REL

    model = _frozen_model(tiny_inductive)
    model.eval()
    want = [p.entity for p in model.predict_tails("e10", "member_of", k=3)]
    index = model.entities.index("e10")
    for entity in ("e10", "ent:e10", f"<{ENT['e10']}>", str(ENT["e10"]), index):
        for relation in ("member_of", "rel:member_of", str(REL["member_of"]), "member of"):
            got = model.predict_tails(entity, relation, k=3)
            assert [p.entity for p in got] == want, (entity, relation)
    with pytest.raises(
        KGForgeError, match=r"unknown relation 'rel:member'.*did you mean member_of"
    ):
        model.predict_tails("e10", "rel:member")
    with pytest.raises(KGForgeError, match=r"unknown entity 'ent:e100'.*did you mean"):
        model.predict_heads("member_of", "ent:e100")


@pytest.mark.parametrize(
    ("scorer", "inverse"), [("complex", True), ("distmult", False), ("simple", True)]
)
def test_half_precision_shortlist_gives_the_exact_top_k(tmp_path, monkeypatch, scorer, inverse):
    """The fp16 shortlist path (large graphs on a CPU) returns the same entities and the same
    float32 scores as scoring every entity exactly (the top k scores match; tied entities may
    swap): tails and heads, by id and by text, with
    the text prior's dense and word channels, and with a candidate mask; the path is taken."""
    from kgforge.embed import shortlist

    monkeypatch.setattr(shortlist, "half_pays_off", lambda full, half: True)
    wide = write_tiny_kg(tmp_path / "data", per_group=40, heldout=2)  # 246 > a shortlist of 69
    model = _frozen_model(wide, scorer, text_prior=True, inverse_relations=inverse)
    with torch.no_grad():
        model.prior.weight.normal_()  # the prior's channels count in the scores
    model.eval()
    allowed = [torch.arange(model.num_entities) % 3 != 0, None]
    queries = ["e0", "e51", "a green heron, member of the green group"]

    def answers() -> list:  # scores only: entities with the same text tie in any order
        return [
            [[round(p.score, 4) for p in preds] for preds in per_rel]
            for heads in (False, True)
            for per_rel in model.predict_batch(
                queries, ["member_of", "related_to"], k=5, heads=heads, allowed=allowed
            )
        ]

    model.shortlist_min_entities = 10**9
    exact = answers()
    assert not model._half_keys
    model.shortlist_min_entities = 0
    fast = answers()
    assert model._half_keys and all(h.usable for _, h in model._half_keys.values())
    assert fast == exact
    assert all(len(per_rel) == 5 for row in fast for per_rel in row)


def test_distance_scorers_never_take_the_shortlist_path(tiny_inductive):
    model = _frozen_model(tiny_inductive, "transe")
    model.shortlist_min_entities = 0
    model.eval()
    assert model.predict_tails("e0", "member_of", k=3)
    assert not model._half_keys
