"""The recall index: positional character bigrams, stored as compact numpy arrays beside each segment.

"If the text contains it, search finds it" needs one posting per character of
every post: a string occurs in a post exactly when its bigrams occur at
consecutive positions. Whoosh can hold that field, but at a price measured in
the benchmarks: about 80 bytes of term table per distinct bigram in every
segment, Python objects for every posting while a segment is built, and a
Python loop over every position at query time. Here the same information lives
in one file per segment, ``<segment id>.rcl``, built and read with numpy.

Positions are *global*: a segment's documents are laid end to end, document
``d`` starting at ``base[d] = sum(lengths[:d]) + d``, where ``lengths`` counts
each section of a document with a gap position after it. A bigram is recorded
at the position of its first character, and no bigram starts at a gap or
covers one, so bigrams at consecutive positions always lie in one section of
one document: the first bigram of a match is a real occurrence, and its
position, less the base of the last document starting at or before it, is the
position in that document. Per field:

* ``codes``: the distinct bigrams, sorted by their code ``first << 21 | second``
  (code points; a one-character section is ``char << 21``), of which only the
  low 32 bits are stored: ``code_starts[h]`` is where the codes whose high bits
  are ``h`` start, so a lookup is one binary search of 4-byte integers;
* ``positions``: for each bigram, the sorted global positions of its
  occurrences as LEB128 varint deltas (the first one absolute, restarting at
  each bigram); frequent bigrams, which make most occurrences, have small
  gaps, so this costs about 2.3 bytes an occurrence;
* ``offsets``: where each bigram's varints start in ``positions``, followed
  by their total length (uint32, or uint64 for a stream past 4 GiB);
* ``lengths``: characters per document, gaps included, for the bases and for
  length normalisation.

Each file holds several fields (the whole post and the title alone). Files are
written once and never changed, like the segment they belong to, and are read
through ``mmap``, so a searcher keeps only the pages a query touches.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from whoosh import query as wq
from whoosh.matching import ListMatcher, NullMatcher

from ..text.analysis import fold_sections
from ..whoosh_internals import DamagedFileError, live_documents, reader_cache

#: File name extension of a segment's recall index.
EXTENSION = ".rcl"
_MAGIC = b"NSRECALL2\n"
_SHIFT = np.uint64(21)
_BUCKETS = 1 << 10  # values of a code's high bits (codes have 42)
_ALIGN = 8
_MAX_POSITION = (1 << 32) - 1  # global positions are built as uint32


def bigram_codes(text: str) -> np.ndarray:
    """Return the codes of the bigrams of folded, compacted ``text``, in order.

    >>> [hex(c) for c in bigram_codes("abc")]
    ['0xc200062', '0xc400063']
    """
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(points) == 1:
        return points << _SHIFT
    return (points[:-1] << _SHIFT) | points[1:]


#: Occurrences a field buffers (12 bytes each) before it encodes them as a run of varints (about 2.4 bytes each):
#: what bounds the memory of a large segment's recall index while it is built.
RUN_OCCURRENCES = 1 << 21
#: Bytes of varints decoded at a time when a field's runs are merged into its final arrays.
MERGE_BYTES = 1 << 20


@dataclass
class _Run:
    """Occurrences encoded as in the file: distinct ``codes`` (uint64, ascending), each with its varint
    position deltas, the first one absolute, at ``data[offsets[i]:offsets[i + 1]]``.

    ``remap``, for a run read from another segment's file: where its documents
    go in the segment being written (see :class:`_Renumbering`).
    """

    codes: np.ndarray
    offsets: np.ndarray
    data: np.ndarray
    remap: _Renumbering | None = None


@dataclass
class _Renumbering:
    """Moves the occurrences of a segment's kept documents to their global positions in a merged segment.

    ``bases``: the source segment's document bases; ``keep``: which of its
    documents the merged segment holds; ``shift``: what to add to a kept
    document's positions.
    """

    bases: np.ndarray
    keep: np.ndarray
    shift: np.ndarray

    def apply(self, codes: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        docs = np.searchsorted(self.bases, positions, side="right") - 1
        kept = self.keep[docs]
        moved = positions[kept].astype(np.int64) + self.shift[docs[kept]]
        return codes[kept], moved.astype(np.uint32)


class _FieldBuffer:
    """Occurrences of one field, collected document by document, at their global positions.

    Every :data:`RUN_OCCURRENCES` occurrences the buffer is encoded as a
    :class:`_Run`; the runs are merged when the segment is written.
    """

    def __init__(self):
        self.codes: list[np.ndarray] = []
        self.positions: list[np.ndarray] = []
        self.buffered = 0  # occurrences in codes/positions
        self.runs: list[_Run] = []
        self.lengths: dict[int, int] = {}
        self.end = 0  # the sum of the lengths so far

    def add(self, docnum: int, sections: list[str]) -> None:
        """Record document ``docnum``'s sections (documents come in ascending order)."""
        base = self.end + docnum
        length = sum(len(section) + 1 for section in sections)  # a gap after each: no bigram spans two
        if base + length > _MAX_POSITION:
            raise OverflowError("a segment's recall field holds at most 4 Gi characters")
        position = base
        for section in sections:
            if section:
                codes = bigram_codes(section)
                self.codes.append(codes)
                self.positions.append(np.arange(position, position + len(codes), dtype=np.uint32))
                self.buffered += len(codes)
            position += len(section) + 1
        self.lengths[docnum] = length
        self.end += length
        if self.buffered >= RUN_OCCURRENCES:
            self._encode_buffer()

    def _encode_buffer(self) -> None:
        if self.codes:
            codes, positions = np.concatenate(self.codes), np.concatenate(self.positions)
            self.codes.clear()
            self.positions.clear()
            self.runs.append(_encode(codes, positions))
        self.buffered = 0

    def arrays(self, doc_count: int) -> dict[str, np.ndarray]:
        """Return the field's arrays (see the module docstring), freeing the collected occurrences."""
        lengths = np.zeros(doc_count, dtype=np.uint32)
        if self.lengths:
            lengths[np.fromiter(self.lengths, np.int64)] = np.fromiter(self.lengths.values(), np.uint32)
        self._encode_buffer()
        runs, self.runs = self.runs, []
        return _field_arrays(runs, lengths)


