"""Where the index lives: a local directory (Whoosh, the default) or a Sphinx cluster, behind one interface.

Both backends take the same documents, analysed by the same code, and answer
the same query language with the same result objects; the CLI and the web
app choose one with :func:`open_backend` and never look further.

>>> open_backend(None, index_dir="index")
LocalBackend(index_dir=PosixPath('index'))
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from .analysis import Segmenter
from .errors import SearchError
from .permalinks import PostUrls
from .results import Hit, IndexStats, Post, SearchResults
from .storage import DEFAULT_INDEX_DIR
from .synonyms import Synonyms
from .writing import BuildReport, OptimizeReport, ProgressCallback

#: How ``--backend`` URLs look (the local index needs no URL).
BACKEND_URLS = "sphinx://HOST:PORT[,HOST:PORT…][/INDEX]"


class SearchIndex(Protocol):
    """An opened index: what :class:`search.Index` and :class:`search.sphinx.SphinxIndex` both provide."""

    segmenter: Segmenter
    synonyms: Synonyms

    def search(self, text: str, **options) -> SearchResults: ...
    def suggest(self, typed: str, *, limit: int = ...) -> list[str]: ...
    def get(self, doc_id: str) -> Post | None: ...
    def more_like(self, doc_id: str, *, limit: int = 5) -> list[Hit]: ...
    def related_coverage(self, doc_id: str, *, days: float = ..., limit: int = 10) -> list[Hit]: ...
    def stats(self) -> IndexStats: ...
    def close(self) -> None: ...
    def __enter__(self): ...
    def __exit__(self, *exc) -> None: ...


class Backend(Protocol):
    """Builds, updates and opens one index."""

    def build(self, corpus_dir: Path, *, userdict: str | None = None, segmenter: str = "jieba",
              procs: int | None = None, wait: bool = False,
              progress: ProgressCallback | None = None) -> BuildReport: ...
    def update(self, corpus_dir: Path | None = None, *, procs: int | None = None, wait: bool = False,
               progress: ProgressCallback | None = None) -> BuildReport: ...
    def optimize(self, *, procs: int | None = None, wait: bool = False) -> OptimizeReport: ...
    def open(self, *, post_urls: PostUrls | None = None,
             synonyms: Synonyms | Path | str | None = None) -> SearchIndex: ...
    def exists(self) -> bool: ...


def open_backend(url: str | None = None, *, index_dir: Path | str = DEFAULT_INDEX_DIR,
                 cluster_file: Path | str | None = None) -> Backend:
    """Return the backend a ``--backend`` URL names; without one, the local index in ``index_dir``.

    :raises SearchError: for a URL of no known backend.
    """
    if not url:
        from .local import LocalBackend

        return LocalBackend(Path(index_dir))
    if url.startswith("sphinx://"):
        from .sphinx import SphinxBackend

        return SphinxBackend.from_url(url, cluster_file)
    raise SearchError(f"unknown backend {url!r}; use {BACKEND_URLS}, or no --backend for the local index")
