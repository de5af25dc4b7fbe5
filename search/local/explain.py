"""Why a post ranks where it does: its score, feature by feature (``query --explain``, ``explain=True``).

A post's relevance score is a sum: each scoring part of the query plan adds
its share (BM25 of the words in the body and in the title, the substring
match, the bonuses for a phrase, a title match and the whole query,
synonyms), then factors multiply it (recency, the template-digest prior,
and, for a partial match, the share of the query it holds). Explaining
evaluates each part of the plan for the one post, names it after the nearest
:class:`search.query.plan.Feature` (word scores after their field), and adds up
parts of the same name. The additive shares sum to the score before the
factors, up to float rounding.

Explaining runs each part of the query again, so it is for looking, not for
every search; it needs the local index.
"""

from __future__ import annotations

from whoosh import query as wq

from ..query import plan
from .evaluate import Unsupported, evaluate
from ..query.ranking import SYNONYMS, TITLE_WEIGHT
from .whoosh_query import to_whoosh
from ..query.results import Share

#: Names of the word scores, by field.
BODY_WORDS, TITLE_WORDS = "body words", "title words"
#: What a filter adds to a score: Whoosh counts a constant 0 as 1.
FILTERS = "filters"
#: Factors: the recency blend (``half_life_days``), and for a partial match the share of the query it holds.
RECENCY, QUERY_HELD = "recency", "query held"


def explain(searcher, node: plan.Node, docnum: int, factors: tuple[tuple[str, float], ...] = ()) -> tuple[Share, ...]:
    """Return the parts of ``docnum``'s score under ``node`` (a plan), largest first, then ``factors``."""
    parts: dict[str, float] = {}
    _Walk(searcher, docnum, parts).score(node, 1.0, "")
    shares = sorted((Share(name, value) for name, value in parts.items() if value), key=lambda s: -s.value)
    return tuple(shares) + tuple(Share(name, value, factor=True) for name, value in factors if value != 1.0)


class _Walk:
    """Evaluates plan parts for one document (each part over the whole index, as searching does)."""

    def __init__(self, searcher, docnum: int, parts: dict[str, float]):
        self.searcher, self.docnum, self.parts = searcher, docnum, parts

    def value(self, q: wq.Query) -> float | None:
        """``q``'s score for the document, None if it does not match."""
        try:
            found = evaluate(self.searcher, q)
        except Unsupported:
            hits = {d: s for s, d in self.searcher.search(q, limit=None, scored=True).top_n}
            return hits.get(self.docnum)
        i = found.docnums.searchsorted(self.docnum)
        return float(found.scores[i]) if i < len(found.docnums) and found.docnums[i] == self.docnum else None

    def matches(self, node: plan.Node) -> bool:
        return self.value(to_whoosh(node)) is not None

    def add(self, name: str, value: float) -> None:
        self.parts[name] = self.parts.get(name, 0.0) + value

    def score(self, node: plan.Node, weight: float, name: str) -> bool:
        """Add ``node``'s parts (times ``weight``) under ``name``; return whether the document matches it."""
        if isinstance(node, plan.Feature):
            return self.score(node.child, weight, node.name)
        if isinstance(node, plan.Weighted):
            return self.score(node.child, weight * node.weight, name)
        if isinstance(node, plan.Constant):
            if not self.matches(node.child):
                return False
            self.add(name or FILTERS, weight * (node.score or 1.0))
            return True
        if isinstance(node, plan.Words):
            found = False
            for word in node.words:
                for field, label, boost in (("body", BODY_WORDS, 1.0), ("title", TITLE_WORDS, TITLE_WEIGHT)):
                    value = self.value(wq.Term(field, word))
                    if value is not None:
                        self.add(name if name == SYNONYMS else label, weight * boost * value)
                        found = True
            return found
        if isinstance(node, plan.Maybe):
            if not self.score(node.required, weight, name):
                return False
            self.score(node.optional, weight, name)
            return True
        if isinstance(node, plan.AllOf | plan.AnyOf):
            results = [self.score(child, weight, name) for child in node.children]
            return all(results) if isinstance(node, plan.AllOf) else any(results)
        if isinstance(node, plan.Excluding):
            return self.score(node.include, weight, name)
        value = self.value(to_whoosh(node))  # a leaf: substring, key, dates, everything
        if value is None:
            return False
        self.add(name or FILTERS, weight * value)
        return True

