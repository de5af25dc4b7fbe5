"""The index on a Sphinx cluster, opened for reading: the same calls and results as :class:`search.Index`.

Queries go to the distributed index of any query node (see
:class:`search.sphinx.connection.QueryNodes` for fail-over). Reading the
query (date words included), the plan, snippets, highlighted titles, blog
URLs and facet ordering are the local index's; only matching (``MATCH()``),
ranking (:mod:`.ranking`), folding copies of a story (``GROUP BY`` the story)
and counting run in searchd. One batch carries the page of hits and the facet
counts, so a search is one round trip (two when it shows a story's copies).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Self

import numpy as np

from ..query import plan
from ..text.analysis import DEFAULT_SEGMENTER, SECTION_BREAK, Segmenter, fold_sections, word_counts
from ..backend import KEY_TERMS, IndexBase, StoredPost, by_date, similar_text
from ..corpus.posts import Problem
from ..errors import IndexNotFoundError
from ..query.facets import ordered
from ..query.fallback import PARTIAL_LIMIT, coverage, partial_scores, wants_partial
from ..corpus.permalinks import PostUrls, find_unlinked
from ..query.syntax import Node, plan_query
from ..query.request import COVERAGE_DAYS, FACETS, SearchRequest, page_bounds
from ..query.results import Copy, Hit, IndexStats, Post, QueryDate, SearchResults
from ..query.synonyms import Synonyms, read_synonyms
from ..query.vocabulary import SUGGESTIONS, Vocabulary
from .cluster import ClusterMap, map_from_dict, node_status
from .connection import ClusterURL, QueryNodes, Result
from .documents import doc_key, unpack_row_content, word_token
from .match import to_match
from .ranking import SCALE, Collection, ranked_match, ranker_options

#: Seconds between checks of the cluster's meta index (a build or update changes it).
REFRESH_SECONDS = 5.0
#: Distinct facet values one query can count exactly (searchd keeps this many groups per shard).
FACET_GROUPS = 10_000
#: Most distinct words of that text whose statistics are looked up.
RELATED_CANDIDATES = 500
#: Most posts related-coverage ranks (the local index ranks every post with a key term).
COVERAGE_CANDIDATES = 1000
_POST = "id, doc_id, title, source, categories, date, dated, date_zoned, front_matter, image, story, lang"
#: Posts searchd ranks for the partial matches (the best :data:`search.query.fallback.PARTIAL_LIMIT` are listed).
PARTIAL_CANDIDATES = 2 * PARTIAL_LIMIT
#: A post's story: the canonical copy's id, or its own id when it has no copies.
_STORY = "IF(story = 0, id, story)"
_EARLIEST = int(datetime(1000, 1, 1, tzinfo=UTC).timestamp())  # as the local index's stats


class SphinxIndex(IndexBase):
    """A search index on a Sphinx cluster.

    >>> ix = SphinxIndex.open(ClusterURL.parse("sphinx://127.0.0.1:9306"))   # doctest: +SKIP
    >>> ix.search("冬奥", sort="newest").total                                # doctest: +SKIP

    Queries are read as for the local index, except that the cluster keeps no
    vocabulary: pinyin and typos are not read (``SearchResults.reading`` is
    only ever the date words searched as text), and :meth:`suggest` suggests
    nothing. Ranking follows the local index as far as searchd's ranker
    reaches (see :mod:`.ranking`); scores cannot be explained feature by
    feature here. Searches raise :class:`ClusterUnavailableError` if the
    cluster cannot answer completely.
    """

    cannot_explain = ("explaining scores needs the local index (searchd ranks with one expression); "
                      "run the query without --backend, on an index built with news-search build")

    def __init__(self, url: ClusterURL, *, post_urls: PostUrls | None = None,
                 synonyms: Synonyms | Path | str | None = None):
        self.url = url
        self.post_urls = post_urls
        self.synonyms = read_synonyms(synonyms)
        #: The word segmenter the cluster's posts were cut with; queries are cut by it too.
        self.segmenter: Segmenter = DEFAULT_SEGMENTER
        self._nodes = QueryNodes(url.addresses)
        self._lock = threading.Lock()
        self._meta: dict = {}
        self._collection = Collection(1, 0, 0)
        self._docs = 0
        self._checked = -math.inf
        self._stats: IndexStats | None = None

    @classmethod
    def open(cls, url: ClusterURL, *, post_urls: PostUrls | None = None,
             synonyms: Synonyms | Path | str | None = None) -> SphinxIndex:
        """Return the index on the cluster at ``url``, opened.

        :raises ClusterUnavailableError: if no query node answers.
        :raises IndexNotFoundError: if the cluster holds no index yet.
        """
        index = cls(url, post_urls=post_urls, synonyms=synonyms)
        index.refresh()
        index.segmenter.warm_up()
        return index

    def refresh(self) -> bool:
        """Re-read what the last build or update recorded; return True if it changed."""
        meta_result, counts = self._nodes.select([
            f"SELECT data FROM {self.url.index}_meta WHERE id = 1",
            f"SELECT COUNT(*) AS docs, SUM(title_words_len) AS title_length, SUM(body_words_len) AS body_length "
            f"FROM {self.url.index}",
        ])
        if not meta_result.rows:
            raise IndexNotFoundError(f"the cluster at {self.url} holds no index; build one with: "
                                     f"news-search build --corpus DIR --backend {self.url} --cluster FILE")
        meta = json.loads(meta_result.rows[0]["data"])
        totals = counts.rows[0] if counts.rows else {}
        docs, title_length, body_length = (int(totals.get(name) or 0)
                                           for name in ("docs", "title_length", "body_length"))
        shards = len(meta.get("topology", {}).get("shards", ())) or 1
        with self._lock:
            changed = meta != self._meta or docs != self._docs
            self._meta, self._docs, self._checked = meta, docs, time.monotonic()
            self.segmenter = Segmenter.from_meta(meta)
            # Every shard ranks with its own statistics; they are alike, so the mean shard stands for all.
            self._collection = Collection(
                docs=max(docs // shards, 1), title_length=title_length // shards, body_length=body_length // shards,
                has_length_totals=not self._nodes.server_version.startswith("2."))
            if changed:
                self._stats = None
        return changed

    def close(self) -> None:
        """Close the connections to the cluster."""
        self._nodes.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _current(self) -> tuple[dict, Collection]:
        if time.monotonic() - self._checked > REFRESH_SECONDS:
            self.refresh()
        with self._lock:
            return self._meta, self._collection

    # --- searching ---------------------------------------------------------------------------

    def _search_state(self) -> tuple[date | None, Vocabulary | None]:
        last = self.stats().last_date
        return (last.date() if last else None), None

    def suggest(self, prefix: str, *, limit: int = SUGGESTIONS) -> list[str]:
        """Return no completions: the cluster keeps no vocabulary (see :meth:`search`)."""
        return []

    def _matching(self, request: SearchRequest, node: Node | None) -> tuple[plan.Plan, plan.Node]:
        """Return the plan of ``node`` and the node to match with ``request``'s filters."""
        planned = plan_query(node, segmenter=self.segmenter, synonyms=self.synonyms)
        matched = planned.match
        if (filtered := request.filters.plan()) is not None:
            matched = plan.AllOf((matched, plan.Constant(filtered, 0.0)))
        return planned, matched

    def count_tree(self, request: SearchRequest, node: Node | None) -> int:
        """Return how many posts the syntax tree ``node`` matches under ``request``'s filters."""
        _, matched = self._matching(request, node)
        matched = plan.matching(matched)
        result = self._nodes.select([f"SELECT id FROM {self.url.index} WHERE MATCH(%s) LIMIT 1 OPTION ranker=none"],
                                    [to_match(matched)])[0]
        return result.total_found

    def search_tree(self, request: SearchRequest, node: Node | None, dates: tuple[QueryDate, ...], *, page: int,
                    per_page: int, snippets: bool, facets: bool, fold: bool, partial: bool = True,
                    explain: bool = False) -> SearchResults:
        """Return one page of results for the syntax tree ``node`` under ``request``'s filters and sort (and,
        with ``partial``, the partial matches that follow too few full ones); ``explain`` is never asked here
        (see :attr:`cannot_explain`)."""
        meta, collection = self._current()
        planned, node = self._matching(request, node)
        match, ranked = to_match(node), ranked_match(node)
        folding = fold and meta.get("stories", 0) > 0
        rank = "WEIGHT()"
        if request.half_life_days:
            moment = int(request.now.timestamp())
            rank = (f"WEIGHT()*IF(dated = 1, POW(0.5, IF(date < {moment}, {moment} - date, 0) / "
                    f"{request.half_life_days * 86400.0:.1f}), 0.5)")
        order = {"relevance": "score DESC", "newest": "date DESC", "oldest": "date ASC"}[request.sort]
        grouping = f"GROUP BY story_key WITHIN GROUP ORDER BY {order} " if folding else ""
        first, _ = page_bounds(page, per_page)

        def page_of(count: int) -> str:
            return (f"SELECT {_POST}, {'content, ' if snippets else ''}{_STORY} AS story_key, {rank} AS score "
                    f"FROM {self.url.index} WHERE MATCH(%s) {grouping}ORDER BY {order}, id ASC "
                    f"LIMIT {first}, {count} "
                    f"OPTION {ranker_options(node, collection)}, max_matches={max(first + count, 1000)}")

        count = per_page or max(self._docs, 1)
        statements, args = [page_of(count)], [ranked]
        if facets:
            statements += [self._count_by(name, matching=True) for name in FACETS]
        if folding:  # the matches that have copies: what turns counts of posts into counts of stories
            statements += [f"SELECT story, {', '.join(FACETS)} FROM {self.url.index} WHERE MATCH(%s) AND story != 0 "
                           f"LIMIT 0, {FACET_GROUPS} OPTION ranker=none, max_matches={FACET_GROUPS}",
                           f"SELECT id FROM {self.url.index} WHERE MATCH(%s) LIMIT 1 OPTION ranker=none"]
        results = self._nodes.select(statements, args + [match] * (len(statements) - 1))
        rows, total = results[0].rows, results[0].total_found
        copied = _Copied(results[-2].rows if folding else [])
        if folding:
            total = copied.stories(results[-1].total_found)
        if not per_page and len(rows) < total:  # posts were added since the last refresh
            rows = self._nodes.select([page_of(total)], [ranked])[0].rows
        partly: list[tuple[dict, tuple[str, ...]]] = []
        if partial and planned.relaxed is not None and wants_partial(total):
            partly = self._partial(planned, request.filters.plan(), collection, rank, order, folding, match)
            start = max(0, first - total)
            shown = partly[start:start + per_page - len(rows)] if per_page else partly
            rows = [*rows, *(row for row, _ in shown)]
        missing = {row["id"]: lacks for row, lacks in partly}
        copies = self._copies([_Row(row) for row in rows]) if folding else {}
        hits = tuple(self._hit(row, planned.highlights, planned.title_highlights, snippets, copies.get(row["id"], ()),
                               missing.get(row["id"]))
                     for row in rows)
        counted = {name: copied.facet(name, _counts(result, name))
                   for i, (name, result) in enumerate(zip(FACETS, results[1:1 + len(FACETS)] if facets else ()))}
        posts = results[-1].total_found if folding else total
        return SearchResults(
            query=request.text, total=total + len(partly), page=page, per_page=per_page, sort=request.sort,
            hits=hits, facets={name: ordered(name, counts) for name, counts in counted.items()},
            total_posts=posts + len(partly), counts="stories" if folding else "posts", dates=dates,
            partial=len(partly), sorts=request.sorts)

    def _partial(self, planned: plan.Plan, filtered: plan.Node | None, collection: Collection, rank: str,
                 order: str, folding: bool, match: str) -> list[tuple[dict, tuple[str, ...]]]:
        """Return the best partial matches (see :mod:`search.query.fallback`) as ``(row, units it lacks)``, best first.

        As on the local index: posts (one per story when folded) holding some
        of the plan's units and not a full match, each unit's rarity counted
        over the cluster. What differs: the candidates are searchd's best
        :data:`PARTIAL_CANDIDATES` by its ranker (the local index weighs them
        all), and which units a post holds is read from its text here.
        """
        node = planned.relaxed if filtered is None else plan.AllOf((planned.relaxed, plan.Constant(filtered, 0.0)))
        grouping = f"GROUP BY story_key WITHIN GROUP ORDER BY {order} " if folding else ""
        statements = [
            f"SELECT id, {_STORY} AS story_key FROM {self.url.index} WHERE MATCH(%s) "
            f"LIMIT 0, {FACET_GROUPS} OPTION ranker=none, max_matches={FACET_GROUPS}",
            f"SELECT {_POST}, content, {_STORY} AS story_key, {rank} AS score FROM {self.url.index} WHERE MATCH(%s) "
            f"{grouping}ORDER BY {order}, id ASC LIMIT 0, {PARTIAL_CANDIDATES} "
            f"OPTION {ranker_options(node, collection)}, max_matches={max(PARTIAL_CANDIDATES, 1000)}",
            *(f"SELECT id FROM {self.url.index} WHERE MATCH(%s) LIMIT 1 OPTION ranker=none" for _ in planned.units)]
        full, found, *units = self._nodes.select(
            statements, [match, ranked_match(node), *(to_match(u.match) for u in planned.units)])
        left_out = {int(row[key]) for row in full.rows for key in ("id", "story_key")}  # full matches, their stories
        rows = [row for row in found.rows if int(row["id"]) not in left_out and int(row["story_key"]) not in left_out]
        if not rows:
            return []
        held = np.array([[any(t in folded for t in unit.texts) for unit in planned.units]
                         for folded in map(_folded, rows)])
        if order.startswith("score"):
            covered = coverage(held, np.array([u.total_found for u in units]), self._docs)
            weighted = partial_scores(covered, np.array([float(row["score"]) for row in rows]))
            ranking = np.lexsort((np.array([int(row["id"]) for row in rows]), -weighted))
            rows = [{**rows[i], "score": weighted[i]} for i in ranking]
            held = held[ranking]
        return [(row, plan.Unit.missing(planned.units, has.tolist()))
                for row, has in zip(rows[:PARTIAL_LIMIT], held[:PARTIAL_LIMIT])]

    def _hit(self, row: dict, highlights: tuple[str, ...], title_highlights: tuple[str, ...], snippets: bool,
             copies: tuple[Copy, ...] = (), missing: tuple[str, ...] | None = None) -> Hit:
        text = unpack_row_content(row["content"])[0] if snippets else ""
        return self._make_hit(_Row(row).post, float(row["score"]) / SCALE, text, highlights, title_highlights,
                              snippets=snippets, copies=copies, missing=missing)

    def unlinked(self) -> list[Problem]:
        """Return the posts that get no URL on the blog, each with the reason (as :meth:`search.Index.unlinked`)."""
        if self.post_urls is None:
            return []
        self._current()
        posts, last = [], -1
        while True:  # in pages of FACET_GROUPS posts, by key
            rows = self._nodes.select([f"SELECT {_POST} FROM {self.url.index} WHERE id > {last} ORDER BY id ASC "
                                       f"LIMIT 0, {FACET_GROUPS} OPTION max_matches={FACET_GROUPS}"])[0].rows
            posts += [_Row(row).post.link_fields() for row in rows]
            if len(rows) < FACET_GROUPS:
                return find_unlinked(self.post_urls, posts)
            last = int(rows[-1]["id"])

    def _copies(self, posts: list[_Row]) -> dict[int, tuple[Copy, ...]]:
        """Return ``{post: the other copies of its story, earliest first}`` for the posts that have copies."""
        stories = sorted({post.story for post in posts if post.story})
        if not stories:
            return {}
        result = self._nodes.select([
            f"SELECT {_POST} FROM {self.url.index} WHERE story IN ({', '.join(map(str, stories))}) "
            f"ORDER BY story_rank ASC LIMIT 0, {FACET_GROUPS} OPTION max_matches={FACET_GROUPS}"])[0]
        members: dict[int, list[_Row]] = {}
        for row in result.rows:
            member = _Row(row)
            members.setdefault(member.story, []).append(member)
        return {post.key: tuple(self._make_copy(m.post) for m in members.get(post.story, ()) if m.key != post.key)
                for post in posts}

    # --- single posts ------------------------------------------------------------------------

    def get(self, doc_id: str) -> Post | None:
        """Return the stored post ``doc_id``, or None if the cluster has no such post."""
        row = self._row(doc_id)
        if row is None:
            return None
        post = _Row(row)
        text, html = unpack_row_content(row["content"])
        return self._make_post(post.post, text, html, self._copies([post]).get(post.key, ()))

    def _row(self, doc_id: str) -> dict | None:
        """Return the post columns and content of ``doc_id``, or None."""
        self._current()
        result = self._nodes.select([f"SELECT {_POST}, content FROM {self.url.index} WHERE id = {doc_key(doc_id)}"])
        return next((row for row in result[0].rows if row["doc_id"] == doc_id), None)

    def more_like(self, doc_id: str, *, limit: int = 5) -> list[Hit]:
        """Return up to ``limit`` posts similar to ``doc_id`` (key terms of its title and body)."""
        post = self.get(doc_id)
        if post is None:
            return []
        return [self._hit(row, (), (), True) for row in self._similar(post, limit)]

    def related_coverage(self, doc_id: str, *, days: float = COVERAGE_DAYS, limit: int = 10) -> list[Hit]:
        """Return the coverage around ``doc_id``, as :meth:`search.Index.related_coverage` does: up to
        ``limit`` stories most like it within ``days`` days of it, one entry per story, in date order."""
        row = self._row(doc_id)
        if row is None:
            return []
        own, post = _Row(row), self.get(doc_id)
        window = None
        if post.date is not None:
            middle, span = int(post.date.timestamp()), int(timedelta(days=days).total_seconds())
            window = (middle - span, middle + span)
        ranked = [_Row(r) for r in self._similar(post, COVERAGE_CANDIDATES, window)]
        rows = {r.key: r for r in ranked}
        shown, seen = [], {own.story or own.key}
        for candidate in ranked:  # one post per story: its original, if that is among the matches
            story = candidate.story or candidate.key
            if story not in seen:
                seen.add(story)
                shown.append(rows.get(story, candidate))
        shown = shown[:limit]
        copies = self._copies(shown)
        return by_date([self._hit(r.row, (), (), True, copies.get(r.key, ())) for r in shown])

    def _similar(self, post: Post, limit: int, window: tuple[int, int] | None = None) -> list[dict]:
        """Return rows of the posts most like ``post`` (best first, itself left out), optionally within a
        ``(first, last)`` window of publication times.

        Key terms are chosen as Whoosh's ``more_like`` does (Bo1 over the
        post's title twice and the start of its text, with the cluster's term
        statistics); the posts containing them are ranked by BM25.
        """
        _, collection = self._current()
        counts = word_counts(similar_text(post), self.segmenter)
        tokens = {word_token(w): w for w in sorted(counts, key=lambda w: -counts[w])[:RELATED_CANDIDATES]}
        if not tokens:
            return []
        looked_up = self._nodes.select([f"SELECT id FROM {self.url.index} WHERE MATCH(%s) LIMIT 1 OPTION ranker=none"],
                                       [f"(@(title_words,body_words) {' | '.join(tokens)})"])[0]
        frequencies = _keyword_hits(looked_up.meta)
        scored = sorted((-_bo1(counts[w], frequencies[t], self._docs), w) for t, w in tokens.items()
                        if frequencies.get(t))
        key_terms = tuple(w for _, w in scored[:KEY_TERMS])
        if not key_terms:
            return []
        node = plan.Words(key_terms)
        within = f"AND dated = 1 AND date >= {window[0]} AND date <= {window[1]} " if window else ""
        return self._nodes.select([
            f"SELECT {_POST}, content, {_STORY} AS story_key, WEIGHT() AS score FROM {self.url.index} "
            f"WHERE MATCH(%s) AND id != {doc_key(post.id)} {within}ORDER BY score DESC, id ASC LIMIT 0, {limit} "
            f"OPTION {ranker_options(node, collection)}, max_matches={max(limit, 1000)}"], [to_match(node)])[0].rows

    # --- statistics --------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        """Return document count, size, provenance, date range and per-source counts of the cluster."""
        meta, _ = self._current()
        with self._lock:
            if self._stats is not None:
                return self._stats
        dated = f"SELECT date FROM {self.url.index} WHERE dated = 1 AND date >= {_EARLIEST} ORDER BY date"
        sources, categories, first, last = self._nodes.select([
            self._count_by("source"), self._count_by("category"), f"{dated} ASC LIMIT 1", f"{dated} DESC LIMIT 1"])
        stats = IndexStats(
            docs=self._docs, size_bytes=_size(map_from_dict(meta["cluster"])) if meta.get("cluster") else 0,
            built_at=meta.get("built_at"), corpus=meta.get("corpus"), generation=f"{self.url} {meta.get('updated_at')}",
            segmenter=meta.get("segmenter"),
            first_date=_date(first.rows[0]["date"], 1) if first.rows else None,
            last_date=_date(last.rows[0]["date"], 1) if last.rows else None,
            sources=ordered("source", _counts(sources, "source"), limit=None),
            categories=ordered("category", _counts(categories, "category"), limit=None))
        with self._lock:
            self._stats = stats
        return stats

    def _count_by(self, attribute: str, *, matching: bool = False) -> str:
        """Return the statement counting posts per value of ``attribute`` (among the matches of ``%s``)."""
        where = "WHERE MATCH(%s) " if matching else ""
        return (f"SELECT {attribute}, COUNT(*) AS posts FROM {self.url.index} {where}GROUP BY {attribute} "
                f"LIMIT 0, {FACET_GROUPS} OPTION ranker=none, max_matches={FACET_GROUPS}")


