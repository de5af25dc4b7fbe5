"""How values are shown: Jinja filters for local dates, numbers and thumbnails."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

from flask import Flask

from search.query.results import QueryDate

#: Beijing time (China has had no daylight saving since 1991); the library gives UTC.
LOCAL_TIME = timezone(timedelta(hours=8), "北京时间")
_IMAGE_PATH = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)$", re.IGNORECASE)
_IMAGE_QUERY = re.compile(r"(?:^|&)(?:wx_fmt|format|fm)=(?:jpe?g|png|gif|webp|avif)(?:&|$)", re.IGNORECASE)
#: Hosts that serve only images, whatever the path looks like.
IMAGE_HOSTS = ("mmbiz.qpic.cn", "sinaimg.cn", "hdslb.com", "zhimg.com", "pstatp.com", "byteimg.com")
#: Hosts of placeholder pictures, which are not the post's own.
PLACEHOLDER_HOSTS = ("picsum.photos", "placehold.co", "via.placeholder.com", "dummyimage.com")


def init_app(app: Flask) -> None:
    app.add_template_filter(local_date)
    app.add_template_filter(local_datetime)
    app.add_template_filter(local_month)
    app.add_template_filter(date_span)
    app.add_template_filter(number)
    app.add_template_filter(thumbnail)
    app.add_template_filter(atom_date)


def atom_date(value: datetime) -> str:
    """Return a time as Atom (RFC 3339) writes it, in UTC.

    >>> atom_date(datetime(2022, 2, 4, 8, 30, tzinfo=LOCAL_TIME))
    '2022-02-04T00:30:00Z'
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_date(value: datetime | None) -> str:
    """Return a date as Chinese readers write it, in Beijing time: ``2022年2月4日``.

    >>> local_date(datetime(2022, 2, 3, 20, 0, tzinfo=timezone.utc))
    '2022年2月4日'
    """
    if value is None:
        return ""
    local = value.astimezone(LOCAL_TIME) if value.tzinfo else value
    return _day(local)


def local_datetime(value: datetime | str | None) -> str:
    """Return a time (or an ISO 8601 string) in Beijing time: ``2022年2月4日 08:30``.

    >>> local_datetime("2022-02-04T00:30:00+00:00")
    '2022年2月4日 08:30'
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value is None:
        return ""
    local = value.astimezone(LOCAL_TIME) if value.tzinfo else value
    return f"{local_date(local)} {local:%H:%M}"


def local_month(value: str) -> str:
    """Return ``YYYY-MM`` (or ``YYYY``) as ``2022年9月`` (or ``2022年``).

    >>> local_month("2022-09"), local_month("2022")
    ('2022年9月', '2022年')
    """
    year, _, month = value.partition("-")
    return f"{year}年{int(month)}月" if month else f"{year}年"


def date_span(value: QueryDate) -> str:
    """Return the period a date word was read as, the way a reader writes it: ``2022年3月1日–3月31日``.

    The days are UTC days, as the filter is (not converted to Beijing time).

    >>> date_span(QueryDate("上个月", datetime(2022, 9, 1), datetime(2022, 10, 1)))
    '2022年9月1日–9月30日'
    >>> date_span(QueryDate("2021年以来", datetime(2021, 1, 1)))
    '2021年1月1日起'
    """
    first = value.start.date() if value.start else None
    last = value.last_day
    if first is None:
        return f"{_day(last)}及以前"
    if last is None:
        return f"{_day(first)}起"
    if first == last:
        return _day(first)
    end = _day(last)
    if last.year == first.year:
        end = end.removeprefix(f"{last.year}年")
    return f"{_day(first)}–{end}"


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def number(value: int) -> str:
    """Return an integer with thousands separators: ``2,023``."""
    return f"{value:,}"


def thumbnail(url: str | None) -> str | None:
    """Return ``url`` if it looks like a real picture (not a page, a proxy of a page, or a placeholder).

    >>> thumbnail("https://img1.example.com/a/b.JPG?w=300"), thumbnail("https://picsum.photos/400/300?random=1")
    ('https://img1.example.com/a/b.JPG?w=300', None)
    >>> thumbnail("https://cors.example.dev/?http://www.guokr.com/article/462262/")
    """
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or _on(host, PLACEHOLDER_HOSTS):
        return None
    if _IMAGE_PATH.search(parts.path) or _IMAGE_QUERY.search(parts.query) or _on(host, IMAGE_HOSTS):
        return url
    return None


def _on(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)
