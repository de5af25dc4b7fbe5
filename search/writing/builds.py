"""What both writers share, whatever the engine: scanning the corpus, what changed since the manifest, reports.

A build or update of the local index (:mod:`search.local.indexer`) or of a Sphinx
cluster (:mod:`search.sphinx.writer`) finds the posts with :func:`scan_corpus`,
sorts them against the last manifest with :func:`diff_corpus`, records each
post written with :func:`manifest_entry`, and reports in a :class:`BuildReport`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..corpus.posts import Problem, find_posts, is_post_name
from ..errors import CorpusError

if TYPE_CHECKING:
    from ..local.merging import MergeResult


#: Below this many posts a build does not start worker processes.
PARALLEL_THRESHOLD = 400
#: Bumped whenever the schema or analysis changes incompatibly.
SCHEMA_VERSION = 5
#: Called with ``(posts done, posts in all)`` as a build or update goes.
ProgressCallback = Callable[[int, int], None]


@dataclass
class BuildReport:
    """What a build or update did, for the CLI's report and for scripts."""

    indexed: int = 0  # documents written (added + changed on update)
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    total_docs: int = 0  # documents in the index afterwards
    stories: int = 0  # stories with more than one copy, afterwards
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    merge: MergeResult | None = None  # what the merge policy did after an update
    unsettled: int = 0  # posts modified too recently to be read whole, left for the next update
    deferred: int = 0  # posts past an update's limit, left for the next update
    searchable_after: float | None = None  # seconds until an update's posts were published (before merging)

    @property
    def skipped(self) -> list[Problem]:
        """Files left out of the index."""
        return [p for p in self.problems if p.skipped]

    @property
    def warnings(self) -> list[Problem]:
        """Files indexed, but read only in part (bad date, broken header, re-encoded)."""
        return [p for p in self.problems if not p.skipped]

    @property
    def docs_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            "indexed": self.indexed, "added": self.added, "changed": self.changed, "deleted": self.deleted,
            "unchanged": self.unchanged, "docs": self.total_docs, "stories": self.stories,
            "seconds": round(self.seconds, 3),
            "docs_per_s": round(self.docs_per_second, 1),
            **({"segments": self.merge.segments_after, "merged_segments": self.merge.merges,
                "merged_docs": self.merge.docs_merged} if self.merge else {}),
            "skipped": [{"path": p.path, "reason": p.reason} for p in self.skipped],
            "warnings": [{"path": p.path, "reason": p.reason} for p in self.warnings],
        }


@dataclass
class OptimizeReport:
    """What an optimize did: ``segments`` before and after (None where the backend keeps its own),
    posts rewritten and deleted posts purged."""

    docs: int
    segments_before: int | None
    segments: int | None
    merged_docs: int
    deleted_purged: int
    seconds: float

    def to_dict(self) -> dict:
        return {"docs": self.docs, "segments_before": self.segments_before, "segments": self.segments,
                "merged_docs": self.merged_docs, "deleted_purged": self.deleted_purged,
                "seconds": round(self.seconds, 3)}


def scan_corpus(corpus_dir: Path) -> tuple[list[Path], list[Problem]]:
    """Return every post under ``corpus_dir`` and the places that could not be walked.

    :raises CorpusError: if ``corpus_dir`` itself cannot be read.
    """
    try:
        return find_posts(corpus_dir)
    except OSError as exc:
        raise CorpusError(f"cannot read corpus {corpus_dir}: {exc.strerror or exc}") from None


def _fingerprint(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, None]


def _content_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def diff_corpus(corpus_dir: Path, paths: list[Path], old: dict, report: BuildReport, *, settle: float = 0.0,
                limit_bytes: int | None = None, scope: Scope | None = None):
    """Sort posts into unchanged and to-do (added or changed); list the deleted ids.

    A post modified less than ``settle`` seconds ago may still be being
    written: it is left as the index holds it (absent, if new), and counted
    in ``report.unsettled`` for the next update to take. ``limit_bytes``
    bounds the work taken on (:func:`shortest_first`); the posts left over
    are counted in ``report.deferred``. With a ``scope``, ``paths`` are the
    posts found in it, and posts outside it are left as they are.
    """
    manifest: dict = {} if scope is None else {k: v for k, v in old.items() if not scope.holds(k)}
    todo: list[Path] = []
    waiting: list[tuple[Path, str, int, int]] = []  # settled posts whose size or time changed
    settled_before = time.time_ns() - int(settle * 1e9)
    ids = storage_ids(corpus_dir, paths)
    for path, doc_id in zip(paths, ids):
        try:
            size, mtime, _ = _fingerprint(path)
        except OSError:
            todo.append(path)  # read_post reports the error
            continue
        before = old.get(doc_id)
        if before and before[:2] == [size, mtime]:
            manifest[doc_id] = before
            report.unchanged += 1
        elif settle and mtime > settled_before:
            report.unsettled += 1
            if before:
                manifest[doc_id] = before
        else:
            waiting.append((path, doc_id, size, mtime))
    taken = [True] * len(waiting) if limit_bytes is None else shortest_first([w[2] for w in waiting], limit_bytes)
    for (path, doc_id, size, mtime), take in zip(waiting, taken):
        before = old.get(doc_id)
        if not take:
            report.deferred += 1
            if before:
                manifest[doc_id] = before
            continue
        if before and before[2] is not None:
            try:
                same = _content_hash(path) == before[2]
            except OSError:
                same = False
            if same:
                manifest[doc_id] = [size, mtime, before[2]]
                report.unchanged += 1
                continue
            report.changed += 1
        else:
            report.added += 1
        todo.append(path)
    seen = set(ids)
    deleted = [doc_id for doc_id in old if doc_id not in seen and (scope is None or scope.holds(doc_id))]
    return manifest, todo, deleted


