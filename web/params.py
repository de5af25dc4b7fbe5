"""Reading and checking request arguments, shared by the pages and the JSON API.

Both call :func:`parse_search_args`; a bad value raises :class:`ParamError`,
whose message (Simplified Chinese) is shown to the reader as it is. What the
library checks itself (the sort, the date filter) it reports with
:class:`~search.QuerySyntaxError`, whose own message is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from search.errors import shown
from search.query.syntax import parse_date_bound
from search.query.request import DEFAULT_SORT, MAX_SERVED_PER_PAGE

#: Deepest page served (the library collects page * per_page hits).
MAX_PAGE = 500
#: Longest source, category or date value accepted (real names are far shorter).
MAX_FILTER_CHARS = 200
#: Accepted values of ``date_parse`` (read date words in the query as dates, or search them as text).
SWITCHES = {"1": True, "true": True, "0": False, "false": False}


class ParamError(ValueError):
    """A request argument that is missing, malformed or out of range; ``str()`` is for the reader."""


@dataclass(frozen=True)
class SearchParams:
    """One search request: query text, paging, sort and structured filters."""

    q: str = ""
    page: int = 1
    per_page: int = 10
    sort: str = ""  # as asked; "" asks for the library's default (the results say which sort was used)
    source: str = ""
    category: str = ""
    date: str = ""  # the API's raw date filter, e.g. "2022-01..2022-03"
    date_from: str = ""  # the form's from/to inputs: YYYY, YYYY-MM or YYYY-MM-DD
    date_to: str = ""
    date_parse: bool = True  # read date words in the query (去年, 3月5日) as a date filter
    fold: bool = True  # one entry per story; fold=0 lists every copy
    as_typed: bool = False  # search exactly what was typed: no pinyin, typo or date-word reading
    partial: bool = True  # partial matches after too few full ones; partial=0 lists only full matches
    default_per_page: int = 10

    @property
    def sort_asked(self) -> str:
        """The sort URLs and forms carry: "" for the library's default."""
        return self.sort if self.sort != DEFAULT_SORT else ""

    @property
    def date_filter(self) -> str:
        if self.date_from or self.date_to:
            return f"{self.date_from}..{self.date_to}"
        return self.date

    @property
    def date_label(self) -> str:
        """The date filter as a chip shows it: ``2022-09``, ``2022-01 至 2022-03``."""
        if self.date_from and self.date_from == self.date_to:
            return self.date_from
        if self.date_from or self.date_to:
            return f"{self.date_from or '最早'} 至 {self.date_to or '现在'}"
        return self.date

    @property
    def from_day(self) -> str:
        """``from`` as the first day it covers (``YYYY-MM-DD``, for a date input), or ""."""
        return parse_date_bound(self.date_from)[0].date().isoformat() if self.date_from else ""

    @property
    def to_day(self) -> str:
        """``to`` as the last day it covers, or ""."""
        return (parse_date_bound(self.date_to)[1] - timedelta(days=1)).date().isoformat() if self.date_to else ""

    @property
    def has_filters(self) -> bool:
        return bool(self.source or self.category or self.date_filter)

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to search for: no words and no filters."""
        return not self.q and not self.has_filters

    def filters(self) -> dict[str, str]:
        """Return the library's ``filters`` mapping."""
        return {"source": self.source, "category": self.category, "date": self.date_filter}

    def to_args(self, **changes) -> dict[str, str | int]:
        """Return URL arguments for these parameters with ``changes`` applied, defaults left out.

        Any change other than ``page`` goes back to page 1.
        """
        if "page" not in changes:
            changes["page"] = 1
        p = replace(self, **changes)
        args = {"q": p.q, "source": p.source, "category": p.category, "date": p.date,
                "from": p.date_from, "to": p.date_to, "date_parse": "" if p.date_parse else "0",
                "sort": p.sort_asked,
                "per_page": p.per_page if p.per_page != p.default_per_page else "",
                "fold": "" if p.fold else 0, "as_typed": 1 if p.as_typed else "", "partial": "" if p.partial else 0,
                "page": p.page if p.page != 1 else ""}
        return {k: v for k, v in args.items() if v not in ("", None)}


def parse_search_args(args, *, default_per_page: int, max_query_chars: int) -> SearchParams:
    """Return the :class:`SearchParams` of a request's query string (a ``MultiDict`` or dict).

    :raises ParamError: for a too-long query, a bad page, per_page or switch, or a date given twice.
    """
    q = (args.get("q") or "").strip()
    if len(q) > max_query_chars:
        raise ParamError(f"查询太长了（{len(q)} 个字符），请缩短到 {max_query_chars} 个字符以内。")
    params = SearchParams(
        q=q,
        page=_whole_number(args, "page", 1, 1, MAX_PAGE),
        per_page=_whole_number(args, "per_page", default_per_page, 1, MAX_SERVED_PER_PAGE),
        sort=(args.get("sort") or "").strip(),
        source=_filter_value(args, "source"),
        category=_filter_value(args, "category"),
        date=_filter_value(args, "date"),
        date_from=_filter_value(args, "from"),
        date_to=_filter_value(args, "to"),
        date_parse=_switch(args, "date_parse"),
        fold=_switch(args, "fold"),
        as_typed=_switch(args, "as_typed", default="0"),
        partial=_switch(args, "partial"),
        default_per_page=default_per_page,
    )
    if params.date and (params.date_from or params.date_to):
        raise ParamError("date 不能与 from/to 同时使用。")
    return params


def _whole_number(args, name: str, default: int, low: int, high: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and low <= int(raw) <= high):
        raise ParamError(f"{name} 必须是 {low} 到 {high} 之间的整数，收到 {shown(raw)}。")
    return int(raw)


def _switch(args, name: str, *, default: str = "1") -> bool:
    raw = (args.get(name) or default).strip().lower()
    if raw not in SWITCHES:
        raise ParamError(f"{name} 只能是 1 或 0（true 或 false），收到 {shown(raw)}。")
    return SWITCHES[raw]


def _filter_value(args, name: str) -> str:
    raw = (args.get(name) or "").strip()
    if len(raw) > MAX_FILTER_CHARS:
        raise ParamError(f"{name} 太长了（{len(raw)} 个字符），最多 {MAX_FILTER_CHARS} 个字符。")
    return raw
