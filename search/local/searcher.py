"""An open index: searching, paging, sorting, facets, snippets, posts, related posts, stats.

One :class:`Index` is meant to live as long as the process: it keeps one Whoosh
reader, reused by every call and guarded by a lock (Whoosh readers share file
handles, and searching is CPU-bound Python, so threads gain nothing by running
searches side by side). Before each call it looks at the index directory's
``CURRENT`` pointer and, when a build or update has published a new
generation, switches to it, so a long-running server never needs a restart.
"""

from __future__ import annotations

import gc
import threading
import warnings
import weakref
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from whoosh import collectors, scoring, sorting
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.searching import Searcher

from ..query import plan
from ..writing import storage
from ..text.analysis import DEFAULT_SEGMENTER, Segmenter
from ..backend import KEY_TERMS, IndexBase, StoredPost, by_date, similar_text
from ..corpus.posts import Problem
from ..errors import IndexCorruptError, IndexVersionError, SearchError
from .evaluate import Unsupported, column_values, evaluate, preload
from .explain import QUERY_HELD, RECENCY
from .explain import explain as explain_score
from ..query.facets import FacetTable
from ..query.fallback import FEW_RESULTS, PARTIAL_LIMIT, coverage, partial_scores, wants_partial
from ..writing.fields import unpack_content, unpack_text
from .indexer import read_meta
from ..corpus.permalinks import PostUrls, find_unlinked
from ..query.syntax import Node, plan_query
from ..query.ranking import BM25_B, BM25_K1
from .recall import recall_index
from ..query.request import COVERAGE_DAYS, FACETS, Filters, SearchRequest, page_bounds
from ..query.results import Copy, Hit, IndexStats, Post, QueryDate, SearchResults, Share
from ..writing.storage import DEFAULT_INDEX_DIR
from .stories import StoryMap
from ..query.synonyms import Synonyms, read_synonyms
from ..query.vocabulary import SUGGESTIONS, Vocabulary, suggest
from ..whoosh_internals import index_whoosh_version, is_storage_error
from .whoosh_query import to_whoosh


