"""The index's own words: what readers' pinyin, typos and half-typed words are read against.

A reader who types ``dongaohui``, ``znsj``, ``加那大`` or ``meiutan`` means a word
the archive holds; which one is decided by the archive, not by a general
dictionary. When a generation is finished (:func:`write_vocabulary`, called
like :func:`search.stories.write_stories`) its word tables are condensed into
one index-wide sidecar, ``vocabulary.npz``:

* every title word (jieba, folded) with the number of titles and of posts that
  hold it; body words common enough to matter (:data:`MIN_BODY_POSTS`);
* frequent title phrases: two adjacent title words found in at least
  :data:`MIN_PHRASE_TITLES` titles (``北京 冬奥会``), for suggestions;
* the toneless pinyin of every Han word, heteronyms included (pypinyin, at
  build time, so queries need its tables only for the characters they type).

Being written from the finished generation's term tables, the sidecar is
right whatever the segments are (a build, an update's extra segment, a merge).
:class:`Vocabulary` loads it and builds its lookup tables the first time a
query needs them, so ordinary queries never pay for them.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import compact, is_cjk, normalise

VOCABULARY = "vocabulary.npz"
#: A word found only in bodies is kept when at least this many posts hold it.
MIN_BODY_POSTS = 3
#: Two adjacent title words are a phrase when at least this many titles hold them.
MIN_PHRASE_TITLES = 2
#: Longest Han word kept, in characters, and longest Latin word, in letters.
MAX_HAN_CHARS = 8
MAX_LATIN_LETTERS = 24
#: Most pinyin spellings kept per word (its reading in context first, then other heteronym readings).
MAX_SPELLINGS = 4
#: Separates syllables within a spelling, and spellings of one word.
SYLLABLE, SPELLING = "'", "|"
#: Completions returned for a prefix.
SUGGESTIONS = 8
#: How much a title counts over a body when ranking words: title words are what readers search for.
TITLE_WEIGHT = 4


def is_han(word: str) -> bool:
    """Return True for a word made only of Han characters (one pinyin syllable each).

    >>> is_han("冬奥会"), is_han("5G手机"), is_han("ありがとう")
    (True, False, False)
    """
    return _HAN.fullmatch(word) is not None


_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+")


def is_latin(word: str) -> bool:
    """Return True for a word of ASCII letters only (``iphone``, not ``iphone14``)."""
    return word.isascii() and word.isalpha()


def _kept(word: str) -> bool:
    """Words worth reading queries against: Han words (single characters too, for pinyin read as a word
    and a character, ``limeiyou``), Latin words of 2+ letters."""
    if is_han(word):
        return len(word) <= MAX_HAN_CHARS
    return is_latin(word) and 2 <= len(word) <= MAX_LATIN_LETTERS


# --- writing (index time) -------------------------------------------------------------------------

def write_vocabulary(generation: Path, reader) -> int:
    """Condense the word tables of a finished generation into its ``vocabulary.npz``; return the entry count.

    ``reader`` is a Whoosh reader of the generation's final documents. Pinyin
    already worked out for the generation this one was cloned from (an
    update) is reused, so only new words are looked up.
    """
    titles: Counter[str] = Counter()
    posts: Counter[str] = Counter()
    for segment, _ in reader.leaf_readers():
        for counts, field in ((titles, "title"), (posts, "body")):
            for term, info in segment.iter_field(field):
                word = term.decode("utf-8")
                if _kept(word):
                    counts[word] += info.doc_frequency()
    words = sorted(w for w in posts.keys() | titles.keys() if titles[w] or posts[w] >= MIN_BODY_POSTS)
    phrases = _title_phrases(reader, titles)
    entries = words + sorted(phrases)
    known = _previous_spellings(generation / VOCABULARY)
    spellings = [known.get(w) or spell(w) if is_han(w) else "" for w in entries]
    arrays = {
        "text": _pack(entries),
        "pinyin": _pack(spellings),
        "titles": np.array([titles[w] for w in words] + [phrases[p] for p in sorted(phrases)], dtype=np.int32),
        "posts": np.array([posts[w] for w in words] + [0] * len(phrases), dtype=np.int32),
        "phrase": np.array([0] * len(words) + [1] * len(phrases), dtype=np.int8),
    }
    tmp = generation / f"{VOCABULARY}.tmp"
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, generation / VOCABULARY)  # an update's hard link to the old file is replaced, not written to
    return len(entries)


def _title_phrases(reader, titles: Counter[str]) -> Counter[str]:
    """Return ``{two adjacent title words joined: titles holding them}`` for pairs in enough titles.

    Titles are cut by longest match against the title words found in several
    titles (what jieba cut them into, at a fraction of jieba's cost), so an
    update does not segment every title again.
    """
    common = {w for w, n in titles.items() if n >= MIN_PHRASE_TITLES and len(w) >= 2}
    pairs: Counter[str] = Counter()
    for docnum in range(reader.doc_count_all()):
        if reader.is_deleted(docnum):
            continue
        folded = normalise(reader.stored_fields(docnum).get("title") or "")
        found, previous, i = set(), None, 0
        while i < len(folded):
            for j in range(min(len(folded), i + MAX_HAN_CHARS), i + 1, -1):
                if folded[i:j] in common:
                    word = folded[i:j]
                    if previous is not None and is_han(previous) == is_han(word):
                        found.add(previous + word)
                    previous, i = word, j
                    break
            else:
                previous, i = None, i + 1
        pairs.update(found)
    return Counter({p: n for p, n in pairs.items() if n >= MIN_PHRASE_TITLES and p not in titles})


def _previous_spellings(path: Path) -> dict[str, str]:
    """Return ``{word: pinyin}`` from an existing vocabulary file (an update's clone of the last one)."""
    try:
        with np.load(path) as data:
            return dict(zip(_unpack(data["text"]), _unpack(data["pinyin"])))
    except (OSError, KeyError, ValueError):
        return {}


def spell(word: str) -> str:
    """Return the toneless pinyin spellings of a Han word: syllables joined by ``'``, spellings by ``|``.

    The reading in context comes first (pypinyin's phrase dictionary, longest
    phrases first), then other readings of heteronyms.

    >>> spell("冬奥会"), spell("银行卡")
    ("dong'ao'hui|dong'ao'kuai|dong'yu'hui|dong'yu'kuai", "yin'hang'ka|yin'hang'qia")
    """
    readings = _readings(word)
    spelt = []
    for combination in itertools.islice(itertools.product(*readings), 16):
        joined = SYLLABLE.join(combination)
        if joined not in spelt:
            spelt.append(joined)
    return SPELLING.join(spelt[:MAX_SPELLINGS])


def _readings(word: str) -> list[tuple[str, ...]]:
    """Every character's toneless readings, the likeliest in context first (phrases matched longest first)."""
    phrases, _ = _pinyin_tables()
    out: list[tuple[str, ...]] = []
    i = 0
    while i < len(word):
        for j in range(len(word), i + 1, -1):
            if (phrase := phrases.get(word[i:j])) is not None:
                out.extend(tuple(dict.fromkeys(map(_toneless, readings))) for readings in phrase)
                i = j
                break
        else:
            out.append(char_syllables(word[i]) or ("",))
            i += 1
    return out


def char_syllables(ch: str) -> tuple[str, ...]:
    """Return every toneless reading of one Han character (pypinyin's dictionary), commonest first, or ().

    >>> char_syllables("行")
    ('xing', 'hang', 'heng')
    """
    _, chars = _pinyin_tables()
    toned = chars.get(ord(ch))
    return tuple(dict.fromkeys(map(_toneless, toned.split(",")))) if toned else ()


@functools.cache
def _pinyin_tables() -> tuple[dict, dict]:
    """pypinyin's phrase and character dictionaries, loaded on first use (about 0.3 s)."""
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    return phrases_dict, pinyin_dict


@functools.cache
def _toneless(syllable: str) -> str:
    """``lǘ`` -> ``lv`` (pypinyin's plain style: ü written v, as typed on a keyboard)."""
    from pypinyin.style._tone_convert import to_normal

    return to_normal(syllable)


def _pack(strings: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _unpack(packed: np.ndarray) -> list[str]:
    text = packed.tobytes().decode("utf-8")
    return text.split("\n") if text else []


# --- reading (query time) -------------------------------------------------------------------------

@dataclass(frozen=True)
class Word:
    """One entry of the vocabulary: a word (or title phrase), how common it is, how it sounds."""

    text: str
    titles: int  # titles holding it
    posts: int  # posts holding it anywhere (0 for a phrase: not counted)
    spellings: tuple[tuple[str, ...], ...]  # pinyin readings, each a tuple of syllables; () if not Han
    is_phrase: bool = False

    @property
    def weight(self) -> float:
        """How likely a reader means this word: posts holding it, titles counting more."""
        return self.posts + TITLE_WEIGHT * self.titles

    @property
    def initials(self) -> str:
        return "".join(s[0] for s in self.spellings[0]) if self.spellings else ""


class Vocabulary:
    """The words of one generation, with the lookups query reading needs, built on first use.

    Thread-safe: the tables are built once, under a lock, and only read afterwards.
    """

    def __init__(self, texts: list[str], spellings: list[str], titles: np.ndarray, posts: np.ndarray,
                 phrase: np.ndarray):
        self._texts, self._spellings = texts, spellings
        self._titles, self._posts, self._phrase = titles, posts, phrase
        self._lock = threading.Lock()
        self._tables: _Tables | None = None

    @classmethod
    def load(cls, generation: Path) -> Vocabulary | None:
        """Return the vocabulary of ``generation``, or None if it has none (built before vocabularies existed)."""
        try:
            with np.load(generation / VOCABULARY) as data:
                return cls(_unpack(data["text"]), _unpack(data["pinyin"]), data["titles"], data["posts"],
                           data["phrase"])
        except FileNotFoundError:
            return None

    def __len__(self) -> int:
        return len(self._texts)

    @property
    def tables(self) -> _Tables:
        if self._tables is None:
            with self._lock:
                if self._tables is None:
                    self._tables = _Tables(self)
        return self._tables

    def word(self, i: int) -> Word:
        spellings = tuple(tuple(s.split(SYLLABLE)) for s in self._spellings[i].split(SPELLING)) \
            if self._spellings[i] else ()
        return Word(self._texts[i], int(self._titles[i]), int(self._posts[i]), spellings, bool(self._phrase[i]))

    def get(self, text: str) -> Word | None:
        """Return the entry for a folded word, or None if the index does not hold it as a word."""
        i = self.tables.ids.get(text)
        return None if i is None else self.word(i)

    def spelt(self, letters: str) -> list[Word]:
        """Return the words whose whole toneless pinyin is ``letters`` (no separators), commonest first."""
        return self._words(self.tables.by_pinyin.get(letters, ()))

    def with_initials(self, letters: str) -> list[Word]:
        """Return the words of 3+ characters whose syllables start with these letters, commonest first."""
        return self._words(self.tables.by_initials.get(letters, ()))

    def latin_within(self, word: str, distance: int) -> list[tuple[Word, int]]:
        """Return ``(Latin word, edits)`` within ``distance`` edits of ``word`` (a swap of two neighbours is
        one edit), closest then commonest first; ``word`` itself is left out."""
        from rapidfuzz.distance import OSA
        from rapidfuzz.process import extract

        tables = self.tables
        found = extract(word, tables.latin, scorer=OSA.distance, score_cutoff=distance, limit=None)
        return sorted(((self.word(tables.latin_ids[i]), int(d)) for _, d, i in found if d > 0),
                      key=lambda pair: (pair[1], -pair[0].weight, pair[0].text))

    def complete(self, prefix: str, *, limit: int = SUGGESTIONS) -> list[Word]:
        """Return up to ``limit`` title words and phrases that ``prefix`` (folded, no spaces) begins:
        by their text, their pinyin or their initials, commonest first.

        A prefix of Han characters followed by letters (``冬ao``) completes words
        that begin with those characters and continue with that pinyin.
        """
        tables = self.tables
        head = next((i for i, ch in enumerate(prefix) if not is_cjk(ch)), len(prefix))
        han, tail = prefix[:head], prefix[head:]
        if han and tail:
            if not is_latin(tail):
                return []
            ids = [i for i in tables.prefixed(tables.surface, han, None)
                   if any("".join(s[len(han):]).startswith(tail) for s in self.word(i).spellings)]
            return self._best(ids, limit)
        found = dict.fromkeys(tables.prefixed(tables.surface, prefix, limit))
        if is_latin(prefix):
            found.update(dict.fromkeys(tables.prefixed(tables.sounds, prefix, limit)))
            if len(prefix) >= 2:
                found.update(dict.fromkeys(tables.prefixed(tables.initials, prefix, limit)))
        return self._best(list(found), limit)

    def _best(self, ids, limit: int) -> list[Word]:
        words = [self.word(i) for i in ids]
        words.sort(key=lambda w: (-_suggestion_weight(w), w.text))
        return words[:limit]

    def _words(self, ids) -> list[Word]:
        return sorted((self.word(i) for i in ids), key=lambda w: (-w.weight, w.text))


def suggest(vocabulary: Vocabulary | None, typed: str, *, limit: int = SUGGESTIONS) -> list[str]:
    """Return up to ``limit`` completions of what is typed so far: its last word completed (by text,
    pinyin or initials), the words before it kept as typed.

    >>> suggest(None, "冬奥")
    []
    """
    head, _, last = typed.rpartition(" ") if typed[-1:] != " " else (typed, "", "")
    folded = compact(normalise(last))[0]
    if vocabulary is None or not folded:
        return []
    prefix = f"{head} " if head.strip() else ""
    return [prefix + word.text for word in vocabulary.complete(folded, limit=limit)]


def _suggestion_weight(word: Word) -> float:
    """Suggestions are title words and phrases: ranked by the titles holding them, then by posts."""
    return word.titles + word.posts / 1000


class _Tables:
    """Lookup tables of a :class:`Vocabulary` (built once, then read only)."""

    def __init__(self, vocabulary: Vocabulary):
        texts, spellings, phrase = vocabulary._texts, vocabulary._spellings, vocabulary._phrase
        titles = vocabulary._titles
        self.ids = {t: i for i, t in enumerate(texts) if not phrase[i]}
        self.by_pinyin: dict[str, list[int]] = {}
        self.by_initials: dict[str, list[int]] = {}
        self.latin: list[str] = []
        self.latin_ids: list[int] = []
        surface, sounds, initials = [], [], []
        for i, (text, spelt) in enumerate(zip(texts, spellings)):
            suggested = titles[i] > 0 and len(text) >= 2
            if suggested:
                surface.append((text, i))
            if not spelt:
                if not phrase[i] and is_latin(text):
                    self.latin.append(text)
                    self.latin_ids.append(i)
                continue
            for j, reading in enumerate(spelt.split(SPELLING)):
                syllables = reading.split(SYLLABLE)
                joined = "".join(syllables)
                if not phrase[i]:
                    self.by_pinyin.setdefault(joined, []).append(i)
                    if j == 0 and len(syllables) >= 3:
                        self.by_initials.setdefault("".join(s[0] for s in syllables), []).append(i)
                if suggested:
                    sounds.append((joined, i))
                    if j == 0:
                        initials.append(("".join(s[0] for s in syllables), i))
        self.surface, self.sounds, self.initials = (_PrefixTable(pairs, vocabulary) for pairs in (surface, sounds,
                                                                                                  initials))

    @staticmethod
    def prefixed(table: _PrefixTable, prefix: str, limit: int | None) -> list[int]:
        return table.best(prefix, limit)


class _PrefixTable:
    """Keys in sorted order, for the entries whose key starts with a prefix, best first.

    The range of a short prefix can be long (every word read ``s…``), so the
    best entries of each one- and two-character prefix are kept once found.
    """

    def __init__(self, pairs: list[tuple[str, int]], vocabulary: Vocabulary):
        pairs.sort()
        self.keys = [k for k, _ in pairs]
        self.ids = np.array([i for _, i in pairs], dtype=np.int64)
        weights = vocabulary._titles.astype(np.float64) + vocabulary._posts / 1000
        self.weights = weights[self.ids] if len(self.ids) else np.zeros(0)
        self._short: dict[tuple[str, int], list[int]] = {}

    def best(self, prefix: str, limit: int | None) -> list[int]:
        if not prefix:
            return []
        if (prefix, limit) in self._short:
            return self._short[prefix, limit]
        lo = bisect.bisect_left(self.keys, prefix)
        hi = bisect.bisect_left(self.keys, prefix + "\U0010ffff", lo)
        ids, weights = self.ids[lo:hi], self.weights[lo:hi]
        if limit is not None and len(ids) > limit:
            top = np.argpartition(-weights, limit)[:limit]
            ids, weights = ids[top], weights[top]
        order = np.argsort(-weights, kind="stable")
        found = list(dict.fromkeys(ids[order].tolist()))
        if limit is not None and len(prefix) <= 2:
            self._short[prefix, limit] = found
        return found


def log_weight(word: Word) -> float:
    """The log of a word's weight, for scoring readings made of several words."""
    return math.log1p(word.weight)
