"""Query plan -> SphinxQL ``MATCH()`` expression: the same posts the Whoosh translation finds.

Every leaf names its field and every group is parenthesised, so Sphinx's
operator precedence and field-limit scoping never come into play. Tokens are
spelt by :func:`search.sphinx.documents.encode`, as in the documents, so
nothing needs escaping. Scores are not encoded here: ``Weighted`` and
``Constant`` only match their child, and the optional side of ``Maybe``
(``MAYBE``) contributes to the ranker of :mod:`search.sphinx.ranking`.
"""

from __future__ import annotations

from ..query import plan
from .documents import ANY, NONE, bigrams, date_cover, encode, key_token, word_token

#: Where a substring of each recall field is looked up: (bigram field, one-character field).
_FIELDS = {"grams": ("grams", "chars"), "title_grams": ("title_grams", "title_chars")}


def to_match(node: plan.Node) -> str:
    """Return the ``MATCH()`` expression of a plan node.

    >>> to_match(plan.Contains("国际论坛"))
    '(@grams "国际 际论 论坛")'
    >>> to_match(plan.Excluding(plan.Everything(), plan.Contains("广告")))
    '((@keys any) -(@grams 广告))'
    """
    if isinstance(node, plan.Contains):
        return _contains(node.text, *_FIELDS[node.field])
    if isinstance(node, plan.Words):
        return f"(@(title_words,body_words) {' | '.join(map(word_token, node.words))})"
    if isinstance(node, plan.Key):
        return f"(@keys {key_token(node.field, node.key)})"
    if isinstance(node, plan.Dates):
        return f"(@keys {' | '.join(date_cover(node.start, node.end)) or NONE})"
    if isinstance(node, plan.Everything):
        return f"(@keys {ANY})"
    if isinstance(node, plan.Nothing):
        return f"(@keys {NONE})"
    if isinstance(node, plan.AllOf):
        return "(" + " ".join(map(to_match, node.children)) + ")"
    if isinstance(node, plan.AnyOf):
        return "(" + " | ".join(map(to_match, node.children)) + ")"
    if isinstance(node, plan.Excluding):
        return f"({to_match(node.include)} -{to_match(node.exclude)})"
    if isinstance(node, plan.Weighted | plan.Constant | plan.Feature):
        return to_match(node.child)
    if isinstance(node, plan.Maybe):
        return f"({to_match(node.required)} MAYBE {to_match(node.optional)})"
    raise TypeError(f"not a plan node: {node!r}")


def _contains(text: str, field: str, char_field: str) -> str:
    """Substring match, as the recall index: one character anywhere, one bigram, or a phrase of bigrams."""
    if len(text) == 1:
        return f"(@{char_field} {encode(text)})"
    parts = bigrams(text)
    if len(parts) == 1:
        return f"(@{field} {encode(parts[0])})"
    return f'(@{field} "{" ".join(map(encode, parts))}")'
