"""``kgforge.train``: config in, trained and evaluated model out (PyKEEN's ``pipeline()`` role).

The output folder of a run holds ``config.yaml`` (the resolved config), ``checkpoints/last.pt``,
``metrics.jsonl`` (one JSON object per log line), ``curve.png``, ``best/`` (best validation
weights), ``model/`` (the final model, :meth:`LinkPredictor.load` reads it) and ``results.json``
(validation and test metrics, times).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgforge.embed.config import TrainConfig, dump_config, load_config
from kgforge.errors import ConfigError, DataError

if TYPE_CHECKING:
    from kgforge.embed.data import KGData
    from kgforge.embed.model import LinkPredictor
    from kgforge.graph.store import KnowledgeGraph

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced."""

    output: Path
    model: LinkPredictor
    config: TrainConfig
    valid: dict[str, Any] | None
    test: dict[str, Any] | None
    best_step: int | None
    stopped_early: bool
    train_seconds: float
    wall_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"output: {self.output}"]
        for name, res in (("valid", self.valid), ("test", self.test)):
            if res:
                b = res["both"]
                parts.append(
                    f"{name}: MRR {b['mrr']:.4f}  H@1 {b['hits@1']:.4f}  "
                    f"H@3 {b['hits@3']:.4f}  H@10 {b['hits@10']:.4f}"
                )
        parts.append(f"training {self.train_seconds:.1f} s, total {self.wall_seconds:.1f} s")
        return "\n".join(parts)


