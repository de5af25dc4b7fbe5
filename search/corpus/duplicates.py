"""Near-duplicate detection: which posts are copies of the same story.

A story is re-posted by several feeds, or edited and published again; its
copies differ in punctuation, a paragraph, a headline, the feed's footer.
Every post gets a :class:`Fingerprint` at index time (in the worker that reads
it): a MinHash signature of the character 5-grams of its folded title and body
(letters and digits only, so punctuation, spacing, width and script do not
matter). The parent process then groups fingerprints into stories
(:func:`find_stories`):

1. **Boilerplate is masked.** A signature value that recurs in one source's
   posts under at least :data:`BOILERPLATE_POSTS` different (title, day) pairs
   is a footer or a template ("点击关注…", a daily bulletin's fixed wording),
   not a story: copies of one story keep their title and day, so they count
   once. Masked values never make two posts alike.
2. **Candidates** come from locality-sensitive hashing: posts whose masked
   signatures agree on a whole band of :data:`ROWS` values.
3. **Verified pairs** are those whose Jaccard similarity over unmasked content
   is at least :data:`MIN_SIMILARITY` and who share at least
   :data:`MIN_SHARED` 5-grams of it (short posts that differ in a name or a
   number are not copies).
4. **Stories** are joined from the most similar pairs down, never spanning
   more than :data:`STORY_DAYS` days. The canonical copy is the earliest
   (undated posts last, then by id).

MinHash is computed with numpy (5-grams hashed as rolling polynomials, 128
multiply-shift permutations): on news-big it is about twice as fast as
datasketch's MinHash, whose per-5-gram SHA-1 runs in Python.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..text.analysis import normalise
from .posts import Document

#: Characters per shingle.
SHINGLE_CHARS = 5
#: MinHash values per signature.
PERMUTATIONS = 128
#: LSH band height: posts agreeing on this many consecutive values become candidates.
ROWS = 4
#: A value shared by one source's posts under this many (title, day) pairs is boilerplate.
BOILERPLATE_POSTS = 5
#: Jaccard similarity of the non-boilerplate 5-grams for two posts to be copies.
MIN_SIMILARITY = 0.5
#: Non-boilerplate 5-grams two copies must share at least.
MIN_SHARED = 30
#: Fewest unmasked signature values a comparison needs to mean anything.
MIN_COUNTED = PERMUTATIONS // 8
#: Longest time between the first and the last copy of a story.
STORY_DAYS = 7
#: Candidates sharing one band value beyond this many are paired only with their neighbours.
MAX_BUCKET = 50
#: Days since 1970 of an undated post.
NO_DAY = np.iinfo(np.int32).min

_NOT_WORD = re.compile(r"[\W_]+")


def _constants(label: str) -> np.ndarray:
    """Return PERMUTATIONS fixed 64-bit numbers derived from ``label`` (stable across numpy versions)."""
    digest = b"".join(hashlib.blake2b(f"{label}{i}".encode(), digest_size=8).digest() for i in range(PERMUTATIONS))
    return np.frombuffer(digest, dtype="<u8").astype(np.uint64)


_MULTIPLIERS = _constants("news-search minhash a") | np.uint64(1)  # odd: multiply-shift hashing
_OFFSETS = _constants("news-search minhash b")
_BASE = np.uint64(0x100000001B3)
_EMPTY = np.full(PERMUTATIONS, np.iinfo(np.uint32).max, dtype=np.uint32)
_COLUMNS = 4096  # 5-grams hashed per step: bounds the temporary matrix to 4 MB


@dataclass(frozen=True)
class Fingerprint:
    """What the detector keeps of one post: who published it, when, and its MinHash signature."""

    id: str
    source: str
    title_day: int  # hash of the folded title and the UTC day: copies of a story share it
    day: int  # days since 1970 (UTC), NO_DAY if undated
    size: int  # distinct 5-grams
    signature: bytes  # PERMUTATIONS little-endian uint32 minima


def fingerprint(doc: Document) -> Fingerprint:
    """Return the fingerprint of ``doc``.

    >>> a = fingerprint(Document("a", "台风", "甲", (), None, None, "台風「山竹」登陸廣東，多地停課。", ""))
    >>> b = fingerprint(Document("b", "台风", "乙", (), None, None, "台风山竹登陆广东 多地停课", ""))
    >>> a.signature == b.signature, a.size
    (True, 10)
    """
    title = normalise(doc.title)
    hashes = shingle_hashes(_NOT_WORD.sub("", f"{title}{normalise(doc.text)}"))
    day = doc.date.astimezone(timezone.utc).date() if doc.date else None
    title_day = int.from_bytes(hashlib.blake2b(f"{title}\n{day}".encode(), digest_size=8).digest(), "little")
    return Fingerprint(id=doc.id, source=doc.source, title_day=title_day,
                       day=(day - _EPOCH).days if day else int(NO_DAY), size=len(hashes),
                       signature=minhash(hashes).astype("<u4").tobytes())


_EPOCH = datetime(1970, 1, 1).date()


def shingle_hashes(text: str) -> np.ndarray:
    """Return the distinct 64-bit hashes of the :data:`SHINGLE_CHARS`-character shingles of ``text``.

    A text shorter than a shingle is one shingle; an empty text has none.
    """
    if not text:
        return np.zeros(0, dtype=np.uint64)
    chars = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    count = max(1, len(chars) - SHINGLE_CHARS + 1)
    hashes = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(min(SHINGLE_CHARS, len(chars))):
            hashes = hashes * _BASE + chars[j:j + count]
        hashes = np.unique(hashes)
        hashes ^= hashes >> np.uint64(31)  # spread the polynomial's bits before multiply-shift
        hashes *= np.uint64(0x9E3779B97F4A7C15)
        hashes ^= hashes >> np.uint64(29)
    return hashes


def minhash(hashes: np.ndarray) -> np.ndarray:
    """Return the MinHash signature (PERMUTATIONS uint32) of a set of 64-bit hashes."""
    signature = _EMPTY.copy()
    with np.errstate(over="ignore"):
        for start in range(0, len(hashes), _COLUMNS):
            block = hashes[None, start:start + _COLUMNS]
            values = (_MULTIPLIERS[:, None] * block + _OFFSETS[:, None]) >> np.uint64(32)
            np.minimum(signature, values.min(axis=1).astype(np.uint32), out=signature)
    return signature


class FingerprintTable:
    """The fingerprints of every post in an index, as columns (kept per generation for updates).

    Rows are sorted by id. The table also keeps each row's boilerplate mask
    (see :meth:`boilerplate`) once worked out: a source's mask depends only on
    that source's posts, so an update works it out again only for the
    sources whose posts it added, changed or deleted (``stale``; None: all).
    """

    def __init__(self, ids: list[str], sources: list[str], title_days: np.ndarray, days: np.ndarray,
                 sizes: np.ndarray, signatures: np.ndarray, masked: np.ndarray | None = None,
                 stale: frozenset[str] | None = None):
        self.ids, self.sources = ids, sources
        self.title_days, self.days, self.sizes, self.signatures = title_days, days, sizes, signatures
        self.masked = masked  # rows x PERMUTATIONS booleans, or None before they are worked out
        self.stale = None if masked is None else (stale or frozenset())

    @classmethod
    def from_fingerprints(cls, fingerprints: Iterable[Fingerprint]) -> FingerprintTable:
        fps = sorted(fingerprints, key=lambda f: f.id)
        signatures = np.frombuffer(b"".join(f.signature for f in fps), dtype="<u4").astype(np.uint32)
        return cls([f.id for f in fps], [f.source for f in fps],
                   np.array([f.title_day for f in fps], dtype=np.uint64),
                   np.array([f.day for f in fps], dtype=np.int32), np.array([f.size for f in fps], dtype=np.uint32),
                   signatures.reshape(len(fps), PERMUTATIONS))

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprints(self) -> Iterable[Fingerprint]:
        for i, doc_id in enumerate(self.ids):
            yield Fingerprint(doc_id, self.sources[i], int(self.title_days[i]), int(self.days[i]),
                              int(self.sizes[i]), self.signatures[i].astype("<u4").tobytes())

    def replaced(self, removed: Iterable[str], added: Sequence[Fingerprint]) -> FingerprintTable:
        """Return this table without the posts ``removed`` and with ``added`` (which replace same ids).

        The rows stay sorted by id: the new rows are inserted where they
        belong among the kept ones, which copies the big columns once (an
        update of a few posts to a table of 56,000: 0.05 s instead of 0.2 s).
        """
        gone = set(removed) | {f.id for f in added}
        keep = np.fromiter((doc_id not in gone for doc_id in self.ids), dtype=bool, count=len(self.ids))
        new = FingerprintTable.from_fingerprints(added)
        every = bool(keep.all())
        ids = self.ids if every else [i for i, k in zip(self.ids, keep) if k]
        at = np.array([bisect.bisect_left(ids, doc_id) for doc_id in new.ids], dtype=np.int64)

        def merged(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
            return np.insert(mine if every else mine[keep], at, theirs, axis=0)

        def merged_list(mine: list[str], theirs: list[str]) -> list[str]:
            return np.insert(np.array(mine, dtype=object), at, np.array(theirs, dtype=object)).tolist()

        masked, stale = None, None
        if self.masked is not None:
            masked = merged(self.masked, np.zeros((len(new), PERMUTATIONS), dtype=bool))
            touched = {s for s, k in zip(self.sources, keep) if not k} | set(new.sources)
            stale = self.stale | touched
        sources = self.sources if every else [s for s, k in zip(self.sources, keep) if k]
        return FingerprintTable(merged_list(ids, new.ids), merged_list(sources, new.sources),
                                merged(self.title_days, new.title_days), merged(self.days, new.days),
                                merged(self.sizes, new.sizes),
                                merged(self.signatures, new.signatures.reshape(len(new), PERMUTATIONS)),
                                masked, stale)

    def boilerplate(self) -> np.ndarray:
        """Return the rows x PERMUTATIONS boolean mask of :func:`boilerplate_mask`, working it out only
        for the sources whose posts changed since it was last worked out."""
        if self.masked is None:
            self.masked = boilerplate_mask(self)
        elif self.stale:
            rows = np.array([source in self.stale for source in self.sources], dtype=bool)
            if rows.any():
                self.masked[rows] = boilerplate_mask(self._rows(rows))
        self.stale = frozenset()
        return self.masked

    def _rows(self, rows: np.ndarray) -> FingerprintTable:
        picked = np.flatnonzero(rows).tolist()
        return FingerprintTable([self.ids[i] for i in picked], [self.sources[i] for i in picked],
                                self.title_days[rows], self.days[rows], self.sizes[rows], self.signatures[rows])

    def save(self, path: Path) -> None:
        """Write the table to ``path`` (a new file renamed into place: the old one may be a hard link), with
        its boilerplate masks if they were worked out, and which sources they are stale for."""
        masks = {} if self.masked is None else {"masked": np.packbits(self.masked, axis=1),
                                                "stale": _pack(sorted(self.stale))}
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=_pack(self.ids), sources=_pack(self.sources), title_days=self.title_days,
                     days=self.days, sizes=self.sizes, signatures=self.signatures, **masks)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> FingerprintTable | None:
        """Return the table in ``path``, or None if there is none."""
        try:
            with np.load(path) as data:
                masked, stale = None, None
                if "masked" in data:
                    masked = np.unpackbits(data["masked"], axis=1, count=PERMUTATIONS).astype(bool)
                    stale = frozenset(_unpack(data["stale"])) if "stale" in data else frozenset()
                return cls(_unpack(data["ids"]), _unpack(data["sources"]), data["title_days"], data["days"],
                           data["sizes"], data["signatures"], masked, stale)
        except FileNotFoundError:
            return None


def _pack(strings: list[str]) -> np.ndarray:
    return np.frombuffer("\0".join(strings).encode("utf-8"), dtype=np.uint8)


def _unpack(packed: np.ndarray) -> list[str]:
    return packed.tobytes().decode("utf-8").split("\0") if packed.size else []


def date_order(days: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return the order a story lists its copies in, as indices into ``rows`` (table rows, whose days are
    ``days``): earliest first, undated last, ties by row. Both indexes rank a story's copies by it.

    >>> date_order(np.array([5, NO_DAY, 3, 5]), np.arange(4)).tolist()
    [2, 0, 3, 1]
    """
    return np.lexsort((rows, np.where(days == NO_DAY, np.iinfo(np.int32).max, days)))


