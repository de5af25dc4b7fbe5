"""What both backends store and filter by, whatever the engine: filter keys and packed post content.

The local index and the Sphinx cluster hold the same values, made here, so a
``source:`` filter or a snippet reads the same on either.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from ..text.analysis import compact, normalise


def pack_content(text: str, html: str) -> bytes:
    """Compress a post's text and HTML as one stream.

    The HTML repeats the text, so compressed together they take about 0.58x the
    text's size on news posts, against 1.09x compressed apart. The text comes
    first and never holds a NUL (the corpus reader drops control characters).

    >>> unpack_content(pack_content("正文", "<p>正文</p>"))
    ('正文', '<p>正文</p>')
    """
    return zlib.compress(f"{text}\0{html}".encode("utf-8"))


def unpack_content(blob: bytes) -> tuple[str, str]:
    """Return ``(text, html)`` packed by :func:`pack_content`."""
    text, _, html = zlib.decompress(blob).decode("utf-8").partition("\0")
    return text, html


def unpack_text(blob: bytes) -> str:
    """Return the text packed by :func:`pack_content`, inflating no further than its end (a snippet needs
    only the text; the HTML after it is usually longer).

    >>> unpack_text(pack_content("正文", "<p>正文</p>"))
    '正文'
    """
    inflate, text = zlib.decompressobj(), bytearray()
    while blob:
        start = len(text)
        text += inflate.decompress(blob, TEXT_STEP)
        end = text.find(0, start)
        if end >= 0:
            return text[:end].decode("utf-8")
        blob = inflate.unconsumed_tail
    return (text + inflate.flush()).partition(b"\0")[0].decode("utf-8")


#: Bytes inflated at a time while looking for the end of a post's text (most posts' text is shorter).
TEXT_STEP = 1 << 14


def filter_key(value: str) -> str:
    """Return the form of a source or category name used for exact filters (folded, no spaces).

    >>> filter_key("IT 之家")
    'it之家'
    """
    return compact(normalise(value))[0]


def category_keys(categories: Iterable[str]) -> list[str]:
    """Return filter keys for every level of a category path and every path prefix.

    >>> category_keys(["新媒体", "果壳网"])
    ['新媒体', '果壳网', '新媒体/果壳网']
    """
    levels = [filter_key(c) for c in categories if filter_key(c)]
    prefixes = ["/".join(levels[:i]) for i in range(2, len(levels) + 1)]
    return list(dict.fromkeys(levels + prefixes))
