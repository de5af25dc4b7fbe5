"""Value types returned by the search API; dicts appear only in ``to_dict()`` (the JSON boundary)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class Copy:
    """Another copy of a hit's story (a re-post or an edited re-publication)."""

    id: str
    title: str
    source: str
    date: datetime | None
    url: str | None = None  # on the blog, as for Hit
    lang: str | None = None  # BCP 47, as for Hit

    def to_dict(self) -> dict:
        return {"path": self.id, "title": self.title, "source": self.source, "date": _iso(self.date),
                "url": self.url, "lang": self.lang}


@dataclass(frozen=True)
class Share:
    """One ranking feature's part in a hit's score (see :mod:`search.local.explain`): ``value`` added to the sum,
    or, with ``factor``, a number multiplying it."""

    feature: str
    value: float
    factor: bool = False

    def to_dict(self, total: float) -> dict:
        share = None if self.factor or not total else round(self.value / total, 4)
        return {"feature": self.feature, "value": round(self.value, 4), "factor": self.factor, "share": share}


@dataclass(frozen=True)
class Hit:
    """One search result.

    ``snippet`` and ``title_html`` are HTML-safe: all text escaped, matches
    wrapped in ``<mark>``. ``title`` is plain text. ``url`` is the post's public
    URL on the blog, when the index was opened with the blog's URL settings.
    ``lang`` is the BCP 47 tag of the language the post is written in
    (``zh-Hans``, ``zh-Hant``, ``en``, ``ja``, ...; None if it has no letters).
    """

    id: str  # POSIX path relative to the corpus root
    title: str
    title_html: str
    source: str
    categories: tuple[str, ...]
    date: datetime | None
    image: str | None
    score: float
    snippet: str
    url: str | None = None
    copies: tuple[Copy, ...] = ()  # the story's other copies, earliest first (folded results only)
    lang: str | None = None
    partial: bool = False  # holds only some of the query's required words (see search.query.fallback)
    missing: tuple[str, ...] = ()  # those it lacks (folded), for a partial match
    explanation: tuple[Share, ...] = ()  # the score feature by feature, when asked for (search.local.explain)

    def to_dict(self) -> dict:
        out = {"path": self.id, "score": round(self.score, 4), "title": self.title,
               "title_html": self.title_html, "source": self.source, "categories": list(self.categories),
               "date": _iso(self.date), "image": self.image, "snippet": self.snippet, "url": self.url,
               "lang": self.lang, "copies": [c.to_dict() for c in self.copies], "partial": self.partial,
               "missing": list(self.missing)}
        if self.explanation:
            total = sum(s.value for s in self.explanation if not s.factor)
            out["explain"] = [s.to_dict(total) for s in self.explanation]
        return out


@dataclass(frozen=True)
class FacetCount:
    """How many results have ``value`` in a facet."""

    value: str
    count: int


@dataclass(frozen=True)
class QueryDate:
    """Words of the query read as a date (``去年``, ``2022年3月``, ``近三天``).

    A period is a filter from ``start`` up to ``end`` (exclusive, UTC; either
    may be open). A vague word (``最近``, ``recent=True``) names no period and
    ranks newer posts higher instead. A month or day without a year
    (``also_text=True``) also finds posts that contain the words.
    """

    text: str  # the words as typed
    start: datetime | None = None
    end: datetime | None = None
    recent: bool = False
    also_text: bool = False

    @property
    def last_day(self) -> date | None:
        """The last day of the period (``end`` is the first instant after it)."""
        return (self.end - timedelta(days=1)).date() if self.end else None

    @property
    def date_filter(self) -> str:
        """The same period as a ``date:`` value (``2022-09-01..2022-09-30``; "" for a vague word)."""
        if self.recent:
            return ""
        first = f"{self.start:%Y-%m-%d}" if self.start else ""
        return f"{first}..{self.last_day:%Y-%m-%d}" if self.end else f"{first}.."

    def to_dict(self) -> dict:
        return {"text": self.text, "kind": "recent" if self.recent else "range",
                "start": _iso(self.start), "end": _iso(self.end), "date": self.date_filter or None,
                "also_text": self.also_text}


@dataclass(frozen=True)
class Rewrite:
    """One part of a query read otherwise: ``typed`` as the reader typed it, ``read`` as it was searched.

    ``kind``: ``pinyin`` (``dongaohui`` -> 冬奥会), ``initials`` (``znsj`` ->
    智能手机), ``spelling`` (a Latin typo), ``homophone`` or ``shape`` (a Han
    character replaced by one that sounds or looks the same), ``date_text``
    (date words searched as text), ``date`` (date words read as a period,
    ``read`` being its ``date:`` value).
    """

    typed: str
    read: str
    kind: str

    def to_dict(self) -> dict:
        return {"typed": self.typed, "read": self.read, "kind": self.kind}


