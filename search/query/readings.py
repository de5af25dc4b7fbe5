"""Reading a query as the reader meant it: pinyin, typos, and date words that would empty the page.

A query is first searched as typed. Only when it finds nothing or very little
(:data:`FEW` posts, each word read as a contiguous string) are other readings
tried, so a query that matches as typed is never changed and ordinary queries
pay nothing:

* **pinyin** typed for Han words: whole toneless syllables with or without
  spaces (``dongaohui``, ``dong ao hui``), initials of 3+ letters (``znsj``),
  Han characters mixed with pinyin (``冬aohui``), read as the index's words
  that sound like that (:class:`~search.query.vocabulary.Vocabulary`), commonest first;
* **typos**: a Latin word within one edit of an index word from 5 letters,
  two from 9 (a swap of neighbours is one edit); a Han word with one
  character (two in words of 4+) replaced by a homophone or a character of
  similar shape (:func:`near_shape_table`);
* **date words as text**: when the date a query names (``今年以来``) holds no
  matching post, its words searched as text.

A reading is shown instead of what was typed (one click goes back) when the
words it replaces occur nowhere in the archive and it finds posts, or
:data:`MUCH_MORE` times as many as a query that found very little; other
readings about as common are offered ("您是不是要找"). A part of the query found in the archive as typed
(``iphone``, a rare name, ``makers``) keeps its literal meaning: its readings
are never shown instead, only offered, and only when they find
:data:`MUCH_MORE` times as many posts.

The module is engine-neutral: it works on syntax trees and asks the backend
only to search a tree and to count its matches (:class:`TreeSearcher`).
"""

from __future__ import annotations

import functools
import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from importlib import resources
from typing import Protocol

from ..text.analysis import Segmenter, compact, normalise
from .syntax import And, Node, Not, Or, Term, parse_query
from .results import QueryDate, Reading, Rewrite, SearchResults
from .terms import units
from .vocabulary import Vocabulary, Word, char_syllables, is_han, is_latin, log_weight

#: A query finding at most this many posts (words read as contiguous strings) finds "very little".
FEW = 3
#: A reading is shown instead of the typed query when it finds this many times as many posts.
MUCH_MORE = 10
#: Readings of one part of a query that are tried, and readings of a whole query that are counted.
PART_CANDIDATES = 3
MAX_READINGS = 2
#: Readings offered besides the one shown.
MAX_OFFERED = 3
#: Longest Latin run read as pinyin, in letters.
MAX_PINYIN_LETTERS = 40

#: Counts the posts matching a syntax tree (with the request's filters): the one thing asked of a backend.
Counter = Callable[[Node | None], int]


@dataclass(frozen=True)
class Candidate:
    """A way of reading one part of a query: the text it becomes, how, and how likely."""

    read: str
    kind: str  # pinyin, initials, spelling, homophone, shape
    score: float


@dataclass(frozen=True)
class Understood:
    """What :func:`reconsider` decided: the tree to search, the reading it is (None: as typed), and the
    readings offered."""

    node: Node | None
    reading: Reading | None
    offered: tuple[Reading, ...]


# --- the decision ---------------------------------------------------------------------------------

class TreeSearcher(Protocol):
    """What a backend offers query reading: search a syntax tree, count its matches (with a request's filters)."""

    segmenter: Segmenter

    def search_tree(self, request, node: Node | None, dates: tuple[QueryDate, ...], *, page: int, per_page: int,
                    snippets: bool, facets: bool, fold: bool, partial: bool = True,
                    explain: bool = False) -> SearchResults: ...

    def count_tree(self, request, node: Node | None) -> int: ...


