"""The training loop: objectives, mixed precision, schedule, checkpoints, early stopping.

Objectives (``training.objective``):

- ``negatives``: sLCWA; a negative sampler corrupts each positive ``num_negatives`` times; any
  loss. With the in-batch sampler and a transformer encoder this is BLP.
- ``in_batch``: every entity of the batch is a candidate answer for every query of the batch
  (known true answers masked out): cross-entropy over many negatives at no extra encoder cost.
- ``one_vs_all``: every training entity (or a random ``num_candidates`` of them per step) is a
  candidate: best with cheap encoders (lookup, frozen features).

Training never touches entities outside the training triples (no negatives, no candidates), so
inductive evaluation entities stay unseen. Checkpoints hold everything needed to continue exactly
(model, optimizer, scheduler, RNG states, position in the epoch) and are written to a temporary
file then renamed, so an interrupted or failed run leaves the last good checkpoint in place.

``distributed=True`` (under torchrun, see :mod:`kgforge.embed.distributed`) trains data-parallel
with ``DistributedDataParallel``: every rank takes the same global batch and trains on its slice
of it, so the steps, the schedule and (for ``negatives`` and ``one_vs_all``) the gradients are
those of one process; the negative sampler draws from a generator seeded per rank; rank 0
writes the checkpoints (with every rank's RNG states), the log and the models.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kgforge.device import resolve_device
from kgforge.embed import distributed as dist_utils
from kgforge.embed.config import TrainConfig
from kgforge.embed.encoders import (
    LookupEncoder,
    TransformerEncoder,
)
from kgforge.embed.evaluate import KnownTargets, evaluate
from kgforge.embed.losses import Loss, loss_resolver
from kgforge.embed.model import LinkPredictor
from kgforge.embed.sampling import NegativeSampler, negative_sampler_resolver
from kgforge.errors import ConfigError, DataError, NonFiniteLossError
from kgforge.fileio import atomic_write, first_line, read_torch_file
from kgforge.progress import progress, quiet, set_progress

Callback = Callable[["Trainer", int], None]

logger = logging.getLogger(__name__)


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bf16 (or fp16) on CUDA with ``auto``, none on the CPU."""
    if name == "fp32" or (name == "auto" and device.type != "cuda"):
        return None
    if name == "fp16":
        return torch.float16
    if name == "auto" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def lr_lambda(schedule: str, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Linear warm-up, then constant, linear or cosine decay to zero at ``total_steps``."""

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


class Trainer:
    """Trains a :class:`LinkPredictor` on a ``KGData`` as a :class:`TrainConfig` says.

    ``output`` receives ``checkpoints/``, ``metrics.jsonl`` and the best model (``best/``).
    ``callbacks`` are called after every optimizer step with ``(trainer, step)``.
    """

    def __init__(
        self,
        config: TrainConfig,
        data: Any,
        output: str | Path,
        model: LinkPredictor | None = None,
        callbacks: Sequence[Callback] = (),
        distributed: bool = False,
    ) -> None:
        self.config = config
        self.data = data
        self.output = Path(output)
        self.callbacks = list(callbacks)
        tc = config.training
        self.device = resolve_device(tc.device)
        self.distributed = distributed
        self.ranks: dist_utils.Ranks | None = None
        if distributed:
            self.ranks = dist_utils.setup(self.device)
            self.device = self.ranks.device
            if not self.ranks.main:
                set_progress(False)  # one bar, rank 0's
        self.amp_dtype = resolve_precision(tc.precision, self.device)
        if tc.num_threads:
            # on a shared CPU, fewer threads than cores avoids OpenMP threads waiting on each other
            torch.set_num_threads(tc.num_threads)
        torch.manual_seed(config.seed)
        mc = config.model
        # the model section's fields are the predictor's keyword arguments (copied by dump)
        self.model = model or LinkPredictor.from_data(data, **mc.model_dump())
        if model is None and self.model.neighbourhood is not None:
            self.model.neighbourhood.attach_graph(data.train)  # message passing over train
        self.model.to(self.device)
        self.loss: Loss = loss_resolver.make(tc.loss, tc.loss_kwargs)

        # training examples, as relation ids over [0, R) or [0, 2R) with inverse relations
        train = data.train
        r = data.num_relations
        if mc.inverse_relations:
            inverse = torch.stack([train[:, 2], train[:, 1] + r, train[:, 0]], dim=1)
            train = torch.cat([train, inverse])
        self.examples = train.to(self.device)
        self.both_sides = not mc.inverse_relations
        self.train_entities = data.split_entities("train").to(self.device)
        num_rel = r * (2 if mc.inverse_relations else 1)
        known = self.examples
        self.known_tails = KnownTargets(
            known[:, 0] * num_rel + known[:, 1], known[:, 2], len(data.entities)
        )
        self.known_heads = KnownTargets(
            known[:, 2] * num_rel + known[:, 1], known[:, 0], len(data.entities)
        )
        self.num_rel = num_rel
        self.sampler: NegativeSampler | None = None
        if tc.objective == "negatives":
            self._build_sampler()

        # fused Adam: one kernel per step instead of a dozen passes over every parameter
        self.optimizer = torch.optim.AdamW(
            self._param_groups(), lr=tc.lr, weight_decay=tc.weight_decay, fused=True
        )
        self.micro_per_epoch = math.ceil(len(self.examples) / tc.batch_size)
        self.steps_per_epoch = math.ceil(self.micro_per_epoch / tc.grad_accumulation)
        total = self.steps_per_epoch * tc.epochs
        self.total_steps = min(total, tc.max_steps) if tc.max_steps else total
        warmup_steps = int(tc.warmup * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(tc.schedule, warmup_steps, self.total_steps)
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self._ddp: torch.nn.parallel.DistributedDataParallel | None = None
        if distributed:
            # buffers (e.g. a frozen feature table) are the same on every rank: not re-sent at
            # every step (the option's name changed in torch 2.13)
            ddp = torch.nn.parallel.DistributedDataParallel
            no_resync = (
                {"forward_sync_buffers": False}
                if "forward_sync_buffers" in inspect.signature(ddp).parameters
                else {"broadcast_buffers": False}
            )
            # unused parameters are found each step: a model part an objective skips (a prior,
            # an encoder's unused branch) would otherwise stall the reduction
            self._ddp = ddp(
                _LossModule(self),
                device_ids=[self.device] if self.device.type == "cuda" else None,
                find_unused_parameters=True,
                **no_resync,
            )

        self.step = 0
        self.epoch = 0
        self.micro_in_epoch = 0
        self.best: dict[str, Any] = {"metric": None, "step": None, "epoch": None}
        self.bad_evals = 0
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0
        self.stopped_early = False

    # -- setup -----------------------------------------------------------------------------
    def _param_groups(self) -> list[dict[str, Any]]:
        tc = self.config.training
        encoder = self.model.encoder
        if isinstance(encoder, TransformerEncoder) and tc.encoder_lr:
            lm = [p for p in encoder.transformer.parameters() if p.requires_grad]
            lm_ids = {id(p) for p in lm}
            rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in lm_ids]
            return [{"params": lm, "lr": tc.encoder_lr}, {"params": rest, "lr": tc.lr}]
        return [{"params": [p for p in self.model.parameters() if p.requires_grad]}]

    def _build_sampler(self) -> None:
        """A sampler over the training entities only (local ids), fitted on the examples."""
        tc = self.config.training
        ents = self.train_entities
        self._identity = len(ents) == len(self.data.entities)
        local = torch.full((len(self.data.entities),), -1, dtype=torch.long, device=self.device)
        local[ents] = torch.arange(len(ents), device=self.device)
        self._to_local = local
        kwargs = dict(tc.negative_sampler_kwargs)
        kwargs.setdefault("num_negatives", tc.num_negatives)
        # each rank draws its own negatives (rank 0 as a single process would)
        kwargs.setdefault("seed", self.config.seed + (self.ranks.rank if self.ranks else 0))
        self.sampler = negative_sampler_resolver.make(
            tc.negative_sampler, kwargs, num_entities=len(ents)
        )
        ex = self.examples if self._identity else self._localize(self.examples)
        texts = [self.data.entity_text[i] for i in ents.tolist()]
        self.sampler.fit(ex.cpu(), texts)

    def _localize(self, triples: torch.Tensor) -> torch.Tensor:
        out = triples.clone()
        out[..., 0] = self._to_local[triples[..., 0]]
        out[..., 2] = self._to_local[triples[..., 2]]
        return out

    def _globalize(self, triples: torch.Tensor) -> torch.Tensor:
        out = triples.clone()
        out[..., 0] = self.train_entities[triples[..., 0]]
        out[..., 2] = self.train_entities[triples[..., 2]]
        return out

    # -- objectives ------------------------------------------------------------------------
    def _encode(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Vectors of the distinct entities in ``ids`` and each id's row among them."""
        if isinstance(self.model.encoder, LookupEncoder):
            return self.model.entity_repr(ids.reshape(-1)), torch.arange(
                ids.numel(), device=ids.device
            ).reshape(ids.shape)
        uniq, inv = torch.unique(ids, return_inverse=True)
        return self.model.entity_repr(uniq), inv

    def _loss_negatives(self, batch: torch.Tensor) -> torch.Tensor:
        assert self.sampler is not None
        local = batch if self._identity else self._localize(batch)
        # progress drives curricula (e.g. lmnearest's ratio_start); a function of the step, so
        # a resumed run samples exactly as an uninterrupted one
        self.sampler.step(self.step / max(1, self.total_steps))
        neg = self.sampler.sample(local)
        if not self._identity:
            neg = self._globalize(neg)
        k = neg.shape[1]
        ids = torch.cat([batch[:, [0, 2]], neg[..., [0, 2]].reshape(-1, 2)])  # [B + B*K, 2]
        reps, rows = self._encode(ids)
        rel = self.model.relation_embedding(batch[:, 1])
        b = len(batch)
        pos = self.model.scorer(reps[rows[:b, 0]], rel, reps[rows[:b, 1]])
        neg_rows = rows[b:].reshape(b, k, 2)
        negs = self.model.scorer(reps[neg_rows[..., 0]], rel.unsqueeze(1), reps[neg_rows[..., 1]])
        prior = self.model.prior
        if prior is not None:
            r = batch[:, 1]
            pos = pos + prior.score(
                prior.rep(batch[:, 0]), r, prior.rep(batch[:, 2]), pairwise=True
            )
            flat = neg.reshape(-1, 3)
            negs = negs + prior.score(
                prior.rep(flat[:, 0]), flat[:, 1], prior.rep(flat[:, 2]), pairwise=True
            ).reshape(b, k)
        return self.loss(pos, negs)

    def _ranking_loss(
        self,
        batch: torch.Tensor,
        cand_ids: torch.Tensor,
        cand_reps: torch.Tensor,
        query_reps: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        """Loss of ranking each answer among candidates ``cand_ids`` (known answers masked)."""
        column = torch.full((len(self.data.entities),), -1, dtype=torch.long, device=self.device)
        column[cand_ids] = torch.arange(len(cand_ids), device=self.device)
        rel = self.model.relation_embedding(batch[:, 1])
        h, t = query_reps
        sides = [("tail", self.model.scorer.score_tails(h, rel, cand_reps), batch[:, 2])]
        if self.both_sides:
            sides.append(("head", self.model.scorer.score_heads(cand_reps, rel, t), batch[:, 0]))
        total = 0.0
        for side, scores, answer in sides:
            query = batch[:, 0] if side == "tail" else batch[:, 2]
            prior = self.model.prior_scores(query, batch[:, 1], cand_ids, head=side == "head")
            if prior is not None:
                scores = scores + prior
            paths = self.model.path_scores(query, batch[:, 1], cand_ids, head=side == "head")
            if paths is not None:
                scores = scores + paths
            ans_col = column[answer]
            pos = scores.gather(1, ans_col.unsqueeze(1)).squeeze(1)
            if side == "tail":
                rows, ents = self.known_tails.lookup(batch[:, 0] * self.num_rel + batch[:, 1])
            else:
                rows, ents = self.known_heads.lookup(batch[:, 2] * self.num_rel + batch[:, 1])
            cols = column[ents]
            keep = cols >= 0
            mask = torch.ones_like(scores, dtype=torch.bool)
            mask[rows[keep], cols[keep]] = False
            if not self.model.allow_self:
                mask &= cand_ids.unsqueeze(0) != query.unsqueeze(1)
            total = total + self.loss(pos, scores, mask)
        return total / len(sides)

    def _loss_in_batch(self, batch: torch.Tensor) -> torch.Tensor:
        uniq, rows = torch.unique(batch[:, [0, 2]], return_inverse=True)
        reps = self.model.entity_repr(uniq)
        return self._ranking_loss(batch, uniq, reps, (reps[rows[:, 0]], reps[rows[:, 1]]))

    def _loss_one_vs_all(self, batch: torch.Tensor) -> torch.Tensor:
        tc = self.config.training
        cands = self.train_entities
        if tc.num_candidates and tc.num_candidates < len(cands):
            pick = torch.randperm(len(cands), device=self.device)[: tc.num_candidates]
            cands = torch.unique(torch.cat([cands[pick], batch[:, 0], batch[:, 2]]))
        ids = torch.cat([cands, batch[:, 0], batch[:, 2]])
        reps = self.model.entity_repr(ids)
        c, b = len(cands), len(batch)
        return self._ranking_loss(batch, cands, reps[:c], (reps[c : c + b], reps[c + b :]))

    def compute_loss(self, batch: torch.Tensor) -> torch.Tensor:
        graph = self.model.neighbourhood
        if graph is not None:  # a batch's positives are not in the graph that scores them
            with graph.excluding(batch):
                return self._compute_loss(batch)
        return self._compute_loss(batch)

    def _compute_loss(self, batch: torch.Tensor) -> torch.Tensor:
        objective = self.config.training.objective
        if objective == "negatives":
            return self._loss_negatives(batch)
        if objective == "in_batch":
            return self._loss_in_batch(batch)
        return self._loss_one_vs_all(batch)

    def _my_part(self, idx: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This rank's slice of a global batch, and the weight that makes the mean of the ranks'
        weighted losses the whole batch's mean loss (a rank with no row gets one at weight 0)."""
        if self.ranks is None:
            return idx, 1.0
        mine = idx.tensor_split(self.ranks.world)[self.ranks.rank]
        if len(mine) == 0:
            return idx[:1], 0.0
        return mine, len(mine) * self.ranks.world / len(idx)

    # -- checkpoints -----------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.output / "checkpoints" / "last.pt"

    def _diverged(self, what: str, step: int) -> NonFiniteLossError:
        kept = self.checkpoint_path
        kept_note = (
            f"the last good checkpoint is kept in {kept}"
            if kept.exists()
            else "no checkpoint was written"
        )
        return NonFiniteLossError(
            f"training diverged at step {step} (epoch {self.epoch}): {what}; "
            f"lower training.lr or set training.grad_clip ({kept_note})"
        )

    def save_checkpoint(self) -> None:
        """Write ``checkpoints/last.pt``; never with non-finite weights, so the checkpoint
        on disk is always one a run can continue from."""
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise self._diverged("the weights are no longer finite", self.step)
        rng = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy": np.random.get_state(),
            "python": random.getstate(),
            "sampler": self.sampler.generator.get_state() if self.sampler else None,
        }
        by_rank = dist_utils.gather_objects(rng) if self.distributed else None
        if not dist_utils.is_main():
            dist_utils.barrier()  # rank 0 writes; all continue once the file is in place
            return
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "micro_in_epoch": self.micro_in_epoch,
            "best": self.best,
            "bad_evals": self.bad_evals,
            "history": self.history,
            "elapsed": self.elapsed,
            "stopped_early": self.stopped_early,
            "rng": rng,
            "rng_by_rank": by_rank,
        }
        atomic_write(self.checkpoint_path, lambda tmp: torch.save(state, tmp))
        dist_utils.barrier()

    def load_checkpoint(self, path: Path | None = None) -> bool:
        """Continue from the last checkpoint; False when there is none."""
        path = path or self.checkpoint_path
        if not path.exists():
            return False
        restart = "delete it to restart the run from the beginning"
        try:
            state = read_torch_file(path, map_location=self.device, weights_only=False)
        except DataError as exc:
            raise DataError(f"{exc.message}; {restart}", path) from None
        if not isinstance(state, dict) or not {"model", "optimizer", "rng"} <= state.keys():
            raise DataError(f"not a kgforge training checkpoint; {restart}", path)
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise ConfigError(
                "the checkpoint holds a model of another shape than the config describes "
                f"({first_line(exc)}): resume with the run's own model settings, or train into a "
                "new --output",
                path,
                field="model",
            ) from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        for key in ("step", "epoch", "micro_in_epoch", "best", "bad_evals", "history", "elapsed"):
            setattr(self, key, state[key])
        self.stopped_early = state.get("stopped_early", False)
        rng = state["rng"]
        by_rank = state.get("rng_by_rank")
        if self.ranks is not None and by_rank and len(by_rank) == self.ranks.world:
            rng = by_rank[self.ranks.rank]
        torch.set_rng_state(rng["torch"].cpu())
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if self.sampler is not None and rng["sampler"] is not None:
            self.sampler.generator.set_state(rng["sampler"].cpu())
        if dist_utils.is_main():
            self._truncate_log()
        logger.info("resumed %s at step %d (epoch %d)", path, self.step, self.epoch)
        return True

    def _truncate_log(self) -> None:
        """Drop log lines written after the checkpoint: they will be written again."""
        path = self.output / "metrics.jsonl"
        if not path.exists():
            return
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= self.step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue
        text = "".join(f"{line}\n" for line in kept)
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def log(self, record: dict[str, Any]) -> None:
        if not dist_utils.is_main():
            return
        self.output.mkdir(parents=True, exist_ok=True)
        with open(self.output / "metrics.jsonl", "a", encoding="utf-8") as f:
            # allow_nan=False: a bare NaN is not JSON; non-finite values never get here
            f.write(json.dumps(record, allow_nan=False) + "\n")

    # -- validation ------------------------------------------------------------------------
    def validate(self) -> dict[str, Any]:
        ec = self.config.evaluation
        data = self.data
        sample = None
        if ec.max_valid_triples and len(data.valid) > ec.max_valid_triples:
            g = torch.Generator().manual_seed(self.config.seed)
            pick = torch.randperm(len(data.valid), generator=g)[: ec.max_valid_triples]
            sample = data.valid[pick]  # ranked; the context keeps the whole split
        with quiet():  # inside the training bar
            return evaluate(
                self.model,
                data,
                triples=sample,
                split="valid",
                protocol=ec.protocol,
                batch_size=ec.batch_size,
                device=self.device,
                context=ec.context,
                distributed=self.distributed,
            )

    def _after_eval(self, result: dict[str, Any]) -> bool:
        """Record a validation result; True when training should stop early."""
        ec = self.config.evaluation
        value = result["both"][ec.metric]
        record = {"type": "eval", "split": "valid", "step": self.step, "epoch": self.epoch}
        record.update(result["both"])
        self.history.append(record)
        self.log(record)
        if self.best["metric"] is None or value > self.best["metric"]:
            self.best = {"metric": value, "step": self.step, "epoch": self.epoch}
            self.bad_evals = 0
            if dist_utils.is_main():
                self.model.save(self.output / "best")
            dist_utils.barrier()
            return False
        self.bad_evals += 1
        return ec.patience is not None and self.bad_evals >= ec.patience

    # -- loop ------------------------------------------------------------------------------
    def fit(self) -> LinkPredictor:
        """Train (from the current state, e.g. after :meth:`load_checkpoint`); returns the model
        with the best validation weights when validation ran, else the last ones."""
        tc, ec = self.config.training, self.config.evaluation
        has_valid = len(self.data.valid) > 0 and ec.every_epochs is not None
        self.model.train()
        start = time.perf_counter() - self.elapsed
        window: list[float] = []
        bar = progress(total=self.total_steps, initial=self.step, desc="training", unit="step")
        done = self.step >= self.total_steps or self.stopped_early
        while not done and self.epoch < tc.epochs:
            g = torch.Generator().manual_seed(self.config.seed * 100_003 + self.epoch)
            order = torch.randperm(len(self.examples), generator=g).to(self.device)
            batches = order.split(tc.batch_size)
            while self.micro_in_epoch < len(batches):
                first = self.micro_in_epoch
                group = batches[first : first + tc.grad_accumulation]
                self.optimizer.zero_grad(set_to_none=True)
                step_loss = 0.0
                for i, idx in enumerate(group):
                    mine, weight = self._my_part(idx)
                    # gradients are averaged over the ranks once per optimiser step
                    last = i == len(group) - 1
                    sync = (
                        self._ddp.no_sync() if self._ddp and not last else contextlib.nullcontext()
                    )
                    with sync:
                        with torch.autocast(
                            self.device.type,
                            dtype=self.amp_dtype,
                            enabled=self.amp_dtype is not None,
                        ):
                            examples = self.examples[mine]
                            loss = self._ddp(examples) if self._ddp else self.compute_loss(examples)
                            loss = loss * weight / len(group)
                        value = float(loss.detach())
                        if not math.isfinite(value):
                            raise self._diverged(f"the loss is {value}", self.step + 1)
                        self.scaler.scale(loss).backward()
                    step_loss += value
                if tc.grad_clip:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.scheduler.step()
                self.micro_in_epoch += len(group)
                self.step += 1
                window.append(step_loss)
                bar.update()
                if self.step % tc.log_every == 0 or self.step == self.total_steps:
                    self.elapsed = time.perf_counter() - start
                    mean = dist_utils.mean_over_ranks(sum(window) / len(window), self.device)
                    self.log(
                        {
                            "type": "train",
                            "step": self.step,
                            "epoch": self.epoch,
                            "loss": mean,
                            "lr": self.scheduler.get_last_lr()[-1],
                            "elapsed": round(self.elapsed, 3),
                        }
                    )
                    bar.set_postfix(loss=f"{mean:.4f}")
                    window = []
                for callback in self.callbacks:
                    callback(self, self.step)
                if self.step >= self.total_steps:
                    done = True
                    break
                every = self.config.checkpoint.every_steps
                if every and self.step % every == 0:
                    self.elapsed = time.perf_counter() - start
                    self.save_checkpoint()
            epoch_done = self.micro_in_epoch >= len(batches)
            if epoch_done:
                self.epoch += 1
                self.micro_in_epoch = 0
            evaluated = has_valid and (done or (epoch_done and self.epoch % ec.every_epochs == 0))
            if evaluated:
                if self._after_eval(self.validate()):
                    self.stopped_early = True
                    done = True
                self.model.train()
            every_epochs = self.config.checkpoint.every_epochs
            if evaluated or done or (every_epochs and self.epoch % every_epochs == 0):
                self.elapsed = time.perf_counter() - start
                self.save_checkpoint()
        bar.close()
        self.elapsed = time.perf_counter() - start
        dist_utils.barrier()
        if has_valid and self.best["step"] is not None and (self.output / "best").exists():
            state = torch.load(
                self.output / "best" / "weights.pt", map_location=self.device, weights_only=True
            )
            self.model.load_state_dict(state)
        self.model.eval()
        return self.model


class _LossModule(torch.nn.Module):
    """The trainer's loss as a module's forward, for ``DistributedDataParallel`` to wrap."""

    def __init__(self, trainer: Trainer) -> None:
        super().__init__()
        self.model = trainer.model
        self._trainer = [trainer]  # a list: not registered as a submodule

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self._trainer[0].compute_loss(batch)
