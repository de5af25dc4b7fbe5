"""Full-text search for archives of Chinese news kept as Hexo posts.

Library use::

    from search import Index, build_index
    build_index("posts/", "index/")
    with Index.open("index/") as ix:
        results = ix.search("冬奥 开幕", page=1, per_page=10, sort="newest",
                            filters={"source": "新华快讯", "date": "2022-01..2022-03"})
        for hit in results.hits:
            print(hit.title, hit.date, hit.snippet)

The local index's names (``Index``, ``build_index``...) are imported when first
used, so the engine-neutral modules and the Sphinx backend (:mod:`search.sphinx`)
load without Whoosh.
"""

from importlib import import_module

from .text.analysis import normalise
from .corpus.posts import Document, Problem, read_post
from .errors import (CorpusError, IndexBusyError, IndexCorruptError, IndexNotFoundError, IndexVersionError,
                     IndexWriteError, QuerySyntaxError, SearchError, SynonymFileError, WhooshIncompatibleError)
from .corpus.permalinks import PostUrls
from .query.syntax import parse_query
from .query.request import Filters
from .query.results import Copy, FacetCount, Hit, IndexStats, Post, QueryDate, Reading, Rewrite, SearchResults
from .writing.storage import DEFAULT_INDEX_DIR
from .query.synonyms import NO_SYNONYMS, Synonyms, default_synonyms
from .writing.builds import BuildReport, OptimizeReport
from . import moved

moved.register()  # module paths that existing indexes' pickled schemas name

#: Names of the local (Whoosh) index, by the module that holds them.
_LOCAL = {"Index": "local.searcher", "build_index": "local.indexer", "optimize_index": "local.indexer",
          "update_index": "local.indexer", "word_analyzer": "local.tokenizers"}

__all__ = [
    "BuildReport", "Copy", "CorpusError", "DEFAULT_INDEX_DIR", "Document", "FacetCount", "Filters", "Hit", "Index",
    "IndexBusyError", "IndexCorruptError", "IndexNotFoundError", "IndexStats", "IndexVersionError", "IndexWriteError",
    "NO_SYNONYMS", "OptimizeReport", "Post", "PostUrls", "Problem", "QueryDate", "QuerySyntaxError", "Reading",
    "Rewrite", "SearchError", "SearchResults", "SynonymFileError", "Synonyms", "WhooshIncompatibleError",
    "build_index", "default_synonyms", "normalise",
    "optimize_index", "parse_query", "read_post", "update_index", "word_analyzer",
]


def __getattr__(name: str):
    if name in _LOCAL:
        value = getattr(import_module(f".{_LOCAL[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LOCAL})
