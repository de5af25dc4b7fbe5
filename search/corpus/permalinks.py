"""Posts' public URLs on the Hexo blog they come from, computed the way Hexo 8 computes them.

A post's URL is the blog's address (Hexo's ``url`` setting) joined with its
path: the post's own front-matter ``permalink`` if it has one, otherwise the
blog's ``permalink`` pattern, such as Hexo's default ``:year/:month/:day/:title/``.
The pattern's variables are Hexo's:

* ``:title`` (or ``:slug``) the file's path under ``source/_posts`` without its
  extension (our document id without ``.md``), ``:name`` the file name alone
  (with a ``new_post_name`` such as ``:year-:month-:day-:title.md``, the part of
  the name that ``:title`` stands for there);
* ``:year :month :day :hour :minute :second`` zero-padded, ``:i_month :i_day`` not,
  ``:timestamp`` Unix seconds;
* ``:post_title`` the title and ``:category`` the category path, both slugified
  as Hexo does (``default_category`` for a post without categories);
* ``:hash`` Hexo's 12-digit hash of the file path and the date;
* any other field of the post's front matter, e.g. ``:abbrlink`` (hexo-abbrlink)
  or ``:lang``, else the blog's ``permalink_defaults``.

``:id`` (Hexo's database id) changes from one build of the blog to the next, so it is refused.

Dates involve two zones, and Hexo uses both. Its ``timezone`` setting
(``timezone`` here) says how a date written without a zone is read: ``date:
2022-09-26`` is midnight in that zone (with no setting, on the building
machine's clock). The URL's ``:year/:month/:day`` are then formatted in the
zone of the machine that runs ``hexo generate`` (``build_timezone``): a blog
set to Asia/Shanghai and built in UTC, as in most CI deploys, files that post
under ``2022/09/25``. :meth:`PostUrls.link` reproduces Hexo's arithmetic
exactly, including its treatment of dates written with their own zone.

Some posts get no page from Hexo, or a page no link can reach; :meth:`PostUrls.link`
gives those no URL and says why (see :data:`UNLINKABLE`), and the build report lists them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import NamedTuple
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .posts import Problem

#: Hexo's default ``permalink`` setting.
DEFAULT_PERMALINK = ":year/:month/:day/:title/"
#: Hexo's default ``new_post_name`` setting (how a post's file is named after its title).
DEFAULT_NEW_POST_NAME = ":title.md"
#: A variable in a pattern, as Hexo finds them (ASCII word characters, not ending in "_").
VARIABLE = re.compile(r":(\w*[^_\W])", re.ASCII)
DATE_FORMATS = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M", "second": "%S"}
#: Variables that need the post's date.
DATED = frozenset(DATE_FORMATS) | {"i_month", "i_day", "timestamp", "hash"}
#: What Hexo reads from a ``new_post_name`` such as ``:year-:month-:day-:title.md`` (other variables: ``(.+?)``).
FILE_NAME_PARTS = {"year": r"(\d{4})", "month": r"(\d{2})", "day": r"(\d{2})", "i_month": r"(\d{1,2})",
                   "i_day": r"(\d{1,2})", "hash": r"([0-9a-f]{12})"}
#: Variables of ``new_post_name`` that Hexo does not copy into the post's data.
_FILE_NAME_KEPT = frozenset({"title", "year", "month", "day", "i_month", "i_day", "hash"})
#: Characters a path keeps as they are: JavaScript's encodeURI set (as Hexo), minus ``?`` and ``#``,
#: which would end the path where the file name contains them.
PATH_SAFE = "/;,:@&=+$-_.!~*'()"
_CONTROL = re.compile(r"[\x00-\x1f]")
_SPECIAL = re.compile(r"""[\s~`!@#$%^&*()\-_+=\[\]{}|\\;:"'<>,.?/]+""")
#: A ``%`` that JavaScript's decodeURI cannot read.
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
#: Characters the WHATWG URL parser percent-encodes in a path (besides non-ASCII ones), before Hexo decodes it.
_URL_ENCODED = frozenset(' "<>`{}') | {chr(c) for c in range(0x20)} | {"\x7f"}

#: Why Hexo gives a post no page, or a page no link reaches (the reasons :meth:`PostUrls.link` gives).
UNLINKABLE = {
    "hidden": "Hexo skips files and folders whose names start with '_' or '.': it writes no page for this post",
    "percent": "Hexo 8 cannot build a URL with this '%' in it ('URIError: URI malformed') and writes no page "
               "for the post: rename the file (or set a permalink in its front matter) without '%'",
    "query": "the post's path holds a '?', where Hexo cuts it: it writes the page as {route!r} (not a web page) "
             "and its own links lead elsewhere; rename the file without '?'",
    "home": "the permalink gives this post the blog's home page as its path: Hexo writes one over the other",
    "undated": "the post has no date: Hexo dates it by the file's creation time on the machine that builds the "
               "blog, so its URL ({pattern}) cannot be known; add a date to its front matter",
    "missing": "the permalink {pattern} needs :{name}, which the post's front matter lacks (and permalink_defaults "
               "has no default): Hexo writes it to a path with 'undefined' in it",
    "same": "Hexo gives it the same page as {other}, and writes only one of them",
}


class Link(NamedTuple):
    """A post's URL on the blog, or None and the reason Hexo gives it no reachable page."""

    url: str | None
    problem: str | None = None


@dataclass(frozen=True)
class PostUrls:
    """The blog's URL settings (Hexo's ``_config.yml``); :meth:`url` gives one post's public URL.

    >>> urls = PostUrls("https://blog.example.com", timezone="Asia/Shanghai")
    >>> urls.url(doc_id="科技/芯片 新闻.md", title="芯片", categories=(),
    ...          date=datetime(2022, 9, 3, tzinfo=timezone.utc))
    'https://blog.example.com/2022/09/03/%E7%A7%91%E6%8A%80/%E8%8A%AF%E7%89%87%20%E6%96%B0%E9%97%BB/'

    The same blog built in UTC (a CI runner) files that post a day earlier:

    >>> PostUrls("https://blog.example.com", timezone="Asia/Shanghai", build_timezone="UTC").url(
    ...     doc_id="a.md", title="A", categories=(), date=datetime(2022, 9, 3, tzinfo=timezone.utc))
    'https://blog.example.com/2022/09/02/a/'

    :raises ValueError: for a site that is not an http(s) URL, a pattern using
        ``:id``, an unknown time zone or a bad ``filename_case``.
    """

    site: str  # Hexo's ``url``: https://blog.example.com or https://example.com/blog
    permalink: str = DEFAULT_PERMALINK
    #: Hexo's ``timezone`` setting: the zone a date written without one is read in ("" = the build machine's).
    timezone: str = ""
    #: The zone of the machine that runs ``hexo generate`` ("" = ``timezone``, or UTC without one).
    build_timezone: str = ""
    permalink_defaults: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: Hexo's ``pretty_urls``: keep a trailing ``index.html``, keep a trailing ``.html``.
    trailing_index: bool = True
    trailing_html: bool = True
    post_asset_folder: bool = False
    new_post_name: str = DEFAULT_NEW_POST_NAME
    default_category: str = "uncategorized"
    category_map: Mapping[str, str] = field(default_factory=dict, hash=False)
    filename_case: int = 0  # 0 as written, 1 lower case, 2 upper case (categories' slugs)
    _zone: ZoneInfo | None = field(init=False, repr=False, compare=False)
    _build_zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        parts = urlsplit(self.site)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"the blog URL must look like https://blog.example.com, not {self.site!r}")
        if not self.permalink.strip():
            raise ValueError("the permalink pattern is empty")
        if "id" in VARIABLE.findall(self.permalink):
            raise ValueError("the permalink pattern cannot use :id (Hexo's database id changes between builds)")
        if self.filename_case not in (0, 1, 2):
            raise ValueError(f"filename_case must be 0, 1 or 2, not {self.filename_case!r}")
        zone = _zone(self.timezone) if self.timezone else None
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_build_zone", _zone(self.build_timezone) if self.build_timezone else
                           zone or ZoneInfo("UTC"))

    def url(self, *, doc_id: str, title: str, categories: Sequence[str], date: datetime | None,
            date_zoned: bool = False, front_matter: Mapping[str, str] | None = None) -> str | None:
        """Return the post's public URL, or None when Hexo gives it no page a link can reach."""
        return self.link(doc_id=doc_id, title=title, categories=categories, date=date, date_zoned=date_zoned,
                         front_matter=front_matter).url

    def link(self, *, doc_id: str, title: str, categories: Sequence[str], date: datetime | None,
             date_zoned: bool = False, front_matter: Mapping[str, str] | None = None) -> Link:
        """Return the post's public URL, or no URL and the reason.

        ``date`` is the indexed (UTC) date; ``date_zoned`` says it was written
        as an instant (with its own zone), not as a wall-clock time.
        """
        if any(part.startswith(("_", ".")) for part in PurePosixPath(doc_id).parts):
            return Link(None, UNLINKABLE["hidden"])
        front_matter = front_matter or {}
        path = front_matter.get("permalink") or self._expand(doc_id, title, categories, date, date_zoned,
                                                              front_matter)
        if isinstance(path, Link):
            return path
        if self.post_asset_folder and not path.endswith(("/", ".html")):
            path += "/"
        route = re.sub(r"/{2,}", "/", path.replace("\\", "/")).lstrip("/")  # as Hexo's router and URL parser
        problem = _route_problem(route)
        if problem:
            return Link(None, problem)
        url = f"{self.site.rstrip('/')}/{quote(route, safe=PATH_SAFE)}"
        if not self.trailing_index:
            url = url.removesuffix("index.html")
        if not self.trailing_html and not url.endswith("index.html"):
            url = url.removesuffix(".html")
        return Link(url)

    def _expand(self, doc_id: str, title: str, categories: Sequence[str], date: datetime | None,
                date_zoned: bool, front_matter: Mapping[str, str]) -> str | Link:
        slug, from_name = self._slug(doc_id)
        moment = self._hexo_date(date, date_zoned, from_name)
        values: dict[str, str] = {}
        for name in VARIABLE.findall(self.permalink):
            if name in DATED and moment is None:
                return Link(None, UNLINKABLE["undated"].format(pattern=self.permalink))
            if name in ("title", "slug"):
                values[name] = slug
            elif name == "name":
                values[name] = PurePosixPath(slug).name
            elif name == "post_title":
                values[name] = slugize(title).lower()
            elif name == "category":
                values[name] = "/".join(self._category_slug(c) for c in categories) or self.default_category
            elif name in DATE_FORMATS:
                values[name] = moment.strftime(DATE_FORMATS[name])
            elif name in ("i_month", "i_day"):
                values[name] = str(moment.month if name == "i_month" else moment.day)
            elif name == "timestamp":
                values[name] = str(int(moment.timestamp()))
            elif name == "hash":
                values[name] = hashlib.sha1(f"{slug}{int(moment.timestamp())}".encode()).hexdigest()[:12]
            elif name in from_name and name not in _FILE_NAME_KEPT:
                values[name] = from_name[name]
            elif name in front_matter:
                values[name] = front_matter[name]
            elif name in self.permalink_defaults:
                values[name] = str(self.permalink_defaults[name])
            else:
                return Link(None, UNLINKABLE["missing"].format(pattern=self.permalink, name=name))
        return VARIABLE.sub(lambda m: values[m.group(1)], self.permalink)

    def _slug(self, doc_id: str) -> tuple[str, dict[str, str]]:
        """Return the post's slug (``:title``) and what ``new_post_name`` reads from its file name, as Hexo."""
        rule, path = _without_extension(self.new_post_name), _without_extension(doc_id)
        names = VARIABLE.findall(rule)
        pattern = "".join(re.escape(part) if i % 2 == 0 else FILE_NAME_PARTS.get(part, "(.+?)")
                          for i, part in enumerate(VARIABLE.split(rule)))
        match = re.fullmatch(pattern, path)
        found = dict(zip(names, match.groups())) if match else {}
        return found.get("title", slugize(path)), found

    def _hexo_date(self, date: datetime | None, date_zoned: bool, from_name: Mapping[str, str]) -> datetime | None:
        """Return the post's date as Hexo 8 holds it, on the clock of the machine that builds the blog.

        hexo-front-matter moves a YAML timestamp (which js-yaml reads as UTC) to the same
        wall-clock time on the building machine; a date written as text with its own zone
        is that instant. Hexo then shifts both by the difference between that machine's
        zone and its ``timezone`` setting (``adjustDateForTimezone``), and the URL shows
        the result on the building machine's clock.
        """
        build = self._build_zone
        if date is not None:
            date = date.astimezone(timezone.utc)
            instant = date if date_zoned else date - date.astimezone(build).utcoffset()
        elif from_name.get("year") and (from_name.get("month") or from_name.get("i_month")) \
                and (from_name.get("day") or from_name.get("i_day")):
            month = int(from_name.get("month") or from_name["i_month"])
            day = int(from_name.get("day") or from_name["i_day"])
            try:  # new Date(year, month - 1, day): midnight on the building machine
                instant = datetime(int(from_name["year"]), month, day, tzinfo=build).astimezone(timezone.utc)
            except ValueError:
                return None
        else:
            return None
        if self._zone is not None:
            instant = instant + instant.astimezone(build).utcoffset() - instant.astimezone(self._zone).utcoffset()
        return instant.astimezone(build)

    def _category_slug(self, name: str) -> str:
        slug = slugize(self.category_map.get(name, name))
        return slug.lower() if self.filename_case == 1 else slug.upper() if self.filename_case == 2 else slug


