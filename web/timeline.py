"""A small timeline of matching posts, from the month facet, drawn as inline SVG by the template.

Short spans get one bar per month; long ones one bar per year over the last
:data:`MAX_YEARS` years, plus an "earlier" bar for anything older (feeds with
broken dates reach back to 1970). Heights use a square-root scale so a month
with a handful of posts stays visible next to one with a thousand.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from search import FacetCount

MAX_MONTHS = 36
MAX_YEARS = 8
WIDTH, HEIGHT, GAP = 260, 56, 2
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Bar:
    """One bar: the period it counts (``start``/``end`` for the from/to filter) and its geometry."""

    label: str  # "2022-09", "2022" or "" (earlier)
    start: str
    end: str
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Timeline:
    bars: tuple[Bar, ...]
    first: str
    last: str
    width: int = WIDTH
    height: int = HEIGHT


def make_timeline(months: tuple[FacetCount, ...] | list[FacetCount]) -> Timeline | None:
    """Return the timeline of month facet counts (``YYYY-MM`` values), or None if there are none.

    >>> [(b.label, b.count) for b in make_timeline([FacetCount("2022-01", 2), FacetCount("2022-03", 5)]).bars]
    [('2022-01', 2), ('2022-02', 0), ('2022-03', 5)]
    """
    counts = {(int(m[1]), int(m[2])): f.count for f in months if (m := _MONTH.match(f.value))}
    if not counts:
        return None
    first, last = min(counts), max(counts)
    if (last[0] - first[0]) * 12 + last[1] - first[1] < MAX_MONTHS:
        periods = [(f"{y:04d}-{m:02d}", f"{y:04d}-{m:02d}", f"{y:04d}-{m:02d}", counts.get((y, m), 0))
                   for y, m in _month_range(first, last)]
    else:
        periods = _years(counts, first[0], last[0])
    return Timeline(bars=tuple(_layout(periods)), first=periods[0][0], last=periods[-1][0])


def _month_range(first: tuple[int, int], last: tuple[int, int]):
    y, m = first
    while (y, m) <= last:
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _years(counts: dict[tuple[int, int], int], first_year: int, last_year: int) -> list[tuple]:
    start = max(first_year, last_year - MAX_YEARS + 1)
    periods = []
    if first_year < start:
        earlier = sum(n for (y, _), n in counts.items() if y < start)
        periods.append(("", "", str(start - 1), earlier))
    for year in range(start, last_year + 1):
        total = sum(n for (y, _), n in counts.items() if y == year)
        periods.append((str(year), str(year), str(year), total))
    return periods


def _layout(periods: list[tuple]) -> list[Bar]:
    top = max(math.sqrt(p[3]) for p in periods) or 1.0
    step = WIDTH / len(periods)
    bars = []
    for i, (label, start, end, count) in enumerate(periods):
        height = 0.0 if not count else max(2.0, (HEIGHT - 2) * math.sqrt(count) / top)
        bars.append(Bar(label=label, start=start, end=end, count=count, x=round(i * step + GAP / 2, 2),
                        y=round(HEIGHT - height, 2), width=round(max(step - GAP, 1.0), 2),
                        height=round(height, 2)))
    return bars
