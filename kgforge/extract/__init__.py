"""Extraction: corpus -> spaCy pipeline -> statements with provenance in a knowledge graph.

``kgforge.extract(corpus, store, pipeline="default", workers=1, ...)`` runs an extraction (see
``kgforge.extract.run.extract``). The package itself is callable for that: importing any of its
submodules binds the name ``kgforge.extract`` to this package, which would otherwise shadow the
function of the same name that ``kgforge`` exports.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from kgforge.extract.run import extract

        return extract(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
