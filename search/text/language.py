"""The language a post is written in, as a BCP 47 tag for HTML's ``lang``: read from its mix of scripts.

A screen reader picks its voice from ``lang``, and the browser picks the
glyphs of shared Han characters from it, so an English post marked ``zh-CN``
is read out by a Chinese voice. News archives mix Simplified and Traditional
Chinese, Japanese, Korean and English; the script of each letter tells those
apart without a statistical model:

* kana (the Japanese syllabaries) are at least :data:`KANA_SHARE` of the CJK
  characters -> ``ja`` (Chinese text quoting a Japanese name has a few);
* Hangul is most of the CJK characters -> ``ko``;
* otherwise CJK characters -> Chinese, ``zh-Hant`` when more of its characters
  exist only in Traditional than only in Simplified (OpenCC's tables decide),
  else ``zh-Hans``. Script subtags, not regions: the same Mandarin voice reads
  both, and a region guessed from the script would be wrong for Taiwan or Hong
  Kong (``zh-HK`` selects a Cantonese voice).

Chinese wins whenever CJK characters are at least :data:`CJK_SHARE` of the
text's words (a CJK character counts as one, a word of another script as one):
Chinese voices read the odd English word in a Chinese post well enough, while
an English voice cannot read Chinese at all. Otherwise the script with the
most words names the language most written in it (Latin -> ``en``, Cyrillic
-> ``ru``, ...): in these archives such posts are English. URLs, e-mail
addresses and markup shown as text are not counted.

A statistical detector (lingua, all languages) was tried on the rsshub
corpus and did worse where it matters: it called Chinese posts that quote
URLs Danish or Portuguese, and Chinese posts with a Japanese game title
Japanese.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

#: Characters looked at: the start of a post says what it is written in, and the cost stays bounded.
SAMPLE_CHARS = 4000
#: Share of CJK characters (against all words) at which a post is CJK.
CJK_SHARE = 0.25
#: Share of kana among CJK characters at which a post is Japanese.
KANA_SHARE = 0.2

#: A BCP 47 language tag (a language, then script, region or variant subtags).
_LANGUAGE_TAG = re.compile(r"[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*")
_NOT_TEXT = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+|<[^<>]{0,400}>|&#?\w{1,8};", re.IGNORECASE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30fa\u30fd-\u30ff\u31f0-\u31ff\uff66-\uff9d]")  # not ・ or ー
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
#: Other scripts, each with the language most written in it.
SCRIPT_LANGUAGES = {
    "en": re.compile(r"[a-zA-Z\u00c0-\u024f]+"),
    "ru": re.compile(r"[\u0400-\u04ff]+"),
    "el": re.compile(r"[\u0370-\u03ff]+"),
    "ar": re.compile(r"[\u0600-\u06ff]+"),
    "he": re.compile(r"[\u0590-\u05ff]+"),
    "th": re.compile(r"[\u0e00-\u0e7f]+"),
    "hi": re.compile(r"[\u0900-\u097f]+"),
}


def post_language(title: str, text: str, declared: str | None = None) -> str | None:
    """Return the BCP 47 tag of a post's language: ``declared`` (Hexo's front-matter ``lang``) if it is a
    language tag, else what its title and text are written in.

    >>> post_language("Hello", "世界", declared="en-GB"), post_language("Hello", "世界", declared="default")
    ('en-GB', 'zh-Hans')
    """
    if declared and _LANGUAGE_TAG.fullmatch(declared):
        return declared
    return detect_language(f"{title}\n{text}")


def detect_language(text: str) -> str | None:
    """Return the BCP 47 tag of the language ``text`` is written in, or None if it has no letters.

    >>> detect_language("北京冬奥会开幕式在国家体育场举行"), detect_language("國際論壇在港舉行")
    ('zh-Hans', 'zh-Hant')
    >>> detect_language("東京の天気は晴れです"), detect_language("Apple released the iPhone 15 with USB-C.")
    ('ja', 'en')
    >>> detect_language("苹果发布 iPhone 15，支持 USB-C 接口"), detect_language("2022-10-01 ☆")
    ('zh-Hans', None)
    """
    sample = _NOT_TEXT.sub(" ", text[:SAMPLE_CHARS])
    han = _HAN.findall(sample)
    kana = len(_KANA.findall(sample))
    hangul = len(_HANGUL.findall(sample))
    cjk = len(han) + kana + hangul
    words = {tag: len(pattern.findall(sample)) for tag, pattern in SCRIPT_LANGUAGES.items()}
    other = sum(words.values())
    if cjk and cjk >= CJK_SHARE * (cjk + other):
        if kana >= KANA_SHARE * cjk:
            return "ja"
        if hangul * 2 > cjk:
            return "ko"
        return "zh-Hant" if _is_traditional(han) else "zh-Hans"
    if other:
        return max(words, key=words.get)
    return None


def _is_traditional(han: list[str]) -> bool:
    """Return whether more of these characters exist only in Traditional than only in Simplified Chinese."""
    counts = Counter(han)
    traditional = sum(n for ch, n in counts.items() if ch in _traditional_only())
    simplified = sum(n for ch, n in counts.items() if ch in _simplified_only())
    return traditional > simplified


def warm_up() -> None:
    """Work out OpenCC's tables now: writers call this before forking their workers, which would otherwise
    each work them out again for every update (a fifth of a second apiece)."""
    _traditional_only()
    _simplified_only()


@functools.cache
def _traditional_only() -> frozenset[str]:
    return _changed_by("t2s")


@functools.cache
def _simplified_only() -> frozenset[str]:
    return _changed_by("s2t")


def _changed_by(config: str) -> frozenset[str]:
    """Return the characters of the basic CJK block that OpenCC's ``config`` converts to another character."""
    import opencc

    converter = opencc.OpenCC(config)
    return frozenset(ch for ch in map(chr, range(0x4E00, 0xA000)) if converter.convert(ch) != ch)
