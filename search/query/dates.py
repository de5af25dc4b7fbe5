"""Dates typed in Chinese in a query: 去年, 2022年3月, 3月5日, 上周, 近三天, 2021年至2022年.

:func:`read_date` is the recogniser, a pure function of the words and "today";
:func:`read_dates` applies it to a parsed query, replacing each date expression
with a :class:`~search.query.syntax.DateFilter` and reporting what it read, so the
reader can see (and undo) the interpretation.

Decisions, each for a reason:

* **Only whole words are dates.** A query word, or a few adjacent ones
  (``2022年 3月``), must be *entirely* a date expression. ``2022年冬奥会``,
  ``去年同期``, ``2022年度``, ``30年来``, ``八年``, ``3300多公里``, ``5G``,
  ``iPhone 14``, a bare ``2021`` and anything in quotes stay text: search
  promises that text contained in a post finds it, and a date read out of the
  middle of a word would silently break that.
* **Calendar periods filter; vague words boost.** ``2022年3月`` or ``上周``
  names a period, and a post outside it is not what the reader asked for.
  ``最近``, ``近期`` and ``近来`` name none, so they only rank newer posts
  higher (a half-life of :data:`RECENT_HALF_LIFE_DAYS`), and only at the top
  level of a query (``最近 芯片``), where "recent" can qualify the whole search.
* **Periods are UTC calendar days**, like ``date:`` filters and the month
  facet the timeline is drawn from, so a month read from the query and the
  same month's timeline bar count the same posts.
* A month or day without a year (``3月``, ``3月5日``) is its most recent
  occurrence that has begun by today and, when the archive's newest post is
  known, by that post's day: ``3月`` in an archive that ends in 2022 is March
  2022, not a March the archive never reached. Such a date is weak (news
  text is full of "3月5日" naming the day of an event), so its words also
  match as text: ``3月 苹果`` finds posts of that March and posts that say 3月. Weeks start on Monday. Windows
  (``近三天``, ``最近一周``) end today and include it: ``近三天`` is today and
  the two days before.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta

from ..text.analysis import normalise
from .syntax import And, DateFilter, Node, Not, Or, Term
from .results import QueryDate

#: Half-life, in days, of the recency boost a vague time word (最近) asks for.
RECENT_HALF_LIFE_DAYS = 30.0
#: Most adjacent query words one expression may span (``2022 年 3 月 5 日`` is six).
MAX_WORDS = 7

VAGUE_WORDS = frozenset({"最近", "近期", "近来"})
#: Words naming a day, week or month relative to today: (unit, how many units back).
RELATIVE_WORDS = {
    "今天": ("day", 0), "昨天": ("day", 1), "前天": ("day", 2),
    "本周": ("week", 0), "这周": ("week", 0), "本星期": ("week", 0), "这星期": ("week", 0),
    "这个星期": ("week", 0), "这个礼拜": ("week", 0),
    "上周": ("week", 1), "上星期": ("week", 1), "上个星期": ("week", 1), "上礼拜": ("week", 1),
    "上个礼拜": ("week", 1),
    "本月": ("month", 0), "这月": ("month", 0), "这个月": ("month", 0),
    "上月": ("month", 1), "上个月": ("month", 1),
}
RELATIVE_YEARS = {"今年": 0, "去年": 1, "前年": 2}

_NUMERALS = "〇零一二两三四五六七八九十"
_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9}
#: Whitespace is dropped unless it separates two numbers (``1 2月`` is not December).
_SPACE = re.compile(rf"(?<![\d{_NUMERALS}])\s+|\s+(?![\d{_NUMERALS}])")
_WINDOW = re.compile(rf"(?:最近|近|过去)(?P<n>\d+|[{_NUMERALS}]+|半)个?(?P<unit>天|日|周|星期|礼拜|月|年)")
_TOKEN = re.compile(rf"""
    (?P<num>\d+|[{_NUMERALS}]+)
  | (?P<rel>{"|".join(RELATIVE_YEARS)})
  | (?P<unit>年|月份|月|日|号)
  | (?P<open>至今|迄今|以来)
  | (?P<sep>至|到|-|~|—|–)
  | (?P<from>从|自)
