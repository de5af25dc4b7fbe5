"""Snippets and highlighted titles: find folded matches, mark them on the ORIGINAL characters.

Matching happens on folded text (Simplified, half-width, lower case, no
whitespace), so a query 国际 marks 國際 and ＧＤＰ marks gdp in the text as the
author wrote it. All text outside the marks is HTML-escaped here, so the output
is the one string templates may trust.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from html import escape

from ..text.analysis import ZERO_WIDTH, normalise, normalise_with_offsets

#: Length of a snippet, in characters of original text.
SNIPPET_CHARS = 160
#: How many separate fragments a snippet may join.
MAX_FRAGMENTS = 2
#: Characters of context kept before the first match of a fragment.
LEAD_CHARS = 24
ELLIPSIS = "…"
#: Matches considered when choosing fragments (a long post may match hundreds of times).
MAX_SPANS = 64


def find_spans(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Return sorted, merged ``(start, end)`` spans of ``text`` whose folded form equals a needle.

    Needles are folded and compacted (see :func:`search.text.analysis.compact`);
    whitespace in the text may fall anywhere inside a match, as in the index.

    >>> find_spans("國際 論壇在港舉行", ["国际论坛"])
    [(0, 5)]
    """
    return _merge([(start, end) for start, end, _ in _matches(text, needles)])


def _matches(text: str, needles: Iterable[str]) -> list[tuple[int, int, int]]:
    """Return ``(start, end, which needle)`` for each match, in text order, unmerged."""
    pattern = _pattern(frozenset(needles))
    if pattern is None or not text:
        return []
    folded, origin = normalise(text), None
    if len(folded) != len(text) or any(z in text for z in ZERO_WIDTH):
        folded, origin = normalise_with_offsets(text)
    found = []
    for match in pattern.finditer(folded):
        start, last = match.start(), match.end() - 1
        if origin is not None:
            start, last = origin[start], origin[last]
        found.append((start, last + 1, match.lastindex))
    return found


@functools.lru_cache(maxsize=256)
def _pattern(needles: frozenset[str]) -> re.Pattern | None:
    """The pattern finding ``needles`` (longest first; whitespace allowed between characters), None for none:
    built once for a page's hits, which share their needles."""
    ordered = sorted((n for n in needles if n), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join("(" + r"\s*".join(map(re.escape, n)) + ")" for n in ordered))


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def mark(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """Return ``text[start:end]`` HTML-escaped with ``spans`` wrapped in ``<mark>``."""
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    first = bisect_right(spans, start, key=_span_end)  # spans are sorted and disjoint: skip to the window
    for s, e in spans[first:bisect_left(spans, end, lo=first, key=_span_start)]:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out.append(escape(text[pos:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(escape(text[pos:end]))
    return "".join(out)


def _span_start(span: tuple[int, int]) -> int:
    return span[0]


def _span_end(span: tuple[int, int]) -> int:
    return span[1]


def highlight_title(title: str, needles: Iterable[str]) -> str:
    """Return the whole title, escaped, with matches marked."""
    return mark(title, find_spans(title, needles))


def make_snippet(text: str, needles: Iterable[str], *, length: int = SNIPPET_CHARS) -> str:
    """Return up to :data:`MAX_FRAGMENTS` escaped fragments of ``text`` around the matches of ``needles``.

    Without a match (a post that matched in its title only), the start of the
    text is returned.

    >>> make_snippet("<b>國際</b>論壇開幕", ["国际"])
    '&lt;b&gt;<mark>國際</mark>&lt;/b&gt;論壇開幕'
    """
    flat = text.replace("\n", " ")
    matches = _matches(flat, needles)
    if not matches:
        return escape(flat[:length]) + (ELLIPSIS if len(flat) > length else "")
    spans = _merge([(start, end) for start, end, _ in matches])
    windows = _choose_windows(flat, matches, length)
    pieces = []
    for start, end in windows:
        piece = mark(flat, spans, start, end)
        pieces.append((ELLIPSIS if start > 0 else "") + piece + (ELLIPSIS if end < len(flat) else ""))
    return " ".join(pieces)


def _choose_windows(text: str, matches: list[tuple[int, int, int]], length: int) -> list[tuple[int, int]]:
    """Pick non-overlapping windows that cover the most distinct matched needles, in text order."""
    size = max(length // MAX_FRAGMENTS, 40)
    matches = matches[:MAX_SPANS]
    starts, ends, needles = zip(*matches)  # matches do not overlap: their ends are in order too
    candidates = []
    for first in starts:
        start = max(0, first - LEAD_CHARS)
        end = min(len(text), start + size)
        inside = needles[bisect_left(starts, start):bisect_right(ends, end)]
        candidates.append((-len(set(inside)), -len(inside), start, end))
    chosen: list[tuple[int, int]] = []
    for _, _, start, end in sorted(candidates):
        if all(end <= a or start >= b for a, b in chosen):
            chosen.append((start, end))
        if len(chosen) == MAX_FRAGMENTS:
            break
    if len(chosen) == 1:  # one fragment: let it use the whole length
        start, _ = chosen[0]
        chosen = [(start, min(len(text), start + length))]
    return sorted(chosen)
