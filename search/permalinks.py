"""Posts' public URLs on the Hexo blog they come from, computed the way Hexo computes them.

A post's URL is the blog's address (Hexo's ``url`` setting) joined with its
path: the post's own front-matter ``permalink`` if it has one, otherwise the
blog's ``permalink`` pattern, such as Hexo's default ``:year/:month/:day/:title/``.
The pattern's variables are Hexo's:

* ``:title`` (or ``:slug``) the file's path under ``source/_posts`` without its
  extension (our document id without ``.md``), ``:name`` the file name alone;
* ``:year :month :day :hour :minute :second`` zero-padded, ``:i_month :i_day`` not,
  ``:timestamp`` Unix seconds;
* ``:post_title`` the title and ``:category`` the category path, both slugified
  as Hexo does (``default_category`` for a post without categories);
* ``:hash`` Hexo's 12-digit hash of the file path and the date;
* any other field of the post's front matter, e.g. ``:abbrlink`` (hexo-abbrlink) or ``:lang``.

``:id`` (Hexo's database id) changes from one build of the blog to the next, so it is refused.

Dates follow Hexo. A date written without a zone (``2022-09-03``, ``2022-09-03
10:00:00``, or any YAML timestamp) is shown as written, in the blog's zone; the
index keeps exactly that wall-clock time, labelled UTC. A date written as text
with its own zone (``'Tue, 25 Jan 2022 17:07:56 GMT'``) is an instant, which
Hexo shows in the zone of the machine that builds the blog: ``timezone``, which
is also Hexo's ``timezone`` setting (give the same zone to both).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Hexo's default ``permalink`` setting.
DEFAULT_PERMALINK = ":year/:month/:day/:title/"
#: A variable in a pattern, as Hexo finds them (ASCII word characters, not ending in "_").
VARIABLE = re.compile(r":(\w*[^_\W])", re.ASCII)
DATE_FORMATS = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M", "second": "%S"}
#: Variables that need the post's date.
DATED = frozenset(DATE_FORMATS) | {"i_month", "i_day", "timestamp", "hash"}
#: Characters a path keeps as they are: JavaScript's encodeURI set (as Hexo), minus ``?`` and ``#``,
#: which would end the path where the file name contains them.
PATH_SAFE = "/;,:@&=+$-_.!~*'()"
_CONTROL = re.compile(r"[\x00-\x1f]")
_SPECIAL = re.compile(r"""[\s~`!@#$%^&*()\-_+=\[\]{}|\\;:"'<>,.?/]+""")


@dataclass(frozen=True)
class PostUrls:
    """The blog's URL settings; :meth:`url` gives one post's public URL.

    >>> urls = PostUrls("https://blog.example.com", timezone="Asia/Shanghai")
    >>> urls.url(doc_id="科技/芯片 新闻.md", title="芯片", categories=(),
    ...          date=datetime(2022, 9, 3, tzinfo=timezone.utc))
    'https://blog.example.com/2022/09/03/%E7%A7%91%E6%8A%80/%E8%8A%AF%E7%89%87%20%E6%96%B0%E9%97%BB/'

    :raises ValueError: for a site that is not an http(s) URL, a pattern using
        ``:id`` or an unknown time zone.
    """

    site: str  # Hexo's ``url``: https://blog.example.com or https://example.com/blog
    permalink: str = DEFAULT_PERMALINK
    timezone: str = "UTC"
    default_category: str = "uncategorized"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        parts = urlsplit(self.site)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"the blog URL must look like https://blog.example.com, not {self.site!r}")
        if not self.permalink.strip():
            raise ValueError("the permalink pattern is empty")
        if "id" in VARIABLE.findall(self.permalink):
            raise ValueError("the permalink pattern cannot use :id (Hexo's database id changes between builds)")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}; use a name such as Asia/Shanghai") from None
        object.__setattr__(self, "_zone", zone)

    def url(self, *, doc_id: str, title: str, categories: Sequence[str], date: datetime | None,
            date_zoned: bool = False, front_matter: Mapping[str, str] | None = None) -> str | None:
        """Return the post's public URL, or None when the pattern needs a value the post lacks.

        ``date`` is the indexed (UTC) date; ``date_zoned`` says it was written
        with its own zone (see the module's docstring).
        """
        front_matter = front_matter or {}
        path = front_matter.get("permalink") or self._expand(doc_id, title, categories, date, date_zoned,
                                                              front_matter)
        if path is None:
            return None
        return f"{self.site.rstrip('/')}/{quote(path.lstrip('/'), safe=PATH_SAFE)}"

    def _expand(self, doc_id: str, title: str, categories: Sequence[str], date: datetime | None,
                date_zoned: bool, front_matter: Mapping[str, str]) -> str | None:
        slug = str(PurePosixPath(doc_id).with_suffix(""))
        local = self._wall_time(date, date_zoned) if date is not None else None
        values: dict[str, str] = {}
        for name in VARIABLE.findall(self.permalink):
            if name in DATED and local is None:
                return None
            if name in ("title", "slug"):
                values[name] = slug
            elif name == "name":
                values[name] = PurePosixPath(slug).name
            elif name == "post_title":
                values[name] = slugize(title).lower()
            elif name == "category":
                values[name] = "/".join(slugize(c) for c in categories) or self.default_category
            elif name in DATE_FORMATS:
                values[name] = local.strftime(DATE_FORMATS[name])
            elif name in ("i_month", "i_day"):
                values[name] = str(local.month if name == "i_month" else local.day)
            elif name == "timestamp":
                values[name] = str(int(local.timestamp()))
            elif name == "hash":
                values[name] = hashlib.sha1(f"{slug}{int(local.timestamp())}".encode()).hexdigest()[:12]
            elif name in front_matter:
                values[name] = front_matter[name]
            else:
                return None
        return VARIABLE.sub(lambda m: values[m.group(1)], self.permalink)

    def _wall_time(self, date: datetime, date_zoned: bool) -> datetime:
        """Return the post's date as Hexo shows it, in the blog's zone."""
        if date_zoned:
            return date.astimezone(self._zone)
        return date.astimezone(timezone.utc).replace(tzinfo=self._zone)  # the wall-clock time as written


def slugize(text: str) -> str:
    """Return ``text`` as Hexo's ``slugize`` makes it: Latin letters without accents, runs of
    spaces and ASCII punctuation made one ``-``; Chinese is kept.

    >>> slugize("Crème Brûlée: 做法 & 技巧!")
    'Creme-Brulee-做法-技巧'
    """
    text = "".join(_without_accent(c) if ord(c) > 126 else c for c in text)
    text = _SPECIAL.sub("-", _CONTROL.sub("", text))
    return re.sub(r"-{2,}", "-", text).strip("-")


def _without_accent(char: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base.isascii() and base.isalpha() else char
