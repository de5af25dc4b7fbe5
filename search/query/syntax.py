"""The query language: text a reader types -> syntax tree -> query plan (:mod:`search.query.plan`), for any backend.

Syntax (one parser for the web, the CLI and the Python API)::

    冬奥会 开幕            all words must occur (AND), ranked by relevance
    家用 NAS 怎么搭建      question words and particles rank but are not required
    中亚五国峰会           no spaces needed: cut with the index's own analyzer
    "国际 论坛"            exact phrase (after folding; spaces are ignored)
    -广告  -"付费 内容"    exclude a word or a phrase
    芯片 OR 半导体         either; parentheses group: (芯片 OR 半导体) 美国
    title:冬奥  source:果壳网  author:果壳网  category:科技  (any category level)
    date:2022  date:2022-01..2022-03  date:>=2022-09-01  date:<2022-10

Anything is accepted: a stray quote closes at the end, unbalanced parentheses
are repaired, lone operators are ignored. Only a query that is too long or a
filter value that is not a date raises :class:`QuerySyntaxError`, whose
message says what to change.

Matching follows "if the text contains it, search finds it": every word is
looked up as a substring in the bigram recall field, so jieba's segmentation
of the document cannot hide it. Question words and particles are optional,
and a word is also found by its synonyms (:mod:`search.query.terms`,
:mod:`search.query.synonyms`); a plain query's plan also says how to find posts
holding only some of its words (:mod:`search.query.fallback`). Ranking is BM25F
over jieba words (title boosted), plus constant bonuses when a term or the
whole query occurs as one contiguous string, when it occurs in the title, and
when the title holds every word (weights in :mod:`search.query.ranking`); :mod:`search.local.explain` names each
part. The local index runs a plan through :mod:`search.local.whoosh_query`, a Sphinx cluster through
:mod:`search.sphinx.match`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import plan
from ..text.analysis import DEFAULT_SEGMENTER, Segmenter, compact, is_cjk, is_word, normalise
from ..errors import QuerySyntaxError
from ..writing.fields import filter_key
from .ranking import (ADJACENT_BONUS, PHRASE, RECALL_WEIGHT, SUBSTRING, SYNONYM_WEIGHT, SYNONYMS, TITLE_ALL,
                      TITLE_ALL_BONUS, TITLE_BONUS, TITLE_MATCH, WHOLE_QUERY, WHOLE_QUERY_BONUS)
from .synonyms import NO_SYNONYMS, Synonyms
from .terms import Unit, term_units

#: Longest query accepted, in characters.
MAX_QUERY_CHARS = 1000
#: Most terms (words, phrases, filters) in one query.
MAX_TERMS = 40

FIELD_ALIASES = {"title": "title", "标题": "title", "source": "source", "author": "source",
                 "来源": "source", "作者": "source", "category": "category", "cat": "category",
                 "分类": "category", "date": "date", "日期": "date"}

_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "＂": "＂"}
_OPEN = "(（"
_FIELD = re.compile(r"^([^:：]+)[:：](.*)$", re.DOTALL)
_CLOSE = ")）"


# --- syntax tree -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    """A word (``quoted=False``) or an exact phrase (``quoted=True``)."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class FieldFilter:
    """``title:``, ``source:`` or ``category:`` with its value."""

    field: str
    value: str
    quoted: bool = False