@dataclass(frozen=True)
class Reading:
    """One way of reading a query: what to search for it (``text``, with ``date_parse``), how it differs
    from what was typed, and how many posts it finds.

    ``kind`` is ``typed`` (the query exactly as typed), ``pinyin``,
    ``spelling`` or ``date_text`` (see :class:`Rewrite`); ``dates`` are the
    periods it filters by.
    """

    text: str
    kind: str
    rewrites: tuple[Rewrite, ...] = ()
    total: int = 0  # matching posts
    dates: tuple[QueryDate, ...] = ()
    date_parse: bool = True

    @property
    def is_typed(self) -> bool:
        """True for the query exactly as typed (searched with ``as_typed``)."""
        return self.kind == "typed"

    def to_dict(self) -> dict:
        return {"query": self.text, "kind": self.kind, "total": self.total,
                "rewrites": [r.to_dict() for r in self.rewrites], "dates": [d.to_dict() for d in self.dates],
                "date_parse": self.date_parse}


@dataclass(frozen=True)
class SearchResults:
    """One page of results plus totals and facet counts over the whole result set.

    With ``counts == "stories"`` (folded results) ``total``, the pages and the
    facet counts count stories, each shown once with its other copies;
    ``total_posts`` always counts the matching posts.

    When the query's words, all together, find too little, the last
    ``partial`` of the ``total`` results are partial matches (each hit says so
    and what it lacks); ``exact`` is how many results hold every word.
    """

    query: str
    total: int
    page: int
    per_page: int  # 0 means every match on one page
    sort: str
    hits: tuple[Hit, ...]
    facets: dict[str, tuple[FacetCount, ...]] = field(default_factory=dict)
    ms: float = 0.0
    total_posts: int | None = None  # None: same as total
    counts: str = "posts"  # what total, pages and facets count: "stories" or "posts"
    dates: tuple[QueryDate, ...] = ()  # date words read from the query (none when date reading is off)
    reading: Reading | None = None  # the reading searched instead of the typed query (None: as typed)
    offered: tuple[Reading, ...] = ()  # other readings: the typed query when ``reading`` is set, and 您是不是要找
    partial: int = 0  # results (of total) that hold only some of the words, listed after the others
    #: The orders this query can be listed in (``search.query.request.SORTS`` less relevance for a query with no words).
    sorts: tuple[str, ...] = ("relevance", "newest", "oldest")

    @property
    def exact(self) -> int:
        """Results holding every required word."""
        return self.total - self.partial

    @property
    def exact_posts(self) -> int:
        """Posts holding every required word."""
        return (self.total if self.total_posts is None else self.total_posts) - self.partial

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        if not self.per_page:
            return 1
        return max(1, -(-self.total // self.per_page))

    def to_dict(self) -> dict:
        return {"query": self.query, "total": self.total, "page": self.page, "per_page": self.per_page,
                "total_posts": self.total if self.total_posts is None else self.total_posts,
                "counts": self.counts, "pages": self.pages, "sort": self.sort, "ms": round(self.ms, 3),
                "partial": bool(self.partial), "exact": self.exact,
                "hits": [h.to_dict() for h in self.hits],
                "facets": {name: [{"value": f.value, "count": f.count} for f in counts]
                           for name, counts in self.facets.items()},
                "dates": [d.to_dict() for d in self.dates],
                "reading": self.reading.to_dict() if self.reading else None,
                "offered": [r.to_dict() for r in self.offered]}


@dataclass(frozen=True)
class Post:
    """A whole stored article, for the article page and ``/api/post``."""

    id: str
    title: str
    source: str
    categories: tuple[str, ...]
    date: datetime | None
    image: str | None
    text: str
    html: str  # as written by the author: sanitise before showing it
    url: str | None = None  # on the blog, as for Hit
    copies: tuple[Copy, ...] = ()  # the other copies of its story, earliest first
    lang: str | None = None  # BCP 47, as for Hit

    def to_dict(self) -> dict:
        return {"path": self.id, "title": self.title, "source": self.source,
                "categories": list(self.categories), "date": _iso(self.date), "image": self.image,
                "text": self.text, "url": self.url, "lang": self.lang,
                "copies": [c.to_dict() for c in self.copies]}


@dataclass(frozen=True)
class IndexStats:
    """What an index holds and where it came from."""

    docs: int
    size_bytes: int
    built_at: str | None
    corpus: str | None
    generation: str
    segmenter: str | None
    first_date: datetime | None
    last_date: datetime | None
    sources: tuple[FacetCount, ...]
    categories: tuple[FacetCount, ...]
    segments: int | None = None  # of a local index: each query visits every one (merges keep them few)
    deleted: int = 0  # deleted posts its segments still hold, until a merge purges them
    whoosh_version: str | None = None  # of a local index: the Whoosh that wrote it (the installed one reads it)

    def to_dict(self) -> dict:
        return {"docs": self.docs, "segments": self.segments, "deleted": self.deleted,
                "size_bytes": self.size_bytes, "built_at": self.built_at,
                "corpus": self.corpus, "generation": self.generation, "segmenter": self.segmenter,
                "whoosh_version": self.whoosh_version,
                "first_date": _iso(self.first_date), "last_date": _iso(self.last_date),
                "sources": {f.value: f.count for f in self.sources},
                "categories": {f.value: f.count for f in self.categories}}