def _field_arrays(runs: list[_Run], lengths: np.ndarray) -> dict[str, np.ndarray | list[np.ndarray]]:
    """Return a field's arrays as the file holds them, from the runs of its occurrences."""
    if len(runs) > 1 or runs and runs[0].remap is not None:
        codes, offsets, chunks = _merge(runs)
    elif runs:
        codes, offsets, chunks = runs[0].codes, runs[0].offsets, [runs[0].data]
    else:
        codes, offsets, chunks = np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.uint32), []
    code_starts = np.searchsorted(codes >> np.uint64(32), np.arange(_BUCKETS + 1, dtype=np.uint64))
    return {"codes": (codes & np.uint64(0xFFFF_FFFF)).astype(np.uint32),
            "code_starts": code_starts.astype(np.uint32), "offsets": offsets, "positions": chunks,
            "lengths": lengths}


def _encode(codes: np.ndarray, positions: np.ndarray) -> _Run:
    """Encode occurrences, a bigram code and a global position each, as a run; sorts ``codes`` in place.

    Occurrences of one code must come in ascending position order.
    """
    # A stable sort by code alone keeps each code's positions in their (ascending) input order.
    order = np.argsort(codes, kind="stable")
    codes.sort()  # the same result as codes[order], without a second copy
    positions = positions[order]
    del order
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    deltas = np.empty_like(positions)
    np.subtract(positions[1:], positions[:-1], out=deltas[1:])
    deltas[starts] = positions[starts]  # each bigram's first position is absolute
    del positions
    data, offsets = encode_varints(deltas, starts)
    return _Run(codes[starts], offsets, data)