def _folded(row: dict) -> str:
    """Return a post's searchable text as the recall field holds it: sections folded, compacted, apart."""
    post = _Row(row).post
    text = unpack_row_content(row["content"])[0]
    return SECTION_BREAK.join(fold_sections(SECTION_BREAK.join([post.title, post.source, " ".join(post.categories),
                                                                 text])))


class _Row:
    """A result row holding the post columns (:data:`_POST`), decoded: its key, story and stored fields."""

    def __init__(self, row: dict):
        self.row = row
        self.key, self.story = int(row["id"]), int(row["story"])
        self.post = StoredPost(
            id=row["doc_id"], title=row["title"], source=row["source"], categories=tuple(json.loads(row["categories"])),
            date=_date(row["date"], row["dated"]), image=row["image"] or None, lang=row["lang"] or None,
            date_zoned=bool(int(row["date_zoned"])), front_matter=json.loads(row["front_matter"] or "{}"))


def _date(value, dated) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if int(dated) else None


class _Copied:
    """The matches that have copies: each one's story and facet values (:data:`FACETS`).

    Counts of stories are counts of posts less the extra copies: searchd
    counts distinct values per shard, and a story's copies may lie on
    different shards, so the difference is taken here, exactly.
    """

    def __init__(self, rows: list[dict]):
        self.rows = [{**row, "story": int(row["story"])} for row in rows]

    def stories(self, posts: int) -> int:
        """Return how many stories ``posts`` matching posts make."""
        per_story = Counter(row["story"] for row in self.rows)
        return posts - sum(n - 1 for n in per_story.values())

    def facet(self, name: str, counts: dict[str, int]) -> dict[str, int]:
        """Return a facet's counts of posts as counts of stories."""
        per_value = Counter((str(row[name]), row["story"]) for row in self.rows)
        extra = Counter()
        for (value, _), n in per_value.items():
            extra[value] += n - 1
        return {value: n - extra[value] for value, n in counts.items()}


def _counts(result: Result, attribute: str) -> dict[str, int]:
    """Return ``{value: count}`` of a ``GROUP BY attribute`` result (empty values left out, as the local index
    does)."""
    return {str(row[attribute]): int(row["posts"]) for row in result.rows if row[attribute]}


def _keyword_hits(meta: dict[str, str]) -> dict[str, int]:
    """Return ``{token: occurrences in the cluster}`` from the keyword statistics of ``SHOW META``."""
    return {keyword: int(meta.get(f"hits[{key[8:-1]}]", 0))
            for key, keyword in meta.items() if key.startswith("keyword[")}


def _bo1(weight_in_text: int, frequency: int, docs: int) -> float:
    """Whoosh's Bo1 key-term score (``whoosh.classify.Bo1Model``) of a word."""
    f = frequency / max(docs, 1)
    return weight_in_text * math.log2((1.0 + f) / f) + math.log2(1.0 + f)


def _size(cluster: ClusterMap) -> int:
    """Return the bytes the shards use (one answering mirror each)."""
    total = 0
    for shard in range(len(cluster.shards)):
        for node in cluster.mirrors(shard):
            status = node_status(cluster, node)
            if status.up:
                total += status.sizes[shard]
                break
    return total
