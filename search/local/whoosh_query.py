"""Query plans (:mod:`search.query.plan`) as Whoosh queries: how the local index runs what :mod:`search.query.syntax`
planned.

Substrings are looked up in the recall index (:mod:`search.local.recall`), words in
the BM25F fields, filters in the key fields and date column; ``Without`` and
``Maybe`` fix two Whoosh matcher bugs.
"""

from __future__ import annotations

from dataclasses import dataclass

from whoosh import query as wq
from whoosh.matching import AndMaybeMatcher
from whoosh.matching.mcore import ReadTooFar

from ..query import plan
from ..text.analysis import DEFAULT_SEGMENTER, Segmenter
from ..query.syntax import Node, plan_query
from ..query.ranking import TITLE_WEIGHT
from .recall import RecallQuery
from ..query.synonyms import NO_SYNONYMS, Synonyms
from ..whoosh_internals import WithoutMatcher


class Without(wq.AndNot):
    """The matches of ``a`` that do not match ``b``: Whoosh's ``AndNot`` without its first-match bug.

    Whoosh's ``AndNotMatcher`` checks its first match against ``b`` only when
    ``b``'s first match is the same document, so in each segment the first
    document of ``a`` was kept even when it matched ``b`` later on
    (``NOT 游戏 科技`` listed a post about 游戏).
    """

    def matcher(self, searcher, context=None):
        return WithoutMatcher(self.a.matcher(searcher, context), self.b.matcher(searcher, searcher.boolean_context()))


class _MaybeMatcher(AndMaybeMatcher):
    def skip_to(self, id):
        if not self.a.is_active():
            raise ReadTooFar
        moved = self.a.skip_to(id)
        if self.a.is_active() and self.b.is_active() and self.b.id() < self.a.id():
            moved = self.b.skip_to(self.a.id()) or moved
        return moved


class Maybe(wq.AndMaybe):
    """The matches of ``a``, scored ``a + b`` where ``b`` matches too: Whoosh's ``AndMaybe`` without its skip bug.

    Whoosh's ``AndMaybeMatcher.skip_to(id)`` moves ``b`` to ``id``, not to
    where ``a`` landed, so inside an intersection (a query of several words)
    ``b`` could stop short of ``a``'s document and its score was dropped
    there: a post holding every word lost the bonuses of one of them.
    """

    matcherclass = _MaybeMatcher


@dataclass(frozen=True)
class Compiled:
    """A Whoosh query plus what the highlighter needs: folded strings to mark."""

    query: wq.Query
    highlights: tuple[str, ...]
    title_highlights: tuple[str, ...]


def contains(text: str, field: str = "grams") -> wq.Query:
    """Return a query matching documents whose recall ``field`` contains folded, compacted ``text``.

    One character in the whole post is looked up in the ``chars`` field, which
    also ranks it; everything else in the recall index (:mod:`search.local.recall`).
    """
    if len(text) == 1 and field == "grams":
        return wq.Term("chars", text)
    return RecallQuery(field, text)


def compile_query(node: Node | None, *, segmenter: Segmenter = DEFAULT_SEGMENTER,
                  synonyms: Synonyms = NO_SYNONYMS) -> Compiled:
    """Return the Whoosh query for a syntax tree (``None`` matches every document), words cut by ``segmenter``."""
    planned = plan_query(node, segmenter=segmenter, synonyms=synonyms)
    return Compiled(to_whoosh(planned.match), planned.highlights, planned.title_highlights)


def to_whoosh(node: plan.Node) -> wq.Query:
    """Return the Whoosh query of a plan node."""
    if isinstance(node, plan.Contains):
        return contains(node.text, node.field)
    if isinstance(node, plan.Words):
        return wq.Or([wq.Term(f, w, boost=TITLE_WEIGHT if f == "title" else 1.0)
                      for w in node.words for f in ("title", "body")])
    if isinstance(node, plan.Key):
        return wq.Term("source_key" if node.field == "source" else "category_keys", node.key)
    if isinstance(node, plan.Dates):
        return wq.DateRange("date", node.start, node.end, endexcl=node.end is not None)
    if isinstance(node, plan.Everything):
        return wq.Every()
    if isinstance(node, plan.Nothing):
        return wq.NullQuery
    if isinstance(node, plan.AllOf):
        return wq.And([to_whoosh(c) for c in node.children])
    if isinstance(node, plan.AnyOf):
        return wq.Or([to_whoosh(c) for c in node.children])
    if isinstance(node, plan.Excluding):
        return Without(to_whoosh(node.include), to_whoosh(node.exclude))
    if isinstance(node, plan.Weighted):
        q = to_whoosh(node.child)
        q.boost = node.weight
        return q
    if isinstance(node, plan.Constant):
        return wq.ConstantScoreQuery(to_whoosh(node.child), node.score)
    if isinstance(node, plan.Maybe):
        return Maybe(to_whoosh(node.required), to_whoosh(node.optional))
    if isinstance(node, plan.Feature):
        return to_whoosh(node.child)
    raise TypeError(f"not a plan node: {node!r}")
