"""The recall index: positional character bigrams, stored as compact numpy arrays beside each segment.

"If the text contains it, search finds it" needs one posting per character of
every post: a string occurs in a post exactly when its bigrams occur at
consecutive positions. Whoosh can hold that field, but at a price measured in
the benchmarks: about 80 bytes of term table per distinct bigram in every
segment, Python objects for every posting while a segment is built, and a
Python loop over every position at query time. Here the same information lives
in one file per segment, ``<segment id>.rcl``, built and read with numpy:

* ``codes``: the distinct bigrams, sorted, each as ``first << 21 | second``
  code point (a one-character section is ``char << 21``);
* ``docs``: for every occurrence, in (bigram, document, position) order, the
  document delta (0 for another occurrence in the same document, restarting at
  each bigram), as LEB128 varints; ``doc_offsets``: where each bigram's start;
* ``positions``: likewise the position deltas (restarting at each document),
  with ``pos_offsets``; together about three bytes an occurrence;
* ``lengths``: characters per document, for length normalisation.

Each file holds several fields (the whole post and the title alone). Files are
written once and never changed, like the segment they belong to, and are read
through ``mmap``, so a searcher keeps only the pages a query touches.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from whoosh import query as wq
from whoosh.matching import ListMatcher, NullMatcher

from .analysis import SECTION_BREAK, normalise

#: File name extension of a segment's recall index.
EXTENSION = ".rcl"
_MAGIC = b"NSRECALL1\n"
_SHIFT = np.uint64(21)
_LOW = np.uint64((1 << 21) - 1)
_ALIGN = 8


def fold_sections(value: str) -> list[str]:
    """Return the folded, whitespace-free sections of a field value (split at :data:`SECTION_BREAK`).

    >>> fold_sections("國際 論壇\\x1fＢ")
    ['国际论坛', 'b']
    """
    return ["".join(normalise(section).split()) for section in value.split(SECTION_BREAK)]


def bigram_codes(text: str) -> np.ndarray:
    """Return the codes of the bigrams of folded, compacted ``text``, in order.

    >>> [hex(c) for c in bigram_codes("abc")]
    ['0xc200062', '0xc400063']
    """
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(points) == 1:
        return points << _SHIFT
    return (points[:-1] << _SHIFT) | points[1:]


class _FieldBuffer:
    """Occurrences of one field, collected document by document."""

    def __init__(self):
        self.codes: list[np.ndarray] = []
        self.docs: list[np.ndarray] = []
        self.positions: list[np.ndarray] = []
        self.lengths: dict[int, int] = {}

    def add(self, docnum: int, sections: Iterable[str]) -> None:
        position = 0
        for section in sections:
            if section:
                codes = bigram_codes(section)
                self.codes.append(codes)
                self.positions.append(np.arange(position, position + len(codes), dtype=np.uint32))
                self.docs.append(np.full(len(codes), docnum, dtype=np.uint32))
            position += len(section) + 1  # a gap: no bigram spans two sections
        self.lengths[docnum] = position

    def arrays(self, doc_count: int) -> dict[str, np.ndarray]:
        """Return the field's arrays (see the module docstring), freeing the collected chunks.

        Memory matters here: a segment holds millions of occurrences, so the
        work is done in place on 4-byte integers where they suffice, and
        intermediates are dropped as soon as they are used.
        """
        lengths = np.zeros(doc_count, dtype=np.uint32)
        if self.lengths:
            lengths[np.fromiter(self.lengths, np.int64)] = np.fromiter(self.lengths.values(), np.uint32)
        if not self.codes:
            empty = np.zeros(0, dtype=np.uint8)
            return {"codes": np.zeros(0, dtype=np.uint64), "doc_offsets": np.zeros(1, dtype=np.uint64),
                    "pos_offsets": np.zeros(1, dtype=np.uint64), "docs": empty, "positions": empty,
                    "lengths": lengths}
        codes = np.concatenate(self.codes)
        self.codes.clear()
        # Documents were added in order and positions grow within a document,
        # so a stable sort by code alone orders occurrences by (code, doc, position).
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        docs = np.concatenate(self.docs)[order]
        self.docs.clear()
        positions = np.concatenate(self.positions)[order]
        self.positions.clear()
        del order
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        codes = codes[starts]
        first = np.zeros(len(docs), dtype=bool)
        first[starts] = True
        # Document deltas restart at each bigram; position deltas at each new document.
        doc_deltas = np.empty_like(docs)
        doc_deltas[0] = docs[0]
        np.subtract(docs[1:], docs[:-1], out=doc_deltas[1:])
        doc_deltas[first] = docs[first]
        del docs
        first |= doc_deltas != 0
        pos_deltas = np.empty_like(positions)
        pos_deltas[0] = positions[0]
        np.subtract(positions[1:], positions[:-1], out=pos_deltas[1:])
        pos_deltas[first] = positions[first]
        del positions, first
        doc_data, doc_offsets = encode_varints(doc_deltas, starts)
        del doc_deltas
        pos_data, pos_offsets = encode_varints(pos_deltas, starts)
        return {"codes": codes, "doc_offsets": doc_offsets, "pos_offsets": pos_offsets, "docs": doc_data,
                "positions": pos_data, "lengths": lengths}


class RecallWriter:
    """Collects the recall fields of one segment's documents, then writes its ``.rcl`` file."""

    def __init__(self, fields: Iterable[str]):
        self.fields = {name: _FieldBuffer() for name in fields}
        self.doc_count = 0

    def add(self, docnum: int, values: dict[str, str]) -> None:
        """Record document ``docnum``'s field values (sections joined by :data:`SECTION_BREAK`)."""
        for name, buffer in self.fields.items():
            buffer.add(docnum, fold_sections(values.get(name, "")))
        self.doc_count = max(self.doc_count, docnum + 1)

    def write(self, path: Path) -> None:
        """Write the file (to a temporary name first: a reader never sees half of it)."""
        arrays = {(name, key): array for name, buffer in self.fields.items()
                  for key, array in buffer.arrays(self.doc_count).items()}
        layout, offset = {}, 0
        for (name, key), array in arrays.items():
            layout.setdefault(name, {})[key] = [array.dtype.str, offset, len(array)]
            offset += _padded(array.nbytes)
        header = json.dumps({"docs": self.doc_count, "fields": layout}).encode("utf-8")
        start = _padded(len(_MAGIC) + 4 + len(header))
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "wb") as out:
            out.write(_MAGIC + len(header).to_bytes(4, "little") + header)
            out.write(b"\0" * (start - out.tell()))
            for array in arrays.values():
                out.write(array.tobytes())
                out.write(b"\0" * (_padded(array.nbytes) - array.nbytes))
        os.replace(temporary, path)