def _merge(runs: list[_Run]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Merge runs made one after another (the positions of a later run are all greater) into one;
    return its codes, its offsets and its varints in chunks, to be written end to end.

    The code space is cut into ranges of about :data:`MERGE_BYTES` of varints;
    each range is decoded from every run (and renumbered, for runs read from
    other segments), then encoded again, so memory stays bounded by the range
    rather than by the segment.
    """
    runs = [run for run in runs if len(run.codes)]
    if not runs:
        return np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.uint32), []
    codes = np.concatenate([run.codes for run in runs])
    order = np.argsort(codes, kind="stable")
    filled = np.cumsum(np.concatenate([np.diff(run.offsets) for run in runs])[order])
    cuts = codes[order][np.searchsorted(filled, np.arange(MERGE_BYTES, int(filled[-1]), MERGE_BYTES))]
    del codes, order, filled
    edges = [0, *np.unique(cuts).tolist(), 1 << 63]
    pieces = []
    for low, high in zip(edges, edges[1:]):
        parts = [_decode_range(run, low, high) for run in runs]
        parts = [part for part in parts if len(part[0])]
        if not parts:
            continue
        pieces.append(_encode(np.concatenate([c for c, _ in parts]), np.concatenate([p for _, p in parts])))
    if not pieces:  # every occurrence was in documents left out
        return np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.uint32), []
    offsets = _offsets(np.concatenate([np.diff(piece.offsets) for piece in pieces]),
                       sum(len(piece.data) for piece in pieces))
    return np.concatenate([piece.codes for piece in pieces]), offsets, [piece.data for piece in pieces]


def _decode_range(run: _Run, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the occurrences of ``run`` with codes in ``[low, high)``: codes and positions (uint32)."""
    first, last = np.searchsorted(run.codes, np.array([low, high], dtype=np.uint64)).tolist()
    if first == last:
        return _NONE, _NONE
    begin, end = int(run.offsets[first]), int(run.offsets[last])
    data = run.data[begin:end]
    deltas = decode_varints(data)
    bounds = run.offsets[first:last].astype(np.int64) - begin
    counts = np.add.reduceat((data < 0x80).view(np.uint8), bounds, dtype=np.int64)  # a varint ends per occurrence
    sums = np.cumsum(deltas)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    positions = sums - np.repeat(sums[starts] - deltas[starts], counts)  # the cumulative sum restarts at each code
    codes = np.repeat(run.codes[first:last], counts)
    if run.remap is not None:
        return run.remap.apply(codes, positions)
    return codes, positions.astype(np.uint32)


class RecallWriter:
    """Collects the recall fields of one segment's documents, then writes its ``.rcl`` file."""

    def __init__(self, fields: Iterable[str]):
        self.fields = {name: _FieldBuffer() for name in fields}
        self.doc_count = 0

    def add(self, docnum: int, values: dict[str, str]) -> None:
        """Record document ``docnum``'s field values (sections joined by :data:`SECTION_BREAK`).

        :raises ValueError: if ``docnum`` is not above every document added before.
        """
        if docnum < self.doc_count:
            raise ValueError(f"document {docnum} added after document {self.doc_count - 1}")
        for name, buffer in self.fields.items():
            buffer.add(docnum, fold_sections(values.get(name, "")))
        self.doc_count = max(self.doc_count, docnum + 1)

    def write(self, path: Path) -> None:
        """Write the file (to a temporary name first: a reader never sees half of it)."""
        _write_file(path, self.doc_count, {name: buffer.arrays(self.doc_count) for name, buffer in self.fields.items()})


def merge_recall(sources: list[tuple[RecallReader, np.ndarray]], path: Path) -> None:
    """Write to ``path`` the recall index of a segment made of the kept documents of ``sources``, in order.

    Each source is a segment's recall index and a boolean mask of the
    documents to keep (a merge leaves out deleted posts). Occurrences are
    moved to their new global positions and re-encoded a code range at a time
    (see :func:`_merge`), so the memory a merge takes is bounded like a build's.
    """
    fields = dict.fromkeys(name for reader, _ in sources for name in reader.field_names())
    doc_count = sum(int(keep.sum()) for _, keep in sources)
    _write_file(path, doc_count, {name: _merged_field(sources, name) for name in fields})


def _merged_field(sources: list[tuple[RecallReader, np.ndarray]], field: str) -> dict:
    runs, lengths, start = [], [], 0
    for reader, keep in sources:
        kept = reader.lengths(field)[keep]
        shift = np.zeros(len(keep), dtype=np.int64)
        bases = reader.bases(field)
        shift[keep] = start + document_bases(kept).astype(np.int64) - bases[keep].astype(np.int64)
        runs.append(_Run(*reader.encoded(field), remap=_Renumbering(bases, keep, shift)))
        lengths.append(kept)
        start += int(kept.sum(dtype=np.uint64)) + len(kept)
    if start > _MAX_POSITION:
        raise OverflowError("a segment's recall field holds at most 4 Gi characters")
    return _field_arrays(runs, np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.uint32))


