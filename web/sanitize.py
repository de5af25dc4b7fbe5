"""Article bodies: the author's raw HTML made safe to show, with query terms highlighted.

Pipeline: nh3 (allow-list) -> lxml (lazy images get their real ``src``, every
image an ``alt``, links with nothing to click are dropped; ``<mark>`` around
query terms, in text nodes only) -> nh3 again, so what a template receives is
always the sanitiser's own output.

Images get the ``alt`` a screen reader needs (see :func:`_describe_images`):
the author's, unless it is a URL, a file name or a word like "image" (read out,
those only get in the way); for a picture that is a link's only content, a
name for the link; otherwise ``alt=""``. Without a description from the author
we cannot say what a picture shows, and a figure's caption already names it
(an ``alt`` repeating the caption would be read twice).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from urllib.parse import urlsplit

import nh3
from lxml import etree, html as lxml_html

from search.query.highlight import find_spans
from search.text.language import detect_language

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "picture", "pre", "q", "s", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
#: Removed together with everything inside them.
DROPPED = {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math", "video",
           "audio", "form", "select", "textarea", "button", "title", "head"}
ATTRIBUTES = {
    "*": {"title"},  # not lang: the author's may be anything; blocks get ours (see _mark_languages)
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
#: Set on every such element (in this order) and allowed with exactly these values.
FORCED_ATTRIBUTES = {
    "img": {"loading": "lazy", "decoding": "async", "referrerpolicy": "no-referrer"},
    "a": {"target": "_blank"},
}
#: Blocks of running text that get a ``lang`` of their own when written in another language than the article.
TEXT_BLOCKS = ("p", "li", "blockquote", "h2", "h3", "h4", "h5", "h6", "figcaption", "caption", "td", "th", "dt", "dd",
               "summary")
#: Shorter text is not marked: a name or a few words in another script are read well enough by the article's voice.
LANG_MIN_CHARS = 24
#: Attributes where lazy-loading pages keep the real picture.
LAZY_SOURCES = ("data-src", "data-original", "data-actualsrc", "data-lazy-src")
#: ``alt`` texts that describe nothing: a URL, a file name, a placeholder word, or no letters at all.
_NO_DESCRIPTION = re.compile(r"(?:(?:https?|ftp|file|data):|www\.|//)\S*|\S+\.(?:jpe?g|png|gif|webp|avif|svg|bmp)|"
                             r"(?:image|img|photo|picture|pic|icon|图片|图像|配图|照片|插图|image\s*\d+)|[\W\d_]*",
                             re.IGNORECASE)


def clean_html(raw: str, highlights: Iterable[str] = (), *, lang: str | None = None) -> str:
    """Return ``raw`` sanitised, with matches of the folded ``highlights`` wrapped in ``<mark>``.

    Paragraphs written in another language than the article's ``lang`` get a
    ``lang`` of their own (a bilingual post's English paragraphs are read by an
    English voice).

    >>> clean_html('<p onclick="x()">國際<script>alert(1)</script></p>', ["国际"])
    '<p><mark>國際</mark></p>'
    >>> clean_html('<p>今天的新闻</p><p>The opening ceremony was held in Beijing.</p>', lang="zh-Hans")
    '<p>今天的新闻</p><p lang="en">The opening ceremony was held in Beijing.</p>'
    """
    first = nh3.clean(raw, tags=TAGS, clean_content_tags=DROPPED, url_schemes=URL_SCHEMES | {"data"},
                      attributes=_with_lazy_sources(ATTRIBUTES), link_rel=None)
    if not first.strip():
        return ""
    root = lxml_html.fragment_fromstring(first, create_parent="div")
    _fix_images(root)
    _drop_empty_links(root)
    _describe_images(root)
    if lang:
        _mark_languages(root, lang)
    for tag, values in FORCED_ATTRIBUTES.items():
        for element in root.iter(tag):
            for name, value in values.items():
                element.set(name, value)
    needles = [h for h in highlights if h]
    if needles:
        _mark_text(root, needles)
    inner = escape(root.text or "", quote=False) + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in root)
    return nh3.clean(inner, tags=TAGS, clean_content_tags=DROPPED, url_schemes=URL_SCHEMES,
                     attributes=_with_lang(ATTRIBUTES), link_rel="noopener noreferrer nofollow",
                     tag_attribute_values={tag: {name: {value} for name, value in values.items()}
                                           for tag, values in FORCED_ATTRIBUTES.items()})


def _with_lazy_sources(attributes: dict[str, set[str]]) -> dict[str, set[str]]:
    return {**attributes, "img": attributes["img"] | set(LAZY_SOURCES)}


def _with_lang(attributes: dict[str, set[str]]) -> dict[str, set[str]]:
    """The second pass keeps the ``lang`` set here (the first pass dropped the author's)."""
    return {**attributes, **{tag: attributes.get(tag, set()) | {"lang"} for tag in TEXT_BLOCKS}}


def _mark_languages(root, lang: str) -> None:
    """Set ``lang`` on text blocks whose language differs from the one they inherit (the article's, at first)."""
    for block in root.iter(*TEXT_BLOCKS):
        text = "".join(block.itertext()).strip()
        if len(text) < LANG_MIN_CHARS:
            continue
        inherited = next((a.get("lang") for a in block.iterancestors() if a.get("lang")), lang)
        found = detect_language(text)
        if found and found != inherited:
            block.set("lang", found)


def _fix_images(root) -> None:
    """Give lazy-loaded pictures their real source; drop pictures that have none."""
    for img in list(root.iter("img")):
        src = img.get("src", "")
        if not src.startswith(("http://", "https://")):
            src = next((img.get(a) for a in LAZY_SOURCES if (img.get(a) or "").startswith(("http", "//"))), "")
            if src.startswith("//"):
                src = "https:" + src
        if src:
            img.set("src", src)
        else:
            _remove_keeping_tail(img)


def _drop_empty_links(root) -> None:
    """Remove links with nothing to click (share buttons whose icons were dropped): focusable, but nameless."""
    for link in list(root.iter("a")):
        if not "".join(link.itertext()).strip() and next(link.iter("img"), None) is None:
            _remove_keeping_tail(link)


def _describe_images(root) -> None:
    """Give every image an ``alt``: the author's description, a linked picture's destination, or ``""``."""
    for img in root.iter("img"):
        alt = " ".join((img.get("alt") or "").split())
        if _NO_DESCRIPTION.fullmatch(alt):
            alt = " ".join((img.get("title") or "").split())
            if _NO_DESCRIPTION.fullmatch(alt):
                alt = _link_name(img)
        img.set("alt", alt)


def _link_name(img) -> str:
    """Return a name for the link ``img`` is the only content of ("" if it is in none)."""
    link = next(img.iterancestors("a"), None)
    if link is None or "".join(link.itertext()).strip():
        return ""
    title = " ".join((link.get("title") or "").split())
    if title:
        return title
    host = urlsplit(link.get("href") or "").hostname
    return f"图片链接：{host}" if host else "图片链接"


def _remove_keeping_tail(element) -> None:
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _mark_text(root, needles: list[str]) -> None:
    """Wrap matches in every text node (element text and tails) in ``<mark>`` elements."""
    for element in list(root.iter()):
        if element.tag == "mark" or not isinstance(element.tag, str):
            continue
        if element.text:
            marks, element.text = _split(element.text, needles)
            for i, mark in enumerate(marks):
                element.insert(i, mark)
        if element is not root and element.tail:
            marks, element.tail = _split(element.tail, needles)
            parent, at = element.getparent(), element.getparent().index(element)
            for i, mark in enumerate(marks, 1):
                parent.insert(at + i, mark)


def _split(text: str, needles: list[str]) -> tuple[list, str]:
    """Return (``<mark>`` elements whose tails carry the text between matches, leading text)."""
    spans = find_spans(text, needles)
    if not spans:
        return [], text
    marks = []
    for i, (start, end) in enumerate(spans):
        mark = etree.Element("mark")
        mark.text = text[start:end]
        mark.tail = text[end:spans[i + 1][0] if i + 1 < len(spans) else len(text)]
        marks.append(mark)
    return marks, text[:spans[0][0]]

