"""``kgforge.distill``: a teacher link predictor and a config in, a fast drop-in student out.

The output folder of a run holds ``config.yaml`` (the resolved config), ``student-<hash>/``
(the student as a sentence-transformers model, named by a hash of its weights so that the
feature cache, keyed by model path, never mixes two students), ``model/`` (the distilled
``LinkPredictor``: the teacher's weights with the student as its text model;
:meth:`LinkPredictor.load` reads it), ``results.json`` (validation and optionally test metrics,
texts/s of teacher and student, the loss history) and ``speed_quality.png``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kgforge.errors import ConfigError, KGForgeError
from kgforge.fileio import atomic_write
from kgforge.transfer.distill.config import DistillConfig, load_distill_config

if TYPE_CHECKING:
    import torch

    from kgforge.embed.data import KGData
    from kgforge.embed.model import LinkPredictor
    from kgforge.transfer.distill.base import DistillLoss, Student, Views

log = logging.getLogger(__name__)


@dataclass
class DistillResult:
    """What a distillation run produced."""

    output: Path
    model: LinkPredictor
    config: DistillConfig
    valid: dict[str, Any] | None
    test: dict[str, Any] | None
    teacher_valid: dict[str, Any] | None
    speed: dict[str, float]
    train_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"output: {self.output}"]
        for name, res in (
            ("teacher valid", self.teacher_valid),
            ("valid", self.valid),
            ("test", self.test),
        ):
            if res:
                b = res["both"]
                parts.append(
                    f"{name}: MRR {b['mrr']:.4f}  H@1 {b['hits@1']:.4f}  H@10 {b['hits@10']:.4f}"
                )
        if self.speed:
            s = self.speed
            parts.append(
                f"texts/s: teacher {s['teacher']:.0f}, student {s['student']:.0f} "
                f"({s['ratio']:.1f}x, one thread)"
            )
        parts.append(f"training {self.train_seconds:.1f} s")
        return "\n".join(parts)


def distill(
    config: DistillConfig | Mapping[str, Any] | str | Path,
    *,
    teacher: str | Path | None = None,
    data: str | Path | None = None,
    output: str | Path | None = None,
    set_values: Iterable[str] = (),
    **overrides: Any,
) -> DistillResult:
    """Distil a teacher's text encoder into a student; returns the drop-in student model.

    ``config`` is a :class:`DistillConfig`, a dict or a YAML file (``pipelines/distill_*.yaml``);
    keyword overrides merge into it section by section, e.g.
    ``distill("pipelines/distill_static.yaml", training={"epochs": 1})``; ``set_values`` takes
    ``"training.lr=0.01"`` strings like the CLI's ``--set``.

    Args:
        config: a :class:`DistillConfig`, a dict or a YAML file.
        teacher: the trained teacher model's directory (overrides the config's).
        data: the data directory (overrides the config's).
        output: the output directory (overrides the config's).
        set_values: ``"section.field=value"`` overrides.
        **overrides: config sections merged into ``config``.

    Returns:
        The distilled student model and its measurements.

    Example:
        >>> result = kgforge.distill("pipelines/distill_static.yaml")   # doctest: +SKIP
        >>> result.model.predict_tails("a small dog", "_hypernym")      # doctest: +SKIP
    """
    top = {k: str(v) for k, v in (("teacher", teacher), ("data", data), ("output", output)) if v}
    cfg = load_distill_config(config, {**overrides, **top}, set_values)
    if cfg.teacher is None:
        raise ConfigError("no teacher: set 'teacher' in the config or pass --teacher")
    if cfg.data is None:
        raise ConfigError("no data directory: set 'data' in the config or pass --data")
    out = Path(cfg.output or "runs/distill")
    if (out / "model" / "model.json").exists():
        raise ConfigError(f"{out} already holds a distilled model: choose another --output")
    import torch

    from kgforge.embed.data import KGData
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.model import LinkPredictor

    threads = torch.get_num_threads()  # training.num_threads holds for this run only
    try:
        if cfg.training.num_threads:
            torch.set_num_threads(cfg.training.num_threads)
        torch.manual_seed(cfg.seed)
        teacher_model = LinkPredictor.load(cfg.teacher)
        kg = KGData.load_dir(cfg.data)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(
            yaml.safe_dump(cfg.model_dump(), sort_keys=False), encoding="utf-8"
        )
        distiller = Distiller(teacher_model, kg, cfg)
        started = time.perf_counter()
        history = distiller.fit()
        train_seconds = time.perf_counter() - started
        model = student_model(teacher_model, save_student(distiller.student, out))
        model.save(out / "model")

        ec = cfg.evaluation
        kwargs = {"protocol": ec.protocol, "batch_size": ec.batch_size}
        valid = test = teacher_valid = None
        if ec.valid and len(kg.valid):
            sample = _valid_sample(kg, ec.max_valid_triples, cfg.seed)
            teacher_valid = evaluate(teacher_model, sample, split="valid", **kwargs)
            valid = evaluate(model, sample, split="valid", **kwargs)
        if ec.test and len(kg.test):
            test = evaluate(model, kg, split="test", **kwargs)
        speed: dict[str, float] = {}
        if ec.speed_texts:
            ids = kg.split_entities("valid") if len(kg.valid) else kg.split_entities("train")
            texts = [kg.entity_text[i] for i in ids.tolist()][: ec.speed_texts]
            speed = compare_speed(teacher_model, model, texts)
        results = {
            "teacher": str(cfg.teacher),
            "student": cfg.student.model_dump(),
            "teacher_valid": teacher_valid,
            "valid": valid,
            "test": test,
            "speed": speed,
            "train_seconds": round(train_seconds, 2),
            "history": history,
        }
        _write_text(out / "results.json", json.dumps(results, indent=2))
        if speed and valid and teacher_valid:
            points = [
                {"name": "teacher", "texts_per_s": speed["teacher"], "mrr": _mrr(teacher_valid)},
                {"name": cfg.student.name, "texts_per_s": speed["student"], "mrr": _mrr(valid)},
            ]
            plot_speed_quality(points, out / "speed_quality.png", metric="validation MRR")
        return DistillResult(
            output=out,
            model=model,
            config=cfg,
            valid=valid,
            test=test,
            teacher_valid=teacher_valid,
            speed=speed,
            train_seconds=train_seconds,
            history=history,
        )
    finally:
        torch.set_num_threads(threads)


def _valid_sample(kg: KGData, size: int | None, seed: int) -> KGData:
    """``kg`` with a seeded subsample of ``size`` validation triples (all without ``size``)."""
    import dataclasses

    import torch

    if not size or len(kg.valid) <= size:
        return kg
    pick = torch.randperm(len(kg.valid), generator=torch.Generator().manual_seed(seed))[:size]
    return dataclasses.replace(kg, valid=kg.valid[pick])


def _mrr(result: Mapping[str, Any]) -> float:
    return float(result["both"]["mrr"])


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


class Distiller:
    """The training loop: the student reads texts, the frozen teacher supplies targets.

    Each step takes ``batch_size`` texts of training entities (and of ``extra_texts``). When a
    loss needs link scores, every graph entity of the step also draws one of its training
    triples as a query (tail or head side, as it occurs) and the query's true answer joins the
    step's candidates; scores are the teacher's scorer and prior over the step's graph entities,
    computed once from the teacher's vectors and once from the student's.
    """

    def __init__(self, teacher: LinkPredictor, kg: KGData, cfg: DistillConfig) -> None:
        import torch

        from kgforge.embed.encoders import FrozenTextEncoder
        from kgforge.embed.features import encode_texts
        from kgforge.transfer.distill import loss_resolver, student_resolver

        encoder = teacher.encoder
        if not isinstance(encoder, FrozenTextEncoder):
            raise KGForgeError(
                "distillation needs a teacher with a frozen-feature text encoder (encoder: "
                f"frozen); this one has a {type(encoder).__name__}"
            )
        self.teacher, self.encoder, self.cfg = teacher, encoder, cfg
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        self.student: Student = student_resolver.make(
            cfg.student.name, cfg.student.kwargs, text_model=encoder.text_model
        )
        if self.student.dim != encoder.features.shape[1]:
            raise KGForgeError(
                f"the student gives {self.student.dim}-d vectors, the teacher reads "
                f"{encoder.features.shape[1]}-d features"
            )
        self.losses: list[tuple[float, str, DistillLoss]] = [
            (c.weight, c.name, loss_resolver.make(c.name, c.kwargs)) for c in cfg.losses
        ]
        self.needs_scores = any(w > 0 and loss.needs_scores for w, _, loss in self.losses)

        to_teacher = self._entity_map(kg)
        train = kg.train.clone()
        train[:, 0], train[:, 2] = to_teacher[train[:, 0]], to_teacher[train[:, 2]]
        train[:, 1] = self._relation_map(kg)[train[:, 1]]
        self.train_triples = train
        # training entities only: never a validation or test text
        self.entities = torch.unique(train[:, [0, 2]])
        limit = cfg.training.max_entities
        if limit and len(self.entities) > limit:
            g = torch.Generator().manual_seed(cfg.seed)
            pick = torch.randperm(len(self.entities), generator=g)[:limit]
            self.entities = self.entities[pick].sort().values
        owners = torch.cat([train[:, 0], train[:, 2]])
        order = torch.argsort(owners, stable=True)
        self.incident = order % len(train)  # triple ids by owner entity
        self.incident_is_head = order < len(train)
        counts = torch.bincount(owners, minlength=teacher.num_entities)
        self.incident_count = counts
        self.incident_ptr = torch.cumsum(counts, 0) - counts
        self.all_embeddings = teacher.all_entity_repr().detach()
        self.extra: list[str] = []
        self.extra_features = encoder.features.new_zeros((0, encoder.features.shape[1]))
        if cfg.training.extra_texts:
            self.extra = _read_lines(cfg.training.extra_texts)
            feats = encode_texts(self.extra, model=encoder.text_model)
            self.extra_features = torch.from_numpy(feats)

    def _entity_map(self, kg: KGData) -> torch.Tensor:
        import torch

        index = self.teacher.entity_index
        used = set(kg.split_entities("train").tolist())
        missing = [kg.entities[i] for i in used if kg.entities[i] not in index]
        if missing:
            raise KGForgeError(
                f"{len(missing)} training entities are unknown to the teacher, e.g. {missing[0]!r}"
            )
        return torch.tensor([index.get(e, -1) for e in kg.entities], dtype=torch.long)

    def _relation_map(self, kg: KGData) -> torch.Tensor:
        import torch

        index = self.teacher.relation_index
        missing = [r for r in kg.relations if r not in index]
        if missing:
            raise KGForgeError(f"relation {missing[0]!r} is unknown to the teacher")
        return torch.tensor([index[r] for r in kg.relations], dtype=torch.long)

    # -- one step ------------------------------------------------------------------------------
    def _embed(self, features: torch.Tensor) -> torch.Tensor:
        return self.teacher._finish(self.encoder.project_features(features))

    def _queries(self, ents: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """One training triple per entity of ``ents`` that has one: (query entity, relation,
        answer, whether the query is the head)."""
        import torch

        count = self.incident_count[ents]
        has = count > 0
        ents, count = ents[has], count[has]
        pick = (torch.rand(len(ents), generator=gen) * count).long()
        slot = self.incident_ptr[ents] + pick
        triples = self.train_triples[self.incident[slot]]
        is_head = self.incident_is_head[slot]
        answers = torch.where(is_head, triples[:, 2], triples[:, 0])
        return ents, triples[:, 1], answers, is_head

    def _scores(
        self,
        ents: torch.Tensor,
        feats: torch.Tensor,
        emb: torch.Tensor,
        q_pos: torch.Tensor,
        rels: torch.Tensor,
        is_head: torch.Tensor,
    ) -> torch.Tensor:
        """Scores ``[q, c]`` of the queries against the step's graph entities ``ents``."""
        import torch

        from kgforge.embed.prior import PriorRep

        t = self.teacher
        prior = t.prior
        rep = None
        if prior is not None:
            idx = ents.cpu().numpy()
            rep = PriorRep(features=feats, names=prior.all.names[idx], defs=prior.all.defs[idx])
        rows = []
        for head_side in (True, False):  # the query is the triple's head: rank tails
            sel = torch.nonzero(is_head == head_side).squeeze(1)
            if not len(sel):
                continue
            q, r = q_pos[sel], rels[sel]
            given = t.tails_given if head_side else t.heads_given
            s = given(emb[q], r, emb)
            if prior is not None and rep is not None:
                qrep = PriorRep(
                    features=feats[q], names=rep.names[q.numpy()], defs=rep.defs[q.numpy()]
                )
                if head_side:
                    s = s + prior.score(qrep, r, rep)
                elif t.inverse_relations:
                    s = s + prior.score(qrep, r + t.num_relations, rep)
                else:
                    s = s + prior.score(qrep, r, rep, query_is_head=False)
            # the query itself is never its own answer: out of both distributions alike
            s = s.masked_fill(torch.arange(len(ents)).unsqueeze(0) == q.unsqueeze(1), -1e4)
            rows.append(s)
        return torch.cat(rows)

    def step_views(self, chunk: torch.Tensor, gen: torch.Generator) -> tuple[Views, Views]:
        """Student and teacher views of one step over pool items ``chunk`` (entities first,
        then extra texts, numbered after the entities)."""
        import torch
        import torch.nn.functional as F

        from kgforge.transfer.distill.base import Views

        n = len(self.entities)
        ents = self.entities[chunk[chunk < n]]
        extra = (chunk[chunk >= n] - n).tolist()
        query = None
        if self.needs_scores and len(ents):
            q_ent, rels, answers, is_head = self._queries(ents, gen)
            ents = torch.unique(torch.cat([ents, answers]))
            q_pos = torch.searchsorted(ents, q_ent)
            query = (q_pos, rels, is_head)
        texts = [self.teacher.entity_text[i] for i in ents.tolist()] + [
            self.extra[i] for i in extra
        ]
        t_feat = torch.cat([self.encoder.features[ents], self.extra_features[extra]])
        s_feat = F.normalize(self.student(texts), dim=-1)
        with torch.no_grad():
            t_emb = torch.cat([self.all_embeddings[ents], self._embed(self.extra_features[extra])])
        s_emb = self._embed(s_feat)
        t_scores = s_scores = None
        if query is not None:
            k = len(ents)
            with torch.no_grad():
                t_scores = self._scores(ents, t_feat[:k], t_emb[:k], *query)
            s_scores = self._scores(ents, s_feat[:k], s_emb[:k], *query)
        return Views(s_feat, s_emb, s_scores), Views(t_feat, t_emb, t_scores)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self) -> list[dict[str, Any]]:
        """Train the student; returns the logged loss history."""
        import torch

        from kgforge.progress import progress

        tc = self.cfg.training
        gen = torch.Generator().manual_seed(self.cfg.seed)
        size = len(self.entities) + len(self.extra)
        per_epoch = math.ceil(size / tc.batch_size)
        total = per_epoch * tc.epochs
        opt = self.student.optimizer(tc.lr, tc.weight_decay)
        if tc.schedule == "cosine":
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / max(total, 1), 1.0)))
            )
        else:
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        self.student.train()
        history: list[dict[str, Any]] = []
        step = 0
        with progress(total=total, desc=f"distil {self.cfg.student.name}", unit="step") as bar:
            for _ in range(tc.epochs):
                for chunk in torch.randperm(size, generator=gen).split(tc.batch_size):
                    s_view, t_view = self.step_views(chunk, gen)
                    parts = {name: loss(s_view, t_view) for w, name, loss in self.losses if w > 0}
                    total_loss = sum(w * parts[name] for w, name, _ in self.losses if w > 0)
                    opt.zero_grad(set_to_none=True)
                    total_loss.backward()  # type: ignore[union-attr]
                    opt.step()
                    sched.step()
                    step += 1
                    bar.update()
                    if step % tc.log_every == 0 or step == total:
                        record = {"step": step, "loss": float(total_loss.detach())}  # type: ignore[union-attr]
                        record.update({k: round(float(v.detach()), 6) for k, v in parts.items()})
                        history.append(record)
                        bar.set_postfix(loss=f"{record['loss']:.4f}")
                        log.info("step %d: %s", step, record)
        self.student.eval()
        return history


