"""The command line's own contract: option choices agree with the library's; -q and -v."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

from typer.testing import CliRunner

from kgforge import cli
from kgforge.progress import progress_enabled, set_progress


def test_option_choices_match_the_library() -> None:
    from kgforge.corpus.reader import OnError
    from kgforge.embed.data import Split
    from kgforge.embed.evaluate import EvalProtocol
    from kgforge.extract.run import Engine
    from kgforge.graph.results import RESULT_FORMATS
    from kgforge.transfer.calibration import METHODS
    from kgforge.transfer.links import Direction
    from kgforge.transfer.retrieval import Mode

    assert get_args(cli.ResultFormat) == tuple(RESULT_FORMATS)
    assert set(get_args(cli.StatsFormat)) <= set(RESULT_FORMATS)
    assert set(get_args(cli.Calibration)) == {*METHODS, "none"}
    for ours, theirs in [
        (cli.OnError, OnError),
        (cli.Engine, Engine),
        (cli.Split, Split),
        (cli.Protocol, EvalProtocol),
        (cli.Direction, Direction),
        (cli.SearchMode, Mode),
    ]:
        assert set(get_args(ours)) == set(get_args(theirs)), (ours, theirs)


def test_quiet_and_verbose_set_logging_and_progress() -> None:
    """-v/-vv lower the log level of every logger under the one stderr handler; -q (global or a
    command's own) hides the progress bars and wins over -v; each invocation starts afresh."""
    runner = CliRunner()
    log = logging.getLogger("kgforge.graph.store")

    def after(*args: str) -> tuple[bool, bool, bool]:
        result = runner.invoke(cli.app, [*args, "stats", ":memory:"])
        assert result.exit_code == 0, result.output
        return log.isEnabledFor(logging.DEBUG), log.isEnabledFor(logging.INFO), progress_enabled()

    try:
        assert after("-vv") == (True, True, True)
        assert after("-v") == (False, True, True)
        assert after() == (False, False, True)
        assert after("-q", "-v") == (False, False, False)
        assert after() == (False, False, True)
        handlers = [h for h in logging.getLogger().handlers if isinstance(h, cli._StderrHandler)]
        assert len(handlers) == 1
    finally:
        set_progress(None)


def test_quiet_silences_the_model_libraries(tmp_path: Path) -> None:
    """`kgforge -q search --mode dense` loads a sentence-transformers model (whose library shows
    a weight-loading bar) and indexes with bm25s (which logs at DEBUG): nothing on stderr."""
    data = tmp_path / "a.trig"
    data.write_text(ENTITIES_TRIG, encoding="utf-8")
    store = tmp_path / "store"
    assert runner_ok(["load", str(store), str(data)])
    proc = subprocess.run(
        [sys.executable, "-m", "kgforge", "-q", "search", str(store), "a mathematician"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KGFORGE_PROGRESS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[2] == "ent:ada"
    assert proc.stderr == ""


def runner_ok(args: list[str]) -> bool:
    result = CliRunner().invoke(cli.app, args)
    return result.exit_code == 0


ENTITIES_TRIG = """\
@prefix ent: <https://w3id.org/kgforge/entity/> .
@prefix kgf: <https://w3id.org/kgforge/ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://w3id.org/kgforge/graph/entities> {
  ent:ada rdfs:label "Ada Lovelace" ; a kgf:Entity ; dct:description "a mathematician" .
  ent:charles rdfs:label "Charles Babbage" ; a kgf:Entity ; dct:description "an engineer" .
}
"""
