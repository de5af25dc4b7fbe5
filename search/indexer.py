"""Documents -> Whoosh index: the schema, full builds and incremental updates.

Fields, and why each exists:

* ``title``/``body``: jieba words, ranked with BM25F (the query weights the title higher).
* ``grams``: the recall field, positional character bigrams of title, source,
  categories and body; ``title_grams`` the same for the title alone (``title:``
  filters, title-match boosts). They live beside each segment in the compact
  format of :mod:`search.recall`, not in Whoosh's term tables.
* ``chars``: every character, which answers and ranks one-character queries.
* ``source``/``category``/``month``/``date``: sortable columns for filters,
  facets and date sorting; ``*_key`` fields hold folded values for filters.
* stored ``content``: the post's text and HTML, zlib-compressed together (see
  :func:`pack_content`) for snippets and the article page.
* stored ``front_matter`` and ``date_zoned``, only in posts that have them: what
  a post's URL on the blog may need (see :mod:`search.permalinks`).
* stored ``lang``: the language the post is written in (see :mod:`search.language`), for
  pages' ``lang`` attributes; worked out once here, from the whole text.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import shutil
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from whoosh import fields, formats
from whoosh import index as whoosh_index

from . import storage, stories, vocabulary
from .analysis import (DEFAULT_SEGMENTER, SECTION_BREAK, Segmenter, char_analyzer, char_counts, compact, normalise,
                       word_analyzer, word_counts)
from .corpus import Document, Problem, find_posts, is_post_name, read_post
from .duplicates import Fingerprint, FingerprintTable, fingerprint
from .errors import CorpusError, IndexCorruptError, IndexWriteError
from .merging import MergePolicy, MergeResult, merge_index, optimize_segments
from .segments import BulkSegmentWriter, delete_documents
from .whoosh_internals import check_internals, check_written_by, commit_segments, written_by

#: Default location of the index, relative to the working directory.
DEFAULT_INDEX_DIR = Path("index")
#: Below this many posts a build does not start worker processes.
PARALLEL_THRESHOLD = 400
#: Most posts per segment. Each query visits every segment, and each segment repeats the vocabulary
#: it shares with the others, so fewer, larger segments answer faster from a smaller index; a
#: segment's postings are grouped in its writer's memory, which is what bounds it.
SEGMENT_DOCS = 30000
#: Posts a worker takes at a time: dealt in turn, small batches share the load evenly, and the progress bar moves.
BATCH_POSTS = 200
#: Bumped whenever the schema or analysis changes incompatibly.
SCHEMA_VERSION = 5
#: Fields of :func:`document_fields` indexed by :mod:`search.recall` rather than by Whoosh.
RECALL_FIELDS = ("grams", "title_grams")

ProgressCallback = Callable[[int, int], None]
#: An update works the vocabulary out again once this share of the posts has changed since it last did ...
VOCABULARY_DRIFT = 0.02
#: ... or once it is this old (and any post changed).
VOCABULARY_AGE = timedelta(hours=1)
#: How updates keep the number of segments small (see :mod:`search.merging`).
DEFAULT_MERGE_POLICY = MergePolicy(max_docs=SEGMENT_DOCS)


class Counts(formats.Frequency):
    """Term frequencies carried by the posting's weight alone.

    Whoosh's ``Frequency`` also stores each frequency again as a 4-byte value,
    which nothing here reads: in a short posting list inlined into the term
    table that value costs about 50 bytes of pickle, and most of a news
    archive's words occur in one or two posts (at 56,000 posts, 850,000 of the
    body field's 1.08 million term entries).
    """

    posting_size = 0

    def word_values(self, value, analyzer, **kwargs):
        for word, freq, weight, _ in super().word_values(value, analyzer, **kwargs):
            yield word, freq, weight, b""

    def decode_frequency(self, valuestring):
        raise NotImplementedError("Counts postings have no value: read the posting's weight")

    decode_weight = decode_frequency


class CountField(fields.TEXT):
    """A field of term frequencies (no positions) indexed through a fast counting function."""

    def __init__(self, analyzer, counter, **kwargs):
        super().__init__(analyzer=analyzer, phrase=False, **kwargs)
        self.format = Counts(field_boost=self.format.field_boost)
        self.counter = counter

    def index(self, value, **kwargs):
        # Same terms as the analyzer, without Token objects.
        boost = self.format.field_boost
        for term, freq in self.counter(value).items():
            yield term.encode("utf-8"), freq, freq * boost, b""


class KeysField(fields.KEYWORD):
    """Comma-separated filter keys, their frequencies carried by the posting weights (see :class:`Counts`)."""

    def __init__(self, **kwargs):
        super().__init__(commas=True, **kwargs)
        self.format = Counts(field_boost=self.format.field_boost)


def make_schema(segmenter: Segmenter = DEFAULT_SEGMENTER) -> fields.Schema:
    """Return the index schema (words are cut by ``segmenter``)."""
    words = functools.partial(word_counts, segmenter=segmenter)
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=CountField(word_analyzer(segmenter), words, stored=True),
        body=CountField(word_analyzer(segmenter), words),
        chars=CountField(char_analyzer(), char_counts),
        source=fields.ID(stored=True, sortable=True),
        source_key=fields.ID(),
        category=fields.ID(sortable=True),
        category_keys=KeysField(),
        categories=fields.STORED(),
        date=fields.DATETIME(stored=True, sortable=True),
        month=fields.ID(sortable=True),
        image=fields.STORED(),
        content=fields.STORED(),
        front_matter=fields.STORED(),
        date_zoned=fields.STORED(),
        lang=fields.STORED(),
    )


def pack_content(text: str, html: str) -> bytes:
    """Compress a post's text and HTML as one stream.

    The HTML repeats the text, so compressed together they take about 0.58x the
    text's size on news posts, against 1.09x compressed apart. The text comes
    first and never holds a NUL (the corpus reader drops control characters).

    >>> unpack_content(pack_content("正文", "<p>正文</p>"))
    ('正文', '<p>正文</p>')
    """
    return zlib.compress(f"{text}\0{html}".encode("utf-8"))


def unpack_content(blob: bytes) -> tuple[str, str]:
    """Return ``(text, html)`` packed by :func:`pack_content`."""
    text, _, html = zlib.decompress(blob).decode("utf-8").partition("\0")
    return text, html


def unpack_text(blob: bytes) -> str:
    """Return the text packed by :func:`pack_content`, inflating no further than its end (a snippet needs
    only the text; the HTML after it is usually longer).

    >>> unpack_text(pack_content("正文", "<p>正文</p>"))
    '正文'
    """
    inflate, text = zlib.decompressobj(), bytearray()
    while blob:
        start = len(text)
        text += inflate.decompress(blob, TEXT_STEP)
        end = text.find(0, start)
        if end >= 0:
            return text[:end].decode("utf-8")
        blob = inflate.unconsumed_tail
    return (text + inflate.flush()).partition(b"\0")[0].decode("utf-8")


#: Bytes inflated at a time while looking for the end of a post's text (most posts' text is shorter).
TEXT_STEP = 1 << 14


def filter_key(value: str) -> str:
    """Return the form of a source or category name used for exact filters (folded, no spaces).

    >>> filter_key("IT 之家")
    'it之家'
    """
    return compact(normalise(value))[0]


def category_keys(categories: Iterable[str]) -> list[str]:
    """Return filter keys for every level of a category path and every path prefix.

    >>> category_keys(["新媒体", "果壳网"])
    ['新媒体', '果壳网', '新媒体/果壳网']
    """
    levels = [filter_key(c) for c in categories if filter_key(c)]
    prefixes = ["/".join(levels[:i]) for i in range(2, len(levels) + 1)]
    return list(dict.fromkeys(levels + prefixes))


def document_fields(doc: Document) -> dict:
    """Return the Whoosh field values for ``doc``."""
    values = dict(
        id=doc.id,
        title=doc.title,
        body=f"{doc.title}\n{doc.text}",  # title words count as body words too (BM25F-like)
        grams=SECTION_BREAK.join([doc.title, doc.source, " ".join(doc.categories), doc.text]),
        title_grams=doc.title,
        chars=" ".join([doc.title, doc.source, " ".join(doc.categories), doc.text]),
        source=doc.source,
        source_key=filter_key(doc.source),
        category=doc.categories[0] if doc.categories else "",
        category_keys=",".join(k.replace(",", " ") for k in category_keys(doc.categories)),
        categories=list(doc.categories),
        month=doc.date.strftime("%Y-%m") if doc.date else "",
        image=doc.image,
        content=pack_content(doc.text, doc.html),
        lang=doc.lang,
    )
    if doc.date is not None:
        values["date"] = doc.date.astimezone(timezone.utc).replace(tzinfo=None)
    if doc.front_matter:  # most posts have none: store nothing rather than an empty value
        values["front_matter"] = doc.front_matter
    if doc.date_zoned:
        values["date_zoned"] = True
    return values


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


def build_index(corpus_dir: Path, index_dir: Path = DEFAULT_INDEX_DIR, *, userdict: str | None = None,
                segmenter: str = "jieba", procs: int | None = None, wait: bool = False,
                progress: ProgressCallback | None = None) -> BuildReport:
    """Index every post under ``corpus_dir`` into a new generation of ``index_dir`` and publish it.

    Words are cut by ``segmenter`` (see :class:`~search.analysis.Segmenter`)
    with the jieba user dictionary ``userdict``; the index records both, and
    updates and queries use them too. Readers keep using the previous
    generation until the new one is complete; an interrupted build leaves it
    untouched.

    :raises CorpusError: if ``corpus_dir`` is not a readable directory.
    :raises IndexBusyError: if another build or update holds the index.
    :raises SearchError: if ``segmenter`` is not installed.
    """
    started = time.perf_counter()
    words = Segmenter(segmenter, str(userdict) if userdict else None)
    words.warm_up()  # fails early if the segmenter is missing; forked workers share what it loaded
    corpus_dir, index_dir = Path(corpus_dir).resolve(), Path(index_dir)
    paths, problems = _scan(corpus_dir)
    report = BuildReport(problems=problems)
    with storage.writer_lock(index_dir, wait=wait):
        storage.remove_stale_generations(index_dir)
        with _new_generation(index_dir, None) as generation:
            ix = whoosh_index.create_in(generation, make_schema(words))
            manifest, fingerprints = _write_documents(ix, corpus_dir, paths, {}, report, procs=procs,
                                                      progress=progress)
            table = FingerprintTable.from_fingerprints(fingerprints)
            _finish(generation, corpus_dir, words, manifest, report, table)
    report.added = report.indexed
    report.seconds = time.perf_counter() - started
    return report


def update_index(index_dir: Path = DEFAULT_INDEX_DIR, corpus_dir: Path | None = None, *,
                 procs: int | None = None, wait: bool = False, progress: ProgressCallback | None = None,
                 policy: MergePolicy | None = DEFAULT_MERGE_POLICY, settle: float = 0.0,
                 fast: bool = False, only: Iterable[Path] | None = None, limit: int | None = None) -> BuildReport:
    """Bring ``index_dir`` up to date with its corpus, touching only added, changed and deleted posts.

    A post counts as changed when its size or modification time differ and its
    content hash does too. ``corpus_dir`` defaults to the one recorded by the
    last build. The update writes one new segment, then merges segments as
    ``policy`` selects (None: no merging), all in one new generation. Posts
    modified less than ``settle`` seconds ago are left for a later update
    (a file still being written is not read half-way).

    The index-wide tables worked out from every post (which posts are copies
    of one story) cost seconds at tens of thousands of posts. A ``fast``
    update carries them forward instead (:func:`search.stories.carry_stories`:
    new posts are stories of their own until then), so that new posts are
    searchable at once; the next update that is not fast works them out
    again, even if no post changed.

    ``only`` limits the update to some paths of the corpus (a watcher's
    events): a file, a folder (every post below it), or a path that no longer
    exists (every post that was there); the rest of the corpus is not even
    scanned. ``limit`` caps the posts indexed (a burst is published in
    parts); those left over are counted in ``report.deferred``.

    :raises IndexNotFoundError: if there is no index to update.
    :raises IndexCorruptError: if it was built by an incompatible version.
    """
    started = time.perf_counter()
    index_dir = Path(index_dir)
    with storage.writer_lock(index_dir, wait=wait):
        storage.remove_stale_generations(index_dir)
        live = storage.current_generation(index_dir)
        meta = read_meta(live, index_dir)
        Segmenter.from_meta(meta).warm_up()
        corpus_dir = Path(corpus_dir or meta.get("corpus", "")).resolve()
        scope = None if only is None else Scope.of(corpus_dir, only)
        paths, problems = _scan(corpus_dir) if scope is None else scope.scan()
        old = storage.read_json(live / storage.MANIFEST)
        report = BuildReport(problems=problems)
        manifest, todo, deleted = _diff(corpus_dir, paths, old, report, settle=settle, limit=limit, scope=scope)
        report.deleted = len(deleted)
        if not todo and not deleted and corpus_dir == Path(meta.get("corpus", "")) and (fast or not meta.get("stale")):
            report.total_docs = meta.get("docs", 0)
            report.seconds = time.perf_counter() - started
            return report
        with _new_generation(index_dir, live) as generation:
            ix = whoosh_index.open_dir(generation)
            manifest, fingerprints = _update_documents(ix, corpus_dir, todo, deleted, manifest, report, progress,
                                                       procs=procs)
            if policy is not None:
                report.merge = merge_index(str(generation), policy, procs=procs or os.cpu_count() or 1,
                                           postpone=report.deferred > 0)
            # posts of an index built before fingerprints existed stay unfolded until the next build
            table = _fingerprints(live).replaced([*deleted, *(storage_id(corpus_dir, p) for p in todo)],
                                                 fingerprints)
            _finish(generation, corpus_dir, Segmenter.from_meta(meta), manifest, report, table,
                    carried_from=live if fast else None, previous=meta)
    report.seconds = time.perf_counter() - started
    return report


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


def optimize_index(index_dir: Path = DEFAULT_INDEX_DIR, *, procs: int | None = None,
                   wait: bool = False) -> OptimizeReport:
    """Merge ``index_dir`` down to the segments a fresh build of its posts would make, purging deleted posts.

    Like a build, it writes a new generation and publishes it atomically;
    readers are never blocked, and an interrupted optimize changes nothing.
    An index that already is as a fresh build makes it is left alone.

    :raises IndexNotFoundError: if there is no index.
    :raises IndexBusyError: if another writer holds the index and ``wait`` is False.
    """
    started = time.perf_counter()
    index_dir = Path(index_dir)
    procs = procs or os.cpu_count() or 1
    with storage.writer_lock(index_dir, wait=wait):
        storage.remove_stale_generations(index_dir)
        live = storage.current_generation(index_dir)
        meta = read_meta(live, index_dir)
        docs = whoosh_index.open_dir(live).doc_count()
        with _new_generation(index_dir, live) as generation:
            result = optimize_segments(str(generation), fresh_segment_count(docs, procs), procs=procs)
            if result.merges:
                report = BuildReport()
                _finish(generation, Path(meta.get("corpus", "")), Segmenter.from_meta(meta),
                        storage.read_json(live / storage.MANIFEST), report, _fingerprints(live))
            else:
                raise _Unchanged
    return OptimizeReport(docs, result.segments_before, result.segments_after, result.docs_merged,
                          result.deleted_purged, time.perf_counter() - started)


def fresh_segment_count(docs: int, procs: int) -> int:
    """Return how many segments a build of ``docs`` posts on ``procs`` processes writes
    (see :func:`_write_documents`).

    >>> fresh_segment_count(300, 2), fresh_segment_count(20000, 2), fresh_segment_count(70000, 2)
    (1, 2, 4)
    """
    workers = procs if procs > 1 and docs >= PARALLEL_THRESHOLD else 1
    batches = [min(BATCH_POSTS, docs - start) for start in range(0, docs, BATCH_POSTS)]
    count = 0
    for worker in range(workers):
        held = 0
        for size in batches[worker::workers]:
            held += size
            if held >= SEGMENT_DOCS:
                count, held = count + 1, 0
        count += held > 0
    return max(count, 1)


class _Unchanged(Exception):
    """Raised inside :func:`_new_generation` to drop the generation: there is nothing to publish."""


@contextlib.contextmanager
def _new_generation(index_dir: Path, live: Path | None) -> Iterator[Path]:
    """Yield a new generation (hard links of ``live``'s files, if given), published when the block ends.

    If the block raises, the generation is deleted and the live index is untouched.
    """
    generation = storage.new_generation(index_dir)
    try:
        if live is not None:
            storage.clone_generation(live, generation)
        yield generation
        storage.publish(index_dir, generation)
    except _Unchanged:
        shutil.rmtree(generation, ignore_errors=True)
    except BaseException:
        if storage.generation_key(index_dir) != generation.name:  # not if it was published already
            shutil.rmtree(generation, ignore_errors=True)
        raise


def _fingerprints(generation: Path) -> FingerprintTable:
    return FingerprintTable.load(generation / stories.FINGERPRINTS) or FingerprintTable.from_fingerprints([])


def read_meta(generation: Path, index_dir: Path) -> dict:
    """Return what built ``generation`` (its meta.json), once the installed Whoosh is known to read it.

    :raises IndexCorruptError: if an incompatible version of news-search built it.
    :raises IndexVersionError: if another version of Whoosh wrote it.
    :raises WhooshIncompatibleError: if the installed Whoosh lacks an internal news-search relies on.
    """
    check_internals()
    meta = storage.read_json(generation / storage.META)
    version = meta.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise IndexCorruptError(f"the index in {index_dir}/ was built by another version of news-search "
                                f"(index format {version}, this version reads {SCHEMA_VERSION}); "
                                f"rebuild it with: news-search build --corpus DIR --index {index_dir}")
    check_written_by(meta, index_dir)
    return meta


def _scan(corpus_dir: Path) -> tuple[list[Path], list[Problem]]:
    try:
        return find_posts(corpus_dir)
    except OSError as exc:
        raise CorpusError(f"cannot read corpus {corpus_dir}: {exc.strerror or exc}") from None


def _fingerprint(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, None]


def _content_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _diff(corpus_dir: Path, paths: list[Path], old: dict, report: BuildReport, *, settle: float = 0.0,
          limit: int | None = None, scope: Scope | None = None):
    """Sort posts into unchanged and to-do (added or changed); list the deleted ids.

    A post modified less than ``settle`` seconds ago may still be being
    written: it is left as the index holds it (absent, if new), and counted
    in ``report.unsettled`` for the next update to take; so are posts past
    ``limit`` (``report.deferred``). With a ``scope``, ``paths`` are the posts
    found in it, and posts outside it are left as they are.
    """
    manifest: dict = {} if scope is None else {k: v for k, v in old.items() if not scope.holds(k)}
    todo: list[Path] = []
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
            continue
        fresh = bool(settle) and mtime > settled_before
        if fresh or limit is not None and len(todo) >= limit:
            report.unsettled += fresh
            report.deferred += not fresh
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
        """Whether the post ``doc_id`` lies in this scope."""
        return doc_id in self.files or any(not folder or doc_id.startswith(folder + "/") for folder in self.folders)

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


# Segments are written as separate files, not Whoosh's compound file: a reader
# of a compound file maps and copies most of it into memory (about 2x the index
# size resident), a reader of plain files reads only what a query touches.


@dataclass
class _Chunk:
    """What indexing one batch of posts produced, and the segment it completed, if it completed one."""

    segment: object | None  # a finished Whoosh segment, not yet in the TOC
    entries: list[tuple[str, list[Problem], list | None, bool]]  # id, problems, manifest entry, indexed
    fingerprints: list[Fingerprint]  # of the posts indexed


def _write_documents(ix, corpus_dir: Path, paths: list[Path], manifest: dict, report: BuildReport, *,
                     procs: int | None, progress: ProgressCallback | None,
                     keep: Sequence = ()) -> tuple[dict, list[Fingerprint]]:
    """Index ``paths`` into new segments of ``ix``, in parallel worker processes when there are many;
    return the manifest and the posts' fingerprints. The index then holds the segments ``keep`` (an
    update's) and the new ones.

    The batches are dealt to the workers in turn and each writes its own
    segment, so a build of the same posts on as many workers makes the same
    segments, in the same order (documents with equal scores keep their
    order from one build to the next); they become visible together when the
    TOC naming them is written.
    """
    procs = procs or os.cpu_count() or 1
    workers = procs if procs > 1 and len(paths) >= PARALLEL_THRESHOLD else 1
    batches = [paths[i:i + BATCH_POSTS] for i in range(0, len(paths), BATCH_POSTS)]
    segments, fingerprints, done = {}, [], 0
    for worker, chunk in _run_batches(ix.storage.folder, corpus_dir, batches, workers):
        if chunk.segment is not None:
            segments.setdefault(worker, []).append(chunk.segment)
        fingerprints.extend(chunk.fingerprints)
        for doc_id, problems, entry, indexed in chunk.entries:
            report.problems.extend(problems)
            if entry is None:
                manifest.pop(doc_id, None)
            else:
                manifest[doc_id] = entry
            report.indexed += indexed
        done += len(chunk.entries)
        if progress and chunk.entries:
            progress(done, len(paths))
    commit_segments(ix, [*keep, *(segment for worker in sorted(segments) for segment in segments[worker])])
    return manifest, fingerprints


def _run_batches(folder: str, corpus_dir: Path, batches: list[list[Path]],
                 workers: int) -> Iterator[tuple[int, _Chunk]]:
    """Index ``batches`` in ``workers`` processes (here if one), worker ``w`` taking every batch
    ``w + k * workers``; yield each batch's chunk with the number of the worker that made it.

    Each worker answers on a pipe of its own, whose only writing end it holds:
    a worker killed half-way through a message then reads as end-of-file here.
    (A shared ``multiprocessing.Queue`` deadlocks instead: a worker killed while
    its feeder thread holds the queue's write lock leaves the others waiting for
    the lock and this process waiting for the rest of the message.)
    """
    if workers <= 1:
        for chunk in _index_batches(folder, corpus_dir, batches):
            yield 0, chunk
        return
    context = multiprocessing.get_context("fork")
    processes, readers = [], {}
    try:
        for worker in range(workers):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(worker, folder, corpus_dir, batches[worker::workers],
                                                          writer), daemon=True)
            process.start()
            writer.close()  # before the next fork, so that the worker holds the only writing end
            processes.append(process)
            readers[reader] = process
        while readers:
            for reader in multiprocessing.connection.wait(list(readers)):
                try:
                    message = reader.recv()
                except (EOFError, OSError):  # the worker died, perhaps half-way through a message
                    readers[reader].join()
                    codes = [process.exitcode for process in processes]
                    raise IndexWriteError(f"an indexing worker process died (exit codes {codes})") from None
                if message is None:
                    del readers[reader]
                elif isinstance(message, BaseException):
                    raise message
                else:
                    yield message
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        for reader in readers:
            reader.close()


def _work(worker: int, folder: str, corpus_dir: Path, batches: list[list[Path]], results) -> None:
    """A worker process: index ``batches``, sending ``(worker, chunk)`` on ``results`` for each, then a None."""
    try:
        for chunk in _index_batches(folder, corpus_dir, batches):
            results.send((worker, chunk))
    except BaseException as exc:  # the parent re-raises it: as it is if it can travel, else as its message
        try:
            pickle.dumps(exc)
        except Exception:
            exc = IndexWriteError(f"indexing failed: {type(exc).__name__}: {exc}")
        results.send(exc)
    results.send(None)


def _index_batches(folder: str, corpus_dir: Path, batches: Iterable[list[Path]]) -> Iterator[_Chunk]:
    """Read, analyse and write batches of posts into segments of at most :data:`SEGMENT_DOCS` posts."""
    ix = whoosh_index.open_dir(folder)
    writer = None
    try:
        for paths in batches:
            if writer is None:
                writer = BulkSegmentWriter(ix, recall_fields=RECALL_FIELDS, lock=False, compound=False)
            entries, fingerprints = [], []
            for path in paths:
                result = read_post(corpus_dir, path)
                if result.document is not None:
                    writer.add_document(**document_fields(result.document))
                    fingerprints.append(fingerprint(result.document))
                entries.append((storage_id(corpus_dir, path), result.problems, _manifest_entry(path, result.sha1),
                                result.document is not None))
            segment = None
            if writer.doc_count() >= SEGMENT_DOCS:
                segment, writer = writer.segment(), None
            yield _Chunk(segment, entries, fingerprints)
        if writer is not None and writer.doc_count():
            segment, writer = writer.segment(), None
            yield _Chunk(segment, [], [])
    finally:
        if writer is not None:
            writer.discard()


def _update_documents(ix, corpus_dir: Path, paths: list[Path], deleted: list[str], manifest: dict,
                      report: BuildReport, progress: ProgressCallback | None, *,
                      procs: int | None = None) -> tuple[dict, list[Fingerprint]]:
    """Replace changed posts, add new ones and delete removed ones in one commit; return the manifest
    and the fingerprints of the posts written.

    Many posts (a burst) are indexed as a build indexes them, in worker
    processes writing a segment each, once the old versions are deleted.
    """
    procs = procs or os.cpu_count() or 1
    if procs > 1 and len(paths) >= PARALLEL_THRESHOLD:
        kept = delete_documents(ix, [*deleted, *storage_ids(corpus_dir, paths)])
        return _write_documents(ix, corpus_dir, paths, manifest, report, procs=procs, progress=progress,
                                keep=kept)
    writer = BulkSegmentWriter(ix, recall_fields=RECALL_FIELDS, compound=False)
    fingerprints = []
    try:
        for doc_id in deleted:
            writer.delete_by_term("id", doc_id)
        for done, path in enumerate(paths, 1):
            result = read_post(corpus_dir, path)
            doc_id = storage_id(corpus_dir, path)
            report.problems.extend(result.problems)
            if result.document is not None:
                writer.update_document(**document_fields(result.document))
                fingerprints.append(fingerprint(result.document))
                report.indexed += 1
            else:
                writer.delete_by_term("id", doc_id)
            entry = _manifest_entry(path, result.sha1)
            if entry is None:
                manifest.pop(doc_id, None)
            else:
                manifest[doc_id] = entry
            if progress:
                progress(done, len(paths))
        writer.commit(merge=False)  # a merge would copy Whoosh's postings but not the recall files
    except BaseException:
        with contextlib.suppress(Exception):  # after a failed commit (disk full) cancel() fails too;
            writer.cancel()                   # keep the first error, the generation is deleted anyway
        raise
    return manifest, fingerprints


def _manifest_entry(path: Path, sha1: str | None = None) -> list | None:
    """Return ``[size, mtime_ns, sha1]`` of a post file, or None if it cannot be read.

    ``sha1``: of the bytes just read and indexed, if the caller has it (it need not be read again).
    """
    try:
        size, mtime, _ = _fingerprint(path)
        return [size, mtime, sha1 or _content_hash(path)]
    except OSError:
        return None


def _finish(generation: Path, corpus_dir: Path, segmenter: Segmenter, manifest: dict,
            report: BuildReport, fingerprints: FingerprintTable, *, carried_from: Path | None = None,
            previous: dict | None = None) -> None:
    """Record what built this generation (meta.json), what it holds (manifest.json), its stories (worked out
    again, or carried forward from the generation ``carried_from``) and its vocabulary.

    The vocabulary (:mod:`search.vocabulary`) costs about 10 s at 56,000 posts, so an update (whose
    ``previous`` meta.json records when it was last worked out) keeps the one it was cloned with
    until :data:`VOCABULARY_DRIFT` of the posts have changed or it is :data:`VOCABULARY_AGE` old.
    """
    ix = whoosh_index.open_dir(generation)
    report.total_docs = ix.doc_count()
    changes = (previous or {}).get("vocabulary_changes", 0) + report.indexed + report.deleted
    made = (previous or {}).get("vocabulary_at")
    due = previous is None or not made or changes >= VOCABULARY_DRIFT * max(report.total_docs, 1) or (
        changes and datetime.now(timezone.utc) - datetime.fromisoformat(made) >= VOCABULARY_AGE)
    with ix.reader() as reader:
        if carried_from is None:
            report.stories = stories.write_stories(generation, reader, fingerprints)
            if due:
                vocabulary.write_vocabulary(generation, reader)
                changes, made = 0, datetime.now(timezone.utc).isoformat(timespec="seconds")
        else:  # a fast update keeps the vocabulary it was cloned with until the next full finish
            fingerprints.save(generation / stories.FINGERPRINTS)
            with whoosh_index.open_dir(carried_from).reader() as before:
                report.stories = stories.carry_stories(generation, reader, carried_from, before)
    storage.write_json(generation / storage.MANIFEST, manifest)
    storage.write_json(generation / storage.META, {
        "schema_version": SCHEMA_VERSION,
        **written_by(),
        **segmenter.to_meta(),
        "corpus": str(corpus_dir),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "docs": report.total_docs,
        "vocabulary_at": made, "vocabulary_changes": changes,
        **({"stale": True} if carried_from is not None else {}),
    })
