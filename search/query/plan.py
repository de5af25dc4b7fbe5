"""The query plan: what a query matches and how its parts score, independent of the index engine.

:func:`search.query.syntax.plan_query` turns the syntax tree into these nodes once;
each backend translates them: :func:`search.local.whoosh_query.to_whoosh` into Whoosh
queries, :mod:`search.sphinx.match` into a SphinxQL ``MATCH()`` expression.
Matching is defined here, so both backends find the same posts; scoring
(:class:`Weighted`, :class:`Constant`, the optional side of :class:`Maybe`)
is a recipe each engine follows as closely as its ranker allows.

Leaves name index fields by role, not by engine:

* :class:`Contains`: folded, compacted text occurs as a substring, in the
  whole post (``grams``: title, source, categories, body) or in the title
  (``title_grams``); one character is looked up in the character field.
* :class:`Words`: jieba words for ranking (BM25F over title and body).
* :class:`Key`: an exact source or category key (see :func:`search.writing.fields.filter_key`).
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


@dataclass(frozen=True)
class Feature:
    """``child``, named as a ranking feature (``phrase``, ``title match``…) so that a score can be explained
    part by part (:mod:`search.local.explain`); backends match and score it as ``child``."""

    name: str
    child: object


Node = (Contains | Words | Key | Dates | Everything | Nothing | AllOf | AnyOf | Excluding | Weighted | Constant | Maybe
        | Feature)


@dataclass(frozen=True)
class Unit:
    """One thing a post must hold to match the query fully: its text (folded), what finds it, and the query
    word it is part of (folded)."""

    text: str
    match: Node
    word: str = ""

    @property
    def texts(self) -> tuple[str, ...]:
        """The strings that find the unit (its text, or its synonyms): ``match`` is a :class:`Contains`, a
        :class:`Words` of one word, or an :class:`AnyOf` of them."""
        found = self.match.children if isinstance(self.match, AnyOf) else (self.match,)
        return tuple(node.text if isinstance(node, Contains) else node.words[0] for node in found)

    @staticmethod
    def missing(units: tuple[Unit, ...], held: list[bool]) -> tuple[str, ...]:
        """Return what a post lacks, as a reader would name it: a whole word when it holds none of its units
        (a word with one required unit, such as 怎么搭建, lacks that unit: 搭建).

        >>> a, b = Unit("火星", Everything(), "火星基地"), Unit("基地", Everything(), "火星基地")
        >>> c = Unit("冬奥", Everything(), "冬奥")
        >>> Unit.missing((a, b, c), [False, False, True]), Unit.missing((a, b, c), [True, False, False])
        (('火星基地',), ('基地', '冬奥'))
        """
        out: list[str] = []
        for word in dict.fromkeys(u.word for u in units):
            parts = [(u.text, has) for u, has in zip(units, held) if u.word == word]
            lacked = [text for text, has in parts if not has]
            out.extend([word] if len(lacked) == len(parts) > 1 and word else lacked)
        return tuple(out)


@dataclass(frozen=True)
class Plan:
    """A planned query: what to match and score, plus the folded strings to mark in titles and snippets.

    ``units`` are the required parts of a plain query's words; ``relaxed``
    (None unless there are two or more) matches the posts holding any of them,
    scored as ``match`` scores: where the partial matches come from when the
    query itself finds too little (see :mod:`search.query.fallback`).
    """

    match: Node
    highlights: tuple[str, ...] = ()
    title_highlights: tuple[str, ...] = ()
    units: tuple[Unit, ...] = ()
    relaxed: Node | None = None


def matching(node: Node) -> Node:
    """Return ``node`` without what only scores (the optional side of :class:`Maybe`, weights, constant
    scores, feature names): the same posts, found with less work, for counting them."""
    if isinstance(node, Maybe):
        return matching(node.required)
    if isinstance(node, Weighted | Constant | Feature):
        return matching(node.child)
    if isinstance(node, AllOf | AnyOf):
        return type(node)(tuple(matching(c) for c in node.children))
    if isinstance(node, Excluding):
        return Excluding(matching(node.include), matching(node.exclude))
    return node