#: What indexing any post costs besides its length, in bytes of post that cost as much: ~3 ms (reading,
#: counting, storing its fields) against ~2.7 µs a byte, measured on news-big's posts (16 ms a post of
#: 4.8 KB, 8 ms one of 1.9 KB).
POST_COST_BYTES = 1024


def post_cost(size: int) -> int:
    """Roughly what indexing a post of ``size`` bytes costs, in bytes (see :data:`POST_COST_BYTES`)."""
    return size + POST_COST_BYTES


def shortest_first(sizes: list[int], limit_bytes: int) -> list[bool]:
    """Return which of the posts of ``sizes`` (bytes) an update bounded by ``limit_bytes`` takes on.

    The shortest go first, as many as fit (at least one, however long):
    short posts are indexed soonest, so of a burst published in parts the
    most posts become searchable soonest (shortest job first), and a part is
    bounded by the work it holds, not its count, so a part of long posts
    takes no longer than one of short posts. A long post waits for the
    parts of shorter ones only while more than a part keeps arriving.
    """
    taken = [False] * len(sizes)
    spent = 0
    for i in sorted(range(len(sizes)), key=sizes.__getitem__):  # stable: path order among equals
        cost = post_cost(sizes[i])
        if spent and spent + cost > limit_bytes:
            break
        taken[i], spent = True, spent + cost
    return taken


@dataclass(frozen=True)
class Scope:
    """Part of a corpus an update looks at: posts (ids) and folders (id prefixes), relative to the corpus."""

    corpus_dir: Path
    files: frozenset[str]
    folders: tuple[str, ...]

    @classmethod
    def of(cls, corpus_dir: Path, paths: Iterable[Path]) -> Scope:
        """Return the scope of ``paths`` (anywhere; those outside ``corpus_dir`` are ignored)."""
        files, folders = set(), set()
        for path in paths:
            try:
                rel = Path(path).resolve().relative_to(corpus_dir).as_posix()
            except ValueError:
                continue
            if rel == ".":
                return cls(corpus_dir, frozenset(), ("",))
            (folders if Path(path).is_dir() or not is_post_name(Path(path).name) else files).add(rel)
        return cls(corpus_dir, frozenset(files), tuple(sorted(folders)))

    def holds(self, doc_id: str) -> bool:
        """Whether the post ``doc_id`` lies in this scope (asked of every post an update's manifest lists)."""
        return doc_id in self.files or doc_id.startswith(self._prefixes)

    @functools.cached_property
    def _prefixes(self) -> tuple[str, ...]:
        return tuple(f"{folder}/" if folder else "" for folder in self.folders)

    def scan(self) -> tuple[list[Path], list[Problem]]:
        """Return the posts that exist in this scope now, and the places that could not be walked."""
        posts = [self.corpus_dir / rel for rel in sorted(self.files) if (self.corpus_dir / rel).is_file()]
        problems: list[Problem] = []
        for folder in self.folders:
            if (self.corpus_dir / folder).is_dir():
                found, trouble = find_posts(self.corpus_dir / folder)
                posts += found
                problems += [Problem(f"{folder}/{p.path}" if folder else p.path, p.reason, p.skipped)
                             for p in trouble]
        return sorted(set(posts)), problems


def storage_id(corpus_dir: Path, path: Path) -> str:
    """Return the document id of ``path``: its POSIX path relative to ``corpus_dir``."""
    return path.relative_to(corpus_dir).as_posix()


def storage_ids(corpus_dir: Path, paths: list[Path]) -> list[str]:
    """Return the document ids of ``paths`` (found under ``corpus_dir``), as :func:`storage_id` does.

    The paths of a scan start with the corpus folder's own text, so on a POSIX
    system the id is the rest of it: at 56,000 posts, 50 ms instead of 1.5 s
    of ``pathlib``.

    >>> storage_ids(Path("/c"), [Path("/c/科技/a.md"), Path("/c/b.md")])
    ['科技/a.md', 'b.md']
    """
    prefix = f"{corpus_dir}{os.sep}"
    if os.sep != "/":
        return [storage_id(corpus_dir, path) for path in paths]
    texts = [str(path) for path in paths]
    if all(text.startswith(prefix) for text in texts):
        return [text[len(prefix):] for text in texts]
    return [storage_id(corpus_dir, path) for path in paths]


def manifest_entry(path: Path, sha1: str | None = None) -> list | None:
    """Return ``[size, mtime_ns, sha1]`` of a post file, or None if it cannot be read.

    ``sha1``: of the bytes just read and indexed, if the caller has it (it need not be read again).
    """
    try:
        size, mtime, _ = _fingerprint(path)
        return [size, mtime, sha1 or _content_hash(path)]
    except OSError:
        return None
