"""Documents -> Whoosh index: the schema, full builds and incremental updates.

Fields, and why each exists:

* ``title``/``body``: jieba words, ranked with BM25F (the query weights the title higher).
* ``grams``: the recall field, positional character bigrams of title, source,
  categories and body; ``title_grams`` the same for the title alone (``title:``
  filters, title-match boosts). They live beside each segment in the compact
  format of :mod:`search.local.recall`, not in Whoosh's term tables.
* ``chars``: every character, which answers and ranks one-character queries.
* ``source``/``category``/``month``/``date``: sortable columns for filters,
  facets and date sorting; ``*_key`` fields hold folded values for filters.
* stored ``content``: the post's text and HTML, zlib-compressed together (see
  :func:`pack_content`) for snippets and the article page.
* stored ``front_matter`` and ``date_zoned``, only in posts that have them: what
  a post's URL on the blog may need (see :mod:`search.corpus.permalinks`).
* stored ``lang``: the language the post is written in (see :mod:`search.text.language`), for
  pages' ``lang`` attributes; worked out once here, from the whole text.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from whoosh import fields, formats
from whoosh import index as whoosh_index

from ..writing import storage
from . import stories
from ..query import vocabulary
from ..text import language
from ..text.analysis import DEFAULT_SEGMENTER, SECTION_BREAK, Segmenter, char_counts, word_counts
from ..corpus.posts import Document, Problem, read_post
from ..corpus.duplicates import Fingerprint, FingerprintTable, fingerprint
from ..errors import IndexCorruptError
from ..writing.fields import category_keys, filter_key, pack_content
from .merging import MergePolicy, MergeResult, merge_index, optimize_segments
from ..writing.processes import in_workers
from .segments import BulkSegmentWriter, delete_documents
from ..writing.storage import DEFAULT_INDEX_DIR
from .tokenizers import char_analyzer, word_analyzer
from ..whoosh_internals import check_internals, check_written_by, commit_segments, written_by
from ..writing.builds import (PARALLEL_THRESHOLD, SCHEMA_VERSION, BuildReport, OptimizeReport, ProgressCallback, Scope,
                              diff_corpus, manifest_entry, scan_corpus, storage_id, storage_ids)

#: Most posts per segment. Each query visits every segment, and each segment repeats the vocabulary
#: it shares with the others, so fewer, larger segments answer faster from a smaller index; a
#: segment's postings are grouped in its writer's memory, which is what bounds it.
SEGMENT_DOCS = 30000
#: Posts a worker takes at a time: dealt in turn, small batches share the load evenly, and the progress bar moves.
BATCH_POSTS = 200
#: Fields of :func:`document_fields` indexed by :mod:`search.local.recall` rather than by Whoosh.
RECALL_FIELDS = ("grams", "title_grams")

#: An update works the vocabulary out again once this share of the posts has changed since it last did
#: (a burst; its new words wait for pinyin and suggestions at most this long) ...
VOCABULARY_DRIFT = 0.05
#: ... or once it is this old (and any post changed).
VOCABULARY_AGE = timedelta(hours=1)
#: How updates keep the number of segments small (see :mod:`search.local.merging`).
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


def build_index(corpus_dir: Path, index_dir: Path = DEFAULT_INDEX_DIR, *, userdict: str | None = None,
                segmenter: str = "jieba", procs: int | None = None, wait: bool = False,
                progress: ProgressCallback | None = None) -> BuildReport:
    """Index every post under ``corpus_dir`` into a new generation of ``index_dir`` and publish it.

    Words are cut by ``segmenter`` (see :class:`~search.text.analysis.Segmenter`)
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
    language.warm_up()
    corpus_dir, index_dir = Path(corpus_dir).resolve(), Path(index_dir)
    paths, problems = scan_corpus(corpus_dir)
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
                 fast: bool = False, only: Iterable[Path] | None = None, limit_bytes: int | None = None,
                 vocabulary: bool = True) -> BuildReport:
    """Bring ``index_dir`` up to date with its corpus, touching only added, changed and deleted posts.

    A post counts as changed when its size or modification time differ and its
    content hash does too. ``corpus_dir`` defaults to the one recorded by the
    last build. Posts modified less than ``settle`` seconds ago are left for
    a later update (a file still being written is not read half-way).

    The update writes one new segment and publishes it in a new generation;
    then, still holding the writer lock, it merges segments as ``policy``
    selects (None: no merging) in a generation of its own, so that new posts
    are searchable without waiting for a merge (``report.searchable_after``;
    ``report.merge`` tells what was merged). Each generation is published
    atomically: killed during the merge, the index answers with the new posts
    and the next update merges. The vocabulary (pinyin, suggestions) is
    worked out again last, when due (:func:`vocabulary_due`), in a generation
    of its own too; ``vocabulary=False`` leaves that to the caller (the
    watcher does it in the background: :func:`stage_vocabulary`).

    The index-wide tables worked out from every post (which posts are copies
    of one story) cost seconds at tens of thousands of posts. A ``fast``
    update carries them forward instead (:func:`search.local.stories.carry_stories`:
    new posts are stories of their own until then), so that new posts are
    searchable at once; the next update that is not fast works them out
    again, even if no post changed.

    ``only`` limits the update to some paths of the corpus (a watcher's
    events): a file, a folder (every post below it), or a path that no longer
    exists (every post that was there); the rest of the corpus is not even
    scanned. ``limit_bytes`` bounds the posts indexed, the shortest first
    (:func:`~search.writing.builds.shortest_first`: a burst is published in
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
        language.warm_up()  # forked workers share it
        corpus_dir = Path(corpus_dir or meta.get("corpus", "")).resolve()
        scope = None if only is None else Scope.of(corpus_dir, only)
        paths, problems = scan_corpus(corpus_dir) if scope is None else scope.scan()
        old = storage.read_json(live / storage.MANIFEST)
        report = BuildReport(problems=problems)
        manifest, todo, deleted = diff_corpus(corpus_dir, paths, old, report, settle=settle,
                                              limit_bytes=limit_bytes, scope=scope)
        report.deleted = len(deleted)
        if not todo and not deleted and corpus_dir == Path(meta.get("corpus", "")) and (fast or not meta.get("stale")):
            report.total_docs = meta.get("docs", 0)
            if policy is not None:  # merges an earlier update left undone (stopped or killed before them)
                merged = _merge_generation(index_dir, live, policy, procs=procs or os.cpu_count() or 1,
                                           postpone=False)
                report.merge = merged if merged.merges else None
            if vocabulary and not fast and vocabulary_due(meta):  # ... and its vocabulary
                _vocabulary_generation(index_dir, storage.current_generation(index_dir))
            report.seconds = time.perf_counter() - started
            return report
        with _new_generation(index_dir, live) as generation:
            ix = whoosh_index.open_dir(generation)
            manifest, fingerprints = _update_documents(ix, corpus_dir, todo, deleted, manifest, report, progress,
                                                       procs=procs)
            # posts of an index built before fingerprints existed stay unfolded until the next build
            table = _fingerprints(live).replaced([*deleted, *(storage_id(corpus_dir, p) for p in todo)],
                                                 fingerprints)
            due = _finish(generation, corpus_dir, Segmenter.from_meta(meta), manifest, report, table,
                          carried_from=live if fast else None, previous=meta)
        report.searchable_after = time.perf_counter() - started
        if policy is not None:
            report.merge = _merge_generation(index_dir, generation, policy, procs=procs or os.cpu_count() or 1,
                                             postpone=report.deferred > 0)
        if vocabulary and not fast and due:
            _vocabulary_generation(index_dir, storage.current_generation(index_dir))
    report.seconds = time.perf_counter() - started
    return report


def _merge_generation(index_dir: Path, live: Path, policy: MergePolicy, *, procs: int,
                      postpone: bool) -> MergeResult:
    """Merge the segments of the live generation ``live`` that ``policy`` selects into a generation of their
    own, published after the update's posts (see :func:`update_index`); return what was merged.

    Nothing but the segments and the document numbers change: the manifest,
    fingerprints, vocabulary and meta.json stay the hard links they were
    cloned as, and the stories are renumbered (:func:`search.local.stories.carry_stories`
    is exact when no post changed).
    """
    with _new_generation(index_dir, live) as generation:
        result = merge_index(str(generation), policy, procs=procs, postpone=postpone)
        if not result.merges:
            raise _Unchanged
        with whoosh_index.open_dir(generation).reader() as reader, \
                whoosh_index.open_dir(live).reader() as before:
            stories.carry_stories(generation, reader, live, before)
    return result


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
    batches = _batch_sizes(docs, workers)
    count = 0
    for worker in range(workers):
        held = 0
        for size in batches[worker::workers]:
            held += size
            if held >= SEGMENT_DOCS:
                count, held = count + 1, 0
        count += held > 0
    return max(count, 1)


def _batch_sizes(docs: int, workers: int) -> list[int]:
    """Return how many posts each batch of a build or update takes: at most :data:`BATCH_POSTS`, and as
    many batches for every worker, so that the workers of a small update finish together (a burst's part
    of 500 posts on two cores is 250 each, not 300 and 200).

    >>> _batch_sizes(500, 2), _batch_sizes(450, 1), _batch_sizes(56642, 2)[:2]
    ([125, 125, 125, 125], [150, 150, 150], [200, 200])
    """
    rounds = max(1, math.ceil(docs / (workers * BATCH_POSTS)))
    size = max(1, math.ceil(docs / (workers * rounds)))
    return [min(size, docs - start) for start in range(0, docs, size)]


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
    starts = itertools.accumulate(_batch_sizes(len(paths), workers), initial=0)
    batches = [paths[a:b] for a, b in itertools.pairwise(starts)]
    segments, fingerprints, done = {}, [], 0
    shares = [batches[worker::workers] for worker in range(workers)]
    for worker, chunk in in_workers(functools.partial(_index_batches, ix.storage.folder, corpus_dir), shares):
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
                entries.append((storage_id(corpus_dir, path), result.problems, manifest_entry(path, result.sha1),
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
            entry = manifest_entry(path, result.sha1)
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


def _finish(generation: Path, corpus_dir: Path, segmenter: Segmenter, manifest: dict,
            report: BuildReport, fingerprints: FingerprintTable, *, carried_from: Path | None = None,
            previous: dict | None = None) -> bool:
    """Record what built this generation (meta.json), what it holds (manifest.json), its stories (worked out
    again, or carried forward from the generation ``carried_from``) and, for a build (no ``previous``
    meta.json), its vocabulary; return whether an update's vocabulary is due.

    The vocabulary (:mod:`search.query.vocabulary`) costs seconds at tens of thousands of posts, so an
    update keeps the one it was cloned with, counting the posts changed since in meta.json; once
    :func:`vocabulary_due`, it is worked out again after the update's posts are published
    (:func:`_vocabulary_generation`), or by the watcher in the background (:func:`stage_vocabulary`).
    """
    ix = whoosh_index.open_dir(generation)
    report.total_docs = ix.doc_count()
    changes = (previous or {}).get("vocabulary_changes", 0) + report.indexed + report.deleted
    made = (previous or {}).get("vocabulary_at")
    with ix.reader() as reader:
        if carried_from is None:
            report.stories = stories.write_stories(generation, reader, fingerprints)
            if previous is None:
                vocabulary.write_vocabulary(generation, reader)
                changes, made = 0, _now()
        else:  # a fast update: the stories carried forward until the next update that is not fast
            fingerprints.save(generation / stories.FINGERPRINTS)
            with whoosh_index.open_dir(carried_from).reader() as before:
                report.stories = stories.carry_stories(generation, reader, carried_from, before)
    storage.write_json(generation / storage.MANIFEST, manifest)
    meta = {
        "schema_version": SCHEMA_VERSION,
        **written_by(),
        **segmenter.to_meta(),
        "corpus": str(corpus_dir),
        "built_at": _now(),
        "docs": report.total_docs,
        "vocabulary_at": made, "vocabulary_changes": changes,
        **({"stale": True} if carried_from is not None else {}),
    }
    storage.write_json(generation / storage.META, meta)
    return previous is not None and vocabulary_due(meta)


def vocabulary_due(meta: dict) -> bool:
    """Whether the vocabulary of the generation ``meta`` describes should be worked out again: once
    :data:`VOCABULARY_DRIFT` of its posts have changed since, or it is :data:`VOCABULARY_AGE` old and
    any has (or it has none)."""
    made, changes = meta.get("vocabulary_at"), meta.get("vocabulary_changes", 0)
    return not made or changes >= VOCABULARY_DRIFT * max(meta.get("docs", 0), 1) or (
        changes > 0 and datetime.now(timezone.utc) - datetime.fromisoformat(made) >= VOCABULARY_AGE)


def _vocabulary_generation(index_dir: Path, live: Path) -> None:
    """Work the vocabulary of the live generation ``live`` out again, in a generation of its own
    (call with the writer lock held)."""
    with _new_generation(index_dir, live) as generation:
        with whoosh_index.open_dir(generation).reader() as reader:
            vocabulary.write_vocabulary(generation, reader)
        _record_vocabulary(generation, changes_since=0)


#: Where :func:`stage_vocabulary` works, beside the generations (writers leave it alone).
VOCABULARY_STAGE = ".vocabulary"


def stage_vocabulary(index_dir: Path) -> Path:
    """Work the vocabulary of the live generation out without holding the writer lock, in a copy of it
    (hard links) that no writer deletes; return that copy, for :func:`install_vocabulary`.

    The watcher runs this in a child process, so that new posts never wait
    for the vocabulary: at tens of thousands of posts it reads every
    segment's term table (about 10 s at 56,000 posts in a new process).
    """
    staged = Path(index_dir) / VOCABULARY_STAGE
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    storage.clone_generation(storage.current_generation(index_dir), staged)
    if (staged / vocabulary.VOCABULARY).exists():  # the one it replaces (a new one is a new file)
        os.link(staged / vocabulary.VOCABULARY, staged / _VOCABULARY_BASIS)
    with whoosh_index.open_dir(staged).reader() as reader:
        vocabulary.write_vocabulary(staged, reader)
    return staged


_VOCABULARY_BASIS = "vocabulary.basis"


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are links to one file, or both missing."""
    try:
        return os.path.samefile(a, b)
    except FileNotFoundError:
        return not a.exists() and not b.exists()


