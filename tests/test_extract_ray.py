"""`kgforge extract --engine ray` on a real local Ray cluster (2 CPUs, one for the module):
the same statements as a local run, incremental runs and --prune alike, resume after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from killed_run import commit_reporting_script
from typer.testing import CliRunner

from kgforge.cli import app
from kgforge.extract.run import extract
from kgforge.graph.namespaces import KGF
from kgforge.graph.store import KnowledgeGraph

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'kgforge[ray]')")

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = [
    "Marie Curie, a Polish physicist, was born in Warsaw.",
    "Apple was founded by Steve Jobs in 1976. Jobs later led Pixar.",
    "Microsoft acquired GitHub in 2018.",
    "Paris is the capital of France. Curie moved to Paris in 1891.",
    "Ada Lovelace worked with Charles Babbage in London.",
]


def _corpus(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = " ".join(SENTENCES[(i + k) % 5] for k in range(3))
        (root / f"d{i:02d}.txt").write_text(text, encoding="utf-8")
    return root


def _quads(path: Path) -> list:
    with KnowledgeGraph.open(path, read_only=True) as kg:
        return list(kg.quads())


@pytest.fixture(scope="module")
def cluster() -> str:
    """One local Ray cluster for the module (this VM has 2 cores)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_ray_run_writes_what_a_local_run_writes(cluster: str, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", 12)
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    extract(corpus, local, batch_size=4)
    runner = CliRunner()
    args = ["extract", str(corpus), "--store", str(on_ray), "--engine", "ray", "--workers", "2"]
    result = runner.invoke(app, [*args, "--batch-size", "4", "-q"])
    assert result.exit_code == 0, result.output
    assert "12 extracted (12 new" in result.output
    assert set(_quads(local)) == set(_quads(on_ray)) and len(_quads(local)) > 100

    # an incremental run with --prune: one document changed, one gone, one new
    (corpus / "d00.txt").write_text("Alan Turing was born in London.", encoding="utf-8")
    (corpus / "d01.txt").unlink()
    (corpus / "d99.txt").write_text("Grace Hopper worked for the Navy.", encoding="utf-8")
    ours = extract(corpus, local, batch_size=4, prune=True)
    theirs = extract(corpus, on_ray, batch_size=4, prune=True, engine="ray")  # joins the cluster
    counts = ("documents", "new", "changed", "unchanged", "dropped", "statements")
    assert [getattr(theirs, c) for c in counts] == [getattr(ours, c) for c in counts]
    assert (theirs.new, theirs.changed, theirs.dropped, theirs.unchanged) == (1, 1, 1, 10)
    assert set(_quads(local)) == set(_quads(on_ray))


KILLED = commit_reporting_script(
    'run.extract(sys.argv[1], sys.argv[2], batch_size=2, engine="ray", address=sys.argv[3], workers=2)'
)


def test_killed_ray_run_resumes_without_duplicates_or_losses(cluster: str, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", 30)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", KILLED, str(corpus), str(killed), cluster]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    commits = 0
    for line in proc.stdout:
        if line.startswith("committed"):
            commits += 1
            if commits == 3:
                os.kill(proc.pid, signal.SIGKILL)  # the driver; its actors die with it
                break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with KnowledgeGraph.open(killed, read_only=True) as kg:
        partial = {str(o) for _, _, o in kg.triples((None, KGF.docId, None))}
    assert 6 <= len(partial) < 30
    resumed = extract(corpus, killed, batch_size=2, engine="ray", workers=2)
    assert resumed.unchanged == len(partial) and resumed.new == 30 - len(partial)
    extract(corpus, clean, batch_size=2)
    quads = _quads(killed)
    assert len(quads) == len(set(quads))
    assert set(quads) == set(_quads(clean))
