"""An installed wheel (not the checkout) carries the pipelines, models and sample corpus."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import sys
from pathlib import Path
import kgforge
from kgforge.demo import SAMPLE
from kgforge.extract.config import load_config
from kgforge.extract.pipeline import find_pipeline

site = Path(sys.argv[1]).resolve()
assert Path(kgforge.__file__).resolve().is_relative_to(site), kgforge.__file__
config = load_config(find_pipeline("conll04"))
models = [config.entity_types.model] + [r.model for r in config.relations if hasattr(r, "model")]
assert models and all(Path(m).is_file() and Path(m).resolve().is_relative_to(site) for m in models)
assert find_pipeline("default").resolve().is_relative_to(site)
assert SAMPLE.resolve().is_relative_to(site) and len(list(SAMPLE.glob("*.txt"))) >= 10
print("ok")
"""


@pytest.mark.slow
def test_wheel_ships_pipelines_models_and_sample(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a clean copy: no stale build/ of the checkout gets reused
    skip = (".*", "build", "dist", "runs", "*.egg-info", "__pycache__", "tests", "notebooks")
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*skip))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", source],
        check=True,
        cwd=tmp_path,
    )
    wheel = next((tmp_path / "dist").glob("kgforge-*.whl"))
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", CHECK, str(site)],
        cwd=tmp_path,  # not the checkout: only the wheel's copies can be found
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