def search_as_meant(backend: TreeSearcher, request, *, vocabulary: Vocabulary | None, as_typed: bool,
                    started: float, **page) -> SearchResults:
    """Search ``request`` (a :class:`~search.query.request.SearchRequest`) as typed and, if that finds very
    little, as the reader may have meant it; return the results shown, timed from ``started``
    (a :func:`time.perf_counter` reading)."""
    results = backend.search_tree(request, request.node, request.dates, **page)
    if not as_typed:
        # Partial matches (search.query.fallback) fill a page that finds little; what the query found is its full
        # matches.
        understood = reconsider(request.text, request.node, results.exact_posts, dates=request.dates,
                                text_node=lambda: parse_query(request.text), vocabulary=vocabulary,
                                segmenter=backend.segmenter, count=lambda node: backend.count_tree(request, node))
        if understood.reading is not None:
            dates = request.dates if understood.reading.date_parse else ()
            results = backend.search_tree(request, understood.node, dates, **page)
        results = replace(results, reading=understood.reading, offered=understood.offered)
    return replace(results, ms=(time.perf_counter() - started) * 1000)


def reconsider(text: str, node: Node | None, typed_total: int, *, dates: tuple[QueryDate, ...],
               text_node: Callable[[], Node | None], vocabulary: Vocabulary | None, segmenter: Segmenter,
               count: Counter) -> Understood:
    """Return how to read ``text`` given that its tree ``node`` (dates already read) matched
    ``typed_total`` posts.

    ``text_node`` returns the tree with date words searched as text; ``count``
    counts a tree's matches. Nothing is counted unless the query finds very
    little.
    """
    unchanged = Understood(node, None, ())
    if node is None:
        return unchanged
    ranges = tuple(d for d in dates if not d.recent)
    if typed_total == 0 and ranges:
        as_text = text_node()
        found = count(as_text)
        if found:
            reading = Reading(text, "date_text", tuple(Rewrite(d.text, d.text, "date_text") for d in ranges),
                              found, date_parse=False)
            as_dated = Reading(text, "typed", tuple(Rewrite(d.text, d.date_filter, "date") for d in ranges), 0,
                               dates=ranges)
            further = _corrections(text, as_text, found, vocabulary, segmenter, count, date_parse=False)
            if further.reading is not None:
                return replace(further, offered=(as_dated, *further.offered))
            return Understood(as_text, reading, (as_dated,))
    if typed_total > FEW and not any(_loose(t, vocabulary, segmenter) for t in _positive_terms(node)):
        return unchanged
    return _corrections(text, node, typed_total, vocabulary, segmenter, count, date_parse=True)


def _corrections(text: str, node: Node, typed_total: int, vocabulary: Vocabulary | None, segmenter: Segmenter,
                 count: Counter, *, date_parse: bool) -> Understood:
    """Pinyin and typo readings of ``node``, counted, if it finds very little read strictly."""
    unchanged = Understood(node, None, ())
    if vocabulary is None:
        return unchanged
    parts = [(part, cands) for part in _parts(node) if (cands := candidates(part, vocabulary))]
    if not parts:
        return unchanged
    # Read strictly (each word as one string), the typed query finds as many posts as it did when every word
    # is one unit; only a word cut in several (加那大: 加/那/大) must be counted again.
    single = all(t.quoted or len(units(compact(normalise(t.text))[0], segmenter)) == 1 for t in _positive_terms(node))
    strict = typed_total if typed_total == 0 or single else count(_strict(node))
    if strict > FEW:
        return unchanged
    # A part found as typed (a rare word, a name) is the reader's own word: never replaced, only offered.
    # When the query finds something, every one of its words is found (only a run of Latin words may not be).
    occurs = {part.key: count(Term(part.folded, quoted=True)) if len(part.terms) > 1 or (not strict and len(parts) > 1)
              else strict for part, _ in parts}
    if strict and all(occurs.values()):
        choices = itertools.islice(_choices(parts), 1)  # only offered: the likeliest reading is enough
    else:
        choices = _choices(parts)
    counted = []
    for choice in choices:
        read_node = _rewritten(node, choice)
        found = count(_strict(read_node))
        as_typed = any(occurs[part.key] for part, _ in choice)
        if found > strict and (not as_typed or found >= MUCH_MORE * max(strict, 1)):
            rewrites = tuple(Rewrite(part.typed, cand.read, cand.kind) for part, cand in choice)
            reading = Reading(_rewritten_text(text, choice), _main_kind(rewrites), rewrites, found,
                              date_parse=date_parse)
            counted.append((read_node, reading, as_typed))
    # The reading that finds the most: among readings as likely as each other, what the archive says.
    shown = max((c for c in counted if not c[2] and (strict == 0 or c[1].total >= MUCH_MORE * strict)),
                key=lambda c: c[1].total, default=None)
    # Others are offered when they are about as common as the best (not 强力啊 beside 强烈).
    best = max((reading.total for _, reading, _ in counted), default=0)
    offered = tuple(reading for _, reading, _ in counted if (shown is None or reading is not shown[1])
                    and reading.total * MUCH_MORE >= best)[:MAX_OFFERED]
    if shown is None:
        return Understood(node, None, offered)
    typed = Reading(text, "typed", (), strict, date_parse=date_parse)
    return Understood(shown[0], shown[1], (typed, *offered))


