"""Building and updating the index on a Sphinx cluster: analyse posts here, write them to every mirror.

Posts are read, analysed and fingerprinted exactly as for the local index (in
worker processes, like :func:`search.local.indexer.build_index`), routed to shard
``doc_key(id) % shards`` and written with ``REPLACE`` to that shard's index
on every mirror. The file fingerprints ``update`` compares are attributes of
the rows themselves, so the cluster is its own manifest; ``<index>_meta`` on
every node records what built it (corpus, segmenter, shard map) and the files
that were read but not indexed.

Stories (copies of one story, see :mod:`search.corpus.duplicates`) are found here
from the near-duplicate fingerprints of every post, which the writer keeps
beside the shard map (``<map>.fingerprints.npz``), and recorded in the rows
of the posts that have copies: ``story`` (the canonical copy's id) and
``story_rank`` (date order).

Unlike the local index, a rebuild is not atomic: the shards are emptied
first, and readers see the new posts arrive. Every mirror must answer for a
write to start; a node lost halfway leaves its mirrors unequal
(``cluster status`` shows it) until the next build.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import numpy as np

from ..writing import storage
from ..text import language
from ..text.analysis import Segmenter
from ..corpus.posts import read_post
from ..corpus.duplicates import Fingerprint, FingerprintTable, date_order, find_stories, fingerprint
from ..errors import IndexNotFoundError, IndexWriteError
from ..writing.processes import in_workers
from ..writing.builds import (PARALLEL_THRESHOLD, SCHEMA_VERSION, BuildReport, OptimizeReport, ProgressCallback,
                              diff_corpus, manifest_entry, scan_corpus, storage_id)
from .cluster import ClusterConfigError, ClusterMap
from .connection import connect, fetch_all
from .documents import FileStamp, doc_key, document_row

#: Bytes of values sent in one ``REPLACE`` statement (searchd accepts up to ``max_packet_size``, 32 MB).
BATCH_BYTES = 4_000_000
#: Ids per ``DELETE`` statement.
DELETE_BATCH = 1000


def build_cluster(corpus_dir: Path, cluster: ClusterMap, *, userdict: str | None = None, segmenter: str = "jieba",
                  procs: int | None = None, wait: bool = False,
                  progress: ProgressCallback | None = None) -> BuildReport:
    """Index every post under ``corpus_dir`` into the (emptied) shards of ``cluster``.

    :raises CorpusError: if ``corpus_dir`` is not a readable directory.
    :raises IndexBusyError: if another build or update of this cluster runs on this machine.
    :raises IndexWriteError: if a node cannot be reached or refuses a write.
    """
    started = time.perf_counter()
    corpus_dir = Path(corpus_dir).resolve()
    words = Segmenter(segmenter, userdict)
    paths, problems = scan_corpus(corpus_dir)
    report = BuildReport(problems=problems)
    with storage.writer_lock(_state_dir(cluster), wait=wait), ClusterWriter(cluster) as writer:
        writer.truncate()
        dropped, prints = _write_posts(writer, corpus_dir, paths, report, words, procs, progress)
        writer.flush()
        report.stories = _record_stories(writer, FingerprintTable.from_fingerprints(prints))
        report.total_docs = writer.count()
        unindexed = {doc_id: entry for doc_id, entry in dropped.items() if entry is not None}
        writer.write_meta(_meta(cluster, corpus_dir, words, report, unindexed))
    report.added = report.indexed
    report.seconds = time.perf_counter() - started
    return report


def update_cluster(cluster: ClusterMap, corpus_dir: Path | None = None, *, procs: int | None = None,
                   wait: bool = False, progress: ProgressCallback | None = None) -> BuildReport:
    """Bring the cluster up to date with its corpus: only added, changed and deleted posts are written.

    :raises IndexNotFoundError: if the cluster holds no index yet.
    :raises ClusterConfigError: if the shard map changed since the build (posts would be routed elsewhere).
    """
    started = time.perf_counter()
    with storage.writer_lock(_state_dir(cluster), wait=wait), ClusterWriter(cluster) as writer:
        meta = writer.read_meta()
        if meta.get("topology") != cluster.topology():
            raise ClusterConfigError("the shard map changed since the last build; rebuild with: "
                                     "news-search build --corpus DIR --backend URL --cluster FILE")
        words = Segmenter.from_meta(meta)
        corpus_dir = Path(corpus_dir or meta.get("corpus", "")).resolve()
        paths, problems = scan_corpus(corpus_dir)
        report = BuildReport(problems=problems)
        old_unindexed = meta.get("unindexed", {})
        old = writer.read_manifest() | old_unindexed
        manifest, todo, deleted = diff_corpus(corpus_dir, paths, old, report)
        report.deleted = len(deleted)
        if not todo and not deleted and str(corpus_dir) == meta.get("corpus"):
            report.total_docs, report.stories = meta.get("docs", 0), meta.get("stories", 0)
            report.seconds = time.perf_counter() - started
            return report
        writer.delete([doc_key(doc_id) for doc_id in deleted])
        rewritten = {storage_id(corpus_dir, p) for p in todo}
        dropped, prints = _write_posts(writer, corpus_dir, todo, report, words, procs, progress)
        writer.delete(map(doc_key, dropped))  # indexed before, unreadable now
        unindexed = {d: e for d, e in old_unindexed.items() if d in manifest and d not in rewritten}
        unindexed |= {doc_id: entry for doc_id, entry in dropped.items() if entry is not None}
        writer.set_fingerprints({d: e for d, e in manifest.items()
                                 if d not in rewritten and d not in unindexed and e != old.get(d)})
        writer.flush()
        # posts fingerprinted by another machine's builds stay unfolded until the next build here
        table = FingerprintTable.load(_fingerprints_file(cluster)) or FingerprintTable.from_fingerprints([])
        report.stories = _record_stories(writer, table.replaced([*deleted, *rewritten], prints))
        report.total_docs = writer.count()
        writer.write_meta(_meta(cluster, corpus_dir, words, report, unindexed, built_at=meta.get("built_at")))
    report.seconds = time.perf_counter() - started
    return report


def optimize_cluster(cluster: ClusterMap, *, wait: bool = False) -> OptimizeReport:
    """Ask every node to merge the disk chunks of its shard indexes (searchd does it in the background,
    purging deleted posts; searches go on meanwhile).

    :raises IndexWriteError: if a node cannot be reached or refuses.
    """
    started = time.perf_counter()
    with storage.writer_lock(_state_dir(cluster), wait=wait), ClusterWriter(cluster) as writer:
        writer.read_meta()  # no index: say so, rather than optimize empty shards
        writer.optimize()
        docs = writer.count()
    return OptimizeReport(docs, None, None, docs, 0, time.perf_counter() - started)


def _state_dir(cluster: ClusterMap) -> Path:
    """The writer's directory: the shard map's (its ``.lock`` serialises writers on this machine)."""
    return cluster.path.parent if cluster.path else Path(".")


def _fingerprints_file(cluster: ClusterMap) -> Path:
    name = f"{cluster.path.stem}.fingerprints.npz" if cluster.path else "cluster.fingerprints.npz"
    return _state_dir(cluster) / name


def _meta(cluster: ClusterMap, corpus_dir: Path, words: Segmenter, report: BuildReport, unindexed: dict,
          built_at: str | None = None) -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {"schema_version": SCHEMA_VERSION, **words.to_meta(), "corpus": str(corpus_dir),
            "built_at": built_at or now, "updated_at": now, "docs": report.total_docs, "stories": report.stories,
            "cluster": cluster.to_dict(), "topology": cluster.topology(), "unindexed": unindexed}


def _record_stories(writer: ClusterWriter, table: FingerprintTable) -> int:
    """Find the stories of ``table``'s posts, mark them in the rows, keep the table; return how many have copies."""
    table.save(_fingerprints_file(writer.cluster))
    canonical = find_stories(table)
    rows = np.arange(len(table))
    rank = np.empty(len(table), dtype=np.int64)
    rank[date_order(table.days, rows)] = rows  # as the local index lists a story's copies
    copied = np.flatnonzero(canonical != rows)
    members = np.union1d(copied, canonical[copied])
    writer.set_stories({table.ids[i]: (doc_key(table.ids[canonical[i]]), int(rank[i])) for i in members.tolist()})
    return int(np.unique(canonical[copied]).size)


