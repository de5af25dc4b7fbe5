"""The index's own words: what readers' pinyin, typos and half-typed words are read against.

A reader who types ``dongaohui``, ``znsj``, ``加那大`` or ``meiutan`` means a word
the archive holds; which one is decided by the archive, not by a general
dictionary. When a generation is finished (:func:`write_vocabulary`, called
like :func:`search.local.stories.write_stories`) its word tables are condensed into
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
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..text.analysis import compact, is_cjk, normalise

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
    update) is reused, so only new words are looked up; so are the word
    counts of segments this process has read before (:func:`_segment_words`).
    """
    titles: Counter[str] = Counter()
    posts: Counter[str] = Counter()
    folded_titles: list[str] = []
    for segment, _ in reader.leaf_readers():
        words = _segment_words(segment)
        titles.update(words.titles)
        posts.update(words.posts)
        folded_titles += (t for docnum, t in enumerate(words.folded_titles) if not segment.is_deleted(docnum))
    words = [w for w in posts.keys() | titles.keys() if titles[w] or posts[w] >= MIN_BODY_POSTS]
    phrases = _title_phrases(folded_titles, titles)
    entries = sorted([(w, 0) for w in words] + [(p, 1) for p in phrases])
    known = _previous_spellings(generation / VOCABULARY)
    spellings = [known.get(w) or spell(w) if is_han(w) else "" for w, _ in entries]
    sounds, initials = [], []
    for i, ((_, is_phrase), spelt) in enumerate(zip(entries, spellings)):
        for n, reading in enumerate(spelt.split(SPELLING) if spelt else ()):
            syllables = reading.split(SYLLABLE)
            if not is_phrase or n == 0:  # a phrase is only suggested, by its reading in context
                sounds.append(("".join(syllables), i, n == 0))
            if n == 0:
                initials.append(("".join(s[0] for s in syllables if s), i))
    sounds.sort()
    initials.sort()
    arrays = {
        **_packed("text", [w for w, _ in entries]),
        **_packed("pinyin", spellings),
        "titles": np.array([titles[w] if not ph else phrases[w] for w, ph in entries], dtype=np.int32),
        "posts": np.array([posts[w] if not ph else 0 for w, ph in entries], dtype=np.int32),
        "phrase": np.array([ph for _, ph in entries], dtype=np.int8),
        **_packed("sounds", [k for k, _, _ in sounds]),
        "sounds_ids": np.array([i for _, i, _ in sounds], dtype=np.int32),
        "sounds_first": np.array([first for _, _, first in sounds], dtype=np.int8),  # the reading in context
        **_packed("initials", [k for k, _ in initials]),
        "initials_ids": np.array([i for _, i in initials], dtype=np.int32),
    }
    tmp = generation / f"{VOCABULARY}.tmp"
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, generation / VOCABULARY)  # an update's hard link to the old file is replaced, not written to
    return len(entries)


def _title_phrases(folded_titles: list[str], titles: Counter[str]) -> Counter[str]:
    """Return ``{two adjacent title words joined: titles holding them}`` for pairs in enough titles.

    Titles are cut by longest match against the title words found in several
    titles (what jieba cut them into, at a fraction of jieba's cost), so an
    update does not segment every title again.
    """
    common = {w for w, n in titles.items() if n >= MIN_PHRASE_TITLES and len(w) >= 2}
    pairs: Counter[str] = Counter()
    for folded in folded_titles:
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


@dataclass(frozen=True)
class _SegmentWords:
    """What the vocabulary reads from one segment (its deleted posts included: a segment never changes)."""

    titles: Counter[str]  # kept title words -> posts holding them
    posts: Counter[str]  # kept body words -> posts holding them
    folded_titles: list[str]  # by document number


#: The words of the segments read last, by segment id. Segments are immutable and an update's generation
#: shares all but its newest with the last one, so ``news-search watch`` reads each segment once, not at
#: every vocabulary (reading a term table is most of a vocabulary's cost: about 2 s at 10,000 posts).
_SEGMENT_WORDS: OrderedDict[str, _SegmentWords] = OrderedDict()
_SEGMENTS_REMEMBERED = 32


def _segment_words(segment) -> _SegmentWords:
    from ..whoosh_internals import document_frequencies  # the write path's: reading a vocabulary needs no Whoosh

    key = segment.segment().segment_id()
    words = _SEGMENT_WORDS.get(key)
    if words is None:
        counts: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
        for found, field in zip(counts, ("title", "body")):
            for term, documents in document_frequencies(segment, field):
                word = term.decode("utf-8")
                if _kept(word):
                    found[word] = documents
        titles = [normalise(segment.stored_fields(d).get("title") or "") for d in range(segment.doc_count_all())]
        words = _SEGMENT_WORDS[key] = _SegmentWords(*counts, titles)
        while len(_SEGMENT_WORDS) > _SEGMENTS_REMEMBERED:
            _SEGMENT_WORDS.popitem(last=False)
    _SEGMENT_WORDS.move_to_end(key)
    return words


