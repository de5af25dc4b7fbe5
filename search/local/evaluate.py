"""Evaluating a compiled query with numpy, a whole segment at a time, with Whoosh's exact results.

Whoosh runs a query as a tree of matchers that step through the matching
documents one by one in Python, about 7 µs a match: a common word costs
50-150 ms on a 56,000-post index. Here each node of the same query tree is
evaluated for every document of a segment at once, as a boolean array (does
it match?) and a float array (its score, 0 where it does not match), and the
segments' matches are concatenated.

The results are Whoosh's, not merely close to them: the same documents, and
scores computed by the same floating-point operations in the same order.
That means copying a few details of Whoosh's matchers:

* BM25F per term exactly as ``whoosh.scoring.BM25FScorer``: idf and average
  field length from the top-level searcher, the byte-quantised field length of
  each document, the query's boost applied afterwards;
* ``Or`` and ``And`` of more than two parts add up their scores in the
  Huffman-like tree Whoosh builds from each part's estimated size in the
  segment (:func:`whoosh.util.make_weighted_tree`), or, for an ``Or`` in a
  segment of at most 5,000 documents, left to right (``ArrayUnionMatcher``);
* a compound query with a single part ignores its own boost; exclusion
  (:class:`search.local.whoosh_query.Without`, not Whoosh's buggy ``AndNot``) looks at the
  excluded side in an unscored context; an optional side
  (:class:`search.local.whoosh_query.Maybe`, not Whoosh's ``AndMaybe``, which could skip
  past a match) adds its score wherever it matches; ``ConstantScoreQuery`` gives its score
  to every match of its child, except that a score of 0 counts as 1 (in
  Whoosh's ``ListMatcher`` a weight of 0 is taken for "no weight").

A query holding anything else raises :class:`Unsupported`, and the caller
runs it through Whoosh instead, so correctness never depends on coverage.
"""

from __future__ import annotations

import bisect
import copy
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh import scoring
from whoosh.reading import TermNotFound

from .whoosh_query import Maybe, Without
from .recall import RecallQuery, average_length, recall_scores
from ..whoosh_internals import (field_b, has_numeric_column, live_documents, read_field_lengths, read_numeric_column,
                                reader_cache, terminfo_postings)

#: Whoosh builds an ``Or`` of more than two parts as a preloaded array union in segments this small.
_PRELOAD_MAX_DOCS = 5000
#: ... and never for this many parts or more.
_TOO_MANY_CLAUSES = 1024


class Unsupported(Exception):
    """The query (or the searcher's weighting) holds something this module does not evaluate."""


@dataclass(frozen=True)
class Evaluated:
    """Every match of a query in the whole index: global document numbers (ascending) and scores."""

    docnums: np.ndarray  # int64
    scores: np.ndarray  # float64


def evaluate(searcher, q: wq.Query, *, memo: dict | None = None, within: np.ndarray | None = None) -> Evaluated:
    """Return every document ``q`` matches in ``searcher``'s index, with the score Whoosh would give it.

    ``searcher`` is the top-level searcher (its weighting must be BM25F; a
    weighting with a ``final`` step must offer it for arrays as ``final_scores``).
    Queries evaluated with the same ``memo`` (a dict, for one searcher) share
    what they read: terms' postings and sizes, recall bigrams and the posts holding each string.
    ``within`` (global document numbers, ascending) evaluates ``q`` on those
    documents only: the same matches and scores among them, found at a cost
    that follows their number rather than the index's size (a query's partial
    matches are scored among the posts holding one of its words, a few
    hundred where the index holds tens of thousands).

    :raises Unsupported: if a part of ``q`` or the weighting cannot be evaluated here.
    """
    weighting = searcher.weighting
    if not isinstance(weighting, scoring.BM25F) or type(weighting).scorer is not scoring.BM25F.scorer:
        raise Unsupported(f"weighting {type(weighting).__name__}")
    if weighting.use_final and not hasattr(weighting, "final_scores"):
        raise Unsupported(f"{type(weighting).__name__}.final for arrays")
    docnums, scores = [], []
    for leaf, offset in searcher.leaf_searchers():
        segment = memo.get(offset) if memo is not None else None
        if segment is None:
            segment = _Segment(leaf, searcher)
            if memo is not None:
                memo[offset] = segment
        if within is not None:
            first, last = np.searchsorted(within, (offset, offset + segment.size))
            if first == last:
                continue
            segment = segment.among(within[first:last] - offset)
        part = segment.evaluate(q, scored=True)
        found = np.flatnonzero(part.mask & segment.live)
        docnums.append((found if segment.rows is None else segment.rows[found]) + offset)
        scores.append(part.values()[found])
    result = Evaluated(np.concatenate(docnums) if docnums else np.zeros(0, np.int64),
                       np.concatenate(scores) if scores else np.zeros(0, np.float64))
    if weighting.use_final and len(result.docnums):
        result = Evaluated(result.docnums, weighting.final_scores(searcher, result.docnums, result.scores))
    return result


