"""Hexo posts on disk -> :class:`Document`: front matter, visible text and HTML of each article.

Reading never stops on a bad file and never passes one silently: every file that
had to be skipped, or could only be read in part, comes back as a
:class:`Problem` with its path and the reason, for the build report.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath

import frontmatter
import yaml
from lxml import etree

from ..text.analysis import ZERO_WIDTH
from ..text.language import post_language

POST_SUFFIXES = (".md", ".markdown")


def is_hidden(name: str) -> bool:
    """Whether a file or folder name is hidden: editors' and sync tools' work files (``.#post.md``,
    ``.syncthing.post.md.tmp``) and folders (``.git``) are never posts, as Hexo ignores them too."""
    return name.startswith(".")


def is_post_name(name: str) -> bool:
    """Whether a file name is a post's (``*.md``, ``*.markdown``, not hidden).

    >>> [is_post_name(n) for n in ("新闻.md", "a.MARKDOWN", ".#新闻.md", "新闻.md~", "新闻.md.part")]
    [True, True, False, False, False]
    """
    return not is_hidden(name) and name.lower().endswith(POST_SUFFIXES)

#: Elements whose content is never visible text.
INVISIBLE_TAGS = frozenset({"script", "style", "iframe", "svg", "noscript", "template", "object",
                            "embed", "head", "title", "meta", "link", "canvas", "audio", "video", "math"})
#: Elements that start a new line of text (paragraph breaks are kept).
BLOCK_TAGS = frozenset({"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
                        "table", "blockquote", "pre", "figure", "figcaption", "section", "article",
                        "header", "footer", "aside", "hr", "dd", "dt", "dl", "td", "th", "main", "nav",
                        "caption", "details", "summary", "address"})

#: Control characters (other than newline and tab) and zero-width characters removed from text.
_JUNK = dict.fromkeys([c for c in range(32) if c not in (9, 10)] + [127] + list(map(ord, ZERO_WIDTH)))
_SPACES = re.compile(r"[^\S\n]+")
_PROXIED = re.compile(r"^https?://[^/?#]+/?\?(?:url=)?(https?://.+)$", re.IGNORECASE)
_LOOKS_LIKE_HTML = re.compile(r"^\s*<(?:[a-zA-Z!]|/)")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Front-matter keys read into Document fields; other short values are kept in ``front_matter``.
READ_KEYS = frozenset({"title", "date", "author", "source", "categories", "headimg", "thumbnail", "cover"})
#: Longest front-matter value kept in ``front_matter`` (identifiers and paths, not descriptions).
FRONT_MATTER_CHARS = 100


@dataclass(frozen=True)
class Document:
    """One article. ``id`` is its POSIX path relative to the corpus root."""

    id: str
    title: str
    source: str
    categories: tuple[str, ...]
    date: datetime | None  # timezone-aware UTC
    image: str | None
    text: str  # visible body text, paragraphs separated by newlines
    html: str  # the body as HTML (Markdown bodies are rendered)
    #: Other short one-line front-matter values (abbrlink, permalink, lang, ...), for blog URLs.
    front_matter: dict[str, str] = field(default_factory=dict)
    #: The date is an instant (text with its own zone, "... GMT", or a date alone in quotes, UTC midnight
    #: to JavaScript); otherwise a wall-clock time.
    date_zoned: bool = False

    @property
    def lang(self) -> str | None:
        """The BCP 47 tag of the language the post is written in (front matter ``lang``, else its text's)."""
        return post_language(self.title, self.text, self.front_matter.get("lang"))


@dataclass(frozen=True)
class Problem:
    """A file that was skipped (``skipped``) or read only in part."""

    path: str
    reason: str
    skipped: bool = True


@dataclass
class ReadResult:
    """What reading one file produced: a document (unless skipped) and any problems."""

    document: Document | None
    problems: list[Problem] = field(default_factory=list)
    sha1: str | None = None  # of the file's bytes, when they could be read (the build's manifest keeps it)


def find_posts(root: Path) -> tuple[list[Path], list[Problem]]:
    """Return every post file below ``root`` (sorted) and the places that could not be walked.

    Directory symlinks are followed once; a symlink loop or an unreadable
    directory is reported, not fatal.
    """
    root = Path(root)
    posts: list[Path] = []
    problems: list[Problem] = []
    seen: set[tuple[int, int]] = set()

    def walk(directory: Path) -> None:
        try:
            st = directory.stat()
        except OSError as exc:
            problems.append(Problem(_rel(root, directory), f"cannot read directory: {exc.strerror}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:
            problems.append(Problem(_rel(root, directory), "symlink loop: directory already visited"))
            return
        seen.add(key)
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            problems.append(Problem(_rel(root, directory), f"cannot read directory: {exc.strerror}"))
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    if not is_hidden(entry.name):
                        walk(path)
                elif is_post_name(entry.name):
                    if entry.is_symlink() and not path.exists():
                        problems.append(Problem(_rel(root, path), "broken symlink"))
                    else:
                        posts.append(path)
            except OSError as exc:
                problems.append(Problem(_rel(root, path), f"cannot stat: {exc.strerror}"))

    if not root.is_dir():
        raise FileNotFoundError(f"corpus directory not found: {root}")
    walk(root)
    return posts, problems


def _rel(root: Path, path: Path) -> str:
    return PurePosixPath(*path.relative_to(root).parts).as_posix() if path != root else "."


def read_post(root: Path, path: Path) -> ReadResult:
    """Read one post file into a :class:`Document`, reading broken files as well as possible."""
    doc_id = _rel(Path(root), Path(path))
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return ReadResult(None, [Problem(doc_id, f"cannot read file: {exc.strerror or exc}")])
    result = _read_bytes(doc_id, Path(path), raw)
    result.sha1 = hashlib.sha1(raw).hexdigest()
    return result


def _read_bytes(doc_id: str, path: Path, raw: bytes) -> ReadResult:
    if not raw.strip():
        return ReadResult(None, [Problem(doc_id, "empty file")])
    if b"\x00" in raw[:8192]:
        return ReadResult(None, [Problem(doc_id, "binary file (NUL bytes)")])
    problems: list[Problem] = []
    text = _decode(raw)
    if text is None:
        return ReadResult(None, [Problem(doc_id, "not UTF-8 or GB18030 text")])
    if text[1]:
        problems.append(Problem(doc_id, f"decoded as {text[1]}", skipped=False))
    meta, body, warning = _split_front_matter(text[0])
    if warning:
        problems.append(Problem(doc_id, warning, skipped=False))
    published, date_warning = parse_date(meta.get("date"))
    if date_warning:
        problems.append(Problem(doc_id, date_warning, skipped=False))
    html = body if _LOOKS_LIKE_HTML.match(body) or not body.strip() else render_markdown(body)
    title = clean_text(_as_text(meta.get("title"))) or Path(path).stem
    document = Document(
        id=doc_id,
        title=title,
        source=clean_text(_as_text(meta.get("author") or meta.get("source"))),
        categories=tuple(c for c in (clean_text(x) for x in _as_list(meta.get("categories"))) if c),
        date=published,
        image=unwrap_image_url(_as_text(meta.get("headimg") or meta.get("thumbnail") or meta.get("cover"))),
        text=html_to_text(html),
        html=html,
        front_matter=other_front_matter(meta),
        date_zoned=published is not None and _written_with_zone(meta.get("date")),
    )
    return ReadResult(document, problems)


def _decode(raw: bytes) -> tuple[str, str] | None:
    """Return ``(text, fallback_encoding_or_empty)``, or None if no encoding fits."""
    try:
        return raw.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "GB18030"
    except UnicodeDecodeError:
        return None


def _split_front_matter(text: str) -> tuple[dict, str, str]:
    """Return ``(metadata, body, warning)``; a broken header leaves the body readable."""
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        match = re.match(r"\A\s*---\s*\n.*?\n---\s*\n?(.*)\Z", text, re.DOTALL)
        body = match.group(1) if match else text
        return {}, body, f"invalid YAML front matter ({first_line}); title taken from file name"
    meta = post.metadata if isinstance(post.metadata, dict) else {}
    if not meta:
        return {}, post.content, "no front matter; title taken from file name"
    return meta, post.content, ""


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_as_text(v) for v in value)
    return str(value)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for item in value:
            out.extend(_as_list(item))
        return out
    return [str(value)]


def other_front_matter(meta: dict) -> dict[str, str]:
    """Return the short one-line text and number values of front-matter keys not read elsewhere.

    >>> other_front_matter({"title": "T", "abbrlink": 3201, "lang": "zh-CN", "comments": False, "tags": ["a"]})
    {'abbrlink': '3201', 'lang': 'zh-CN'}
    """
    kept = {}
    for key, value in meta.items():
        if isinstance(key, str) and key not in READ_KEYS and isinstance(value, (str, int)) \
                and not isinstance(value, bool):
            text = clean_text(str(value))
            if text and len(text) <= FRONT_MATTER_CHARS and "\n" not in text:
                kept[key] = text
    return kept


def clean_text(text: str) -> str:
    """Return ``text`` without control or zero-width characters, spaces collapsed, trimmed."""
    text = unicodedata.normalize("NFC", text).translate(_JUNK)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def parse_date(value) -> tuple[datetime | None, str]:
    """Return ``(aware UTC datetime or None, warning)`` for any date form found in Hexo front matter.

    >>> parse_date("Tue, 25 Jan 2022 17:07:56 GMT")[0].isoformat()
    '2022-01-25T17:07:56+00:00'
    >>> parse_date("2022-06-07")[0].isoformat()
    '2022-06-07T00:00:00+00:00'
    """
    if value is None or value == "":
        return None, "no date"
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        parsed = _parse_date_text(str(value).strip())
        if parsed is None:
            return None, f"unparseable date {str(value)[:40]!r}"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc), ""


def _written_with_zone(value) -> bool:
    """True for a date Hexo reads as an instant: text with its own zone, or text that is a date alone
    (``'2022-09-26'``, which JavaScript reads as midnight UTC). YAML timestamps count as wall-clock
    times, as in Hexo."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    parsed = _parse_date_text(text)
    return parsed is not None and (parsed.tzinfo is not None or bool(_ISO_DAY.fullmatch(text)))


def _parse_date_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("/", "-").replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def unwrap_image_url(url: str) -> str | None:
    """Return the original image URL, unwrapping CORS-proxy prefixes; None if not an http(s) URL.

    >>> unwrap_image_url("https://cors.zfour.workers.dev/?http://img.example.com/a.jpg")
    'http://img.example.com/a.jpg'
    """
    url = url.strip()
    while (match := _PROXIED.match(url)):
        url = match.group(1)
    return url if re.match(r"^https?://\S+$", url, re.IGNORECASE) else None


def html_to_text(html: str) -> str:
    """Return the visible text of an HTML fragment, one line per block element.

    Scripts, styles, iframes and SVG are dropped; entities are decoded; zero-width
    and control characters removed.

    >>> html_to_text("<p>第一段<b>加粗</b></p><script>x()</script><p>第二段&nbsp;!</p>")
    '第一段加粗\\n第二段 !'
    """
    if "<" not in html and "&" not in html:
        return clean_text(html)
    # libxml2's HTML parser calls _VisibleText as it reads, as it called BeautifulSoup's tree builder
    # (the same text, about three times as fast); one parser per call, as they are not thread-safe.
    # Building lxml's own tree instead would silently drop text nested over 256 elements deep.
    parser = etree.HTMLParser(target=_VisibleText())
    parser.feed(html)
    return clean_text(parser.close())


class _VisibleText:
    """A parser target collecting visible text, with a line break around each block element."""

    def __init__(self):
        self.pieces: list[str] = []
        self.hidden = 0  # depth inside an invisible element (comments and doctypes never arrive)

    def start(self, tag: str, attrib) -> None:
        if self.hidden or tag in INVISIBLE_TAGS:
            self.hidden += 1
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def end(self, tag: str) -> None:
        if self.hidden:
            self.hidden -= 1
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def data(self, text: str) -> None:
        if not self.hidden:
            self.pieces.append(text)

    def close(self) -> str:
        return "".join(self.pieces)


def render_markdown(text: str) -> str:
    """Render a Markdown body to HTML (raw HTML inside it is kept, as Hexo does)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
