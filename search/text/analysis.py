"""Text analysis shared by indexing and querying: one normaliser, two token streams.

Everything that turns text into index terms lives here, so a query is always cut
exactly like the documents it is matched against.

* :func:`normalise` folds text the way readers expect search to: zero-width
  characters removed, NFKC (full-width ``ＧＤＰ`` -> ``gdp``), casefold, and
  Traditional -> Simplified Chinese (OpenCC ``t2s``).
  :func:`normalise_with_offsets` does the same and remembers, for every folded
  character, which character of the original it came from, so highlights land
  on the original text.
* :func:`search.local.tokenizers.word_analyzer` segments folded text into words with jieba. Positions
  are word ordinals (not character offsets, the classic ``ChineseAnalyzer``
  mistake that breaks phrase queries) and nothing is stemmed. Words feed BM25
  ranking.
* The recall field is made of overlapping character bigrams of the folded
  text, whitespace removed, at character positions (built and searched by
  :mod:`search.local.recall` from :func:`normalise`'s output). A string of two or
  more characters occurs in a text exactly when its bigrams occur at
  consecutive positions, which gives "contains" semantics that do not depend on
  how jieba happened to cut the document (it cuts 中亚五国峰会 into
  中亚/五国/峰会, yet a reader searching 国峰 must still find it). Single
  characters are answered by :func:`search.local.tokenizers.char_analyzer`.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import SearchError

#: Characters that are invisible in print and must never split or hide a word.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

#: Separates the sections (title, source, categories, body) of one recall-field
#: value; no n-gram spans it. The corpus reader strips control characters from
#: text, so it never occurs inside a section.
SECTION_BREAK = "\x1f"

#: jieba mode used for both documents and queries: precise mode with HMM
#: discovery of unknown words (names). Chosen in one place so index and query
#: segmentation can never drift apart.
JIEBA_HMM = True



@functools.cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@functools.cache
def _nfkc_table() -> tuple[re.Pattern, dict[str, str]]:
    """Every BMP character NFKC changes on its own, with its NFKC form, and a pattern finding them."""
    table = {}
    for point in range(0x10000):
        if not 0xD800 <= point < 0xE000:
            char = chr(point)
            folded = unicodedata.normalize("NFKC", char)
            if folded != char:
                table[char] = folded
    return re.compile("[" + "".join(map(re.escape, table)) + "]"), table


def nfkc(text: str) -> str:
    """Return ``unicodedata.normalize("NFKC", text)``, about 5x faster on Chinese news.

    ``normalize`` decomposes and recomposes every character, and almost every
    news post needs it (full-width punctuation): about 0.5 ms a post, a third of
    a snippet's cost. Replacing only the characters that NFKC changes on their
    own gives a text equivalent to the original; if that text passes NFKC's
    quick check it *is* the original's NFKC form (the form is unique), and
    otherwise (combining marks, characters outside the BMP) ``normalize`` runs.

    >>> nfkc("ＧＤＰ增长５．２％，ﬁ")
    'GDP增长5.2%,fi'
    """
    pattern, table = _nfkc_table()
    mapped = text
    for char in set(pattern.findall(text)):  # no replacement holds a character of the table: order is free
        mapped = mapped.replace(char, table[char])
    return mapped if unicodedata.is_normalized("NFKC", mapped) else unicodedata.normalize("NFKC", text)


def normalise(text: str) -> str:
    """Return ``text`` folded for matching: no zero-width chars, NFKC, casefolded, Simplified.

    >>> normalise("國際 ＧＤＰ Ｉｐｈｏｎｅ")
    '国际 gdp iphone'
    """
    for z in ZERO_WIDTH:  # str.replace is much faster than translate() on CJK text
        if z in text:
            text = text.replace(z, "")
    text = nfkc(text).casefold()
    return _t2s().convert(text)


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """Return ``(folded, origin)`` where ``folded[i]`` comes from ``text[origin[i]]``.

    Folding may change the length (``ﬁ`` -> ``fi``, ``…`` -> ``...``, zero-width
    characters vanish), so highlighting maps a match ``folded[i:j]`` back to
    ``text[origin[i]:origin[j - 1] + 1]``. Only the characters whose own fold is
    not one character are folded alone; the runs between them are folded whole
    (character by character only where a run composes, e.g. a combining accent).

    >>> normalise_with_offsets("a\u200b國Ｂ…")
    ('a国b...', [0, 2, 3, 4, 4, 4])
    """
    pieces: list[str] = []
    origin: list[int] = []
    start = 0
    for match in [*_resizing_chars().finditer(text), None]:
        end = match.start() if match else len(text)
        if start < end:
            run = text[start:end]
            folded = nfkc(run).casefold()
            if len(folded) == len(run):
                pieces.append(folded)
                origin.extend(range(start, end))
            else:
                for i, char in enumerate(run, start):
                    _append_folded(pieces, origin, char, i)
        if match:
            _append_folded(pieces, origin, match.group(), end)
            start = end + 1
    joined = "".join(pieces)
    converted = _t2s().convert(joined)
    if len(converted) != len(joined):
        # OpenCC changed the length (rare multi-character rules): convert
        # character by character, which keeps the map exact.
        converted = "".join(c2 if len(c2 := _t2s().convert(c)) == 1 else c for c in joined)
    return converted, origin


def _append_folded(pieces: list[str], origin: list[int], char: str, at: int) -> None:
    folded = _fold_alone(char)
    pieces.append(folded)
    origin.extend([at] * len(folded))


@functools.lru_cache(maxsize=4096)
def _fold_alone(char: str) -> str:
    """One character folded on its own (NFKC and casefold; zero-width ones vanish), before ``t2s``."""
    return "" if char in ZERO_WIDTH else unicodedata.normalize("NFKC", char).casefold()


@functools.cache
def _resizing_chars() -> re.Pattern:
    """A pattern finding the BMP characters whose own fold is not one character (``ﬁ``, ``…``, ``ß``,
    zero-width ones): the only places where offsets into the folded text shift."""
    _, table = _nfkc_table()
    chars = set(ZERO_WIDTH)
    for point in range(0x10000):
        if not 0xD800 <= point < 0xE000:
            char = chr(point)
            if len(table.get(char, char).casefold()) != 1:
                chars.add(char)
    return re.compile("[" + "".join(map(re.escape, sorted(chars))) + "]")


def compact(folded: str, origin: list[int] | None = None) -> tuple[str, list[int] | None]:
    """Drop whitespace from folded text (and from its origin map), as the recall field does.

    Whitespace is not part of any n-gram: ``iPhone 15`` and ``iPhone15`` match
    each other, and a phrase copied across a line break still matches.
    """
    if origin is None:
        return "".join(folded.split()), None
    keep = [i for i, ch in enumerate(folded) if not ch.isspace()]
    return "".join(folded[i] for i in keep), [origin[i] for i in keep]


def is_cjk(ch: str) -> bool:
    """Return True for a Han, kana or hangul character (text jieba must segment)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2FA1F
        or 0xF900 <= cp <= 0xFAFF
        or 0x3040 <= cp <= 0x30FF
        or 0xAC00 <= cp <= 0xD7AF
    )