def _read_lines(path: str | Path) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read extra texts: {exc.strerror}", Path(path)) from None
    return [line.strip() for line in lines if line.strip()]


def save_student(student: Student, output: Path) -> Path:
    """Write the student to ``output/student-<hash of its weights>`` (a new folder per set of
    weights: the feature cache is keyed by model path) and return that folder."""
    digest = hashlib.sha1()
    for name, tensor in sorted(student.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    final = output / f"student-{digest.hexdigest()[:12]}"
    if final.exists():
        return final.resolve()
    tmp = output / f".student-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    student.save(tmp)
    tmp.rename(final)
    return final.resolve()


def student_model(teacher: LinkPredictor, student_dir: str | Path) -> LinkPredictor:
    """The teacher with the saved student as its text model: same MLP, relations, scorer and
    prior weights; every entity text is encoded by the student."""
    from kgforge.embed.model import LinkPredictor

    spec = dict(teacher.spec)
    spec["encoder_kwargs"] = {**spec["encoder_kwargs"], "text_model": str(student_dir)}
    model = LinkPredictor(
        entities=teacher.entities,
        relations=teacher.relations,
        entity_text=teacher.entity_text,
        relation_text=teacher.relation_text,
        **spec,
    )
    model.load_state_dict(teacher.state_dict())
    model.eval()
    return model


def texts_per_second(model: LinkPredictor, texts: Sequence[str], batch_size: int = 64) -> float:
    """Entity texts embedded per second (text encoder + projection) on the current threads."""
    import torch

    from kgforge.models import load_sentence_model

    encoder = model.encoder
    st = load_sentence_model(encoder.text_model, "cpu")  # type: ignore[attr-defined]
    texts = list(texts)

    def run(batch: list[str]) -> None:
        x = st.encode(batch, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
        model._finish(encoder.project_features(torch.nn.functional.normalize(x.float(), dim=-1)))  # type: ignore[attr-defined]

    with torch.inference_mode():
        run(texts[:batch_size])  # warm-up
        started = time.perf_counter()
        run(texts)
        return len(texts) / (time.perf_counter() - started)


def compare_speed(teacher: LinkPredictor, student: LinkPredictor, texts: Sequence[str]) -> dict:
    """Texts/s of teacher and student on the same texts, one after the other, and the ratio."""
    t = texts_per_second(teacher, texts)
    s = texts_per_second(student, texts)
    return {
        "teacher": round(t, 1),
        "student": round(s, 1),
        "ratio": round(s / t, 2),
        "texts": len(texts),
    }


def plot_speed_quality(
    points: Sequence[Mapping[str, Any]], path: str | Path, metric: str = "MRR"
) -> Path:
    """Texts/s (log scale) against a quality metric, one labelled point per encoder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [float(p["texts_per_s"]) for p in points]
    ys = [float(p["mrr"]) for p in points]
    ax.plot(xs, ys, "o", color="tab:blue")
    for p, x, y in zip(points, xs, ys, strict=True):
        ax.annotate(str(p["name"]), (x, y), textcoords="offset points", xytext=(5, 5))
    ax.set_xscale("log")
    ax.set_xlabel("entity texts / s (one CPU thread, log scale)")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