@dataclass(frozen=True)
class DateFilter:
    """A date range; either end may be open. ``end`` is exclusive."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Not:
    child: object


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


Node = Term | FieldFilter | DateFilter | Not | And | Or


# --- lexer -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Tok:
    kind: str  # "word", "phrase", "(", ")", "or", "not", "field"
    text: str = ""
    field: str = ""
    quoted: bool = False


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _OPEN:
            toks.append(_Tok("("))
            i += 1
        elif ch in _CLOSE:
            toks.append(_Tok(")"))
            i += 1
        elif ch in _QUOTES:
            phrase, i = _read_quoted(text, i)
            toks.append(_Tok("phrase", phrase, quoted=True))
        elif ch in "-－" and i + 1 < n and not text[i + 1].isspace():
            toks.append(_Tok("not"))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _OPEN + _CLOSE and text[j] not in _QUOTES:
                j += 1
            word = text[i:j]
            match = _FIELD.match(word)
            name = FIELD_ALIASES.get(match.group(1).casefold()) if match else None
            value = match.group(2) if match else ""
            if name and not value and j < n and text[j] in _QUOTES:
                value, j = _read_quoted(text, j)
                toks.append(_Tok("field", value, field=name, quoted=True))
            elif name and value:
                toks.append(_Tok("field", value, field=name))
            elif word in ("OR", "|", "||"):
                toks.append(_Tok("or"))
            elif word in ("AND", "&&"):
                pass  # AND is the default
            elif word == "NOT":
                toks.append(_Tok("not"))
            elif word in ("-", "－"):
                pass  # a lone minus excludes nothing
            else:
                toks.append(_Tok("word", word))
            i = j
    return toks


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """Read a quoted string starting at ``text[i]``; an unclosed quote runs to the end."""
    close = _QUOTES[text[i]]
    end = text.find(close, i + 1)
    if close == "”":  # readers mix “…" and "…”
        alt = text.find('"', i + 1)
        end = alt if end < 0 or 0 <= alt < end else end
    if end < 0:
        return text[i + 1:], len(text)
    return text[i + 1:end], end + 1


# --- parser ----------------------------------------------------------------------------------

def parse_query(text: str) -> Node | None:
    """Return the syntax tree of ``text`` (None for a query with nothing to search).

    :raises QuerySyntaxError: if the query is too long, has too many terms, or
        a ``date:`` value is not a date.

    >>> parse_query('冬奥 -"广告" date:2022')
    And(children=(Term(text='冬奥', quoted=False), Not(child=Term(text='广告', quoted=True)), \
DateFilter(start=datetime.datetime(2022, 1, 1, 0, 0), end=datetime.datetime(2023, 1, 1, 0, 0))))
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}",
                               zh=f"查询有 {len(text)} 个字符，最多 {MAX_QUERY_CHARS} 个")
    toks = _lex(text)
    if sum(t.kind in ("word", "phrase", "field") for t in toks) > MAX_TERMS:
        raise QuerySyntaxError(f"the query has more than {MAX_TERMS} terms; use fewer words",
                               zh=f"查询的词超过 {MAX_TERMS} 个，请减少一些")
    parser = _Parser(toks)
    return parser.parse()


class _Parser:
    """Recursive descent with repair: never fails on structure, only on bad filter values."""

    def __init__(self, toks: list[_Tok]):
        self.toks = toks
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Node | None:
        nodes = []
        while self.peek() is not None:
            node = self.or_expr()
            if node is not None:
                nodes.append(node)
            if self.peek() is not None and self.peek().kind == ")":
                self.i += 1  # stray closing parenthesis
        return _and(nodes)

    def or_expr(self) -> Node | None:
        alternatives = [self.and_expr()]
        while self.peek() is not None and self.peek().kind == "or":
            self.i += 1
            alternatives.append(self.and_expr())
        alternatives = [a for a in alternatives if a is not None]
        if len(alternatives) > 1:
            return Or(tuple(alternatives))
        return alternatives[0] if alternatives else None

    def and_expr(self) -> Node | None:
        nodes = []
        while (tok := self.peek()) is not None and tok.kind not in ("or", ")"):
            node = self.unary()
            if node is not None:
                nodes.append(node)
        return _and(nodes)

    def unary(self) -> Node | None:
        negate = False
        while (tok := self.peek()) is not None and tok.kind == "not":
            negate = not negate
            self.i += 1
        node = self.atom()
        if node is None:
            return None
        return Not(node) if negate else node

    def atom(self) -> Node | None:
        tok = self.peek()
        if tok is None or tok.kind in ("or", ")"):
            return None
        self.i += 1
        if tok.kind == "(":
            self.depth += 1
            node = self.or_expr() if self.depth < 32 else None
            self.depth -= 1
            if self.peek() is not None and self.peek().kind == ")":
                self.i += 1
            return node
        if tok.kind == "field":
            if tok.field == "date":
                return parse_date_range(tok.text)
            return FieldFilter(tok.field, tok.text, tok.quoted) if tok.text.strip() else None
        if not compact(normalise(tok.text))[0]:
            return None  # nothing searchable (only spaces or invisible characters)
        return Term(tok.text, quoted=tok.kind == "phrase")


def _and(nodes: list) -> Node | None:
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


# --- dates -----------------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?$")


