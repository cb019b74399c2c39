"""The script a kill-and-resume test runs in a child process: it extracts and prints
``committed`` after each batch whose N-Quads reached the store (so the test kills it mid-run)."""

from __future__ import annotations


def commit_reporting_script(extract_call: str) -> str:
    """Python source that runs ``extract_call`` (a ``run.extract(...)`` call reading
    ``sys.argv``) with every committed batch reported, then prints ``done``."""
    return f"""
import sys
from kgforge.extract import run
original = run.ExtractionRun._load
def load(self, lines):  # the commit of a batch (in the writer thread for new documents)
    lines = list(lines)
    original(self, lines)
    if any("ns#Document>" in line for line in lines):
        print("committed", flush=True)
run.ExtractionRun._load = load
{extract_call}
print("done", flush=True)
"""