# --- analysis ----------------------------------------------------------------------------------

def _write_posts(writer: ClusterWriter, corpus_dir: Path, paths: list[Path], report: BuildReport,
                 words: Segmenter, procs: int | None,
                 progress: ProgressCallback | None) -> tuple[dict, list[Fingerprint]]:
    """Analyse and write ``paths``; return ``{id: manifest entry or None}`` of the posts left out, and the
    near-duplicate fingerprints of those written."""
    dropped, prints = {}, []
    jobs = [(corpus_dir, path, words) for path in paths]
    for done, (doc_id, problems, entry, row, printed) in enumerate(_analysed(jobs, words, procs), 1):
        report.problems.extend(problems)
        if row is not None:
            writer.replace(row)
            prints.append(printed)
            report.indexed += 1
        else:
            dropped[doc_id] = entry
        if progress:
            progress(done, len(paths))
    return dropped, prints


def _analysed(jobs: list, words: Segmenter, procs: int | None) -> Iterator[tuple]:
    procs = procs or os.cpu_count() or 1
    if procs <= 1 or len(jobs) < PARALLEL_THRESHOLD:
        yield from map(_analyse, jobs)
        return
    words.warm_up()  # load the segmenter and language tables once, before forking, so workers share them
    language.warm_up()
    for _, analysed in in_workers(_analyse_each, [jobs[worker::procs] for worker in range(procs)]):
        yield analysed


