"""Old module paths that indexes on disk still name, kept importable so their schemas unpickle.

Whoosh pickles an index's schema into its TOC (``_MAIN_*.toc``), naming each
field type, analyzer and function by the module path it had when the index
was written: ``search.analysis`` (its tokenizers until they moved to
``search.tokenizers``), ``search.tokenizers`` and ``search.indexer``, all
from before ``search/`` was split into subpackages. :func:`register` (run by
``import search``) puts a stand-in for each of those paths in
``sys.modules``, so unpickling finds each name where it lives now; a
stand-in imports the modules it points to only when a name is asked of it,
so ``import search`` stays free of Whoosh. ``tests/test_moved.py`` unpickles
a schema that names each old path.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

#: Old module path -> the modules its names live in now, searched in order.
OLD_PATHS = {
    "search.analysis": ("search.text.analysis", "search.local.tokenizers"),
    "search.tokenizers": ("search.local.tokenizers",),
    "search.indexer": ("search.local.indexer",),
}


class OldPath(ModuleType):
    """A module path that moved: each name is looked up in the modules that hold it now."""

    def __init__(self, name: str, homes: tuple[str, ...]):
        super().__init__(name, f"Moved to {', '.join(homes)}; kept for pickled index schemas.")
        self._homes = homes

    def __getattr__(self, name: str):
        if not name.startswith("_"):  # dunders are asked by whatever walks sys.modules: they import nothing
            for home in self._homes:
                module = importlib.import_module(home)
                if hasattr(module, name):
                    return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


def register() -> None:
    """Put a stand-in for each old path in ``sys.modules`` (once; a real module of that name wins)."""
    for old, homes in OLD_PATHS.items():
        sys.modules.setdefault(old, OldPath(old, homes))
