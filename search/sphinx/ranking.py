"""The Sphinx ranker expression: the local index's scoring, as far as Sphinx's ranking factors reach.

The Whoosh index scores a post with BM25 (``K1``, ``B`` of
:mod:`search.local.searcher`) over body words, plus ``TITLE_WEIGHT`` times BM25
over title words, plus constant bonuses when a bonus phrase of the plan occurs
(a multi-word term contiguously, a term in the title, the whole query). The
expression built here has the same parts:

* two ``bm25f()`` calls, one per word field, scaled by ``(K1 + 1)`` and by
  Sphinx's idf normalisation ``2·ln(N + 1)`` so they are on Whoosh's scale;
* for each bonus, ``lcs`` of its field (the longest run of consecutive query
  keywords found at consecutive positions) compared with the number of
  bigrams of the bonus phrase: the run is that long only where the phrase
  occurs. Several bonuses in one field are told apart by length only, which
  is exact for one-term queries and close for longer ones.

``lcs`` only sees a phrase whose keywords are numbered consecutively, and
Sphinx numbers keywords by first appearance in ``MATCH()`` (a repeated
keyword keeps its first number). :func:`ranked_match` therefore opens the
expression with the bonus phrases, in a group that cannot change what
matches.

Sphinx 2.2 keeps no index-wide field lengths for real-time indexes and its
``bm25f()`` then divides by an average length of ``1/N``. The expression
compensates: with ``k1' = K1·(1 - B)`` and ``b' = 1/Σ lengths of the shard``
its denominator is ``K1·(1 - B + B·dl/avgdl)`` as BM25 means it. Engines that
keep the lengths (Manticore) get ``K1`` and ``B`` unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..query import plan
from ..query.ranking import BM25_B, BM25_K1, TITLE_WEIGHT
from .documents import FIELDS, bigrams
from .match import to_match

#: Weights (``OPTION field_weights``) that let the expression tell the bonus fields apart.
FIELD_IDS = {"grams": 2, "title_grams": 3}
#: The expression's value is truncated to an integer by Sphinx: scores are kept in thousandths.
SCALE = 1000


@dataclass(frozen=True)
class Collection:
    """What the expression needs to know about one shard: its documents and word-field lengths."""

    docs: int
    title_length: int
    body_length: int
    has_length_totals: bool = False  # True where the engine averages field lengths itself (Manticore)


def ranker_options(node: plan.Node, collection: Collection) -> str:
    """Return the ``OPTION`` clause items that rank ``node``'s matches (ranker, idf, field weights)."""
    idf_scale = (BM25_K1 + 1) * 2 * math.log(collection.docs + 1)
    body = _bm25f("body_words", collection.body_length, collection)
    title = _bm25f("title_words", collection.title_length, collection)
    parts = [f"{idf_scale:.6g}*({body} - 0.5)", f"{TITLE_WEIGHT * idf_scale:.6g}*({title} - 0.5)"]
    bonuses = _bonus_phrases(node)
    if bonuses:
        conditions = " + ".join(f"{score:g}*(user_weight=={FIELD_IDS[field]})*(lcs>={len(bigrams(text))})"
                                for field, text, score in bonuses)
        parts.append(f"sum({conditions})")
    weights = ", ".join(f"{f}={FIELD_IDS.get(f, 1)}" for f in FIELDS)
    expression = f"{SCALE}*({' + '.join(parts)})"
    return f"ranker=expr('{expression}'), idf='plain,tfidf_unnormalized', field_weights=({weights})"


def ranked_match(node: plan.Node) -> str:
    """Return the ``MATCH()`` expression of ``node`` with its bonus phrases numbered first.

    The phrases (longest first) are ORed with a part of the query that every
    match satisfies, and the group is ANDed with the query, so the matches
    are exactly :func:`search.sphinx.match.to_match`'s.

    >>> ranked_match(plan.Maybe(plan.AllOf((plan.Contains("不再"), plan.Contains("感觉"))),
    ...                         plan.Constant(plan.Contains("不再感觉"), 20.0)))
    '(((@grams "不再 再感 感觉") | (@grams 不再)) (((@grams 不再) (@grams 感觉)) MAYBE (@grams "不再 再感 感觉")))'
    """
    phrases = sorted(dict.fromkeys((field, text) for field, text, _ in _bonus_phrases(node)),
                     key=lambda phrase: -len(phrase[1]))
    if not phrases:
        return to_match(node)
    opening = " | ".join(to_match(plan.Contains(text, field)) for field, text in phrases)
    return f"(({opening} | {to_match(_implied(node))}) {to_match(node)})"


def _implied(node: plan.Node) -> plan.Node:
    """Return a small part of ``node`` that every post matching ``node`` matches too."""
    while True:
        if isinstance(node, plan.AllOf):
            node = node.children[0]
        elif isinstance(node, plan.Maybe):
            node = node.required
        elif isinstance(node, plan.Excluding):
            node = node.include
        elif isinstance(node, plan.Weighted | plan.Constant | plan.Feature):
            node = node.child
        else:
            return node


def _bm25f(field: str, total_length: int, collection: Collection) -> str:
    weights = ", ".join(f"{f}={int(f == field)}" for f in FIELDS)
    if collection.has_length_totals:
        k1, b = BM25_K1, BM25_B
    else:
        k1, b = BM25_K1 * (1 - BM25_B), 1 / max(total_length, 1)
    return f"bm25f({k1:.6g}, {b:.6g}, {{{weights}}})"


def _bonus_phrases(node: plan.Node, optional: bool = False) -> list[tuple[str, str, float]]:
    """Return ``(field, text, score)`` of every constant bonus phrase in the plan (optional parts only)."""
    if isinstance(node, plan.Constant):
        child = node.child
        if optional and node.score and isinstance(child, plan.Contains):
            return [(child.field, child.text, node.score)]
        return []
    if isinstance(node, plan.Maybe):
        return _bonus_phrases(node.required, optional) + _bonus_phrases(node.optional, True)
    if isinstance(node, plan.AllOf | plan.AnyOf):
        return [b for child in node.children for b in _bonus_phrases(child, optional)]
    if isinstance(node, plan.Excluding):
        return _bonus_phrases(node.include, optional)
    if isinstance(node, plan.Weighted | plan.Feature):
        return _bonus_phrases(node.child, optional)
    return []
