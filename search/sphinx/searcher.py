"""The index on a Sphinx cluster, opened for reading: the same calls and results as :class:`search.Index`.

Queries go to the distributed index of any query node (see
:class:`search.sphinx.connection.QueryNodes` for fail-over). The query
language, the plan, snippets, highlighted titles and facet ordering are the
local index's; only matching (``MATCH()``), ranking (:mod:`.ranking`) and
counting (``GROUP BY``) run in searchd. One batch carries the page of hits
and the three facet counts, so a search is one round trip.
"""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import UTC, datetime
from typing import Self

from .. import plan
from ..analysis import warm_up, word_counts
from ..errors import IndexNotFoundError
from ..highlight import highlight_title, make_snippet
from ..query import parse_query, plan_query
from ..results import FacetCount, Hit, IndexStats, Post, SearchResults
from ..searcher import FACET_LIMIT, FACETS, Filters, _check_paging
from .cluster import ClusterMap, map_from_dict, node_status
from .connection import ClusterURL, QueryNodes, Result
from .documents import doc_key, unpack_text, word_token
from .match import to_match
from .ranking import SCALE, Collection, ranked_match, ranker_options

#: Seconds between checks of the cluster's meta index (a build or update changes it).
REFRESH_SECONDS = 5.0
#: Distinct facet values one query can count exactly (searchd keeps this many groups per shard).
FACET_GROUPS = 10_000
#: Key terms of a post looked up for related posts (as Whoosh's ``more_like``).
KEY_TERMS = 12
#: Characters of a post's text its related posts are chosen from (as the local index).
RELATED_TEXT_CHARS = 4000
#: Most distinct words of that text whose statistics are looked up.
RELATED_CANDIDATES = 500
_HIT_COLUMNS = "id, doc_id, title, source, categories, date, dated, image"
_EARLIEST = int(datetime(1000, 1, 1, tzinfo=UTC).timestamp())  # as the local index's stats