def find_stories(table: FingerprintTable) -> np.ndarray:
    """Return, for every row of ``table``, the row of its story's canonical copy (itself if it has no copies)."""
    n = len(table)
    canonical = np.arange(n)
    if n < 2:
        return canonical
    masked = table.boilerplate()
    pairs = _candidate_pairs(table, masked)
    similarity, ok = _verify(table, masked, pairs)
    order = np.argsort(-similarity[ok], kind="stable")
    root = _join(n, pairs[ok][order], table.days)
    # canonical = earliest dated member (undated last), ties by id (rows are sorted by id)
    days = np.where(table.days == NO_DAY, np.iinfo(np.int64).max, table.days.astype(np.int64))
    for members in _groups(root):
        canonical[members] = members[np.lexsort((members, days[members]))[0]]
    return canonical


def boilerplate_mask(table: FingerprintTable) -> np.ndarray:
    """Return a rows x PERMUTATIONS boolean array: True where a signature value is a source's boilerplate."""
    _, source_ids = np.unique(np.array(table.sources, dtype=object), return_inverse=True)
    slots = np.arange(PERMUTATIONS, dtype=np.uint64)
    keys = (source_ids.astype(np.uint64)[:, None] << np.uint64(39)) | (slots[None, :] << np.uint64(32)) \
        | table.signatures.astype(np.uint64)
    with np.errstate(over="ignore"):
        pair_hashes = keys * np.uint64(0x9E3779B97F4A7C15) ^ table.title_days[:, None]
    _, first = np.unique(pair_hashes.ravel(), return_index=True)  # one per (value, title and day)
    values, counts = np.unique(keys.ravel()[first], return_counts=True)
    common = values[counts >= BOILERPLATE_POSTS]
    if not len(common):
        return np.zeros(keys.shape, dtype=bool)
    return common[np.minimum(np.searchsorted(common, keys), len(common) - 1)] == keys