def _main_kind(rewrites: tuple[Rewrite, ...]) -> str:
    kinds = [r.kind for r in rewrites]
    return "pinyin" if any(k in ("pinyin", "initials") for k in kinds) else "spelling"


def _choices(parts: list) -> Iterator[tuple]:
    """Readings of the whole query to count, likeliest first: every part at its best reading, then each
    part's readings alone."""
    seen, emitted = set(), 0
    options, covered, best = [], set(), []
    for part, cands in sorted(parts, key=lambda pc: -len(pc[0].terms)):  # a run of terms before its terms
        if not covered & set(part.key):
            covered |= set(part.key)
            best.append((part, cands[0]))
    if len(best) > 1:
        options.append(tuple(best))
    for rank in range(PART_CANDIDATES):
        options.extend(((part, cands[rank]),) for part, cands in parts if rank < len(cands))
    for option in options:
        key = tuple((part.key, cand.read) for part, cand in option)
        if key not in seen and emitted < MAX_READINGS:
            seen.add(key)
            emitted += 1
            yield option


# --- parts of a query -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """One thing a reader typed that may be read otherwise: a term, or a run of Latin terms (``dong ao hui``)."""

    terms: tuple[Term, ...]

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(map(id, self.terms))

    @property
    def typed(self) -> str:
        return " ".join(t.text for t in self.terms)

    @property
    def folded(self) -> str:
        return "".join(compact(normalise(t.text))[0] for t in self.terms)


def _parts(node: Node | None) -> list[Part]:
    """Return the parts of ``node`` that may be read otherwise (terms that are not quoted or excluded)."""
    if isinstance(node, Term):
        return [] if node.quoted else [Part((node,))]
    if isinstance(node, Or):
        return [p for child in node.children for p in _parts(child)]
    if not isinstance(node, And):
        return []
    parts, run = [], []
    for child in (*node.children, None):
        if isinstance(child, Term) and not child.quoted and is_latin(compact(normalise(child.text))[0]):
            run.append(child)
            continue
        if len(run) > 1:
            parts.append(Part(tuple(run)))  # spaced pinyin: dong ao hui
        parts.extend(Part((t,)) for t in run)
        run = []
        if child is not None and not isinstance(child, Not):
            parts.extend(_parts(child))
    return parts


def _positive_terms(node: Node | None) -> Iterator[Term]:
    if isinstance(node, Term):
        yield node
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _positive_terms(child)


def _loose(term: Term, vocabulary: Vocabulary | None, segmenter: Segmenter) -> bool:
    """True for an unquoted Han term of several words that is not itself a word of the index: the
    query matches its words anywhere in a post, so a typo in it can still find many posts."""
    if term.quoted or vocabulary is None:
        return False
    folded = compact(normalise(term.text))[0]
    return is_han(folded) and 2 <= len(folded) <= 8 and len(units(folded, segmenter)) > 1 \
        and vocabulary.get(folded) is None


def _strict(node: Node) -> Node:
    """``node`` with every word read as a contiguous string (as if quoted)."""
    if isinstance(node, Term):
        return Term(node.text, quoted=True)
    if isinstance(node, And):
        return And(tuple(_strict(c) for c in node.children))
    if isinstance(node, Or):
        return Or(tuple(_strict(c) for c in node.children))
    if isinstance(node, Not):
        return node
    return node


