"""Run ``kgforge`` as a user does (a subprocess) and check how it fails.

Every robustness case asserts the exit code, the message and that no traceback leaked:

    result = run_kgforge("stats", str(tmp_path / "missing"))
    assert_one_line_error(result, mentions=["missing", "no store"])

The ``kgforge_cli`` fixture (conftest.py) is ``run_kgforge`` with the test's tmp_path as the
working directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Short enough to notice a hang, long enough for a command that loads spaCy or torch on a
# shared 2-core machine.
TIMEOUT = 180


@dataclass(frozen=True)
class CLIResult:
    """What a ``kgforge`` process left: its exit code, stdout and stderr."""

    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:  # shown by failing asserts
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    # One torch thread, no bars in captured output; the caller's variables win.
    base = {**os.environ, "OMP_NUM_THREADS": "1", "KGFORGE_PROGRESS": "0"}
    return {**base, **(env or {})}


def _default_sigint() -> None:
    """Ctrl-C stops the child even where the suite was started in the background (a shell's
    ``&`` job ignores SIGINT, and a child inherits that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_kgforge(
    *args: str | Path,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = TIMEOUT,
) -> CLIResult:
    """Run ``python -m kgforge ARGS`` to completion (a hang fails the test at ``timeout``)."""
    proc = subprocess.run(
        [sys.executable, "-m", "kgforge", *map(str, args)],
        cwd=cwd,
        env=_env(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CLIResult(proc.returncode, proc.stdout, proc.stderr)


def interrupt_kgforge(
    *args: str | Path,
    when: Callable[[str], bool],
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> CLIResult:
    """Start ``python -m kgforge ARGS`` and send it SIGINT (Ctrl-C) once ``when(stderr)`` is
    true, ``stderr`` being what the process has written there so far.

    ``when`` is polled every 50 ms (e.g. "the store holds a committed document", "a progress
    bar has moved"); if the process ends first, its result comes back as it is and the test's
    own asserts tell.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kgforge", *map(str, args)],
                cwd=cwd,
                env=_env(env),
                stdout=out,
                stderr=err,
                text=True,
                preexec_fn=_default_sigint,
            )
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if when(err_path.read_text(errors="replace")):
                    proc.send_signal(signal.SIGINT)
                    break
                time.sleep(0.05)
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return CLIResult(proc.returncode, out_path.read_text(), err_path.read_text())


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_one_line_error(result: CLIResult, code: int = 1, mentions: Iterable[str] = ()) -> str:
    """A user error: exit ``code``, exactly one non-empty stderr line ``error: ...`` naming each
    of ``mentions`` (file, line, field), no traceback. Returns the line."""
    assert result.code == code, result
    assert "Traceback" not in result.stderr + result.stdout, result
    lines = _lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result
    for text in mentions:
        assert text in lines[0], f"{text!r} not in the error line\n{result}"
    return lines[0]


def assert_usage_error(result: CLIResult, mentions: Iterable[str] = ()) -> str:
    """A usage error: click's usage message on stderr, exit 2, no traceback. Returns stderr."""
    assert result.code == 2, result
    assert "Traceback" not in result.stderr + result.stdout, result
    assert result.stderr.startswith("Usage: "), result
    for text in mentions:
        assert text in result.stderr, f"{text!r} not in the usage message\n{result}"
    return result.stderr