def _previous_spellings(path: Path) -> dict[str, str]:
    """Return ``{word: pinyin}`` from an existing vocabulary file (an update's clone of the last one)."""
    try:
        with np.load(path) as data:
            texts, spellings = _Strings.unpack(data, "text"), _Strings.unpack(data, "pinyin")
    except (OSError, KeyError, ValueError):
        return {}
    return {texts[i]: spellings[i] for i in range(len(texts))}


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
    phrases = _phrase_readings()
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
    toned = _char_readings().get(ord(ch))
    return tuple(dict.fromkeys(map(_toneless, toned.split(",")))) if toned else ()


@functools.cache
def _phrase_readings() -> dict:
    """pypinyin's phrase dictionary (words read in context; only indexing needs it: 37 MB in memory)."""
    from pypinyin.phrases_dict import phrases_dict

    return phrases_dict


@functools.cache
def _char_readings() -> dict:
    """pypinyin's character dictionary, loaded on first use."""
    from pypinyin.pinyin_dict import pinyin_dict

    return pinyin_dict


@functools.cache
def _toneless(syllable: str) -> str:
    """``lǘ`` -> ``lv`` (pypinyin's plain style: ü written v, as typed on a keyboard)."""
    from pypinyin.style._tone_convert import to_normal

    return to_normal(syllable)


def _packed(name: str, strings: list[str]) -> dict[str, np.ndarray]:
    """Many strings as two arrays: their UTF-8 bytes end to end, and where each ends (in characters)."""
    return {name: np.frombuffer("".join(strings).encode("utf-8"), dtype=np.uint8),
            f"{name}_ends": np.cumsum([len(x) for x in strings], dtype=np.int32)}