def parse_date_bound(text: str) -> tuple[datetime, datetime]:
    """Return ``(first instant, first instant after)`` of a ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.

    :raises QuerySyntaxError: if ``text`` is not such a date.

    >>> parse_date_bound("2022-02")
    (datetime.datetime(2022, 2, 1, 0, 0), datetime.datetime(2022, 3, 1, 0, 0))
    """
    match = _DATE.match(text.strip())
    if not match:
        raise QuerySyntaxError(f"{text!r} is not a date; use YYYY, YYYY-MM or YYYY-MM-DD",
                               zh=f"“{text}”不是日期，请用 YYYY、YYYY-MM 或 YYYY-MM-DD")
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        if day is not None:
            start = datetime(year, month, day)
            return start, start + timedelta(days=1)
        if month is not None:
            start = datetime(year, month, 1)
            return start, start + timedelta(days=calendar.monthrange(year, month)[1])
        return datetime(year, 1, 1), datetime(year + 1, 1, 1)
    except (ValueError, OverflowError):
        raise QuerySyntaxError(f"{text!r} is not a valid date", zh=f"“{text}”不是有效的日期") from None


def parse_date_range(text: str) -> DateFilter:
    """Return the :class:`DateFilter` of a ``date:`` value.

    Forms: ``2022``, ``2022-03``, ``2022-03-05``, ``A..B`` (either end may be
    left out), ``>=A``, ``>A``, ``<=A``, ``<A``. Times are UTC.

    >>> parse_date_range(">=2022-09-01").start
    datetime.datetime(2022, 9, 1, 0, 0)
    """
    text = text.strip().replace("～", "..").replace("~", "..")
    for op in (">=", "<=", ">", "<"):
        if text.startswith(op):
            start, end = parse_date_bound(text[len(op):])
            return {">=": DateFilter(start, None), ">": DateFilter(end, None),
                    "<=": DateFilter(None, end), "<": DateFilter(None, start)}[op]
    if ".." in text:
        low, high = (part.strip() for part in text.split("..", 1))
        if not low and not high:
            raise QuerySyntaxError("a date range needs at least one end, e.g. date:2022-01..2022-03",
                                   zh="日期范围至少要有一端，例如 date:2022-01..2022-03")
        start = parse_date_bound(low)[0] if low else None
        end = parse_date_bound(high)[1] if high else None
        if start and end and start >= end:
            raise QuerySyntaxError(f"the date range {text!r} ends before it starts",
                                   zh=f"日期范围“{text}”的结束早于开始")
        return DateFilter(start, end)
    return DateFilter(*parse_date_bound(text))


def has_words(node: Node | None) -> bool:
    """Return True if ``node`` has a word or phrase to rank by (filters and exclusions score nothing).

    >>> has_words(parse_query("芯片 date:2022")), has_words(parse_query("date:2022 -广告"))
    (True, False)
    """
    if isinstance(node, Term):
        return True
    if isinstance(node, And | Or):
        return any(map(has_words, node.children))
    return False


def plan_query(node: Node | None, *, segmenter: Segmenter = DEFAULT_SEGMENTER,
               synonyms: Synonyms = NO_SYNONYMS) -> plan.Plan:
    """Return the backend-neutral plan of a syntax tree (``None`` matches everything), words cut by
    ``segmenter`` and expanded by ``synonyms``.

    In a plain query (words, phrases, filters and exclusions, no ``OR``),
    optional words rank without being required, and the plan's ``relaxed``
    side finds posts holding only some of the required units (see
    :mod:`search.query.terms`).
    """
    if node is None:
        return plan.Plan(plan.Everything())
    planner = _Planner(segmenter, synonyms)
    match, relaxed = planner.top(node)
    return plan.Plan(match, tuple(dict.fromkeys(planner.highlights)), tuple(dict.fromkeys(planner.title_highlights)),
                     units=tuple(planner.units), relaxed=relaxed if len(planner.units) > 1 else None)


# --- planning ----------------------------------------------------------------------------------

@dataclass
class _TermParts:
    """A positive query word, planned: one node per required unit, and what the word adds to a score."""

    required: list[plan.Unit]
    scores: plan.Node


