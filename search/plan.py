"""The query plan: what a query matches and how its parts score, independent of the index engine.

:func:`search.query.plan_query` turns the syntax tree into these nodes once;
each backend translates them: :func:`search.query.to_whoosh` into Whoosh
queries, :mod:`search.sphinx.match` into a SphinxQL ``MATCH()`` expression.
Matching is defined here, so both backends find the same posts; scoring
(:class:`Weighted`, :class:`Constant`, the optional side of :class:`Maybe`)
is a recipe each engine follows as closely as its ranker allows.

Leaves name index fields by role, not by engine:

* :class:`Contains`: folded, compacted text occurs as a substring, in the
  whole post (``grams``: title, source, categories, body) or in the title
  (``title_grams``); one character is looked up in the character field.
* :class:`Words`: jieba words for ranking (BM25F over title and body).
* :class:`Key`: an exact source or category key (see :func:`search.indexer.filter_key`).
* :class:`Dates`: published in ``[start, end)``; either end may be open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Contains:
    """Posts whose ``field`` (``grams`` or ``title_grams``) contains ``text`` (folded, compacted)."""

    text: str
    field: str = "grams"


@dataclass(frozen=True)
class Words:
    """Scores posts by these jieba words in title and body; matches posts with any of them."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Key:
    """Posts whose ``field`` (``source`` or ``category``) has exactly this folded key."""

    field: str
    key: str


@dataclass(frozen=True)
class Dates:
    """Posts published in ``[start, end)`` (UTC, naive); ``None`` leaves that end open."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Everything:
    """Every post."""


@dataclass(frozen=True)
class Nothing:
    """No post."""


@dataclass(frozen=True)
class AllOf:
    children: tuple


@dataclass(frozen=True)
class AnyOf:
    children: tuple


@dataclass(frozen=True)
class Excluding:
    """Posts matching ``include`` but not ``exclude``."""

    include: object
    exclude: object


@dataclass(frozen=True)
class Weighted:
    """``child`` with its score multiplied by ``weight``."""

    child: object
    weight: float


@dataclass(frozen=True)
class Constant:
    """Posts matching ``child``, all scoring ``score``."""

    child: object
    score: float


@dataclass(frozen=True)
class Maybe:
    """Posts matching ``required``; those also matching ``optional`` score its score on top."""

    required: object
    optional: object


Node = Contains | Words | Key | Dates | Everything | Nothing | AllOf | AnyOf | Excluding | Weighted | Constant | Maybe


@dataclass(frozen=True)
class Plan:
    """A planned query: what to match and score, plus the folded strings to mark in titles and snippets."""

    match: Node
    highlights: tuple[str, ...] = ()
    title_highlights: tuple[str, ...] = ()


def matching(node: Node) -> Node:
    """Return ``node`` without what only scores (the optional side of :class:`Maybe`, weights, constant
    scores): the same posts, found with less work, for counting them."""
    if isinstance(node, Maybe):
        return matching(node.required)
    if isinstance(node, Weighted | Constant):
        return matching(node.child)
    if isinstance(node, AllOf | AnyOf):
        return type(node)(tuple(matching(c) for c in node.children))
    if isinstance(node, Excluding):
        return Excluding(matching(node.include), matching(node.exclude))
    return node