""", re.VERBOSE)
_UNITS = {"年": "y", "月份": "m", "月": "m", "日": "d", "号": "d"}
#: Every date expression names a unit; words without one are turned away cheaply.
_ANY_UNIT = re.compile("[年月日号周天期拜]")
_ORDER = "ymd"


def read_date(words: str, today: date, newest: date | None = None) -> DateFilter | None:
    """Return the range ``words`` name if they are entirely a Chinese date expression, else None.

    ``newest`` (the archive's newest post) bounds a month or day given without a year.

    >>> read_date("2022年3月", date(2023, 6, 15))
    DateFilter(start=datetime.datetime(2022, 3, 1, 0, 0), end=datetime.datetime(2022, 4, 1, 0, 0))
    >>> read_date("近三天", date(2023, 6, 15)).start
    datetime.datetime(2023, 6, 13, 0, 0)
    >>> read_date("3300多公里", date(2023, 6, 15)) is None
    True
    """
    found = _read(normalise(words), today, newest)
    return found[0] if found else None


def _read(folded: str, today: date, newest: date | None = None) -> tuple[DateFilter, bool] | None:
    """Return the range ``folded`` names and whether it was given without a year (``3月5日``), or None."""
    if not _ANY_UNIT.search(folded):
        return None
    text = _SPACE.sub("", folded)
    try:
        period, yearless = _relative(text, today) or _window(text, today), False
        if period is None:
            anchor = min(today, newest) if newest else today
            period, yearless = _calendar(text, today, anchor), "年" not in text
    except (ValueError, OverflowError):  # a day that does not exist, or a window reaching before year 1
        return None
    if period is None:
        return None
    start, end = period
    return DateFilter(_midnight(start), _midnight(end)), yearless


def read_dates(node: Node | None, today: date, newest: date | None = None) -> tuple[Node | None,
                                                                                   tuple[QueryDate, ...]]:
    """Return ``node`` with its date words replaced by date filters, and what was read, in query order.

    ``newest``, the day of the archive's newest post, bounds months and days given without a year.

    Vague words at the top level are removed and reported with ``recent=True``;
    a query left with nothing to match lists every post (the searcher then
    sorts newest first).

    >>> from search.query.syntax import parse_query
    >>> node, found = read_dates(parse_query("芯片 上个月"), date(2023, 6, 15))
    >>> node.children[1], found[0].text
    (DateFilter(start=datetime.datetime(2023, 5, 1, 0, 0), end=datetime.datetime(2023, 6, 1, 0, 0)), '上个月')
    """
    reader = _Reader(today, newest)
    return reader.rewrite(node, top=True), tuple(reader.found)


class _Reader:
    def __init__(self, today: date, newest: date | None):
        self.today, self.newest = today, newest
        self.found: list[QueryDate] = []

    def rewrite(self, node: Node | None, top: bool = False) -> Node | None:
        if _is_word(node):
            return _single(self.rewrite_words([node], top))
        if isinstance(node, And):
            return _single(self.rewrite_words(list(node.children), top))
        if isinstance(node, Or):
            return Or(tuple(self.rewrite(child) for child in node.children))
        if isinstance(node, Not):
            return Not(self.rewrite(node.child))
        return node

    def rewrite_words(self, children: list, top: bool) -> list:
        """Rewrite the children of an AND: runs of adjacent plain words may together be one date."""
        folded = [normalise(c.text) if _is_word(c) else "" for c in children]
        out, i = [], 0
        while i < len(children):
            child = children[i]
            if not _is_word(child):
                out.append(self.rewrite(child))
                i += 1
                continue
            run = i + 1
            while run < len(children) and run - i < MAX_WORDS and _is_word(children[run]):
                run += 1
            for j in range(run, i, -1):  # the longest run of words that is a date
                if (read := _read(" ".join(folded[i:j]), self.today, self.newest)) is not None:
                    found, yearless = read
                    words = " ".join(t.text for t in children[i:j])
                    out.append(Or((found, Term(words))) if yearless else found)
                    self.found.append(QueryDate(words, _utc(found.start), _utc(found.end), also_text=yearless))
                    i = j
                    break
            else:
                if top and folded[i] in VAGUE_WORDS:
                    self.found.append(QueryDate(child.text, recent=True))
                else:
                    out.append(child)
                i += 1
        return out


def _is_word(node) -> bool:
    return isinstance(node, Term) and not node.quoted


def _single(nodes: list) -> Node | None:
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


# --- the recogniser ------------------------------------------------------------------------------

def _relative(text: str, today: date) -> tuple[date, date] | None:
    """今天, 上周, 这个月, …"""
    if text not in RELATIVE_WORDS:
        return None
    unit, back = RELATIVE_WORDS[text]
    if unit == "day":
        day = today - timedelta(days=back)
        return day, day + timedelta(days=1)
    if unit == "week":
        monday = today - timedelta(days=today.weekday() + 7 * back)
        return monday, monday + timedelta(days=7)
    first = _months_before(today.replace(day=1), back)
    return first, _months_before(first, -1)


def _window(text: str, today: date) -> tuple[date, date] | None:
    """近三天, 最近一周, 过去两个月, 近半年: a span ending today, today included."""
    match = _WINDOW.fullmatch(text)
    if not match:
        return None
    raw, unit = match["n"], match["unit"]
    if raw == "半":
        days, months = {"月": (15, 0), "年": (0, 6)}.get(unit, (None, None))
    else:
        n = _number(raw)
        if not n:
            return None
        days = {"天": n, "日": n, "周": 7 * n, "星期": 7 * n, "礼拜": 7 * n}.get(unit, 0)
        months = {"月": n, "年": 12 * n}.get(unit, 0)
    if days is None:
        return None
    tomorrow = today + timedelta(days=1)
    start = tomorrow - timedelta(days=days) if days else _months_before(today, months) + timedelta(days=1)
    return start, tomorrow


def _calendar(text: str, today: date, anchor: date) -> tuple[date, date] | None:
    """2022年, 2022年3月, 3月5日, 去年12月, 2021年至2022年, 2021-2022年, 3月5日到10日, 2021年以来.

    Relative years count from ``today``; a month or day without a year is its latest by ``anchor``.
    """
    tokens = _tokens(text)
    if tokens is None:
        return None
    i = 1 if tokens and tokens[0][0] == "from" else 0
    left, i = _fields(tokens, i, today)
    if not left:
        return None
    if i == len(tokens):
        return _period(left, anchor) if left[-1][0] else None
    kind = tokens[i][0]
    if kind == "open" and i + 1 == len(tokens) and left[-1][0]:
        start = _period(left, anchor)
        return (start[0], None) if start else None
    if kind != "sep":
        return None
    right, end = _fields(tokens, i + 1, today)
    if not right or end != len(tokens) or not right[-1][0]:
        return None
    if not left[-1][0]:  # 2021-2022年: the left number takes the right one's unit
        value = _value(right[0][0], left[-1][1])
        if value is None:
            return None
        left[-1] = (right[0][0], value)
    return _range(left, right, anchor)


def _tokens(text: str) -> list[tuple[str, str]] | None:
    tokens, i = [], 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        if not match:
            return None
        tokens.append((match.lastgroup, match.group()))
        i = match.end()
    return tokens


def _fields(tokens: list, i: int, today: date) -> tuple[list[tuple[str | None, int | str]], int]:
    """Read ``(unit, value)`` pairs (units y, m, d in order) from ``tokens[i]``; stop at anything else.

    A number directly before a separator is returned as ``(None, its text)``
    (``2021``-2022年): its unit is the one after the separator. Returns
    ``([], i)`` when the fields are not a valid sequence.
    """
    fields: list[tuple[str | None, int | str]] = []
    while i < len(tokens):
        kind, text = tokens[i]
        after = tokens[i + 1][0] if i + 1 < len(tokens) else ""
        if kind == "rel":
            fields.append(("y", today.year - RELATIVE_YEARS[text]))
            i += 1
        elif kind == "num" and after == "unit":
            unit = _UNITS[tokens[i + 1][1]]
            value = _value(unit, text)
            if value is None:
                return [], i
            fields.append((unit, value))
            i += 2
        elif kind == "num" and after == "sep":
            fields.append((None, text))
            i += 1
            break
        else:
            break
    units = "".join(u or "" for u, _ in fields)
    if units and units not in _ORDER:  # out of order or with a gap (年 then 日)
        return [], i
    return fields, i


def _period(fields: list, today: date, context: dict | None = None) -> tuple[date, date] | None:
    """Return ``(first day, day after)`` of a period; missing leading fields come from ``context`` or today."""
    values = {**(context or {}), **dict(fields)}
    values = {u: values[u] for u in _ORDER[:_ORDER.index(fields[-1][0]) + 1] if u in values}
    if "m" not in values:
        if "d" in values:  # 5日 alone is not a date
            return None
        return date(values["y"], 1, 1), date(values["y"] + 1, 1, 1)
    if not 1 <= values["m"] <= 12:
        return None
    year = values.get("y") or _latest_year(values["m"], values.get("d", 1), today)
    if year is None:
        return None
    first = date(year, values["m"], values.get("d", 1))
    if "d" in values:
        return first, first + timedelta(days=1)
    return first, _months_before(first, -1)


def _range(left: list, right: list, today: date) -> tuple[date, date] | None:
    if _ORDER.index(right[0][0]) < _ORDER.index(left[0][0]):  # 3月至2023年5月: the right end knows more
        return None
    first = _period(left, today)
    if first is None:
        return None
    known = {"y": first[0].year, "m": first[0].month, "d": first[0].day}
    context = {u: known[u] for u in _ORDER[:_ORDER.index(right[0][0])]}
    last = _period(right, today, context)
    if last is None:
        return None
    if last[1] <= first[0] and right[0][0] == "m":  # 11月至2月: into the next year
        context["y"] += 1
        last = _period(right, today, context)
    if last is None:
        return None
    if last[1] <= first[0]:  # 2022年至2021年: the reader means the span between
        first, last = last, first
    return first[0], last[1]


def _latest_year(month: int, day: int, today: date) -> int | None:
    """The year of the latest ``month``/``day`` begun by ``today`` (2月29日 looks back for a leap year)."""
    for year in range(today.year, today.year - 9, -1):
        try:
            if date(year, month, day) <= today:
                return year
        except ValueError:
            continue
    return None


def _value(unit: str, text: str) -> int | None:
    """A year is four digits (2022, 二〇二二); a month or day a number up to 99."""
    return _year(text) if unit == "y" else _number(text)


def _year(text: str) -> int | None:
    """2022 or 二〇二二: four digits."""
    if len(text) != 4:
        return None
    if text.isascii():
        return int(text) if text.isdigit() and text[0] != "0" else None
    if any(ch not in _DIGITS or ch == "两" for ch in text):
        return None
    return int("".join(str(_DIGITS[ch]) for ch in text))


def _number(text: str) -> int | None:
    """3, 12, 三, 十二, 二十三, 两: a count, month or day (at most 99)."""
    if text.isascii():
        return int(text) if text.isdigit() and len(text) <= 4 else None
    tens, has_ten, units = text.partition("十")
    if not has_ten:
        return _DIGITS.get(text) if len(text) == 1 else None
    if len(tens) > 1 or len(units) > 1 or tens in ("〇", "零") or units in ("〇", "零", "十"):
        return None
    if (tens and tens not in _DIGITS) or (units and units not in _DIGITS):
        return None
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0)


def _months_before(day: date, months: int) -> date:
    """``day`` moved back ``months`` calendar months (forward if negative), clamped to the month's length."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _midnight(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day) if day else None


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None