def preload(reader) -> None:
    """Read now the columns evaluation uses in a segment (lengths of scored fields, numeric columns),
    so that searching keeps working from memory even if the index's files are deleted later."""
    for name, field in reader.schema.items():
        if field.scorable:
            field_lengths(reader, name)
        if reader.has_column(name) and has_numeric_column(field):
            column_values(reader, name)


def field_lengths(reader, fieldname: str) -> np.ndarray:
    """Return every document's length in ``fieldname`` as Whoosh scores it (quantised to a byte), as floats."""
    cache = reader_cache(reader, "lengths")
    if fieldname not in cache:
        cache[fieldname] = read_field_lengths(reader, fieldname)
    return cache[fieldname]


def column_values(reader, fieldname: str) -> np.ndarray:
    """Return a numeric column's raw (sortable) value for every document of a segment, as uint64."""
    cache = reader_cache(reader, "columns")
    if fieldname not in cache:
        cache[fieldname] = read_numeric_column(reader, fieldname)
    return cache[fieldname]


@dataclass
class _Part:
    """One query node's result in one segment: which documents match, and their scores.

    ``scores`` is None where Whoosh's scores for the node are not reproduced
    (a date range): a parent that needs them raises :class:`Unsupported`.
    """

    mask: np.ndarray
    scores: np.ndarray | None

    def values(self) -> np.ndarray:
        if self.scores is None:
            raise Unsupported("scores of a node evaluated as a filter only")
        return self.scores


