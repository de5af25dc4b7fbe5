"""Documents -> rows of a Sphinx real-time index, analysed here exactly as for the local index.

Sphinx receives no raw text to analyse: every full-text field is a string of
space-separated tokens made by :mod:`search.text.analysis` and :mod:`search.local.recall`
(the same normaliser, word segmenter, bigram recall stream and character set
as the local index), and every character the engine sees is a letter, a digit
or ``_``.
:func:`encode` spells any other character as ``_hex_``, so Sphinx's own
tokenizer cannot split, fold or drop anything and ``MATCH()`` needs no
escaping.

Fields (all pre-analysed, ``index`` settings in :mod:`search.sphinx.cluster`):

* ``title_words``/``body_words``: jieba words (title words count in the body too), for ranking.
* ``grams``: the recall stream, bigrams of title, source, categories and body in
  order; :data:`SECTION_GAP` between sections, so no phrase spans two of them.
* ``title_grams``: bigrams of the title; ``chars`` and ``title_chars``: each distinct character of
  the post and of the title once (one-character queries).
* ``keys``: exact-match tokens: :data:`ANY` (every post), the source and category
  keys (hashed) and the publication day at six resolutions (see :func:`date_tokens`).

Attributes hold what results show (title, source, categories, date, image, language),
what blog URLs need (front matter, whether the date had its own zone), the
facets (source, first category, month), the text and HTML (packed as the local
index packs them, then base64) and the file fingerprint ``update`` compares.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..text.analysis import DEFAULT_SEGMENTER, SECTION_BREAK, Segmenter, char_counts, fold_sections, is_word, normalise
from ..corpus.posts import Document
from ..writing.fields import category_keys, filter_key, pack_content, unpack_content

FIELDS = ("title_words", "body_words", "grams", "title_grams", "chars", "title_chars", "keys")
#: Attribute name -> Sphinx type (``rt_attr_<type>``).
ATTRIBUTES = {
    "doc_id": "string", "title": "string", "source": "string", "category": "string", "categories": "string",
    "month": "string", "date": "bigint", "dated": "uint", "date_zoned": "uint", "image": "string",
    "front_matter": "string", "lang": "string", "content": "string", "story": "bigint", "story_rank": "bigint",
    "file_size": "bigint", "file_mtime": "bigint", "file_sha1": "string",
}
#: Matches every post (a query made only of exclusions needs something to exclude from).
ANY = "any"
#: Matches no post.
NONE = "none"
#: Starts every word token; :func:`encode` never writes ``_`` before a letter past ``f``.
WORD_PREFIX = "_w"
#: Placed between the sections of the recall stream: no query token spells it.
SECTION_GAP = "_"
#: Sphinx keeps the first 42 characters of a token; longer tokens are replaced by a hash.
MAX_TOKEN_CHARS = 42
#: ``date`` of a post without one: it sorts as the newest, as in the Whoosh index.
UNDATED = 2**62
#: Years a date range may span: the day tokens and their coarser levels cover these.
FIRST_YEAR, END_YEAR = 0, 10000


@functools.lru_cache(maxsize=1 << 18)  # bigrams repeat: most tokens of a post were spelt before
def encode(token: str) -> str:
    """Return ``token`` spelt with letters, digits and ``_`` only (the characters Sphinx keeps in words).

    Letters and digits stay as they are; anything else becomes ``_<hex>_``, so
    the spelling of a string is the spelling of its characters joined (a prefix
    stays a prefix). Tokens longer than :data:`MAX_TOKEN_CHARS` are hashed.

    >>> encode("国际"), encode("5.2%"), encode("c++")
    ('国际', '5_2e_2_25_', 'c_2b__2b_')
    """
    if not token.isalnum() or not _in_charset(token):
        token = "".join(ch if ch.isalnum() and _in_charset(ch) else f"_{ord(ch):x}_" for ch in token)
    return _fit(token)


def word_token(word: str) -> str:
    """Return the token of a jieba word: :data:`WORD_PREFIX` keeps words apart from the bigrams they equal.

    Sphinx keeps one document frequency per token whatever the field, so the
    word 国际 must not share a token with the bigram 国际.

    >>> word_token("国际")
    '_w国际'
    """
    return _fit(WORD_PREFIX + encode(word))


def _fit(token: str) -> str:
    if len(token) > MAX_TOKEN_CHARS:
        return "_h" + hashlib.blake2b(token.encode("utf-8"), digest_size=10).hexdigest()
    return token


def _in_charset(text: str) -> bool:
    return max(map(ord, text)) < 0x30000  # Sphinx 2.2's charset_table ends at U+2FFFF


def doc_key(doc_id: str) -> int:
    """Return the Sphinx document id of a post: a stable 63-bit hash of its id (never 0).

    >>> doc_key("a.md") == doc_key("a.md") != doc_key("b.md")
    True
    """
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1 or 1


def key_token(field: str, key: str) -> str:
    """Return the ``keys`` token of a source or category filter key.

    >>> key_token("source", "果壳网")
    'source_ceaeac154cfba8c8'
    """
    return f"{field}_{hashlib.blake2b(key.encode('utf-8'), digest_size=8).hexdigest()}"


# --- dates -----------------------------------------------------------------------------------

_LEVELS = ((1000, "k"), (100, "c"), (10, "e"), (1, "y"))


def date_tokens(day: date) -> list[str]:
    """Return the ``keys`` tokens of a publication day: its millennium, century, decade, year, month, day.

    >>> date_tokens(date(2022, 3, 5))
    ['date_k2', 'date_c20', 'date_e202', 'date_y2022', 'date_m202203', 'date_d20220305']
    """
    y = day.year
    return [f"date_{level}{y // size}" for size, level in _LEVELS] + [
        f"date_m{y:04}{day.month:02}", f"date_d{y:04}{day.month:02}{day.day:02}"]


def date_cover(start: datetime | None, end: datetime | None) -> list[str]:
    """Return the fewest date tokens whose posts are exactly those published in ``[start, end)``.

    Bounds are midnights (a query names days, months or years), so the day of
    a post decides. The largest aligned unit that fits is taken each step: at
    most a few dozen tokens for any range.

    >>> date_cover(datetime(2021, 12, 30), datetime(2022, 3, 1))
    ['date_d20211230', 'date_d20211231', 'date_m202201', 'date_m202202']
    >>> date_cover(datetime(2022, 9, 1), None)[:5]
    ['date_m202209', 'date_m202210', 'date_m202211', 'date_m202212', 'date_y2023']
    """
    at = (start.year, start.month, start.day) if start else (FIRST_YEAR, 1, 1)
    stop = (end.year, end.month, end.day) if end else (END_YEAR, 1, 1)
    tokens = []
    while at < stop:
        year, month, day = at
        size = next((s for s, _ in _LEVELS if month == day == 1 and year % s == 0 and (year + s, 1, 1) <= stop),
                    None)
        if size is not None:
            tokens.append(f"date_{dict(_LEVELS)[size]}{year // size}")
            at = (year + size, 1, 1)
        elif day == 1 and (after := _next_month(year, month)) <= stop:
            tokens.append(f"date_m{year:04}{month:02}")
            at = after
        else:
            tokens.append(f"date_d{year:04}{month:02}{day:02}")
            following = date(year, month, day) + timedelta(days=1)
            at = (following.year, following.month, following.day)
    return tokens


def _next_month(year: int, month: int) -> tuple[int, int, int]:
    return (year + 1, 1, 1) if month == 12 else (year, month + 1, 1)


# --- rows ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileStamp:
    """What ``update`` compares to find changed files: size, modification time, content hash."""

    size: int
    mtime_ns: int
    sha1: str | None


def words(value: str, segmenter: Segmenter = DEFAULT_SEGMENTER) -> list[str]:
    """Return the words of ``value`` in order, exactly the terms :func:`search.text.analysis.word_counts` counts."""
    return [w for w, _, _ in segmenter.tokenize(normalise(value)) if is_word(w)]


def bigrams(folded: str) -> list[str]:
    """Return the recall tokens of one folded, compacted string: its bigrams, or itself if shorter.

    >>> bigrams("国际论坛"), bigrams("国")
    (['国际', '际论', '论坛'], ['国'])
    """
    if len(folded) < 2:
        return [folded] if folded else []
    return [folded[i:i + 2] for i in range(len(folded) - 1)]


def gram_stream(value: str) -> list[str]:
    """Return the recall tokens of a field value, :data:`SECTION_GAP` between its sections.

    Sections are folded by :func:`search.text.analysis.fold_sections`, so two bigrams
    are adjacent here exactly when the recall index has them at consecutive
    positions (no bigram spans two sections).

    >>> gram_stream("國際\x1f\x1fab")
    ['国际', '_', 'ab']
    """
    out: list[str] = []
    for section in fold_sections(value):
        if section:
            if out:
                out.append(SECTION_GAP)
            out.extend(map(encode, bigrams(section)))
    return out


def document_row(doc: Document, stamp: FileStamp | None = None,
                 segmenter: Segmenter = DEFAULT_SEGMENTER) -> dict:
    """Return the full-text fields and attributes of ``doc`` for ``INSERT``/``REPLACE``."""
    sections = [doc.title, doc.source, " ".join(doc.categories), doc.text]
    keys = [ANY, key_token("source", filter_key(doc.source))]
    keys += [key_token("category", k) for k in category_keys(doc.categories)]
    published = doc.date.astimezone(UTC) if doc.date else None
    if published is not None:
        keys += date_tokens(published.date())
    return {
        "id": doc_key(doc.id),
        "title_words": " ".join(map(word_token, words(doc.title, segmenter))),
        "body_words": " ".join(map(word_token, words(f"{doc.title}\n{doc.text}", segmenter))),
        "grams": " ".join(gram_stream(SECTION_BREAK.join(sections))),
        "title_grams": " ".join(gram_stream(doc.title)),
        "chars": " ".join(map(encode, char_counts(" ".join(sections)))),
        "title_chars": " ".join(map(encode, char_counts(doc.title))),
        "keys": " ".join(keys),
        "doc_id": doc.id,
        "title": doc.title,
        "source": doc.source,
        "category": doc.categories[0] if doc.categories else "",
        "categories": json.dumps(list(doc.categories), ensure_ascii=False),
        "month": published.strftime("%Y-%m") if published else "",
        "date": int(published.timestamp()) if published else UNDATED,
        "dated": int(published is not None),
        "date_zoned": int(doc.date_zoned),
        "image": doc.image or "",
        "front_matter": json.dumps(doc.front_matter, ensure_ascii=False),
        "lang": doc.lang or "",
        "content": base64.b64encode(pack_content(doc.text, doc.html)).decode("ascii"),
        "story": 0,  # set by the writer when the post turns out to have copies
        "story_rank": 0,
        "file_size": stamp.size if stamp else 0,
        "file_mtime": stamp.mtime_ns if stamp else 0,
        "file_sha1": (stamp.sha1 or "") if stamp else "",
    }


def unpack_row_content(packed: str | bytes) -> tuple[str, str]:
    """Return ``(text, html)`` of a row's ``content`` attribute."""
    return unpack_content(base64.b64decode(packed))
