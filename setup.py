"""Ship ``pipelines/`` and ``data/`` inside the wheel as ``kgforge/pipelines`` and ``kgforge/data``.

A checkout keeps them at the top level (where people look for them); an installed kgforge finds
them beside its modules, in the same relative layout, so pipeline files that name
``../data/models/...`` work in both. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = {"pipelines": "*.yaml", "data/models": "*.pt", "data/sample": "*.*"}


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        for folder, pattern in SHIPPED.items():
            target = Path(self.build_lib) / "kgforge" / folder
            target.mkdir(parents=True, exist_ok=True)
            for source in sorted((ROOT / folder).glob(pattern)):
                shutil.copy2(source, target / source.name)


setup(cmdclass={"build_py": BuildWithData})