def install_vocabulary(index_dir: Path, staged: Path, *, wait: bool = False) -> None:
    """Publish the vocabulary :func:`stage_vocabulary` worked out, in a generation of its own.

    It was worked out from an earlier generation: the posts changed since
    stay counted towards the next one (their words wait for it, as a fast
    update's do). If another writer worked a vocabulary out meanwhile (an
    update), that newer one stays and this one is dropped.

    :raises IndexBusyError: if another writer holds the index and ``wait`` is False.
    """
    index_dir = Path(index_dir)
    with storage.writer_lock(index_dir, wait=wait):
        storage.remove_stale_generations(index_dir)
        live = storage.current_generation(index_dir)
        if _same_file(staged / _VOCABULARY_BASIS, live / vocabulary.VOCABULARY):  # else a writer made a newer one
            then, now = storage.read_json(staged / storage.META), storage.read_json(live / storage.META)
            with _new_generation(index_dir, live) as generation:
                os.replace(staged / vocabulary.VOCABULARY, generation / vocabulary.VOCABULARY)
                since = now.get("vocabulary_changes", 0) - then.get("vocabulary_changes", 0)
                _record_vocabulary(generation, changes_since=max(since, 0))
    shutil.rmtree(staged, ignore_errors=True)


def _record_vocabulary(generation: Path, *, changes_since: int) -> None:
    """Record in ``generation``'s meta.json that its vocabulary was worked out now, ``changes_since``
    posts ago."""
    meta = storage.read_json(generation / storage.META)
    storage.write_json(generation / storage.META, {**meta, "vocabulary_at": _now(),
                                                   "vocabulary_changes": changes_since})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