def _write_file(path: Path, doc_count: int, fields: dict[str, dict]) -> None:
    """Write a recall file holding ``fields`` (each field's arrays) to a temporary name, then rename it."""
    # Each array is given whole or, to spare a copy of the largest, as chunks written end to end.
    arrays = {(name, key): chunks if isinstance(chunks, list) else [chunks]
              for name, field_arrays in fields.items() for key, chunks in field_arrays.items()}
    layout, offset = {}, 0
    for (name, key), chunks in arrays.items():
        dtype = chunks[0].dtype if chunks else np.dtype(np.uint8)
        layout.setdefault(name, {})[key] = [dtype.str, offset, sum(len(chunk) for chunk in chunks)]
        offset += _padded(sum(chunk.nbytes for chunk in chunks))
    header = json.dumps({"docs": doc_count, "fields": layout}).encode("utf-8")
    start = _padded(len(_MAGIC) + 4 + len(header))
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as out:
        out.write(_MAGIC + len(header).to_bytes(4, "little") + header)
        out.write(b"\0" * (start - out.tell()))
        for chunks in arrays.values():
            size = 0
            for chunk in chunks:
                out.write(chunk.data)
                size += chunk.nbytes
            out.write(b"\0" * (_padded(size) - size))
    os.replace(temporary, path)