class _Segment:
    """Evaluates query nodes over one leaf searcher's documents (or some of them: :meth:`among`)."""

    def __init__(self, leaf, top):
        self.leaf, self.top = leaf, top
        self.reader = leaf.reader()
        self.sizes = _KnownSizes(self.reader)
        self.decoded: dict = {}  # recall bigrams and matches this query has looked up in this segment
        self.postings: dict = {}  # (field, term) -> live (document numbers, weights)
        self.required: dict = {}  # id of a Maybe's required side -> its part, evaluated ahead (And)
        self.size = self.segment_size = self.reader.doc_count_all()
        self.rows: np.ndarray | None = None  # the documents evaluated, when not all (see among)
        self.live = live_documents(self.reader)
        self.segment_live = self.live  # every document's, also in a view of some (see among)

    def among(self, rows: np.ndarray) -> _Segment:
        """Return this segment evaluating only the documents ``rows`` (ascending): array position ``i``
        stands for document ``rows[i]``. It shares what this one has read."""
        view = copy.copy(self)
        view.rows, view.size, view.live, view.required = rows, len(rows), self.live[rows], {}
        return view

    def sparse(self, docs: np.ndarray, scores: np.ndarray) -> _Part:
        """The part of documents ``docs`` (ascending) scoring ``scores``."""
        if self.rows is not None:
            docs, scores = self.rows_of(docs, scores)
        part = self.empty()
        part.mask[docs] = True
        part.scores[docs] = scores
        return part

    def rows_of(self, docs: np.ndarray, *values: np.ndarray) -> tuple[np.ndarray, ...]:
        """Return the positions of those of ``docs`` (ascending) that are evaluated, and their ``values``."""
        at = np.searchsorted(self.rows, docs)
        inside = at < len(self.rows)
        inside[inside] = self.rows[at[inside]] == docs[inside]
        return (at[inside], *(v[inside] for v in values))

    def empty(self) -> _Part:
        return _Part(np.zeros(self.size, dtype=bool), np.zeros(self.size))

    def constant(self, mask: np.ndarray, score: float) -> _Part:
        return _Part(mask, np.where(mask, score, 0.0))

    def evaluate(self, q, *, scored: bool) -> _Part:
        """``scored`` is False in Whoosh's boolean context (the excluded side of ``AndNot``)."""
        kind = type(q)
        if q is wq.NullQuery:
            return self.empty()
        if kind is RecallQuery:
            return self.recall(q)
        if kind is wq.Term:
            return self.term(q)
        # Both become a ListMatcher of one weight for all, and a weight of 0 reads as 1.0 there.
        if kind is wq.ConstantScoreQuery:
            return self.constant(self.evaluate(q.child, scored=scored).mask, q.score or 1.0)
        if kind is wq.Every and q.fieldname in (None, "", "*"):
            return self.constant(self.live.copy(), q.boost or 1.0)
        if kind is wq.DateRange and q.fieldname == "date":
            return self.date_range(q)
        if kind is wq.And:
            return self.compound(q, scored, _both, lambda sub: 0 - sub.estimate_size(self.sizes))
        if kind is wq.Or:
            return self.disjunction(q, scored)
        if kind is Maybe:
            a = self.required.pop(id(q.a), None) or self.evaluate(q.a, scored=scored)
            if not a.mask.any():  # nothing to add the optional side's scores to
                return a
            b = self.evaluate(q.b, scored=scored)
            return _Part(a.mask, np.where(a.mask & b.mask, a.values() + b.values(), a.values()))
        if kind is Without:
            a = self.evaluate(q.a, scored=scored)
            if not a.mask.any():
                return a
            b = self.evaluate(q.b, scored=False)
            mask = a.mask & ~b.mask
            return _Part(mask, None if a.scores is None else np.where(mask, a.scores, 0.0))
        raise Unsupported(f"query node {kind.__name__}")

    def recall(self, q: RecallQuery) -> _Part:
        docs, scores = recall_scores(self.reader, q, self.decoded, average=average_length(self.top, q.fieldname))
        return self.sparse(docs, scores)

    def term(self, q: wq.Term) -> _Part:
        schema = self.reader.schema
        if q.fieldname not in schema:
            return self.empty()
        field = schema[q.fieldname]
        try:
            btext = field.to_bytes(q.text)
        except ValueError:
            return self.empty()
        found = self.postings.get((q.fieldname, btext))
        if found is None:
            try:
                terminfo = self.reader.term_info(q.fieldname, btext)
            except TermNotFound:
                self.sizes.known[q.fieldname, btext] = 0
                return self.empty()
            self.sizes.known[q.fieldname, btext] = terminfo.doc_frequency()
            ids, weights = terminfo_postings(self.reader, terminfo)
            keep = self.segment_live[ids]
            found = self.postings[q.fieldname, btext] = ids[keep], weights[keep]
        ids, weights = found
        at = ids
        if self.rows is not None:  # scored element by element: the same scores for fewer documents
            at, ids, weights = self.rows_of(ids, ids, weights)
        if field.scorable:
            scores = self.bm25(q.fieldname, btext, weights, field_lengths(self.reader, q.fieldname)[ids])
        else:
            scores = weights
        if q.boost != 1.0:
            scores = scores * q.boost
        part = self.empty()
        part.mask[at] = True
        part.scores[at] = scores
        return part

    def bm25(self, fieldname: str, btext: bytes, tf: np.ndarray, fl: np.ndarray) -> np.ndarray:
        """``whoosh.scoring.bm25`` over arrays, in the same order of operations (see BM25FScorer)."""
        weighting = self.top.weighting
        B = field_b(weighting, fieldname)
        K1 = weighting.K1
        parent = self.leaf.get_parent()  # as BM25FScorer: global statistics
        idf = parent.idf(fieldname, btext)
        avgfl = parent.avg_field_length(fieldname) or 1
        return idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))

    def date_range(self, q: wq.DateRange) -> _Part:
        """Documents whose date is in the range, from the date column (which holds the same
        microsecond counts as the range's ends; an undated post holds the field's default)."""
        values = column_values(self.reader, "date")
        if self.rows is not None:
            values = values[self.rows]
        mask = values != np.uint64(self.reader.schema["date"].default)
        if q.start is not None:
            mask &= values > np.uint64(q.start) if q.startexcl else values >= np.uint64(q.start)
        if q.end is not None:
            mask &= values < np.uint64(q.end) if q.endexcl else values <= np.uint64(q.end)
        return _Part(mask & self.live, None)

    def compound(self, q, scored: bool, combine, weight_of) -> _Part:
        """An ``And`` (or ``Or`` as Whoosh's ``DefaultOr``): parts paired up in Whoosh's weighted tree."""
        subs = list(q.subqueries)
        if not subs:
            return self.empty()
        if len(subs) == 1:
            return self.evaluate(subs[0], scored=scored)  # Whoosh ignores the boost here
        if combine is _both and not self.required_in_common(subs, scored):
            return self.empty()
        parts = []
        for sub in subs:
            part = self.evaluate(sub, scored=scored)  # first: it records the sizes of sub's terms
            if combine is _both and not part.mask.any():
                return self.empty()  # one part matches nothing: neither does the whole
            # Weights only order the sums, and two parts add up alike either way round (a range's size
            # alone walks its terms in every segment).
            parts.append((weight_of(sub) if len(subs) > 2 else 0, part))
        part = _weighted_tree(parts, combine)
        if q.boost != 1.0:
            part = _Part(part.mask, None if part.scores is None else part.scores * q.boost)
        return part

    def required_in_common(self, subs: list, scored: bool) -> bool:
        """Return False if the required sides of ``subs`` that are :class:`Maybe` have no document in common.

        The words of a query are each a ``Maybe`` (what must match, what it adds); scoring one word's
        optional side is wasted when another word matches nothing, or none of the same posts. The
        required sides evaluated here are kept for the ``Maybe`` that follows.
        """
        common = None
        for sub in subs:
            if type(sub) is Maybe:
                part = self.required[id(sub.a)] = self.evaluate(sub.a, scored=scored)
                common = part.mask if common is None else common & part.mask
                if not common.any():
                    self.required.clear()
                    return False
        return True

    def disjunction(self, q: wq.Or, scored: bool) -> _Part:
        subs = list(q.subqueries)
        if q.scale:
            raise Unsupported("Or with a coordination scale")
        if len(subs) < 2 or len(subs) >= _TOO_MANY_CLAUSES or len(subs) == 2 or self.segment_size > _PRELOAD_MAX_DOCS:
            if len(subs) >= _TOO_MANY_CLAUSES:
                raise Unsupported("Or of 1024 parts or more")
            return self.compound(q, scored, _either, lambda sub: sub.estimate_size(self.sizes))
        # Whoosh's PreloadedOr: scores added left to right, each times the boost; a
        # document matches where the sum is above 0 (except, by accident, the first
        # document of each 2,048-document window, which is why zero sums are refused).
        parts = [self.evaluate(sub, scored=scored) for sub in subs]
        mask = np.logical_or.reduce([p.mask for p in parts])
        if not scored:
            return _Part(mask, None)
        total = np.zeros(self.size)
        for p in parts:
            total += p.values() * q.boost
        if (total[mask] <= 0).any():
            raise Unsupported("Or matching documents with a zero score in a small segment")
        return _Part(mask, total)