class RecallReader:
    """A segment's recall index, memory-mapped."""

    def __init__(self, path: Path):
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(f.fileno()).st_size else b""
        if self._map[:len(_MAGIC)] != _MAGIC:
            raise ValueError(f"{path.name} is not a recall index")
        size = int.from_bytes(self._map[len(_MAGIC):len(_MAGIC) + 4], "little")
        header = json.loads(self._map[len(_MAGIC) + 4:len(_MAGIC) + 4 + size])
        base = _padded(len(_MAGIC) + 4 + size)
        self.doc_count: int = header["docs"]
        self._fields = {
            name: {key: np.frombuffer(self._map, dtype=np.dtype(dtype), count=count, offset=base + offset)
                   for key, (dtype, offset, count) in arrays.items()}
            for name, arrays in header["fields"].items()
        }

    def lengths(self, field: str) -> np.ndarray:
        """Characters per document in ``field``."""
        return self._fields[field]["lengths"]

    def postings(self, field: str, code: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(docs, positions)`` of every occurrence of bigram ``code``, sorted."""
        arrays = self._fields[field]
        codes = arrays["codes"]
        i = int(np.searchsorted(codes, np.uint64(code)))  # a Python int would convert all of codes
        if i == len(codes) or int(codes[i]) != code:
            return _NONE, _NONE
        doc_offsets, pos_offsets = arrays["doc_offsets"], arrays["pos_offsets"]
        doc_deltas = decode_varints(arrays["docs"][int(doc_offsets[i]):int(doc_offsets[i + 1])])
        pos_deltas = decode_varints(arrays["positions"][int(pos_offsets[i]):int(pos_offsets[i + 1])])
        docs = np.cumsum(doc_deltas)
        new_doc = doc_deltas != 0
        new_doc[0] = True
        sums = np.cumsum(pos_deltas)
        run_base = (sums - pos_deltas)[new_doc]
        positions = sums - np.repeat(run_base, np.diff(np.r_[np.flatnonzero(new_doc), len(pos_deltas)]))
        return docs, positions

    def matches(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(docs, counts)``: documents whose ``field`` contains folded, compacted ``text``.

        One character matches wherever it occurs (it is the first or second
        character of some bigram, or a section of its own).
        """
        if not text:
            return _NONE, _NONE
        if len(text) == 1:
            return self._char_matches(field, ord(text))
        keys = None
        for i, code in enumerate(bigram_codes(text)):
            docs, positions = self.postings(field, int(code))
            starts = positions >= i  # occurrences that can be the i-th bigram of a match
            found = (docs[starts] << np.uint64(32)) | (positions[starts] - np.uint64(i))
            keys = found if keys is None else _intersect(keys, found)
            if not len(keys):
                return _NONE, _NONE
        docs, counts = np.unique(keys >> np.uint64(32), return_counts=True)
        return docs, counts

    def _char_matches(self, field: str, point: int) -> tuple[np.ndarray, np.ndarray]:
        codes = self._fields[field]["codes"]
        low, high = np.searchsorted(codes, np.array([point << 21, (point + 1) << 21], dtype=np.uint64))
        chosen = list(range(low, high)) + [int(i) for i in np.flatnonzero((codes & _LOW) == point)]
        found = [self.postings(field, int(codes[i]))[0] for i in dict.fromkeys(chosen)]
        if not found:
            return _NONE, _NONE
        docs, counts = np.unique(np.concatenate(found), return_counts=True)
        return docs, counts

    def close(self) -> None:
        self._fields = {}
        if isinstance(self._map, mmap.mmap):
            try:
                self._map.close()
            except BufferError:  # an array still points into the map; it closes when collected
                pass


_NONE = np.zeros(0, dtype=np.uint64)


def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted unique ``a`` ∩ sorted unique ``b``, by binary search of the shorter in the longer."""
    if len(a) > len(b):
        a, b = b, a
    where = np.searchsorted(b, a)
    where[where == len(b)] = 0
    return a[b[where] == a] if len(b) else _NONE


def encode_varints(values: np.ndarray, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode unsigned integers as LEB128 varints.

    Return the bytes and the byte offset where each group starts (``groups``
    holds the index of each group's first value; by default every value is a
    group), followed by the total length.

    >>> data, offsets = encode_varints(np.array([1, 300, 5], dtype=np.uint32), np.array([0, 2]))
    >>> data.tolist(), offsets.tolist()
    ([1, 172, 2, 5], [0, 3, 4])
    """
    if groups is None:
        groups = np.arange(len(values))
    sizes = np.ones(len(values), dtype=np.uint8)
    for bits in range(7, values.dtype.itemsize * 8, 7):
        sizes += values >= (1 << bits)
    ends = np.cumsum(sizes, dtype=np.int64)
    total = int(ends[-1]) if len(ends) else 0
    offsets = np.empty(len(groups) + 1, dtype=np.uint32 if len(values) < 1 << 28 else np.uint64)
    offsets[:-1] = ends[groups] - sizes[groups]
    offsets[-1] = total
    ends -= sizes  # now the start of each value
    data = np.empty(total, dtype=np.uint8)
    for k in range(int(sizes.max()) if len(sizes) else 0):
        has = np.flatnonzero(sizes > k)
        byte = ((values[has] >> (7 * k)) & 0x7F).astype(np.uint8)
        byte[sizes[has] > k + 1] |= 0x80
        data[ends[has] + k] = byte
    return data, offsets


def decode_varints(data: np.ndarray) -> np.ndarray:
    """Decode LEB128 varints (the inverse of :func:`encode_varints`).

    >>> decode_varints(np.array([1, 172, 2], dtype=np.uint8)).tolist()
    [1, 300]
    """
    if not len(data):
        return _NONE
    last = data < 0x80
    if last.all():
        return data.astype(np.uint64)
    ends = np.flatnonzero(last)
    starts = np.r_[0, ends[:-1] + 1]
    shift = (np.arange(len(data)) - np.repeat(starts, ends - starts + 1)) * 7
    return np.add.reduceat((data & 0x7F).astype(np.uint64) << shift.astype(np.uint64), starts)


def _padded(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


# --- querying through Whoosh -----------------------------------------------------------------

#: BM25 parameters of the recall score (a tie-breaker next to the word fields' BM25F).
K1 = 1.2
B = 0.75


class RecallQuery(wq.Query):
    """Matches documents whose recall ``fieldname`` contains folded, compacted ``text``.

    Scored with BM25's term-frequency part over the number of occurrences
    (no idf: the word fields carry it), times ``boost``.
    """

    def __init__(self, fieldname: str, text: str, boost: float = 1.0):
        self.fieldname = fieldname
        self.text = text
        self.boost = boost

    def __eq__(self, other):
        return (type(other) is type(self) and other.fieldname == self.fieldname and other.text == self.text
                and other.boost == self.boost)

    def __hash__(self):
        return hash((type(self).__name__, self.fieldname, self.text, self.boost))

    def __repr__(self):
        return f"{type(self).__name__}({self.fieldname!r}, {self.text!r}, boost={self.boost})"

    def __unicode__(self):
        return f"{self.fieldname}:*{self.text}*"

    __str__ = __unicode__

    def estimate_size(self, ixreader) -> int:
        return ixreader.doc_count_all()

    def matcher(self, searcher, context=None):
        docs, scores = recall_scores(searcher.reader(), self)
        if not len(docs):
            return NullMatcher()
        return ListMatcher(docs.tolist(), weights=scores.tolist())


def recall_scores(reader, q: RecallQuery) -> tuple[np.ndarray, np.ndarray]:
    """Return the live documents of a Whoosh segment that ``q`` matches (ascending, int64) and their scores."""
    recall = recall_index(reader)
    docs, counts = recall.matches(q.fieldname, q.text)
    if len(docs) and reader.has_deletions():
        live = ~np.isin(docs, np.fromiter(reader.segment().deleted_docs(), np.uint64))
        docs, counts = docs[live], counts[live]
    lengths = recall.lengths(q.fieldname)
    docs = docs.astype(np.int64)
    norm = lengths[docs] / max(float(lengths.mean()), 1.0) if len(docs) else np.zeros(0)
    return docs, q.boost * counts * (K1 + 1) / (counts + K1 * (1 - B + B * norm))


def recall_index(reader) -> RecallReader:
    """Return the recall index of a Whoosh segment reader (opened once, kept with the reader).

    :raises OSError: if the segment has none (an index built before recall files existed).
    """
    recall = getattr(reader, "_news_search_recall", None)
    if recall is None:
        segment, storage = reader.segment(), reader.storage()
        recall = RecallReader(Path(storage.folder) / segment.make_filename(EXTENSION))
        reader._news_search_recall = recall
    return recall
