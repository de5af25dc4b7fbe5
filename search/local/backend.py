"""The local backend: a Whoosh index in a directory of generations, built by :mod:`search.local.indexer` and read by
:mod:`search.local.searcher`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..writing import storage
from .indexer import build_index, optimize_index, update_index
from ..corpus.permalinks import PostUrls
from .searcher import Index
from ..query.synonyms import Synonyms
from ..writing.builds import BuildReport, OptimizeReport, ProgressCallback


@dataclass(frozen=True)
class LocalBackend:
    """The Whoosh index in a directory of generations (see :mod:`search.writing.storage`)."""

    index_dir: Path

    def __str__(self) -> str:
        return f"{self.index_dir}/"

    def build(self, corpus_dir: Path, *, userdict: str | None = None, segmenter: str = "jieba",
              procs: int | None = None, wait: bool = False, progress: ProgressCallback | None = None) -> BuildReport:
        return build_index(corpus_dir, self.index_dir, userdict=userdict, segmenter=segmenter, procs=procs, wait=wait,
                           progress=progress)

    def update(self, corpus_dir: Path | None = None, *, procs: int | None = None, wait: bool = False,
               progress: ProgressCallback | None = None) -> BuildReport:
        return update_index(self.index_dir, corpus_dir, procs=procs, wait=wait, progress=progress)

    def optimize(self, *, procs: int | None = None, wait: bool = False) -> OptimizeReport:
        return optimize_index(self.index_dir, procs=procs, wait=wait)

    def open(self, *, post_urls: PostUrls | None = None, synonyms: Synonyms | Path | str | None = None) -> Index:
        return Index.open(self.index_dir, post_urls=post_urls, synonyms=synonyms)

    def exists(self) -> bool:
        return (self.index_dir / storage.CURRENT).exists()