def _both(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a & b


def _either(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a | b


class _KnownSizes:
    """A segment's reader as Whoosh's ``estimate_size`` sees it, answering document frequencies of
    the terms evaluation has already looked up, instead of looking each up in the term table again."""

    def __init__(self, reader):
        self._reader = reader
        self.known: dict[tuple[str, bytes], int] = {}

    def doc_frequency(self, fieldname: str, btext: bytes) -> int:
        size = self.known.get((fieldname, btext))
        return self._reader.doc_frequency(fieldname, btext) if size is None else size

    def __getattr__(self, name):
        return getattr(self._reader, name)


def _weighted_tree(parts: list[tuple[int, _Part]], combine) -> _Part:
    """Pair up parts as :func:`whoosh.util.make_weighted_tree` pairs up matchers.

    Whoosh sorts ``(weight, matcher)`` tuples, but matchers compare as never
    less than one another, so ties keep their order: a stable sort and
    right-insertion by weight alone build the same tree. Union and
    intersection matchers both score a document as ``a + b``. A part scores
    0 where it does not match, so a union's sum needs no masking.
    """
    items = sorted(parts, key=lambda item: item[0])
    while len(items) > 1:
        (wa, a), (wb, b) = items.pop(0), items.pop(0)
        mask = combine(a.mask, b.mask)
        scores = None
        if a.scores is not None and b.scores is not None:
            scores = a.scores + b.scores if combine is _either else np.where(mask, a.scores + b.scores, 0.0)
        bisect.insort_right(items, (wa + wb, _Part(mask, scores)), key=lambda item: item[0])
    return items[0][1]