def _candidate_pairs(table: FingerprintTable, masked: np.ndarray) -> np.ndarray:
    """Return row pairs (i < j) whose unmasked signatures agree on at least one band."""
    n = len(table)
    with np.errstate(over="ignore"):  # masked values become values no other row has
        unique = (np.arange(n * PERMUTATIONS, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                  >> np.uint64(32)).astype(np.uint32).reshape(n, PERMUTATIONS)
    signatures = np.where(masked, unique, table.signatures)
    eligible = np.flatnonzero(table.sizes >= MIN_SHARED)
    found = []
    for start in range(0, PERMUTATIONS, ROWS):
        band = np.zeros(len(eligible), dtype=np.uint64)  # the band's values hashed into one number
        with np.errstate(over="ignore"):
            for value in signatures[eligible, start:start + ROWS].T:
                band = band * np.uint64(0x100000001B3) + value
        order = np.argsort(band)
        ranked = band[order]
        bounds = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1], True])
        sizes = np.diff(bounds)
        pairs = bounds[:-1][sizes == 2]  # most buckets: two posts
        a, b = eligible[order[pairs]], eligible[order[pairs + 1]]
        found.append(np.minimum(a, b) * n + np.maximum(a, b))
        for lo, hi in zip(bounds[:-1][sizes > 2], bounds[1:][sizes > 2]):
            rows = np.sort(eligible[order[lo:hi]])
            if hi - lo <= MAX_BUCKET:
                i, j = np.triu_indices(len(rows), 1)
            else:
                i, j = np.arange(len(rows) - 1), np.arange(1, len(rows))
            found.append(rows[i] * n + rows[j])
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // n, codes % n], axis=1)