def is_word(text: str) -> bool:
    """Return True if ``text`` holds a letter or digit of any script (not only punctuation)."""
    return any(ch.isalnum() for ch in text)


@dataclass(frozen=True)
class Segmenter:
    """A word segmenter: its engine and user dictionary.

    Every index records the segmenter that built it (:meth:`to_meta`) and its
    queries are cut by the same one, so index and query segmentation never
    drift apart. ``jieba`` is the reference. ``rjieba`` is jieba's algorithm
    and dictionary ported to Rust (the optional ``fast`` extra): about 19x
    faster, and on news text it agrees on 99.8% of tokens (it keeps
    ``covid-19`` and URLs whole where jieba splits them).

    >>> [w for w, _, _ in Segmenter().tokenize("中亚五国峰会")]
    ['中亚', '五国', '峰会']
    """

    engine: str = "jieba"
    userdict: str | None = None

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"unknown segmenter {self.engine!r}; choose one of {', '.join(ENGINES)}")

    @property
    def name(self) -> str:
        """Engine and version, e.g. ``jieba-0.42.1``."""
        from importlib.metadata import version

        return f"{self.engine}-{version(self.engine)}"

    def tokenize(self, folded: str) -> Iterator[tuple[str, int, int]]:
        """Yield ``(word, start, end)`` for each non-whitespace word of already folded text."""
        for word, start, end in _engine(self.engine, self.userdict).tokenize(folded):
            if not word.isspace():
                yield word, start, end

    def cut(self, folded: str) -> list[str]:
        """Return the words of already folded text, whitespace runs included: :meth:`tokenize` without
        offsets, which indexing does not need (jieba computes them in Python, token by token)."""
        return _engine(self.engine, self.userdict).cut(folded)

    def warm_up(self) -> None:
        """Load the dictionaries and tables analysis needs, so the first query does not pay for them."""
        _engine(self.engine, self.userdict)
        _t2s()
        _nfkc_table()

    def to_meta(self) -> dict:
        """What an index records about its segmenter."""
        return {"segmenter": self.name, "engine": self.engine, "userdict": self.userdict}

    @classmethod
    def from_meta(cls, meta: dict) -> Segmenter:
        """The segmenter an index was built with (indexes from before the choice existed used jieba)."""
        return cls(meta.get("engine", "jieba"), meta.get("userdict"))


