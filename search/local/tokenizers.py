"""The text analysis of :mod:`search.text.analysis` as Whoosh analyzers, for the local index's schema.

Only Whoosh needs its analysis as ``Tokenizer`` and ``Filter`` objects; the
folding and segmenting they wrap are :mod:`search.text.analysis`'s, which the Sphinx
backend uses directly.
"""

from __future__ import annotations

from whoosh.analysis import Composable, Filter, Token, Tokenizer

from ..text.analysis import (DEFAULT_SEGMENTER, SECTION_BREAK, Segmenter, compact, is_word, normalise,
                             normalise_with_offsets)


class JiebaTokenizer(Tokenizer):
    """Folds text with :func:`normalise` and cuts it into words with jieba.

    ``t.pos`` is the word ordinal, ``t.startchar``/``t.endchar`` are offsets in
    the original (unfolded) text.

    >>> [t.text for t in JiebaTokenizer()("國際論壇在北京舉行")]
    ['国际', '论坛', '在', '北京', '举行']
    """

    def __init__(self, segmenter: Segmenter = DEFAULT_SEGMENTER):
        self.segmenter = segmenter

    def __eq__(self, other):
        return type(other) is type(self) and other.segmenter == self.segmenter

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if chars:
            folded, origin = normalise_with_offsets(value)
        else:
            folded, origin = normalise(value), None
        for pos, (word, start, end) in enumerate(self.segmenter.tokenize(folded), start_pos):
            token.text = word
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = pos
            if chars:
                token.startchar = start_char + origin[start]
                token.endchar = start_char + origin[end - 1] + 1
            yield token


class PunctuationFilter(Filter):
    """Drops tokens made only of punctuation and symbols: they carry no meaning for ranking.

    >>> [t.text for t in (JiebaTokenizer() | PunctuationFilter())("你好，世界！")]
    ['你好', '世界']
    """

    def __call__(self, tokens):
        for t in tokens:
            if is_word(t.text):
                yield t


class CharTokenizer(Tokenizer):
    """Emits every non-whitespace character of folded text: the recall field for one-character queries.

    >>> [t.text for t in CharTokenizer()("國 a")]
    ['国', 'a']
    """

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        folded, _ = compact(normalise(value.replace(SECTION_BREAK, " ")))
        for i, ch in enumerate(folded, start_pos):
            token.text = ch
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = i
            yield token


def word_analyzer(segmenter: Segmenter = DEFAULT_SEGMENTER) -> Composable:
    """Return the word analyzer: fold, segment (jieba unless told otherwise), drop punctuation.

    >>> [t.text for t in word_analyzer()("ＧＤＰ增長５．２％")]
    ['gdp', '增长', '5.2%']
    """
    return JiebaTokenizer(segmenter) | PunctuationFilter()


def char_analyzer() -> Composable:
    """Return the single-character recall analyzer."""
    return CharTokenizer()