class RecencyWeighting(scoring.BM25F):
    """BM25F whose final score is halved for every ``half_life_days`` of the post's age."""

    use_final = True

    def __init__(self, half_life_days: float, now: datetime, **kwargs):
        super().__init__(**kwargs)
        self.half_life = half_life_days * 86400.0
        self.now = now.replace(tzinfo=None)

    def final(self, searcher, docnum, score):
        return float(self.final_scores(searcher, np.array([docnum]), np.array([score]))[0])

    def final_scores(self, searcher, docnums: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """:meth:`final` for arrays of (global) document numbers and their scores; an undated post scores half."""
        field = searcher.schema["date"]
        dates = np.concatenate([column_values(leaf.reader(), "date") for leaf, _ in searcher.leaf_searchers()])
        dates = dates[docnums]
        dated = dates != np.uint64(field.default)
        # Microseconds to seconds as timedelta.total_seconds() does: one correctly rounded division.
        age = (field.to_column_value(self.now) - dates[dated].astype(np.int64)) / 1e6
        factor = np.full(len(docnums), 0.5)
        factor[dated] = np.power(0.5, np.maximum(0.0, age) / self.half_life)
        return scores * factor


class Index(IndexBase):
    """A search index on disk, opened for reading.

    >>> ix = Index.open("index")                       # doctest: +SKIP
    >>> ix.search("冬奥", sort="newest").total          # doctest: +SKIP

    With ``post_urls`` (the blog's URL settings) hits and posts carry their URL on the blog.
    ``synonyms`` expands query words (see :mod:`search.query.synonyms`): None for the
    default list, ``"none"`` for none, or a file in Solr's format.

    :raises SynonymFileError: for a synonym file that cannot be read or is malformed.
    """

    def __init__(self, index_dir: Path | str = DEFAULT_INDEX_DIR, *, post_urls: PostUrls | None = None,
                 synonyms: Synonyms | Path | str | None = None):
        self.index_dir = Path(index_dir)
        self.post_urls = post_urls
        self.synonyms = read_synonyms(synonyms)
        self._lock = threading.RLock()
        self._key: str | None = None
        self._searcher: Searcher | None = None
        self._generation: Path | None = None
        self._stats: IndexStats | None = None
        self._facets: FacetTable | None = None
        #: The word segmenter the open generation was built with; queries are cut by it too.
        self.segmenter: Segmenter = DEFAULT_SEGMENTER
        self._stories: StoryMap | None = None  # None: the generation records no stories
        self._vocabulary: Vocabulary | None = None  # None: the generation has no vocabulary (built before it)
        self._newest: date | None = None  # the day of the newest dated post
        self._failed_key: str | None = None  # a generation that could not be opened
        self._closer: weakref.finalize | None = None  # closes the searcher's files, even if never close()d

    @classmethod
    def open(cls, index_dir: Path | str = DEFAULT_INDEX_DIR, *, post_urls: PostUrls | None = None,
             synonyms: Synonyms | Path | str | None = None) -> Index:
        """Return the index in ``index_dir``, opened, expanding queries with ``synonyms`` (see above).

        :raises IndexNotFoundError: if there is no index there.
        :raises IndexCorruptError: if its files cannot be read.
        :raises SynonymFileError: for a synonym file that cannot be read or is malformed.
        """
        index = cls(index_dir, post_urls=post_urls, synonyms=synonyms)
        index.refresh()
        index.segmenter.warm_up()
        return index

    def refresh(self) -> bool:
        """Switch to the newest published generation if it changed; return True if it did.

        A new generation that cannot be read is remembered and not retried; the
        generation already open keeps answering. One deleted while it was being
        opened (writers delete superseded generations: two publications later,
        about a second while a watcher merges after each batch) is given up for
        the newer one.
        """
        with self._lock:
            for _ in range(OPEN_ATTEMPTS):
                key = storage.generation_fingerprint(self.index_dir)
                if self._searcher is not None and key in (self._key, self._failed_key):
                    return False
                generation = storage.current_generation(self.index_dir)
                try:
                    opened = _open_generation(generation, self.index_dir)
                except (IndexCorruptError, IndexVersionError):
                    if not generation.is_dir():
                        continue  # deleted under us: a newer one is live
                    self._failed_key = key
                    if self._searcher is not None:
                        return False
                    raise
                if not generation.is_dir():  # deleted while its sidecars were read (they may have been gone)
                    opened.searcher.close()
                    continue
                if self._closer is not None:
                    self._closer()  # closes the generation we were using
                self._searcher, self._closer = opened.searcher, weakref.finalize(self, opened.searcher.close)
                self._key, self._generation, self._stats, self._facets = key, generation, None, opened.facets
                self.segmenter, self._stories, self._vocabulary, self._newest = (
                    opened.segmenter, opened.stories, opened.vocabulary, opened.newest)
                return True
            if self._searcher is not None:
                return False
            raise IndexCorruptError(f"the index in {self.index_dir}/ changed {OPEN_ATTEMPTS} times while it was "
                                    f"being opened; try again")

    def close(self) -> None:
        """Close the index files (also done when the Index is garbage-collected)."""
        with self._lock:
            if self._closer is not None:
                self._closer()
            self._searcher = self._closer = self._key = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _reading(self) -> Iterator[Searcher]:
        """Hold the lock and yield the current searcher.

        :raises IndexCorruptError: if reading the index files fails for damage
            (:func:`search.whoosh_internals.is_storage_error`); any other exception is a bug, raised as it is.
        """
        with self._lock:
            searcher = self._current()
            try:
                yield searcher
            except Exception as exc:
                if isinstance(exc, SearchError) or not is_storage_error(exc):
                    raise
                raise IndexCorruptError(
                    f"the index in {self.index_dir}/ ({self._key}) could not be read: {exc}; "
                    f"rebuild it with: news-search build --corpus DIR --index {self.index_dir}"
                ) from exc

    def _current(self) -> Searcher:
        try:
            self.refresh()
        except storage.IndexNotFoundError:
            if self._searcher is None:
                raise
        return self._searcher

    # --- searching ---------------------------------------------------------------------------

    def _search_state(self) -> tuple[date | None, Vocabulary | None]:
        with self._lock:  # as of the last refresh: search_tree switches to a new generation if there is one
            return self._newest, self._vocabulary

    def search_tree(self, request: SearchRequest, node: Node | None, dates: tuple[QueryDate, ...], *, page: int,
                    per_page: int, snippets: bool, facets: bool, fold: bool, partial: bool = True,
                    explain: bool = False) -> SearchResults:
        """Return one page of results for the syntax tree ``node`` under ``request``'s filters and sort (and,
        with ``partial``, the partial matches that follow too few full ones: the last stage of a search)."""
        filters, sort, half_life_days, now = request.filters, request.sort, request.half_life_days, request.now
        planned = plan_query(node, segmenter=self.segmenter, synonyms=self.synonyms)
        with self._reading() as searcher:
            extra = _filter_query(filters)
            q = _filtered(to_whoosh(planned.match), extra)
            if half_life_days:
                weighting = RecencyWeighting(half_life_days, now, B=BM25_B, K1=BM25_K1)
                searcher = Searcher(searcher.reader(), weighting=weighting, closereader=False)
            stories = self._stories if fold and self._stories is not None and self._stories.has_copies else None
            # Folding needs every match; so does knowing whether partial matches must follow.
            limit = max(page * per_page, FEW_RESULTS) if per_page and stories is None else None
            memo: dict = {}  # what evaluating this query reads, shared with its partial matches
            ranked, keys, matched = _rank(searcher, q, limit=limit, sort=sort, memo=memo)
            if stories is not None:
                shown = stories.first_of_each(ranked)
                ranked, keys = ranked[shown], keys[shown]
            full = len(ranked) if stories else len(matched)
            partly = _Partial.none()
            if partial and planned.relaxed is not None and wants_partial(full):
                partly = self._partial(searcher, planned, extra, ranked if stories else matched, stories, sort,
                                       memo)
                ranked, keys = np.concatenate([ranked, partly.docnums]), np.concatenate([keys, partly.keys])
            first, last = page_bounds(page, per_page)
            hits = tuple(self._hit(searcher, docnum, score, planned, snippets, with_copies=stories is not None,
                                   missing=partly.missing.get(docnum),
                                   explanation=self._explain(searcher, planned, filters, docnum, partly)
                                   if explain and sort == "relevance" else ())
                         for docnum, score in zip(ranked[first:last].tolist(), keys[first:last].tolist()))
            facet_counts = {}
            if facets:  # of the full matches: what the filters narrow down
                facet_counts = self._facets.counts(matched, stories=stories.canonical if stories else None)
        return SearchResults(query=request.text, total=full + len(partly.docnums), page=page,
                             per_page=per_page, sort=sort, hits=hits, facets=facet_counts,
                             total_posts=len(matched) + len(partly.docnums),
                             counts="stories" if stories else "posts", dates=dates, partial=len(partly.docnums),
                             sorts=request.sorts)

    def count_tree(self, request: SearchRequest, node: Node | None) -> int:
        """Return how many posts the syntax tree ``node`` matches under ``request``'s filters."""
        q = to_whoosh(plan.matching(plan_query(node, segmenter=self.segmenter, synonyms=self.synonyms).match))
        q = _filtered(q, _filter_query(request.filters))
        with self._reading() as searcher:
            try:
                return len(evaluate(searcher, q).docnums)
            except Unsupported:
                return len(_run(searcher, q, limit=None)[1])

    def suggest(self, typed: str, *, limit: int = SUGGESTIONS) -> list[str]:
        """Return up to ``limit`` completions of a query being typed: title words and phrases of the index
        that its last word begins, by their text, pinyin or initials (``冬奥``, ``dongao``, ``dah`` ->
        冬奥会), commonest first (see :func:`search.query.vocabulary.suggest`)."""
        with self._reading():
            vocabulary = self._vocabulary
        return suggest(vocabulary, typed, limit=limit)

    def _explain(self, searcher: Searcher, planned: plan.Plan, filters: Filters, docnum: int,
                 partial: _Partial) -> tuple[Share, ...]:
        """Return ``docnum``'s score feature by feature (see :mod:`search.local.explain`)."""
        is_partial = docnum in partial.missing
        node = planned.relaxed if is_partial else planned.match
        if (filtered := filters.plan()) is not None:
            node = plan.AllOf((node, plan.Constant(filtered, 0.0)))
        factors = []
        if isinstance(searcher.weighting, RecencyWeighting):
            factors.append((RECENCY, float(searcher.weighting.final_scores(searcher, np.array([docnum]),
                                                                             np.ones(1))[0])))
        if is_partial:
            factors.append((QUERY_HELD, partial.covered[docnum]))
        return explain_score(self._searcher, node, docnum, tuple(factors))

    def _partial(self, searcher: Searcher, planned: plan.Plan, extra: wq.Query | None, full: np.ndarray,
                 stories: StoryMap | None, sort: str, memo: dict) -> _Partial:
        """Return the best partial matches (see :mod:`search.query.fallback`): posts holding some of the plan's
        units, none of them a full match (or, folded, a copy of one), best first.

        Only posts holding a unit can match the relaxed plan, so it is scored
        among those that are not full matches: a few hundred posts, not the
        whole index, and never the full matches again.
        """
        size = searcher.doc_count_all()
        found = [_matches(searcher, to_whoosh(unit.match), memo)[0] for unit in planned.units]
        holds = np.zeros((len(found), size), dtype=bool)  # unit x post (a mask is cheaper than sorting)
        for row, posts in zip(holds, found):
            row[posts] = True
        candidates = holds.any(axis=0)
        candidates[full] = False
        if stories is not None:
            shown = np.zeros(size, dtype=bool)
            shown[stories.canonical[full]] = True
            some = np.flatnonzero(candidates)
            candidates[some[shown[stories.canonical[some]]]] = False
        docnums, scores = _matches(searcher, _filtered(to_whoosh(planned.relaxed), extra), memo,
                                   within=np.flatnonzero(candidates))
        keep = candidates[docnums]  # all of them, unless Whoosh evaluated the query over every post
        docnums, scores = docnums[keep], scores[keep]
        if not len(docnums):
            return _Partial.none()
        held = holds[:, docnums].T
        frequencies = [len(posts) for posts in found]
        covered = coverage(held, np.array(frequencies), searcher.doc_count())
        keys = partial_scores(covered, scores) if sort == "relevance" else -_date_keys(searcher, docnums, sort)
        order = _best(keys, docnums, PARTIAL_LIMIT, stories)
        if sort != "relevance":
            keys = -keys
        missing = {int(d): plan.Unit.missing(planned.units, row)
                   for d, row in zip(docnums[order].tolist(), held[order].tolist())}
        shown = dict(zip(docnums[order].tolist(), covered[order].tolist())) if sort == "relevance" else {}
        return _Partial(docnums[order], keys[order], missing, shown)

    def _hit(self, searcher: Searcher, docnum: int, score, planned: plan.Plan, snippets: bool, *,
             with_copies: bool = False, missing: tuple[str, ...] | None = None,
             explanation: tuple[Share, ...] = ()) -> Hit:
        stored = searcher.stored_fields(docnum)
        text = unpack_text(stored["content"]) if snippets else ""
        return self._make_hit(_stored_post(stored), float(score or 0.0), text, planned.highlights,
                              planned.title_highlights, snippets=snippets,
                              copies=self._copies(searcher, docnum) if with_copies else (), missing=missing,
                              explanation=explanation)

    def _copies(self, searcher: Searcher, docnum: int) -> tuple[Copy, ...]:
        """Return the other copies of ``docnum``'s story, earliest first."""
        if self._stories is None:
            return ()
        return tuple(self._make_copy(_stored_post(searcher.stored_fields(other)))
                     for other in self._stories.members(docnum) if other != docnum)

    # --- single posts ------------------------------------------------------------------------

    def get(self, doc_id: str) -> Post | None:
        """Return the stored post ``doc_id``, or None if the index has no such post."""
        with self._reading() as searcher:
            docnum = searcher.document_number(id=doc_id)
            if docnum is None:
                return None
            stored = searcher.stored_fields(docnum)
            copies = self._copies(searcher, docnum)
        text, html = unpack_content(stored["content"])
        return self._make_post(_stored_post(stored), text, html, copies)

    def unlinked(self) -> list[Problem]:
        """Return the posts that get no URL on the blog, each with the reason (Hexo writes no page for
        them, or none a link reaches); empty when the index was opened without the blog's settings."""
        if self.post_urls is None:
            return []
        with self._reading() as searcher:
            posts = [_stored_post(stored).link_fields() for stored in searcher.all_stored_fields()]
        return find_unlinked(self.post_urls, posts)

    def more_like(self, doc_id: str, *, limit: int = 5) -> list[Hit]:
        """Return up to ``limit`` posts similar to ``doc_id`` (key terms of its title and body)."""
        post = self.get(doc_id)
        if post is None:
            return []
        with self._reading() as searcher:
            docnum = searcher.document_number(id=doc_id)
            results = searcher.more_like(docnum, "body", text=similar_text(post), top=limit, numterms=KEY_TERMS)
            planned = plan_query(None)
            return [self._hit(searcher, docnum, score, planned, True) for score, docnum in results.top_n]

    def related_coverage(self, doc_id: str, *, days: float = COVERAGE_DAYS, limit: int = 10) -> list[Hit]:
        """Return the coverage around ``doc_id``: up to ``limit`` stories most like it, published within
        ``days`` days of it, one entry per story, in date order (earliest first, undated last).

        The post's own story is left out. An undated post gets related stories from any date.
        """
        post = self.get(doc_id)
        if post is None:
            return []
        window = None
        if post.date is not None:
            middle, span = post.date.astimezone(timezone.utc).replace(tzinfo=None), timedelta(days=days)
            window = wq.DateRange("date", middle - span, middle + span)
        with self._reading() as searcher:
            docnum = searcher.document_number(id=doc_id)
            results = searcher.more_like(docnum, "body", text=similar_text(post), top=None, numterms=KEY_TERMS,
                                         filter=window)
            scores = {d: score for score, d in results.top_n}
            own = set(self._stories.members(docnum)) if self._stories else {docnum}
            ranked = [d for _, d in results.top_n if d not in own]
            if self._stories is not None:
                ranked = self._stories.fold(ranked, prefer_canonical=True)  # a story by its original
            planned = plan_query(None)
            hits = [self._hit(searcher, d, scores[d], planned, True, with_copies=self._stories is not None)
                    for d in ranked[:limit]]
        return by_date(hits)

    # --- statistics --------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        """Return document count, size, provenance, date range and per-source counts."""
        with self._reading() as searcher:
            if self._stats is None:
                self._stats = self._compute_stats(searcher)
            return self._stats

    def _compute_stats(self, searcher: Searcher) -> IndexStats:
        meta = storage.read_json(self._generation / storage.META)
        size = sum(p.stat().st_size for p in self._generation.iterdir() if p.is_file())
        counts = self._facets.counts(np.fromiter(searcher.reader().all_doc_ids(), np.int64), limit=None)
        dated = wq.DateRange("date", datetime(1000, 1, 1), None)
        first = searcher.search(dated, limit=1, sortedby="date")
        last = searcher.search(dated, limit=1, sortedby="date", reverse=True)
        return IndexStats(
            docs=searcher.doc_count(), size_bytes=size, built_at=meta.get("built_at"), corpus=meta.get("corpus"),
            generation=self._generation.name, segmenter=meta.get("segmenter"),
            first_date=_aware(first[0]["date"]) if len(first) else None,
            last_date=_aware(last[0]["date"]) if len(last) else None,
            sources=counts.get("source", ()), categories=counts.get("category", ()),
            segments=len(searcher.leaf_searchers()), deleted=searcher.doc_count_all() - searcher.doc_count(),
            whoosh_version=index_whoosh_version(meta),
        )


def warm_up_segmenter(index_dir: Path | str = DEFAULT_INDEX_DIR) -> None:
    """Load the word segmenter of the index in ``index_dir``, if there is one.

    A server calls this before forking its workers, so they share the
    dictionary's memory instead of each loading their own.
    """
    try:
        meta = storage.read_json(storage.current_generation(Path(index_dir)) / storage.META)
    except (SearchError, OSError, ValueError):
        return  # no readable index yet: the workers report it
    Segmenter.from_meta(meta).warm_up()


#: Generations tried in a row by :meth:`Index.refresh` when each is deleted while being opened.
OPEN_ATTEMPTS = 5


@dataclass
class _Opened:
    """A generation opened for searching: its searcher and everything read beside it."""

    searcher: Searcher
    facets: FacetTable
    segmenter: Segmenter
    stories: StoryMap | None
    vocabulary: Vocabulary | None
    newest: date | None


def _open_generation(generation: Path, index_dir: Path) -> _Opened:
    """Open ``generation`` (see :func:`_open_searcher`) and read its sidecars.

    A sidecar missing because the generation was deleted meanwhile reads as
    absent: the caller checks that the generation still exists afterwards
    (writers delete one at once, by renaming it away first: see
    :func:`search.writing.storage.remove_stale_generations`).
    """
    searcher, facets = _open_searcher(generation, index_dir)
    return _Opened(searcher, facets, Segmenter.from_meta(storage.read_json(generation / storage.META)),
                   StoryMap.load(generation, searcher.doc_count_all()), Vocabulary.load(generation),
                   _newest_day(searcher))


def _open_searcher(generation: Path, index_dir: Path) -> tuple[Searcher, FacetTable]:
    """Open a generation's Whoosh index, the recall index and evaluation columns of each segment and the facet table.

    Every file is read or opened now, so a searcher keeps working from its
    open files even if the generation's directory is deleted under it.

    :raises IndexCorruptError: naming the index and how to rebuild it.
    """
    read_meta(generation, index_dir)
    with warnings.catch_warnings():
        # Whoosh leaves the file it failed to parse open; it is closed when the
        # exception is dropped, which must not warn.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            searcher = whoosh_index.open_dir(generation).searcher(weighting=_weighting())
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            reason = f"{exc}" or type(exc).__name__
        else:
            try:
                for leaf, _ in searcher.leaf_searchers():
                    recall_index(leaf.reader())
                    preload(leaf.reader())
                    if leaf.reader().doc_count_all():
                        leaf.reader().stored_fields(0)  # opens the stored fields' file, else opened at the first hit
                return searcher, FacetTable(searcher.reader(), FACETS)
            except Exception as exc:
                searcher.close()
                if not is_storage_error(exc):
                    raise
                reason = str(exc)
        gc.collect()
    raise IndexCorruptError(f"the index in {index_dir}/ ({generation.name}) cannot be read: {reason}; "
                            f"rebuild it with: news-search build --corpus DIR --index {index_dir}")


def _newest_day(searcher: Searcher) -> date | None:
    """Return the (UTC) day of the newest dated post, or None if no post is dated."""
    field = searcher.schema["date"]
    dates = [column_values(leaf.reader(), "date") for leaf, _ in searcher.leaf_searchers()]
    dated = np.concatenate(dates) if dates else np.zeros(0, np.uint64)
    dated = dated[dated != np.uint64(field.default)]
    return field.from_column_value(int(dated.max())).date() if len(dated) else None


def _weighting() -> scoring.WeightingModel:
    return scoring.BM25F(B=BM25_B, K1=BM25_K1)


def _rank(searcher: Searcher, q: wq.Query, *, limit: int | None, sort: str,
          memo: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the document numbers of the first ``limit`` (None: all) matches of ``q`` in order, their
    scores (or sort keys), and every match's document number.

    The query is evaluated with numpy (:mod:`search.local.evaluate`) unless it holds
    something that module does not handle; then Whoosh's collectors run it.
    Either way the order is Whoosh's: by score, highest first, or for
    ``newest``/``oldest`` by the date column's sort key (which Whoosh reports
    as the score; an undated post counts as the latest date), ties by
    document number.
    """
    try:
        found = evaluate(searcher, q, memo=memo)
    except Unsupported:
        return _rank_with_whoosh(searcher, q, limit=limit, sort=sort)
    docnums = found.docnums
    if sort == "relevance":
        order = np.lexsort((docnums, -found.scores))[:limit]
        return docnums[order], found.scores[order], docnums
    keys = _date_keys(searcher, docnums, sort)
    order = np.lexsort((docnums, keys))[:limit]
    return docnums[order], keys[order], docnums


def _best(keys: np.ndarray, docnums: np.ndarray, count: int, stories: StoryMap | None) -> np.ndarray:
    """Return the positions of the ``count`` best ``keys`` (highest first, ties by document number), one per
    story when ``stories`` are given.

    Sorting is what costs when a common unit makes tens of thousands of
    candidates; a few times ``count`` of them (all tied at the cut) nearly
    always hold ``count`` stories, and all of them are sorted when not.
    """
    candidates = np.arange(len(keys))
    if len(keys) > 4 * count:
        candidates = np.flatnonzero(keys >= np.partition(keys, len(keys) - 4 * count)[len(keys) - 4 * count])
    while True:
        order = candidates[np.lexsort((docnums[candidates], -keys[candidates]))]
        if stories is not None:
            order = order[stories.first_of_each(docnums[order])]
        if len(order) >= count or len(candidates) == len(keys):
            return order[:count]
        candidates = np.arange(len(keys))


def _date_keys(searcher: Searcher, docnums: np.ndarray, sort: str) -> np.ndarray:
    """Return the sort keys Whoosh reports for ``newest``/``oldest`` (lowest first): the date column's
    value, negated for ``newest`` (an undated post counts as the latest date)."""
    dates = np.concatenate([column_values(leaf.reader(), "date") for leaf, _ in searcher.leaf_searchers()])
    keys = dates[docnums].astype(np.float64)
    return -keys if sort == "newest" else keys


def _matches(searcher: Searcher, q: wq.Query, memo: dict | None = None, *,
             within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return every match of ``q`` (document numbers, ascending) and its score; with ``within`` (document
    numbers, ascending), at least those among them (see :func:`search.local.evaluate.evaluate`)."""
    try:
        found = evaluate(searcher, q, memo=memo, within=within)
    except Unsupported:
        results, _ = _run(searcher, q, limit=None)
        pairs = sorted((docnum, float(score or 0.0)) for score, docnum in results.top_n)
        return (np.fromiter((d for d, _ in pairs), np.int64, len(pairs)),
                np.fromiter((s for _, s in pairs), np.float64, len(pairs)))
    return found.docnums, found.scores


def _filter_query(filters: Filters) -> wq.Query | None:
    """The Whoosh query of the structured filters (None when there are none)."""
    planned = filters.plan()
    return to_whoosh(planned) if planned is not None else None


def _filtered(q: wq.Query, extra: wq.Query | None) -> wq.Query:
    """``q`` restricted to the structured filters' matches (which score nothing)."""
    return q if extra is None else wq.And([q, wq.ConstantScoreQuery(extra, 0.0)])


@dataclass(frozen=True)
class _Partial:
    """Partial matches chosen for a page: document numbers and sort keys in order, and the units each lacks
    (by document number)."""

    docnums: np.ndarray
    keys: np.ndarray
    missing: dict[int, tuple[str, ...]]
    covered: dict[int, float] = field(default_factory=dict)  # how much of the query each holds (relevance sort)

    @classmethod
    def none(cls) -> _Partial:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float64), {})