def _rewritten(node: Node, choice: tuple) -> Node:
    """``node`` with each chosen part replaced by its reading (a run of terms becomes one term)."""
    replaced = {}
    for part, cand in choice:
        replaced[id(part.terms[0])] = Term(cand.read)
        for term in part.terms[1:]:
            replaced[id(term)] = None
    return _replace_terms(node, replaced)


def _replace_terms(node, replaced: dict):
    if isinstance(node, Term):
        return replaced.get(id(node), node)
    if isinstance(node, And | Or):
        children = tuple(c for c in (_replace_terms(c, replaced) for c in node.children) if c is not None)
        if len(children) == 1:
            return children[0]
        return type(node)(children)
    return node


def _rewritten_text(text: str, choice: tuple) -> str:
    """The typed text with each part replaced by its reading: what a reader would type for this reading."""
    for part, cand in choice:
        pattern = r"\s+".join(re.escape(t.text) for t in part.terms)
        text = re.sub(pattern, cand.read.replace("\\", "\\\\"), text, count=1)
    return text


# --- candidates -----------------------------------------------------------------------------------

def candidates(part: Part, vocabulary: Vocabulary) -> list[Candidate]:
    """Return the likeliest readings of one part of a query, best first (at most :data:`PART_CANDIDATES`)."""
    folded = part.folded
    found: list[Candidate] = []
    if is_latin(folded):
        if len(folded) <= MAX_PINYIN_LETTERS:
            found += pinyin_readings(folded, vocabulary)
            if len(folded) >= 3 and len(part.terms) == 1:
                found += [Candidate(w.text, "initials", log_weight(w)) for w in vocabulary.with_initials(folded)]
        if len(part.terms) == 1 and not found and vocabulary.get(folded) is None:
            found += latin_corrections(folded, vocabulary)
    elif len(part.terms) == 1 and any(ch.isascii() and ch.isalpha() for ch in folded) and \
            any(is_han(ch) for ch in folded):
        found += mixed_readings(folded, vocabulary)
    elif len(part.terms) == 1 and is_han(folded) and 2 <= len(folded) <= 8 and vocabulary.get(folded) is None:
        found += han_corrections(folded, vocabulary)
    unique = {}
    for cand in found:
        if cand.read != folded and cand.read not in unique:
            unique[cand.read] = cand
    return list(unique.values())[:PART_CANDIDATES]


def pinyin_readings(letters: str, vocabulary: Vocabulary, *, beam: int = PART_CANDIDATES) -> list[Candidate]:
    """Read a run of letters as toneless pinyin of index words: one word, or several in a row.

    Fewer words read better; among equals, commoner words.
    """
    n = len(letters)
    best: list[list[tuple[float, tuple[Word, ...]]]] = [[] for _ in range(n + 1)]
    best[0] = [(0.0, ())]
    for i in range(n):
        if not best[i]:
            continue
        for j in range(i + 1, min(n, i + MAX_WORD_LETTERS) + 1):
            words = vocabulary.spelt(letters[i:j])
            for score, path in best[i]:
                for word in words[:beam]:
                    cost = WORD_COST + (SINGLE_COST if len(word.text) == 1 else 0.0)
                    best[j].append((score + log_weight(word) - cost, (*path, word)))
            best[j] = sorted(best[j], key=lambda item: -item[0])[:beam]
    return [Candidate("".join(w.text for w in path), "pinyin", score) for score, path in best[n]
            if any(len(w.text) > 1 for w in path)]


#: What each extra word of a pinyin reading costs: one common word beats two rare ones; a
#: single character costs more (a reading needs at least one word of two or more).
WORD_COST = 8.0
SINGLE_COST = 4.0
#: Most letters one word's pinyin takes (8 characters of up to 6 letters).
MAX_WORD_LETTERS = 48


