"""The index on a Sphinx cluster (or Manticore, which speaks the same SphinxQL): the scale-out backend.

Documents are analysed here, exactly as for the local index, and sent as
tokens (:mod:`.documents`); queries are planned here and translated to
``MATCH()`` (:mod:`.match`) and a ranker expression (:mod:`.ranking`);
searchd only matches, ranks, counts and fans queries out to the shards
(:mod:`.cluster`) and their mirrors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..writing.builds import BuildReport, OptimizeReport, ProgressCallback
from ..corpus.permalinks import PostUrls
from ..query.synonyms import Synonyms
from .cluster import ClusterConfigError, ClusterMap, load_map
from .connection import ClusterUnavailableError, ClusterURL
from .searcher import SphinxIndex
from .writer import build_cluster, optimize_cluster, update_cluster

__all__ = ["ClusterConfigError", "ClusterURL", "ClusterUnavailableError", "SphinxBackend", "SphinxIndex"]


@dataclass(frozen=True)
class SphinxBackend:
    """A Sphinx cluster: read through ``url``'s query nodes, written through the shard map in ``cluster_file``."""

    url: ClusterURL
    cluster_file: Path | None = None

    @classmethod
    def from_url(cls, url: str, cluster_file: Path | str | None = None) -> SphinxBackend:
        """Return the backend of a ``sphinx://`` URL (writes also need ``cluster_file``, the shard map)."""
        return cls(ClusterURL.parse(url), Path(cluster_file) if cluster_file else None)

    def __str__(self) -> str:
        return str(self.url)

    def build(self, corpus_dir: Path, *, userdict: str | None = None, segmenter: str = "jieba",
              procs: int | None = None, wait: bool = False, progress: ProgressCallback | None = None) -> BuildReport:
        """Index every post under ``corpus_dir`` into the cluster, replacing what it held."""
        return build_cluster(corpus_dir, self.shard_map(), userdict=userdict, segmenter=segmenter, procs=procs,
                             wait=wait, progress=progress)

    def update(self, corpus_dir: Path | None = None, *, procs: int | None = None, wait: bool = False,
               progress: ProgressCallback | None = None) -> BuildReport:
        """Write only the posts added, changed or deleted since the last build or update."""
        return update_cluster(self.shard_map(), corpus_dir, procs=procs, wait=wait, progress=progress)

    def optimize(self, *, procs: int | None = None, wait: bool = False) -> OptimizeReport:
        """Have searchd merge each shard's disk chunks (``OPTIMIZE INDEX``, which it runs in the background)."""
        return optimize_cluster(self.shard_map(), wait=wait)

    def open(self, *, post_urls: PostUrls | None = None,
             synonyms: Synonyms | Path | str | None = None) -> SphinxIndex:
        """Return the cluster's index, opened for searching (hits carry blog URLs with ``post_urls``; queries
        are expanded by ``synonyms``, see :class:`search.Index`)."""
        return SphinxIndex.open(self.url, post_urls=post_urls, synonyms=synonyms)

    def exists(self) -> bool:
        """Always True: whether the cluster holds an index is known only when it is opened."""
        return True

    def shard_map(self) -> ClusterMap:
        """Return the shard map writers follow.

        :raises ClusterConfigError: if there is none, or it names another distributed index than the URL.
        """
        if self.cluster_file is None:
            raise ClusterConfigError(f"writing to {self.url} needs its shard map: pass --cluster FILE "
                                     "(written by `news-search cluster init`)")
        cluster = load_map(self.cluster_file)
        if cluster.index != self.url.index:
            raise ClusterConfigError(f"{self.cluster_file} describes index {cluster.index!r}, "
                                     f"but the backend URL names {self.url.index!r}")
        return cluster