class RecallReader:
    """A segment's recall index, memory-mapped."""

    def __init__(self, path: Path):
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(f.fileno()).st_size else b""
        if self._map[:len(_MAGIC)] != _MAGIC:
            raise DamagedFileError(f"{path.name} is not a recall index")
        size = int.from_bytes(self._map[len(_MAGIC):len(_MAGIC) + 4], "little")
        header = json.loads(self._map[len(_MAGIC) + 4:len(_MAGIC) + 4 + size])
        base = _padded(len(_MAGIC) + 4 + size)
        self.doc_count: int = header["docs"]
        try:
            self._fields = {
                name: {key: np.frombuffer(self._map, dtype=np.dtype(dtype), count=count, offset=base + offset)
                       for key, (dtype, offset, count) in arrays.items()}
                for name, arrays in header["fields"].items()
            }
        except ValueError as exc:  # the file ends before an array its header lists
            raise DamagedFileError(f"{path.name} is truncated: {exc}") from exc
        self._bases = {name: document_bases(arrays["lengths"]) for name, arrays in self._fields.items()}
        self._total_lengths = {name: int(arrays["lengths"].sum(dtype=np.uint64))
                               for name, arrays in self._fields.items()}

    def field_names(self) -> list[str]:
        return list(self._fields)

    def lengths(self, field: str) -> np.ndarray:
        """Characters per document in ``field``."""
        return self._fields[field]["lengths"]

    def bases(self, field: str) -> np.ndarray:
        """The global position where each document starts in ``field`` (see :func:`document_bases`)."""
        return self._bases[field]

    def encoded(self, field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``field``'s occurrences as stored: whole codes (uint64, ascending), offsets and varints."""
        arrays = self._fields[field]
        highs = np.repeat(np.arange(_BUCKETS, dtype=np.uint64), np.diff(arrays["code_starts"].astype(np.int64)))
        return (highs << np.uint64(32)) | arrays["codes"].astype(np.uint64), arrays["offsets"], arrays["positions"]

    def total_length(self, field: str) -> int:
        """Characters in ``field`` over all documents of the segment (see :func:`average_length`)."""
        return self._total_lengths[field]

    def matches(self, field: str, text: str, memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(docs, counts)``: documents whose ``field`` contains folded, compacted ``text``.

        One character matches wherever it occurs (it is the first or second
        character of some bigram, or a section of its own). ``memo`` keeps
        decoded bigrams for the next call (one query looks up each word and
        then the whole string, so the same bigrams come back), and the
        documents of each string looked up (a query's partial matches look up
        its words again).
        """
        if memo is None:
            return self._matches(field, text, None)
        found = memo.get((field, text))  # bigrams are kept under (field, int code)
        if found is None:
            found = memo[field, text] = self._matches(field, text, memo)
        return found

    def _matches(self, field: str, text: str, memo: dict | None) -> tuple[np.ndarray, np.ndarray]:
        if not text:
            return _NO_DOCS, _NO_DOCS
        if len(text) == 1:
            return self._char_matches(field, ord(text))
        starts = None
        for i, code in enumerate(bigram_codes(text)):
            positions = self._decoded(field, int(code), memo)
            # A match starting at s has its i-th bigram at s + i (so positions below i are none).
            found = positions[np.searchsorted(positions, np.uint64(i)):] - np.uint64(i)
            starts = found if starts is None else _intersect(starts, found)
            if not len(starts):
                return _NO_DOCS, _NO_DOCS
        return self._count_by_document(field, starts)

    def _char_matches(self, field: str, point: int) -> tuple[np.ndarray, np.ndarray]:
        seconds = self._fields[field]["codes"] & np.uint32((1 << 21) - 1)
        firsts = range(self._find(field, point << 21)[0], self._find(field, (point + 1) << 21)[0])
        rows = dict.fromkeys([*firsts, *np.flatnonzero(seconds == point).tolist()])
        if not rows:
            return _NO_DOCS, _NO_DOCS
        return self._count_by_document(field, np.sort(np.concatenate([self._positions(field, row) for row in rows])))

    def _decoded(self, field: str, code: int, memo: dict | None) -> np.ndarray:
        if memo is None:
            return self._positions(field, self._row(field, code))
        positions = memo.get((field, code))
        if positions is None:
            positions = memo[field, code] = self._positions(field, self._row(field, code))
        return positions

    def _row(self, field: str, code: int) -> int | None:
        """Return the index of bigram ``code`` in ``field``'s table, or None if no document has it."""
        row, found = self._find(field, code)
        return row if found else None

    def _find(self, field: str, code: int) -> tuple[int, bool]:
        """Return where bigram ``code`` is, or would be, in ``field``'s table, and whether it is there."""
        arrays = self._fields[field]
        codes, starts = arrays["codes"], arrays["code_starts"]
        low = code & 0xFFFF_FFFF
        begin, end = int(starts[code >> 32]), int(starts[(code >> 32) + 1])
        row = begin + int(np.searchsorted(codes[begin:end], np.uint32(low)))  # a Python int converts the slice
        return row, row < end and int(codes[row]) == low

    def _positions(self, field: str, row: int | None) -> np.ndarray:
        """Return the global positions of the occurrences of the bigram in ``row``, ascending."""
        if row is None:
            return _NONE
        arrays = self._fields[field]
        offsets = arrays["offsets"]
        return np.cumsum(decode_varints(arrays["positions"][int(offsets[row]):int(offsets[row + 1])]))

    def _count_by_document(self, field: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the documents (ascending) holding global ``positions`` (ascending) and how many of them
        each holds."""
        bases = self._bases[field]
        if not len(positions):
            return _NO_DOCS, _NO_DOCS
        if len(positions) > len(bases):  # more occurrences than documents: look up where each one starts
            counts = np.diff(np.searchsorted(positions, bases), append=len(positions))
            docs = np.flatnonzero(counts)
            return docs, counts[docs]
        docs = np.searchsorted(bases, positions, side="right") - 1
        firsts = np.flatnonzero(np.diff(docs, prepend=-1))  # sorted already: runs, not np.unique
        return docs[firsts], np.diff(firsts, append=len(docs))

    def close(self) -> None:
        self._fields = {}
        if isinstance(self._map, mmap.mmap):
            try:
                self._map.close()
            except BufferError:  # an array still points into the map; it closes when collected
                pass


_NONE = np.zeros(0, dtype=np.uint64)
_NO_DOCS = np.zeros(0, dtype=np.int64)


def document_bases(lengths: np.ndarray) -> np.ndarray:
    """Return the global position where each document starts: ``sum(lengths[:d]) + d``.

    >>> document_bases(np.array([3, 1, 0, 2], dtype=np.uint32)).tolist()
    [0, 4, 6, 7]
    """
    bases = np.arange(len(lengths), dtype=np.uint64)
    np.add(bases[1:], np.cumsum(lengths[:-1], dtype=np.uint64), out=bases[1:])
    return bases


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
    group), followed by the total length: uint32, or uint64 past 4 GiB.

    >>> data, offsets = encode_varints(np.array([1, 300, 5], dtype=np.uint32), np.array([0, 2]))
    >>> data.tolist(), offsets.tolist()
    ([1, 172, 2, 5], [0, 3, 4])
    """
    if groups is None:
        groups = np.arange(len(values))
    sizes = np.ones(len(values), dtype=np.uint8)
    for bits in range(7, values.dtype.itemsize * 8, 7):
        sizes += values >= (1 << bits)
    # A row of 7-bit groups per value, then only the bytes each value uses, row by row:
    # no index arrays, which would cost 8 bytes a value.
    width = int(sizes.max()) if len(sizes) else 0
    table = np.empty((len(values), width), dtype=np.uint8)
    for k in range(width):
        table[:, k] = (values >> (7 * k)) & 0x7F
        table[:, k] |= (sizes > k + 1).view(np.uint8) << 7  # more bytes follow
    data = table[np.arange(width) < sizes[:, None]]
    del table
    return data, _offsets(np.add.reduceat(sizes, groups, dtype=np.int64) if len(groups) else sizes[:0], len(data))


def _offsets(sizes: np.ndarray, total: int) -> np.ndarray:
    """Return where each of consecutive groups of ``sizes`` bytes starts, then ``total``, their sum:
    uint32, or uint64 past 4 GiB."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.uint32 if total < 1 << 32 else np.uint64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets


def decode_varints(data: np.ndarray) -> np.ndarray:
    """Decode LEB128 varints (the inverse of :func:`encode_varints`).

    Each value is read from its last byte (the most significant seven bits)
    back to its first, one step for all values at a time: the values still
    growing are those whose byte before is a continuation byte, fewer at each
    step (most position gaps take one or two bytes).

    >>> decode_varints(np.array([1, 172, 2], dtype=np.uint8)).tolist()
    [1, 300]
    """
    if not len(data):
        return _NONE
    last = data < 0x80
    if last.all():
        return data.astype(np.uint64)
    ends = np.flatnonzero(last)
    payload = (data & 0x7F).astype(np.uint64)
    values = payload[ends]
    continued = np.concatenate(([False], ~last[:-1]))  # whether the byte before is a continuation byte
    growing = np.flatnonzero(continued[ends])
    back = 1
    while len(growing):
        at = ends[growing] - back
        values[growing] = (values[growing] << np.uint64(7)) | payload[at]
        back += 1
        growing = growing[continued[at]]
    return values


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

    def __str__(self):
        return f"{self.fieldname}:*{self.text}*"

    def estimate_size(self, ixreader) -> int:
        return ixreader.doc_count_all()

    def matcher(self, searcher, context=None):
        average = average_length(searcher.get_parent(), self.fieldname)
        docs, scores = recall_scores(searcher.reader(), self, average=average)
        if not len(docs):
            return NullMatcher()
        return ListMatcher(docs.tolist(), weights=scores.tolist())


def recall_scores(reader, q: RecallQuery, memo: dict | None = None, *,
                  average: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the live documents of a Whoosh segment that ``q`` matches (ascending, int64) and their scores.

    ``memo``: see :meth:`RecallReader.matches` (one per segment and query); ``average``: the
    field's :func:`average_length`.
    """
    recall = recall_index(reader)
    docs, counts = recall.matches(q.fieldname, q.text, memo)
    if len(docs) and reader.has_deletions():
        live = live_documents(reader)[docs]
        docs, counts = docs[live], counts[live]
    lengths = recall.lengths(q.fieldname)
    norm = lengths[docs] / average if len(docs) else np.zeros(0)
    return docs, q.boost * counts * (K1 + 1) / (counts + K1 * (1 - B + B * norm))


def average_length(searcher, field: str) -> float:
    """Mean characters per document in recall ``field`` over every segment of ``searcher`` (at least 1).

    BM25 normalises by the collection's average length, as Whoosh's own BM25F
    does, so that a post's score does not depend on which segment holds it
    (a build's workers fill their segments in whatever order they go).
    """
    cache = reader_cache(searcher.reader(), "recall_averages")
    if field not in cache:
        recalls = [recall_index(leaf.reader()) for leaf, _ in searcher.leaf_searchers()]
        docs = sum(len(recall.lengths(field)) for recall in recalls)
        cache[field] = max(sum(recall.total_length(field) for recall in recalls) / docs, 1.0) if docs else 1.0
    return cache[field]


def recall_index(reader) -> RecallReader:
    """Return the recall index of a Whoosh segment reader (opened once, kept with the reader).

    :raises OSError: if the segment has none (an index built before recall files existed).
    """
    cache = reader_cache(reader, "recall")
    if "index" not in cache:
        segment, storage = reader.segment(), reader.storage()
        cache["index"] = RecallReader(Path(storage.folder) / segment.make_filename(EXTENSION))
    return cache["index"]