#: Word segmenters an index can be built with (``news-search build --segmenter``).
ENGINES = ("jieba", "rjieba")
#: The segmenter used unless another is chosen.
DEFAULT_SEGMENTER = Segmenter()


class _Engine(NamedTuple):
    tokenize: Callable[[str], Iterable[tuple[str, int, int]]]
    cut: Callable[[str], list[str]]


@functools.cache
def _engine(engine: str, userdict: str | None) -> _Engine:
    """Return the tokenize and cut functions of a loaded segmenter (loaded once per process).

    This and OpenCC's tables are the only global state of the package.
    """
    if engine == "rjieba":
        try:
            import rjieba
        except ImportError:
            raise SearchError("the rjieba segmenter is not installed; install it with: "
                              "pip install 'news-search[fast]' (or build with --segmenter jieba)") from None
        seg = rjieba.Jieba()
        for word, freq, tag in _userdict_entries(userdict):
            seg.add_word(word, freq, tag)
        return _Engine(lambda text: seg.tokenize(text, hmm=JIEBA_HMM), lambda text: seg.cut(text, hmm=JIEBA_HMM))
    import jieba

    jieba.setLogLevel(logging.WARNING)
    if userdict is None:
        jieba.initialize()
        tokenizer = jieba.dt
    else:
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        with open(userdict, "rb") as fh:  # jieba leaves a path it opens itself unclosed
            tokenizer.load_userdict(fh)
    return _Engine(lambda text: tokenizer.tokenize(text, HMM=JIEBA_HMM),
                   lambda text: tokenizer.lcut(text, HMM=JIEBA_HMM))


def _userdict_entries(userdict: str | None) -> Iterator[tuple[str, int | None, str | None]]:
    """Read a jieba user dictionary: ``word [frequency] [tag]`` per line."""
    if userdict is None:
        return
    with open(userdict, encoding="utf-8-sig") as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
            yield parts[0], freq, tag


def fold_sections(value: str) -> list[str]:
    """Return the folded, whitespace-free sections of a field value (split at :data:`SECTION_BREAK`).

    >>> fold_sections("國際 論壇\\x1fＢ")
    ['国际论坛', 'b']
    """
    return ["".join(normalise(section).split()) for section in value.split(SECTION_BREAK)]


# --- fast paths for indexing ------------------------------------------------------------------
# Whoosh drives analyzers one Token at a time, which costs more than the analysis
# itself. The index-time field classes call these functions instead; each
# returns exactly what its analyzer produces (tests/test_analysis.py checks that).

def word_counts(value: str, segmenter: Segmenter = DEFAULT_SEGMENTER) -> dict[str, int]:
    """Return ``{word: frequency}`` as :func:`search.local.tokenizers.word_analyzer` would produce for ``value``."""
    counts = Counter(segmenter.cut(normalise(value)))  # counted in C; most words repeat
    for word in [w for w in counts if not is_word(w)]:  # whitespace and punctuation
        del counts[word]
    return counts


def char_counts(value: str) -> dict[str, int]:
    """Return ``{character: frequency}`` as :class:`search.local.tokenizers.CharTokenizer` would produce for
    ``value``."""
    return Counter("".join(normalise(value.replace(SECTION_BREAK, " ")).split()))
