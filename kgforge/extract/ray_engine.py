"""Extraction on a Ray cluster (``kgforge extract --engine ray``; ``pip install 'kgforge[ray]'``).

Only the parsing and extraction of texts leave the driver: each Ray actor loads the same
pipeline from its config (spaCy once per actor) and runs the same ``nlp.pipe`` +
``extract_doc`` as the local path on a batch of texts; the driver keeps everything that must
see the documents in corpus order: reading the corpus and its content hashes, skipping unchanged
documents, canonical relation names, entity resolution, the transactional batch writes and their
resume records, ``--prune`` and the entity records. So a Ray run writes the statements a local
run writes, and a killed one resumes as a local one does.

Results come back in submission order with a bounded number of batches in flight per actor
(memory stays flat however long the corpus). On a cluster of several machines every node needs
kgforge installed (same version) and the pipeline's model files at the same paths.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from kgforge.errors import KGForgeError

if TYPE_CHECKING:
    from kgforge.extract.config import PipelineConfig
    from kgforge.extract.pipeline import ExtractionPipeline
    from kgforge.extract.types import DocExtraction

log = logging.getLogger(__name__)

_IN_FLIGHT = 2  # batches queued per actor: one running, one waiting


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise KGForgeError(
            "--engine ray needs Ray: pip install 'kgforge[ray]' (or pip install ray)"
        ) from None
    return ray


class _Worker:
    """One Ray actor's pipeline: the local path's parse + extract, on batches of texts."""

    def __init__(self, config: PipelineConfig, path: str | None) -> None:
        from kgforge.extract.pipeline import ExtractionPipeline

        self.pipeline = ExtractionPipeline(config, Path(path) if path else None)
        self.pipeline._load_trained()

    def extract(self, texts: list[str]) -> list[DocExtraction]:
        nlp = self.pipeline.nlp
        return [self.pipeline.extract_doc(doc) for doc in nlp.pipe(texts, batch_size=len(texts))]


class RayEngine:
    """Ray actors that extract batches of texts for a driver (a context manager).

    Args:
        address: the cluster to join (``auto``, ``ray://host:10001``, ``host:6379``); None
            joins the cluster this process already joined, else starts a local one.
        workers: actors (one CPU each); default: the cluster's CPUs.
    """

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers
        self._ray: Any = None
        self._started = False
        self._actors: list[Any] = []

    def __enter__(self) -> RayEngine:
        ray = self._ray = _import_ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is None and self.workers is not None:
                kwargs["num_cpus"] = self.workers  # a local cluster of that size
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = self.address or "a local cluster"
                raise KGForgeError(f"cannot start or join Ray at {where}: {exc}") from None
            self._started = True
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if self.workers is None:
            self.workers = cpus
        elif self.workers > cpus:  # actors beyond the CPUs would wait for one forever
            log.warning("%d Ray workers asked for, the cluster has %d CPUs", self.workers, cpus)
            self.workers = cpus
        return self

    def map(
        self, pipeline: ExtractionPipeline, texts: Iterable[str], batch_size: int
    ) -> Iterator[DocExtraction]:
        """The extraction of every text, in order (texts are read ahead by the batches in
        flight)."""
        ray = self._ray
        assert ray is not None, "use RayEngine as a context manager"
        actor = ray.remote(num_cpus=1)(_Worker)
        path = str(pipeline.path) if pipeline.path is not None else None
        self._actors = [actor.remote(pipeline.config, path) for _ in range(self.workers or 1)]
        pending: deque[Any] = deque()
        batch: list[str] = []
        turn = 0

        def submit() -> None:
            nonlocal batch, turn
            pending.append(self._actors[turn % len(self._actors)].extract.remote(batch))
            batch, turn = [], turn + 1

        for text in texts:
            batch.append(text)
            if len(batch) >= batch_size:
                submit()
                if len(pending) >= _IN_FLIGHT * len(self._actors):
                    yield from self._get(pending.popleft())
        if batch:
            submit()
        while pending:
            yield from self._get(pending.popleft())

    def _get(self, ref: Any) -> list[DocExtraction]:
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, KGForgeError):
                raise cause from None
            raise
        except ray.exceptions.RayActorError as exc:
            raise KGForgeError(
                f"a Ray extraction worker died ({str(exc).splitlines()[0]}): the committed "
                "batches are in the store; run again to resume"
            ) from None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ray = self._ray
        for actor in self._actors:  # free their CPUs for the next run on the cluster
            ray.kill(actor)
        self._actors = []
        if self._started:
            ray.shutdown()