class _Planner:
    """Turns the syntax tree into plan nodes: substring matching, word ranking, bonuses, highlights."""

    def __init__(self, segmenter: Segmenter, synonyms: Synonyms):
        self.segmenter = segmenter
        self.synonyms = synonyms
        self.highlights: list[str] = []
        self.title_highlights: list[str] = []
        self.units: list[plan.Unit] = []  # the required units of the top level's words

    def top(self, node: Node) -> tuple[plan.Node, plan.Node | None]:
        """Plan the whole query: return its match and, for a plain query, its relaxed form (any required unit)."""
        children = node.children if isinstance(node, And) else (node,)
        if any(isinstance(c, Or | And) for c in children):
            return self._with_whole(self.plan(node), node), None
        cut = {i: self.cut(c) for i, c in enumerate(children) if isinstance(c, Term)}
        optional = any(units is None or not all(u.optional for u in units) for units in cut.values())
        words, others, excluded = [], [], []
        for i, child in enumerate(children):
            if i in cut:
                words.append(self.positive(child, cut[i], optional=optional))
            elif isinstance(child, Not):
                excluded.append(self.plan(child.child, True))
            else:
                others.append(self.plan(child))
        self.units = [u for parts in words for u in parts.required]
        exact = [self.word_match(parts) for parts in words]
        scores = [parts.scores for parts in words if not parts.required]
        # As typed (a synonym in the title counts as a synonym); one character is too common to look up.
        title = tuple(plan.Contains(u.text, "title_grams") for u in self.units if len(u.text) > 1)
        if len(title) > 1 and TITLE_ALL_BONUS:  # with one, the title match says as much
            scores.append(plan.Feature(TITLE_ALL, plan.Constant(plan.AllOf(title), TITLE_ALL_BONUS)))
        match = self._combine([e for e in exact if e is not None], others, excluded, scores)
        relaxed = None
        if self.units:
            anything = plan.Maybe(
                plan.Feature(SUBSTRING, plan.Weighted(plan.AnyOf(tuple(u.match for u in self.units)), RECALL_WEIGHT)),
                plan.AnyOf(tuple(parts.scores for parts in words)))
            relaxed = self._combine([anything], others, excluded, [])
        return self._with_whole(match, node), relaxed and self._with_whole(relaxed, node)

    @staticmethod
    def _combine(required: list, others: list, excluded: list, scores: list) -> plan.Node:
        parts = required + others
        node = plan.AllOf(tuple(parts)) if len(parts) > 1 else parts[0] if parts else plan.Everything()
        if scores:
            node = plan.Maybe(node, plan.AnyOf(tuple(scores)))
        if excluded:
            node = plan.Excluding(node, plan.AnyOf(tuple(excluded)))
        return node

    def _with_whole(self, match: plan.Node, node: Node) -> plan.Node:
        whole = self.whole_query(node)
        return plan.Maybe(match, whole) if whole is not None else match

    def plan(self, node: Node, negated: bool = False) -> plan.Node:
        if isinstance(node, Term):
            if negated:
                return self.excluded(node)
            return self.word_match(self.positive(node, self.cut(node), optional=False))
        if isinstance(node, FieldFilter):
            return plan.Constant(self.field_filter(node, negated), 0.0)
        if isinstance(node, DateFilter):
            return plan.Constant(plan.Dates(node.start, node.end), 0.0)
        if isinstance(node, Not):
            return self.plan(node.child, not negated)
        if isinstance(node, Or):
            return plan.AnyOf(tuple(self.plan(c, negated) for c in node.children))
        positive = [c for c in node.children if not isinstance(c, Not)]
        negative = [c.child for c in node.children if isinstance(c, Not)]
        include = plan.AllOf(tuple(self.plan(c, negated) for c in positive)) if positive else plan.Everything()
        if not negative:
            return include
        return plan.Excluding(include, plan.AnyOf(tuple(self.plan(c, not negated) for c in negative)))

    def cut(self, node: Term) -> list[Unit] | None:
        """Return the units of an unquoted word (None for a quoted phrase, which is one literal unit)."""
        if node.quoted:
            return None
        return term_units(compact(normalise(node.text))[0], self.synonyms, self.segmenter)

    def excluded(self, node: Term) -> plan.Node:
        """What an excluded word matches: every unit (any of its synonyms), or the phrase."""
        folded = compact(normalise(node.text))[0]
        units = self.cut(node)
        if units is None:
            return plan.Contains(folded)
        return _all(tuple(self.unit_match(u) for u in units))

    def positive(self, node: Term, units: list[Unit] | None, *, optional: bool) -> _TermParts:
        """Plan a word to find: its required units (optional ones left out if ``optional``), scores, highlights."""
        folded = compact(normalise(node.text))[0]
        self.highlights.append(folded)
        self.title_highlights.append(folded)
        if units is None:
            required = [plan.Unit(folded, plan.Contains(folded), folded)]
            units = [Unit(folded, (folded,))]
        else:
            required = [plan.Unit(u.text, self.unit_match(u), folded) for u in units if not (optional and u.optional)]
            for u in units:
                self.highlights.extend(a for a in u.alternatives if a != folded)
                self.title_highlights.extend(u.synonyms)
        bonus: list[plan.Node] = [self.word_scores(folded)]
        if len(units) > 1:
            bonus.append(plan.Feature(PHRASE, plan.Constant(plan.Contains(folded), ADJACENT_BONUS)))
        bonus.append(plan.Feature(TITLE_MATCH, plan.Constant(plan.Contains(folded, "title_grams"), TITLE_BONUS)))
        for u in units:
            for synonym in u.synonyms:
                bonus.append(plan.Feature(SYNONYMS, plan.Weighted(self.word_scores(synonym), SYNONYM_WEIGHT)))
                if not self.is_latin_word(synonym):  # a word's title score is in its word scores
                    bonus.append(plan.Feature(SYNONYMS, plan.Constant(plan.Contains(synonym, "title_grams"),
                                                                      TITLE_BONUS * SYNONYM_WEIGHT)))
        return _TermParts(required, plan.AnyOf(tuple(bonus)))

    def unit_match(self, unit: Unit) -> plan.Node:
        """What finds a unit: its text, or any of its synonyms.

        A synonym that is one Latin word (``kubernetes``, ``tencent``) is found
        as that word, not as a substring: the recall index would read every
        post's ``te``, ``en``, ``nt``… to find it, a cost a reader who typed
        腾讯 should not pay (a word typed in Latin is still found as a substring).
        """
        found = tuple(plan.Words((a,)) if a != unit.text and self.is_latin_word(a) else plan.Contains(a)
                      for a in unit.alternatives)
        return found[0] if len(found) == 1 else plan.AnyOf(found)

    def is_latin_word(self, text: str) -> bool:
        """Return True for text without Chinese that the segmenter keeps as one word (``nvidia``, not ``ps5``)."""
        return not any(map(is_cjk, text)) and [w for w, _, _ in self.segmenter.tokenize(text)] == [text]

    @staticmethod
    def word_match(parts: _TermParts) -> plan.Node | None:
        """A word's match (all required units) with its scores on top; None if it has no required unit."""
        if not parts.required:
            return None
        match = _all(tuple(u.match for u in parts.required))
        return plan.Maybe(plan.Feature(SUBSTRING, plan.Weighted(match, RECALL_WEIGHT)), parts.scores)

    def word_scores(self, folded: str) -> plan.Words:
        """BM25F over the jieba words of a term, title and body."""
        words = [w for w, _, _ in self.segmenter.tokenize(folded) if is_word(w)] or [folded]
        return plan.Words(tuple(dict.fromkeys(words)))

    def field_filter(self, node: FieldFilter, negated: bool) -> plan.Node:
        key = filter_key(node.value)
        if node.field in ("source", "category"):
            return plan.Key(node.field, key)
        if not negated:
            self.title_highlights.append(key)
        if not key:
            return plan.Nothing()
        return plan.Contains(key, "title_grams")

    def whole_query(self, node: Node) -> plan.Node | None:
        """Bonus for documents containing all positive words of a plain AND query contiguously, in order."""
        children = node.children if isinstance(node, And) else ()
        terms = [c for c in children if isinstance(c, Term)]
        if len(terms) < 2:
            return None
        joined = "".join(compact(normalise(t.text))[0] for t in terms)
        self.highlights.append(joined)
        return plan.Feature(WHOLE_QUERY, plan.AnyOf((plan.Constant(plan.Contains(joined), WHOLE_QUERY_BONUS),
                                                     plan.Constant(plan.Contains(joined, "title_grams"),
                                                                   WHOLE_QUERY_BONUS))))


def _all(nodes: tuple) -> plan.Node:
    return nodes[0] if len(nodes) == 1 else plan.AllOf(nodes)