def train(
    config: TrainConfig | Mapping[str, Any] | str | Path,
    *,
    data: KGData | KnowledgeGraph | str | Path | None = None,
    output: str | Path | None = None,
    resume: bool = False,
    set_values: Iterable[str] = (),
    callbacks: Sequence[Any] = (),
    distributed: bool = False,
    **overrides: Any,
) -> TrainResult:
    """Train and evaluate a link predictor.

    Example: ``train("pipelines/wn18rr_ind_frozen.yaml", training={"epochs": 2})``.

    Args:
        config: a :class:`TrainConfig`, a dict or a YAML file (e.g. ``pipelines/...yaml``).
        data: a data directory (overrides the config's), a :class:`KGData`, or a
            :class:`KnowledgeGraph` (made into data by ``KGData.from_graph`` with its
            defaults: transductive, leakage-free text). Data given in memory is written to
            ``OUTPUT/data`` first, and the saved config points there, so ``kgforge evaluate
            OUTPUT --data OUTPUT/data`` and ``--resume`` find it.
        output: the output directory (overrides the config's).
        resume: continue from the last checkpoint in ``output`` (a fresh start if none).
        set_values: ``"training.lr=0.01"`` strings, like the CLI's ``--set``.
        callbacks: called as ``callback(trainer, step)`` after each optimiser step.
        distributed: train data-parallel over the ``torch.distributed`` group that torchrun
            prepared (``kgforge.embed.distributed``): every rank calls ``train`` with the same
            arguments; rank 0 writes the output folder, which all ranks must see (one machine,
            or a shared file system) to resume.
        **overrides: config sections merged into ``config`` section by section.

    Returns:
        The trained model, its validation history and its test metrics.
    """
    started = time.perf_counter()
    in_memory = data is not None and not isinstance(data, (str, Path))
    top = {"data": str(data)} if data is not None and not in_memory else {}
    if output is not None:
        top["output"] = str(output)
    cfg = load_config(config, {**overrides, **top}, set_values)
    if cfg.data is None and not in_memory:
        raise ConfigError("no data directory: set 'data' in the config or pass --data")
    out = Path(cfg.output or "runs/train")
    if in_memory:
        cfg = cfg.model_copy(update={"data": str(out / "data")})
    trainer_ckpt = out / "checkpoints" / "last.pt"
    if trainer_ckpt.exists() and not resume:
        raise ConfigError(
            f"{out} already holds a run: pass --resume to continue it or choose another --output"
        )
    if resume:
        _check_resumable(out, cfg)
    # heavy imports only once the config is known to be valid
    import torch

    from kgforge.device import resolve_device
    from kgforge.embed import distributed as dist_utils
    from kgforge.embed.data import KGData
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.trainer import Trainer

    threads = torch.get_num_threads()  # training.num_threads holds for this run only
    own_group = distributed and not dist_utils.active()
    if distributed:
        dist_utils.setup(resolve_device(cfg.training.device))
    main = dist_utils.is_main()
    try:
        if in_memory:
            kg = _in_memory_data(data)
            if main:
                kg.to_dir(cfg.data)
            dist_utils.barrier()
        else:
            kg = KGData.load_dir(cfg.data)
        if len(kg.train) == 0:
            raise DataError("has no triples: training needs some", Path(cfg.data) / "train.tsv")
        trainer = Trainer(cfg, kg, out, callbacks=callbacks, distributed=distributed)
        if resume:
            trainer.load_checkpoint()
        if main:
            out.mkdir(parents=True, exist_ok=True)
            dump_config(cfg, out / "config.yaml")  # once the checkpoint is known to fit
        model = trainer.fit()

        ec = cfg.evaluation
        valid = test = None
        kwargs = {
            "protocol": ec.protocol,
            "batch_size": ec.batch_size,
            "device": trainer.device,
            "distributed": distributed,
        }
        # graph encoders: both contexts (text only and with the split's edges) are reported
        contexts = [ec.context] if model.neighbourhood is None else ["none", "split"]
        by_context: dict[str, dict[str, Any]] = {}
        for context in contexts:
            res = by_context.setdefault(context, {})
            if ec.final_valid and len(kg.valid):
                res["valid"] = evaluate(model, kg, split="valid", context=context, **kwargs)
            if ec.test and len(kg.test):
                res["test"] = evaluate(model, kg, split="test", context=context, **kwargs)
        valid = by_context.get(ec.context, {}).get("valid")
        test = by_context.get(ec.context, {}).get("test")
        if main:
            model.save(out / "model")
        for split, res in (("valid", valid), ("test", test)):
            if res is not None:
                trainer.log({"type": "final", "split": split, "step": trainer.step, **res["both"]})
        wall = time.perf_counter() - started
        results = {
            "valid": valid,
            "test": test,
            "best": trainer.best,
            "stopped_early": trainer.stopped_early,
            "steps": trainer.step,
            "train_seconds": round(trainer.elapsed, 2),
            "wall_seconds": round(wall, 2),
            "device": str(trainer.device),
        }
        if model.neighbourhood is not None:
            results["by_context"] = by_context
        if trainer.ranks is not None:
            results["world_size"] = trainer.ranks.world
        if main:
            (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
            plot_curve(out / "metrics.jsonl", out / "curve.png")
        dist_utils.barrier()
        return TrainResult(
            output=out,
            model=model,
            config=cfg,
            valid=valid,
            test=test,
            best_step=trainer.best["step"],
            stopped_early=trainer.stopped_early,
            train_seconds=trainer.elapsed,
            wall_seconds=wall,
            history=trainer.history,
        )

    finally:
        torch.set_num_threads(threads)
        if own_group:
            dist_utils.cleanup()


def _in_memory_data(data: object) -> KGData:
    """``data`` as :class:`KGData`: itself, or made from a knowledge graph."""
    from kgforge.embed.data import KGData
    from kgforge.graph.store import KnowledgeGraph

    if isinstance(data, KGData):
        return data
    if isinstance(data, KnowledgeGraph):
        built = KGData.from_graph(data)
        logger.info("data from the knowledge graph: %s", built.report.summary())
        return built
    raise ConfigError(
        f"must be a data directory, a KGData or a KnowledgeGraph, not {type(data).__name__}",
        field="data",
    )


def _check_resumable(out: Path, cfg: TrainConfig) -> None:
    """A run to resume exists and its model is the one ``cfg`` describes (a resumed run may
    train longer or evaluate differently, but not change the model it continues)."""
    if not out.is_dir():
        raise ConfigError("no run to resume here; drop --resume to start a fresh run", out)
    if not (out / "checkpoints" / "last.pt").exists():
        # killed before its first checkpoint: starting over is resuming it
        logger.info("%s has no checkpoint yet: the run starts from the beginning", out)
        return
    saved_path = out / "config.yaml"
    if not saved_path.exists():
        return
    saved = load_config(saved_path)
    old, new = saved.model.model_dump(), cfg.model.model_dump()
    for key in old:
        if old[key] != new[key]:
            raise ConfigError(
                f"the run was trained with model.{key}={old[key]!r}, not {new[key]!r}: "
                "resume with the same model settings, or train into a new --output",
                saved_path,
                field=f"model.{key}",
            )


def plot_curve(metrics_path: str | Path, png_path: str | Path) -> Path | None:
    """Training loss and validation metric against steps, from a ``metrics.jsonl`` log."""
    path = Path(metrics_path)
    if not path.exists():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    train = [r for r in records if r.get("type") == "train"]
    evals = [r for r in records if r.get("type") == "eval"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss", color="tab:blue")
    if evals:
        ax2 = ax.twinx()
        ax2.plot([r["step"] for r in evals], [r["mrr"] for r in evals], "o-", color="tab:red")
        ax2.set_ylabel("validation MRR", color="tab:red")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)