class SphinxIndex:
    """A search index on a Sphinx cluster.

    >>> ix = SphinxIndex.open(ClusterURL.parse("sphinx://127.0.0.1:9306"))   # doctest: +SKIP
    >>> ix.search("冬奥", sort="newest").total                                # doctest: +SKIP
    """

    def __init__(self, url: ClusterURL):
        self.url = url
        self._nodes = QueryNodes(url.addresses)
        self._lock = threading.Lock()
        self._meta: dict = {}
        self._collection: Collection | None = None
        self._docs = 0
        self._checked = -math.inf
        self._stats: IndexStats | None = None

    @classmethod
    def open(cls, url: ClusterURL) -> SphinxIndex:
        """Return the index on the cluster at ``url``, opened.

        :raises ClusterUnavailableError: if no query node answers.
        :raises IndexNotFoundError: if the cluster holds no index yet.
        """
        index = cls(url)
        index.refresh()
        warm_up(index._meta.get("userdict"))
        return index

    def refresh(self) -> bool:
        """Re-read what the last build or update recorded; return True if it changed."""
        meta_result, counts = self._nodes.select([
            f"SELECT data FROM {self.url.index}_meta WHERE id = 1",
            f"SELECT COUNT(*), SUM(title_words_len), SUM(body_words_len) FROM {self.url.index}",
        ])
        if not meta_result.rows:
            raise IndexNotFoundError(f"the cluster at {self.url} holds no index; build one with: "
                                     f"news-search build --corpus DIR --backend {self.url} --cluster FILE")
        meta = json.loads(meta_result.rows[0][0])
        docs, title_length, body_length = (int(v or 0) for v in (counts.rows[0] if counts.rows else (0, 0, 0)))
        shards = len(meta.get("topology", {}).get("shards", ())) or 1
        with self._lock:
            changed = meta != self._meta or docs != self._docs
            self._meta, self._docs, self._checked = meta, docs, time.monotonic()
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

    def search(self, text: str, *, page: int = 1, per_page: int = 10, sort: str = "relevance",
               filters: Filters | dict | None = None, half_life_days: float | None = None,
               now: datetime | None = None, snippets: bool = True, facets: bool = True) -> SearchResults:
        """Return one page of results for ``text``, as :meth:`search.Index.search` does.

        :raises QuerySyntaxError: for a bad query, filter, page or sort.
        :raises ClusterUnavailableError: if the cluster cannot answer completely.
        """
        started = time.perf_counter()
        _check_paging(page, per_page, sort, half_life_days)
        if not isinstance(filters, Filters):
            filters = Filters.from_mapping(filters)
        meta, collection = self._current()
        planned = plan_query(parse_query(text), userdict=meta.get("userdict"))
        node = planned.match
        if (filtered := filters.plan()) is not None:
            node = plan.AllOf((node, plan.Constant(filtered, 0.0)))
        match = to_match(node)
        first = (page - 1) * per_page
        count = per_page or max(self._docs, 1)
        columns = _HIT_COLUMNS + (", text" if snippets else "")
        rank = "WEIGHT()"
        if half_life_days:
            moment = int((now or datetime.now(UTC)).timestamp())
            rank = (f"WEIGHT()*IF(dated = 1, POW(0.5, IF(date < {moment}, {moment} - date, 0) / "
                    f"{half_life_days * 86400.0:.1f}), 0.5)")
        order = {"relevance": "score DESC", "newest": "date DESC", "oldest": "date ASC"}[sort]

        def page_of(count: int) -> str:
            return (f"SELECT {columns}, {rank} AS score FROM {self.url.index} WHERE MATCH(%s) "
                    f"ORDER BY {order}, id ASC LIMIT {first}, {count} "
                    f"OPTION {ranker_options(node, collection)}, max_matches={max(first + count, 1000)}")

        statements = [page_of(count)]
        if facets:
            statements += [self._count_by(name, matching=True) for name in FACETS]
        ranked = ranked_match(node)
        results = self._nodes.select(statements, [ranked] + [match] * (len(statements) - 1))
        hits, total = results[0].rows, results[0].total_found
        if not per_page and len(hits) < total:  # posts were added since the last refresh
            hits = self._nodes.select([page_of(total)], [ranked])[0].rows
        return SearchResults(
            query=text, total=total, page=page, per_page=per_page, sort=sort,
            hits=tuple(_hit(row, planned.highlights, planned.title_highlights, snippets) for row in hits),
            facets={name: _facet(name, result) for name, result in zip(FACETS, results[1:])},
            ms=(time.perf_counter() - started) * 1000)

    # --- single posts ------------------------------------------------------------------------

    def get(self, doc_id: str) -> Post | None:
        """Return the stored post ``doc_id``, or None if the cluster has no such post."""
        self._current()
        result = self._nodes.select([(f"SELECT {_HIT_COLUMNS}, text, html FROM {self.url.index} "
                                      f"WHERE id = {doc_key(doc_id)}")])[0]
        row = next((r for r in result.rows if r[1] == doc_id), None)
        if row is None:
            return None
        _, doc_id, title, source, categories, date, dated, image, text, html = row
        return Post(id=doc_id, title=title, source=source, categories=tuple(json.loads(categories)),
                    date=_date(date, dated), image=image or None, text=unpack_text(text), html=unpack_text(html))

    def more_like(self, doc_id: str, *, limit: int = 5) -> list[Hit]:
        """Return up to ``limit`` posts similar to ``doc_id``.

        Key terms are chosen as Whoosh's ``more_like`` does (Bo1 over the
        post's title twice and the start of its text, with the cluster's term
        statistics); the posts containing them are ranked by BM25.
        """
        post = self.get(doc_id)
        if post is None:
            return []
        meta, collection = self._current()
        counts = word_counts(f"{post.title} {post.title} {post.text[:RELATED_TEXT_CHARS]}", meta.get("userdict"))
        words = sorted(counts, key=lambda w: -counts[w])[:RELATED_CANDIDATES]
        if not words:
            return []
        tokens = {word_token(w): w for w in words}
        looked_up = self._nodes.select([f"SELECT id FROM {self.url.index} WHERE MATCH(%s) LIMIT 1 OPTION ranker=none"],
                                       [_any_word(tokens)])[0]
        frequencies = _keyword_hits(looked_up.meta)
        scored = sorted((-_bo1(counts[w], frequencies[t], self._docs), w) for t, w in tokens.items()
                        if frequencies.get(t))
        key_terms = tuple(w for _, w in scored[:KEY_TERMS])
        if not key_terms:
            return []
        node = plan.Words(key_terms)
        similar = self._nodes.select([(
            f"SELECT {_HIT_COLUMNS}, text, WEIGHT() AS score FROM {self.url.index} WHERE MATCH(%s) "
            f"AND id != {doc_key(doc_id)} ORDER BY score DESC, id ASC LIMIT 0, {limit} "
            f"OPTION {ranker_options(node, collection)}")], [to_match(node)])[0]
        return [_hit(row, (), (), True) for row in similar.rows]

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
            first_date=_date(first.rows[0][0], 1) if first.rows else None,
            last_date=_date(last.rows[0][0], 1) if last.rows else None,
            sources=_facet("source", sources, limit=None), categories=_facet("category", categories, limit=None))
        with self._lock:
            self._stats = stats
        return stats

    def _count_by(self, attribute: str, *, matching: bool = False) -> str:
        """Return the statement counting posts per value of ``attribute`` (among the matches of ``%s``)."""
        where = "WHERE MATCH(%s) " if matching else ""
        return (f"SELECT {attribute}, COUNT(*) FROM {self.url.index} {where}GROUP BY {attribute} "
                f"LIMIT 0, {FACET_GROUPS} OPTION ranker=none, max_matches={FACET_GROUPS}")


def _hit(row: tuple, highlights: tuple[str, ...], title_highlights: tuple[str, ...], snippets: bool) -> Hit:
    _, doc_id, title, source, categories, date, dated, image, *rest = row
    text = unpack_text(rest[0]) if snippets else ""
    return Hit(id=doc_id, title=title, title_html=highlight_title(title, title_highlights), source=source,
               categories=tuple(json.loads(categories)), date=_date(date, dated), image=image or None,
               score=float(rest[-1]) / SCALE, snippet=make_snippet(text, highlights) if snippets else "")


def _date(value, dated) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if int(dated) else None


def _facet(name: str, result: Result, limit: int | None = FACET_LIMIT) -> tuple[FacetCount, ...]:
    """Order facet counts as the local index does: months in order, other values by count (then value)."""
    counts = [(str(value), int(n)) for value, n in result.rows if value]
    if name == "month":
        counts.sort()
    else:
        counts.sort(key=lambda item: (-item[1], item[0]))
        counts = counts[:limit] if limit else counts
    return tuple(FacetCount(v, n) for v, n in counts)


def _any_word(tokens: dict[str, str]) -> str:
    return f"(@(title_words,body_words) {' | '.join(tokens)})"


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