def _rank_with_whoosh(searcher: Searcher, q: wq.Query, *, limit: int | None,
                      sort: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_rank` by Whoosh's collectors."""
    sortedby = sorting.FieldFacet("date", reverse=sort == "newest") if sort != "relevance" else None
    results, matched = _run(searcher, q, limit=limit, sortedby=sortedby)
    top = results.top_n
    return (np.fromiter((docnum for _, docnum in top), np.int64, len(top)),
            np.fromiter((float(score or 0.0) for score, _ in top), np.float64, len(top)), matched)


def _run(searcher: Searcher, q: wq.Query, *, limit: int | None, sortedby=None):
    """Run ``q``, scoring every match exactly; return Whoosh's results and every match's document number.

    Whoosh's default collectors prune sub-queries whose estimated best score
    cannot reach the top N ("matcher replacement", block quality). Those
    estimates are wrong for constant-score and phrase parts, which silently
    dropped matches and mis-ranked results, so pruning is turned off here.
    """
    if sortedby is not None:
        collector = collectors.SortingCollector(sortedby, limit=limit)
    elif limit is None:
        collector = collectors.UnlimitedCollector()
    else:
        collector = collectors.TopCollector(limit, usequality=False, replace=0)
    recorder = _MatchRecorder(collector)
    searcher.search_with_collector(q, recorder)
    return recorder.results(), np.frombuffer(recorder.docnums, dtype=np.int32).astype(np.int64)


class _MatchRecorder(collectors.WrappingCollector):
    """Passes every match on to its collector and records its document number (for facets)."""

    def prepare(self, top_searcher, q, context):
        self.docnums = array("i")
        super().prepare(top_searcher, q, context)

    def collect(self, sub_docnum):
        self.docnums.append(self.offset + sub_docnum)
        return self.child.collect(sub_docnum)


def _stored_post(stored: dict) -> StoredPost:
    """Return a post's stored fields as Whoosh gives them back (naive UTC dates) as a :class:`StoredPost`."""
    return StoredPost(id=stored["id"], title=stored["title"], source=stored.get("source", ""),
                      categories=tuple(stored.get("categories") or ()), date=_aware(stored.get("date")),
                      image=stored.get("image"), lang=stored.get("lang"), date_zoned=bool(stored.get("date_zoned")),
                      front_matter=stored.get("front_matter"))


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value else None