def _verify(table: FingerprintTable, masked: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the content similarity of each pair and whether it makes the pair copies.

    A signature slot counts when the smaller of the two values (the minimum of
    the union of both posts' 5-grams) is not boilerplate: over those slots the
    share of equal values estimates the Jaccard similarity of the posts'
    non-boilerplate content.
    """
    a, b = pairs[:, 0], pairs[:, 1]
    sa, sb = table.signatures[a], table.signatures[b]
    counted = ~np.where(sa <= sb, masked[a], masked[b])
    equal = sa == sb
    n_counted = counted.sum(axis=1)
    similarity = (equal & counted).sum(axis=1) / np.maximum(n_counted, 1)
    union = (table.sizes[a].astype(float) + table.sizes[b]) / (1 + equal.mean(axis=1))
    shared = similarity * union * n_counted / PERMUTATIONS
    ok = (n_counted >= MIN_COUNTED) & (similarity >= MIN_SIMILARITY) & (shared >= MIN_SHARED)
    return similarity, ok


def _join(n: int, pairs: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Union the pairs in order, refusing a union whose story would span more than STORY_DAYS days."""
    parent = list(range(n))
    first = [int(d) if d != NO_DAY else None for d in days]
    last = list(first)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in pairs.tolist():
        rx, ry = find(x), find(y)
        if rx == ry:
            continue
        starts = [d for d in (first[rx], first[ry]) if d is not None]
        ends = [d for d in (last[rx], last[ry]) if d is not None]
        if starts and max(ends) - min(starts) > STORY_DAYS:
            continue
        parent[rx] = ry
        first[ry], last[ry] = (min(starts), max(ends)) if starts else (None, None)
    return np.array([find(x) for x in range(n)])


def _groups(root: np.ndarray) -> Iterable[np.ndarray]:
    """Yield the rows of every group with more than one member."""
    order = np.argsort(root, kind="stable")
    ranked = root[order]
    bounds = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi - lo > 1:
            yield order[lo:hi]
