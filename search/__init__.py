"""Full-text search for archives of Chinese news kept as Hexo posts.

Library use::

    from search import Index, build_index
    build_index("posts/", "index/")
    with Index.open("index/") as ix:
        results = ix.search("冬奥 开幕", page=1, per_page=10, sort="newest",
                            filters={"source": "新华快讯", "date": "2022-01..2022-03"})
        for hit in results.hits:
            print(hit.title, hit.date, hit.snippet)
"""

from .analysis import normalise, word_analyzer
from .corpus import Document, Problem, read_post
from .errors import (CorpusError, IndexBusyError, IndexCorruptError, IndexNotFoundError, IndexVersionError,
                     IndexWriteError, QuerySyntaxError, SearchError, SynonymFileError, WhooshIncompatibleError)
from .indexer import DEFAULT_INDEX_DIR, BuildReport, OptimizeReport, build_index, optimize_index, update_index
from .permalinks import PostUrls
from .query import parse_query
from .results import Copy, FacetCount, Hit, IndexStats, Post, QueryDate, Reading, Rewrite, SearchResults
from .searcher import Filters, Index
from .synonyms import NO_SYNONYMS, Synonyms, default_synonyms

__all__ = [
    "BuildReport", "Copy", "CorpusError", "DEFAULT_INDEX_DIR", "Document", "FacetCount", "Filters", "Hit", "Index",
    "IndexBusyError", "IndexCorruptError", "IndexNotFoundError", "IndexStats", "IndexVersionError", "IndexWriteError",
    "NO_SYNONYMS", "OptimizeReport", "Post", "PostUrls", "Problem", "QueryDate", "QuerySyntaxError", "Reading",
    "Rewrite", "SearchError", "SearchResults", "SynonymFileError", "Synonyms", "WhooshIncompatibleError",
    "build_index", "default_synonyms", "normalise",
    "optimize_index", "parse_query", "read_post", "update_index", "word_analyzer",
]