class _Strings:
    """Strings kept as one: the i-th is ``joined[starts[i]:ends[i]]`` (a few bytes each, not a Python object)."""

    def __init__(self, joined: str, ends: np.ndarray):
        self.joined = joined
        ends = np.asarray(ends, dtype=np.int32)
        # Bisection reads these one at a time: an array's items are Python ints at once, numpy's are not.
        self.ends = array("i", ends.tobytes())
        self.starts = array("i", np.concatenate([np.zeros(1, np.int32), ends[:-1]]).tobytes())

    @classmethod
    def unpack(cls, data, name: str) -> _Strings:
        return cls(data[name].tobytes().decode("utf-8"), data[f"{name}_ends"])

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> str:
        return self.joined[self.starts[i]:self.ends[i]]

    def span(self, low: str, high: str | None = None) -> tuple[int, int]:
        """Return the positions of the (sorted) strings ``s`` with ``low <= s``, and ``s`` starting with
        ``low`` (``high`` None) or ``s <= high``."""
        everything = range(len(self))
        lo = bisect.bisect_left(everything, low, key=self.__getitem__)
        if high is None:
            return lo, bisect.bisect_left(everything, low + "\U0010ffff", lo, key=self.__getitem__)
        return lo, bisect.bisect_right(everything, high, lo, key=self.__getitem__)


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
    """The words of one generation and their lookups: sorted keys in a few strings and arrays (about 15 MB
    for 200,000 entries), read only, so one instance serves every thread."""

    def __init__(self, data):
        self._texts, self._spellings = _Strings.unpack(data, "text"), _Strings.unpack(data, "pinyin")
        self._sounds, self._initials = _Strings.unpack(data, "sounds"), _Strings.unpack(data, "initials")
        self._sound_ids, self._initial_ids = data["sounds_ids"], data["initials_ids"]
        self._sound_first = data["sounds_first"].astype(bool)
        self._titles, self._posts, self._phrase = data["titles"], data["posts"], data["phrase"].astype(bool)
        lengths = np.diff(np.concatenate([[0], data["text_ends"]]))
        #: Entries suggested: title words and phrases of two or more characters, by titles then posts.
        self._suggested = (self._titles > 0) & (lengths >= 2)
        self._rank = self._titles + self._posts / 1000
        self._latin: tuple[list[str], list[int]] | None = None
        self._cache: dict[tuple[str, str, int], list[int]] = {}

    @classmethod
    def load(cls, generation: Path) -> Vocabulary | None:
        """Return the vocabulary of ``generation``, or None if it has none (built before vocabularies existed,
        or by a version that wrote another layout: searching then reads queries only as typed)."""
        try:
            with np.load(generation / VOCABULARY) as data:
                return cls(data)
        except (FileNotFoundError, KeyError):
            return None

    def __len__(self) -> int:
        return len(self._texts)

    def word(self, i: int) -> Word:
        spelt = self._spellings[i]
        spellings = tuple(tuple(s.split(SYLLABLE)) for s in spelt.split(SPELLING)) if spelt else ()
        return Word(self._texts[i], int(self._titles[i]), int(self._posts[i]), spellings, bool(self._phrase[i]))

    def get(self, text: str) -> Word | None:
        """Return the entry for a folded word, or None if the index does not hold it as a word."""
        lo, hi = self._texts.span(text, text)
        return next((self.word(i) for i in range(lo, hi) if not self._phrase[i]), None)

    def spelt(self, letters: str) -> list[Word]:
        """Return the words whose whole toneless pinyin is ``letters`` (no separators), commonest first."""
        lo, hi = self._sounds.span(letters, letters)
        return self._words(i for i in self._sound_ids[lo:hi].tolist() if not self._phrase[i])

    def with_initials(self, letters: str) -> list[Word]:
        """Return the words of 3+ characters whose syllables start with these letters, commonest first."""
        lo, hi = self._initials.span(letters, letters)
        return self._words(i for i in self._initial_ids[lo:hi].tolist()
                           if not self._phrase[i] and len(self._texts[i]) >= 3)

    def latin_within(self, word: str, distance: int) -> list[tuple[Word, int]]:
        """Return ``(Latin word, edits)`` within ``distance`` edits of ``word`` (a swap of two neighbours is
        one edit), closest then commonest first; ``word`` itself is left out."""
        from rapidfuzz.distance import OSA
        from rapidfuzz.process import extract

        if self._latin is None:
            ids = [i for i in range(len(self)) if not self._phrase[i] and not self._spellings[i]
                   and is_latin(self._texts[i])]
            self._latin = [self._texts[i] for i in ids], ids
        texts, ids = self._latin
        found = extract(word, texts, scorer=OSA.distance, score_cutoff=distance, limit=None)
        return sorted(((self.word(ids[i]), int(d)) for _, d, i in found if d > 0),
                      key=lambda pair: (pair[1], -pair[0].weight, pair[0].text))

    def complete(self, prefix: str, *, limit: int = SUGGESTIONS) -> list[Word]:
        """Return up to ``limit`` title words and phrases that ``prefix`` (folded, no spaces) begins:
        by their text, their pinyin or their initials, commonest first.

        A prefix of Han characters followed by letters (``冬ao``) completes words
        that begin with those characters and continue with that pinyin.
        """
        head = next((i for i, ch in enumerate(prefix) if not is_cjk(ch)), len(prefix))
        han, tail = prefix[:head], prefix[head:]
        if han and tail:
            if not is_latin(tail):
                return []
            lo, hi = self._texts.span(han)
            ids = [i for i in range(lo, hi) if self._suggested[i]
                   and any("".join(s[len(han):]).startswith(tail) for s in self.word(i).spellings)]
            return self._best(ids, limit)
        found = dict.fromkeys(self._prefixed("text", prefix, limit))
        if is_latin(prefix):
            found.update(dict.fromkeys(self._prefixed("sounds", prefix, limit)))
            if len(prefix) >= 2:
                found.update(dict.fromkeys(self._prefixed("initials", prefix, limit)))
        return self._best(list(found), limit)

    def _prefixed(self, keys: str, prefix: str, limit: int) -> list[int]:
        """The ``limit`` best suggested entries whose text, pinyin or initials (``keys``) start with ``prefix``.

        A short prefix spans many entries (every word read ``s…``): its answer is kept.
        """
        if (keys, prefix, limit) in self._cache:
            return self._cache[keys, prefix, limit]
        strings, ids = {"text": (self._texts, None), "sounds": (self._sounds, self._sound_ids),
                        "initials": (self._initials, self._initial_ids)}[keys]
        lo, hi = strings.span(prefix)
        found = np.arange(lo, hi) if ids is None else ids[lo:hi]
        keep = self._suggested[found]
        if keys == "sounds":  # suggested by the reading in context, not by a heteronym's rare one
            keep &= self._sound_first[lo:hi]
        found = found[keep]
        if len(found) > limit:
            found = found[np.argpartition(-self._rank[found], limit)[:limit]]
        best = list(dict.fromkeys(found[np.argsort(-self._rank[found], kind="stable")].tolist()))
        if len(prefix) <= 2:
            self._cache[keys, prefix, limit] = best
        return best

    def _best(self, ids, limit: int) -> list[Word]:
        words = [self.word(i) for i in ids]
        words.sort(key=lambda w: (-_suggestion_weight(w), w.text))
        return words[:limit]

    def _words(self, ids) -> list[Word]:
        return sorted((self.word(i) for i in dict.fromkeys(ids)), key=lambda w: (-w.weight, w.text))


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


def log_weight(word: Word) -> float:
    """The log of a word's weight, for scoring readings made of several words."""
    return math.log1p(word.weight)
