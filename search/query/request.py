"""A search's arguments, checked and read, whatever the engine: sorts, filters, paging, facets, date words.

Both backends start a search from :func:`read_request`, and the web and the
CLI take their limits and choices from here, so a rule (the sorts, the largest
page, what a query with no words is sorted by) is stated once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from . import plan
from .dates import RECENT_HALF_LIFE_DAYS, read_dates
from ..errors import QuerySyntaxError, shown
from ..writing.fields import filter_key
from .syntax import Node, has_words, parse_date_range, parse_query
from .results import QueryDate

#: The orders results can be listed in, and what a Chinese interface calls each.
SORT_LABELS = {"relevance": "相关度", "newest": "最新", "oldest": "最早"}
SORTS = tuple(SORT_LABELS)
#: The order asked for when none is: a query with no words to rank by is then listed newest first.
DEFAULT_SORT = "relevance"
FACETS = ("source", "category", "month")
#: Most results one page may hold (``per_page=0`` asks for every match; only the CLI's batch mode uses it).
MAX_PER_PAGE = 100
#: Most results a page of the web site or its API holds (and the most ``news-search serve --per-page`` sets).
MAX_SERVED_PER_PAGE = 50
#: Related coverage looks this many days either side of the article's date.
COVERAGE_DAYS = 30


@dataclass(frozen=True)
class Filters:
    """Structured filters, the API/CLI equivalent of ``source:``, ``category:`` and ``date:`` in a query."""

    source: str | None = None
    category: str | None = None
    date: str | None = None  # same forms as the query's date: value, e.g. "2022-01..2022-03"

    @classmethod
    def from_mapping(cls, values: dict | None) -> Filters:
        values = {k: v for k, v in (values or {}).items() if v not in (None, "")}
        unknown = set(values) - {"source", "category", "date", "author"}
        if unknown:
            raise QuerySyntaxError(f"unknown filter {sorted(unknown)[0]!r}; use source, category or date")
        if values.get("date"):
            parse_date_range(values["date"])  # a bad date is reported now, before any search
        return cls(source=values.get("source") or values.get("author"), category=values.get("category"),
                   date=values.get("date"))

    def plan(self) -> plan.Node | None:
        """Return the backend-neutral plan of these filters (None when there are none)."""
        parts: list[plan.Node] = []
        if self.source:
            parts.append(plan.Key("source", filter_key(self.source)))
        if self.category:
            parts.append(plan.Key("category", filter_key(self.category)))
        if self.date:
            dates = parse_date_range(self.date)
            parts.append(plan.Dates(dates.start, dates.end))
        return plan.AllOf(tuple(parts)) if parts else None


@dataclass(frozen=True)
class SearchRequest:
    """A search's arguments, checked, and its query read: what every backend starts from."""

    text: str
    node: Node | None
    dates: tuple[QueryDate, ...]
    filters: Filters
    sort: str
    half_life_days: float | None
    now: datetime
    sorts: tuple[str, ...] = SORTS  # the orders this query can be listed in (no relevance without words)


def read_request(text: str, *, page: int, per_page: int, sort: str, filters: Filters | dict | None,
                 half_life_days: float | None, now: datetime | date | None, date_parse: bool,
                 newest: date | None = None) -> SearchRequest:
    """Return the :class:`SearchRequest` of :meth:`Index.search`'s arguments.

    Date words become filters (a "recent" one blends in recency; a month or
    day without a year is its latest by ``newest``, the archive's newest
    post), and a query with nothing to rank by is listed newest first.

    :raises QuerySyntaxError: for a bad query, filter, page or sort.
    """
    check_paging(page, per_page, sort, half_life_days)
    if not isinstance(filters, Filters):
        filters = Filters.from_mapping(filters)
    now = moment(now)
    node, dates = parse_query(text), ()
    if date_parse:
        node, dates = read_dates(node, now.date(), newest)
        if not half_life_days and any(d.recent for d in dates):
            half_life_days = RECENT_HALF_LIFE_DAYS
    sorts = SORTS if has_words(node) else tuple(s for s in SORTS if s != "relevance")
    if sort not in sorts:
        sort = "newest"
    return SearchRequest(text, node, dates, filters, sort, half_life_days, now, sorts)


def check_paging(page: int, per_page: int, sort: str, half_life_days: float | None) -> None:
    """:raises QuerySyntaxError: for a page, page size, sort or half-life no search can take."""
    if not isinstance(page, int) or page < 1:
        raise QuerySyntaxError(f"page must be a whole number from 1 up, not {page!r}")
    if not isinstance(per_page, int) or per_page < 0:
        raise QuerySyntaxError(f"per_page must be a whole number from 0 up, not {per_page!r}")
    if sort not in SORTS:
        named = [f"{name}（{label}）" for name, label in SORT_LABELS.items()]
        raise QuerySyntaxError(f"sort must be one of {', '.join(SORTS)}, not {shown(sort)}",
                               zh=f"sort 只能是 {'、'.join(named[:-1])}或 {named[-1]}，收到 {shown(sort)}。")
    if half_life_days is not None and not (half_life_days > 0):
        raise QuerySyntaxError(f"half_life_days must be a positive number of days, not {half_life_days!r}")


def moment(now: datetime | date | None) -> datetime:
    """Return ``now`` as an aware UTC datetime (a date: its start; None: the current time)."""
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime):
        return datetime(now.year, now.month, now.day, tzinfo=UTC)
    return now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)


def page_bounds(page: int, per_page: int) -> tuple[int, int | None]:
    """Return the positions ``[first, last)`` of page ``page`` among all results (``per_page=0``: all of them).

    >>> page_bounds(3, 10), page_bounds(1, 0)
    ((20, 30), (0, None))
    """
    first = (page - 1) * per_page if per_page else 0
    return first, first + per_page if per_page else None