def _analyse_each(jobs: list) -> Iterator[tuple]:
    """A worker's share of the posts, analysed one by one (see :func:`_analyse`)."""
    return map(_analyse, jobs)


def _analyse(job: tuple[Path, Path, Segmenter]) -> tuple:
    """Read one post; return ``(id, problems, manifest entry, row or None, fingerprint or None)`` (in a worker)."""
    corpus_dir, path, words = job
    result = read_post(corpus_dir, path)
    entry = manifest_entry(path, result.sha1)
    row = printed = None
    if result.document is not None:
        row = document_row(result.document, FileStamp(*entry) if entry else None, words)
        printed = fingerprint(result.document)
    return storage_id(corpus_dir, path), result.problems, entry, row, printed


# --- writing -----------------------------------------------------------------------------------

class ClusterWriter:
    """Connections to every node of the map; rows are batched per shard and sent to all its mirrors.

    :raises IndexWriteError: on entering, if a node does not answer (nothing has been written then).
    """

    def __init__(self, cluster: ClusterMap):
        self.cluster = cluster
        self._connections: dict[str, object] = {}
        self._pending: dict[int, list[str]] = {k: [] for k in range(len(cluster.shards))}
        self._pending_bytes = dict.fromkeys(self._pending, 0)
        self._columns: list[str] | None = None

    def __enter__(self) -> Self:
        for node in self.cluster.nodes.values():
            try:
                self._connections[node.name] = connect(node.address)
            except Exception as exc:  # noqa: BLE001 - refused, unreachable, timed out
                self.close()
                raise IndexWriteError(f"cannot write to the cluster: node {node.name} ({node.address}) does not "
                                      f"answer: {exc.args[-1] if exc.args else exc}; nothing was written") from None
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def _run(self, node_name: str, sql: str) -> list[list[tuple]]:
        try:
            return fetch_all(self._connections[node_name], sql)
        except Exception as exc:  # noqa: BLE001 - lost connection, refused statement
            node = self.cluster.nodes[node_name]
            raise IndexWriteError(f"writing to node {node_name} ({node.address}) failed: "
                                  f"{exc.args[-1] if exc.args else exc}; its mirrors may now differ, "
                                  "rebuild when the node is back") from None

    def _on_mirrors(self, shard: int, sql: str) -> None:
        for name in self.cluster.shards[shard]:
            self._run(name, sql)

    def truncate(self) -> None:
        """Empty every shard index on every node."""
        for shard in range(len(self.cluster.shards)):
            self._on_mirrors(shard, f"TRUNCATE RTINDEX {self.cluster.shard_index(shard)}")

    def replace(self, row: dict) -> None:
        """Queue ``row`` for its shard; a full batch is sent to the shard's mirrors."""
        if self._columns is None:
            self._columns = list(row)
        values = "(" + ", ".join(sql_literal(row[c]) for c in self._columns) + ")"
        shard = self.cluster.shard_of(row["id"])
        self._pending[shard].append(values)
        self._pending_bytes[shard] += len(values)
        if self._pending_bytes[shard] >= BATCH_BYTES:
            self._send(shard)

    def flush(self) -> None:
        """Send every queued row."""
        for shard in self._pending:
            self._send(shard)

    def _send(self, shard: int) -> None:
        if self._pending[shard]:
            sql = (f"REPLACE INTO {self.cluster.shard_index(shard)} ({', '.join(self._columns)}) VALUES "
                   + ", ".join(self._pending[shard]))
            self._on_mirrors(shard, sql)
        self._pending[shard] = []
        self._pending_bytes[shard] = 0

    def delete(self, keys: Iterable[int]) -> None:
        """Delete the posts with these Sphinx ids from every mirror of their shards."""
        by_shard: dict[int, list[int]] = {}
        for key in keys:
            by_shard.setdefault(self.cluster.shard_of(key), []).append(key)
        for shard, ids in by_shard.items():
            for i in range(0, len(ids), DELETE_BATCH):
                listed = ", ".join(map(str, ids[i:i + DELETE_BATCH]))
                self._on_mirrors(shard, f"DELETE FROM {self.cluster.shard_index(shard)} WHERE id IN ({listed})")

    def set_fingerprints(self, entries: dict[str, list]) -> None:
        """Record new fingerprints of posts whose files were touched but not changed."""
        for doc_id, (size, mtime, _) in entries.items():
            key = doc_key(doc_id)
            shard = self.cluster.shard_of(key)
            self._on_mirrors(shard, f"UPDATE {self.cluster.shard_index(shard)} "
                                    f"SET file_size = {int(size)}, file_mtime = {int(mtime)} WHERE id = {key}")

    def set_stories(self, stories: dict[str, tuple[int, int]]) -> None:
        """Mark the posts that have copies with ``(canonical copy's Sphinx id, date rank)``; unmark the others."""
        wanted = {doc_key(doc_id): story for doc_id, story in stories.items()}
        for shard, names in enumerate(self.cluster.shards):
            name = self.cluster.shard_index(shard)
            marked = {int(key): (int(story), int(rank)) for key, story, rank in self._run(
                names[0], f"SELECT id, story, story_rank FROM {name} WHERE story != 0 "
                          f"LIMIT 0, {len(stories) + 1000} OPTION max_matches={len(stories) + 1000}")[0]}
            mine = {key: story for key, story in wanted.items() if self.cluster.shard_of(key) == shard}
            for key, (story, rank) in ({k: (0, 0) for k in marked.keys() - mine.keys()} | mine).items():
                if marked.get(key) != (story, rank):
                    self._on_mirrors(shard, f"UPDATE {name} SET story = {story}, story_rank = {rank} WHERE id = {key}")

    def optimize(self) -> None:
        """Have every mirror of every shard merge its disk chunks."""
        for shard in range(len(self.cluster.shards)):
            self._on_mirrors(shard, f"OPTIMIZE INDEX {self.cluster.shard_index(shard)}")

    def count(self) -> int:
        """Return the number of posts in the cluster (first mirror of each shard)."""
        return sum(int(self._run(names[0], f"SELECT COUNT(*) FROM {self.cluster.shard_index(k)}")[0][0][0])
                   for k, names in enumerate(self.cluster.shards))

    def read_manifest(self) -> dict[str, list]:
        """Return ``{id: [size, mtime_ns, sha1]}`` of every post, read from the first mirror of each shard."""
        manifest = {}
        for shard, names in enumerate(self.cluster.shards):
            name = self.cluster.shard_index(shard)
            docs = int(self._run(names[0], f"SELECT COUNT(*) FROM {name}")[0][0][0])
            if not docs:
                continue
            rows = self._run(names[0], f"SELECT doc_id, file_size, file_mtime, file_sha1 FROM {name} "
                                       f"LIMIT 0, {docs} OPTION max_matches={docs}")[0]
            manifest.update({doc_id: [int(size), int(mtime), sha1 or None] for doc_id, size, mtime, sha1 in rows})
        return manifest

    def read_meta(self) -> dict:
        """Return what the last build recorded (from the first node that has it).

        :raises IndexNotFoundError: if no build has completed on this cluster.
        """
        for name in self.cluster.nodes:
            rows = self._run(name, f"SELECT data FROM {self.cluster.meta_index} WHERE id = 1")[0]
            if rows:
                return json.loads(rows[0][0])
        raise IndexNotFoundError("the cluster holds no index; build one with: "
                                 "news-search build --corpus DIR --backend URL --cluster FILE")

    def write_meta(self, meta: dict) -> None:
        """Record ``meta`` on every node."""
        data = sql_literal(json.dumps(meta))
        sql = f"REPLACE INTO {self.cluster.meta_index} (id, note, data) VALUES (1, 'meta', {data})"
        for name in self.cluster.nodes:
            self._run(name, sql)


def sql_literal(value: int | str) -> str:
    """Return ``value`` as a SphinxQL literal.

    searchd reads ``\\\\`` and ``\\'`` escapes and takes every other character as
    it is, except NUL, which ends its string (it is dropped).

    >>> sql_literal("it's \\\\ 國際"), sql_literal(42)
    ("'it\\\\'s \\\\\\\\ 國際'", '42')
    """
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\x00", "") + "'"