def find_unlinked(urls: PostUrls, posts: Iterable[Mapping]) -> list[Problem]:
    """Return the posts that get no page of their own on the blog, each with the reason, sorted by path.

    ``posts`` are the keyword arguments of :meth:`PostUrls.link`, one mapping per post.
    Besides the posts :meth:`PostUrls.link` refuses, this finds posts that Hexo gives the
    same page (it writes only one of them).
    """
    problems, pages = [], {}
    for post in sorted(posts, key=lambda post: post["doc_id"]):
        link = urls.link(**post)
        if link.url is None:
            problems.append(Problem(post["doc_id"], link.problem, skipped=False))
        elif link.url in pages:
            problems.append(Problem(post["doc_id"], UNLINKABLE["same"].format(other=pages[link.url]), skipped=False))
        else:
            pages[link.url] = post["doc_id"]
    return problems


def _without_extension(path: str) -> str:
    return path[:len(path) - len(PurePosixPath(path).suffix)]


def _route_problem(route: str) -> str | None:
    """Return why Hexo writes no reachable page at ``route`` (a path below the blog), or None."""
    if route in ("", "index.html"):
        return UNLINKABLE["home"]
    before_query = re.split(r"[?#]", route, maxsplit=1)[0]
    if not _decodable(before_query):
        return UNLINKABLE["percent"]
    if "?" in route:
        written = route.split("?", 1)[0]
        return UNLINKABLE["query"].format(route=written + ("index.html" if written.endswith("/") else ""))
    return None


def _decodable(path: str) -> bool:
    """True if JavaScript's ``decodeURI`` reads ``path`` as the URL parser leaves it (Hexo's encodeURL does)."""
    encoded = "".join(quote(c, safe="") if c in _URL_ENCODED or ord(c) > 0x7e else c for c in path)
    if _STRAY_PERCENT.search(encoded):
        return False
    try:
        for run in _ESCAPES.findall(encoded):
            bytes.fromhex(run.replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use a name such as Asia/Shanghai or UTC") from None


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