def mixed_readings(folded: str, vocabulary: Vocabulary) -> list[Candidate]:
    """Read Han characters mixed with pinyin (``冬aohui``) as index words that begin with, contain or end
    with those characters where the pinyin says."""
    pieces = re.findall(r"[a-z]+|.", folded)
    if not all(is_han(p) or is_latin(p) for p in pieces):
        return []
    options = [char_syllables(p) if is_han(p) else (p,) for p in pieces]
    found = {}
    for combination in itertools.islice(itertools.product(*options), 16):
        for word in vocabulary.spelt("".join(combination)):
            if word.text not in found and _aligned(pieces, word):
                found[word.text] = Candidate(word.text, "pinyin", log_weight(word))
    return sorted(found.values(), key=lambda c: -c.score)


def _aligned(pieces: list[str], word: Word) -> bool:
    """True if ``word`` has the typed Han characters where the typed pinyin puts them."""
    for syllables in word.spellings:
        k = 0
        for piece in pieces:
            if is_han(piece):
                if k >= len(word.text) or word.text[k] != piece:
                    break
                k += 1
                continue
            spelt = ""
            while k < len(syllables) and len(spelt) < len(piece):
                spelt += syllables[k]
                k += 1
            if spelt != piece:
                break
        else:
            if k == len(word.text):
                return True
    return False


def latin_corrections(word: str, vocabulary: Vocabulary) -> list[Candidate]:
    """Index words within one edit of a Latin word of 5+ letters, two edits from 9 letters."""
    if len(word) < 5:
        return []
    distance = 1 if len(word) < 9 else 2
    return [Candidate(w.text, "spelling", log_weight(w) - 10 * d) for w, d in vocabulary.latin_within(word, distance)]


def han_corrections(folded: str, vocabulary: Vocabulary) -> list[Candidate]:
    """Index words that a stretch of ``folded`` would be with one character (two in words of 4+) replaced
    by a homophone, or one by a character of similar shape; the longest stretches first."""
    found: dict[str, Candidate] = {}
    syllables = [char_syllables(ch) for ch in folded]
    for size in range(len(folded), 1, -1):
        for start in range(len(folded) - size + 1):
            stretch = folded[start:start + size]
            if vocabulary.get(stretch) is not None:
                continue
            for word, kind in itertools.chain(_homophones(stretch, syllables[start:start + size], vocabulary),
                                              _near_shapes(stretch, vocabulary)):
                read = folded[:start] + word.text + folded[start + size:]
                score = log_weight(word) + 4 * size
                if read not in found or found[read].score < score:
                    found[read] = Candidate(read, kind, score)
        if len(found) >= PART_CANDIDATES:  # shorter stretches would only read worse
            break
    return sorted(found.values(), key=lambda c: -c.score)


def _homophones(stretch: str, syllables: list[tuple[str, ...]], vocabulary: Vocabulary) -> Iterator[tuple[Word, str]]:
    allowed = 1 if len(stretch) <= 3 else 2
    seen = set()
    for combination in itertools.islice(itertools.product(*syllables), 16):
        for word in vocabulary.spelt("".join(combination)):
            if word.text in seen or len(word.text) != len(stretch):
                continue
            seen.add(word.text)
            differ = [k for k in range(len(stretch)) if word.text[k] != stretch[k]]
            if 0 < len(differ) <= allowed and any(all(s[k] in syllables[k] for k in differ)
                                                  for s in word.spellings if len(s) == len(stretch)):
                yield word, "homophone"


def _near_shapes(stretch: str, vocabulary: Vocabulary) -> Iterator[tuple[Word, str]]:
    table = near_shape_table()
    for k, ch in enumerate(stretch):
        for other in table.get(ch, ()):
            word = vocabulary.get(stretch[:k] + other + stretch[k + 1:])
            if word is not None:
                yield word, "shape"


@functools.cache
def near_shape_table() -> dict[str, tuple[str, ...]]:
    """Return ``{character: characters of similar shape}`` (common confusions, ``data/near_shape.txt``)."""
    table: dict[str, list[str]] = {}
    text = resources.files("search").joinpath("data/near_shape.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        group = line.split()
        for ch in group:
            table.setdefault(ch, []).extend(c for c in group if c != ch and c not in table[ch])
    return {ch: tuple(others) for ch, others in table.items()}

