"""Writing Whoosh segments fast: postings grouped by term in memory, posting lists written in bulk.

Whoosh's ``SegmentWriter`` sends every posting through a sorting pool (tuples,
pickled to temporary runs, merged back) and then through the codec one call at a
time; profiled on news posts that costs several microseconds per posting.
:class:`BulkSegmentWriter` keeps Whoosh's document handling (stored fields,
columns, lengths, deletions) but collects a document's postings a field at a
time, grouped per term, packs them into compact runs every :data:`RUN_DOCS`
documents (so a segment of tens of thousands of posts fits in a few hundred
MB), then writes each posting list as whole blocks of typed arrays, and inlines
short lists into the term table. The files are ordinary Whoosh segments, read by
Whoosh's own readers, plus the segment's recall index (:mod:`search.recall`).

:func:`merge_segments` writes one segment from the live documents of others
(Whoosh's own merge would drop the recall index, and re-quantise field lengths):
posting lists, stored fields, columns and recall occurrences are copied and
renumbered, never analysed again.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import os
import pickle
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.index import TOC, clean_files
from whoosh.reading import SegmentReader
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from .recall import EXTENSION, RecallReader, RecallWriter, merge_recall

#: Posting lists this short are stored inside the term table (no block, no header).
INLINE_LIMIT = 6
#: Postings per block of a longer list. Whoosh writes 128, for its matchers to skip blocks;
#: :mod:`search.evaluate` reads whole lists, and a block costs a pickle load and a zlib call.
BLOCK_LIMIT = 1024
#: File name extension of a segment's document ids (its documents' ids in document-number order, NUL-separated
#: UTF-8): which post each document number is, without walking the id term table of every segment.
IDS_EXTENSION = ".ids"
#: Documents whose postings are kept per term (two growing arrays and a dict entry each, about 300
#: bytes a term) before they are packed into a :class:`PostingRun` (6 or 8 bytes a posting, 4 a term).
RUN_DOCS = 2000


class PostingRun:
    """One field's postings from consecutive documents, packed: terms in order, their postings end to end."""

    def __init__(self, terms: dict[bytes, tuple[array, array]]):
        ordered = sorted(terms)
        self.blob = b"".join(ordered)
        self.term_ends = array("I", itertools.accumulate(map(len, ordered)))
        self.ids, self.weights, self.posting_ends = array("I"), array("f"), array("I")
        for btext in ordered:
            ids, weights = terms[btext]
            self.ids += ids
            self.weights += weights
            self.posting_ends.append(len(self.ids))
        whole = np.frombuffer(self.weights, dtype=np.float32)
        if len(whole) and whole.min() >= 0 and whole.max() < 1 << 16 and (whole == np.floor(whole)).all():
            self.weights = array("H", whole.astype(np.uint16).tobytes())  # frequencies: 2 bytes, not 4

    def entries(self, number: int) -> Iterator[tuple[bytes, int, int]]:
        """Yield ``(term, number, index)`` for each term in order (``number`` tells runs apart in a merge)."""
        start = 0
        for index, end in enumerate(self.term_ends):
            yield self.blob[start:end], number, index
            start = end

    def postings(self, index: int) -> tuple[array, array]:
        """Return the document numbers and weights of the term at ``index``."""
        start = self.posting_ends[index - 1] if index else 0
        end = self.posting_ends[index]
        weights = self.weights[start:end]
        return self.ids[start:end], weights if weights.typecode == "f" else array("f", weights)


class TermGroupingPool:
    """Stands in for Whoosh's posting pool: groups postings by field and term, in memory.

    Only document numbers and weights are kept: the formats written here have
    no posting values (see :class:`BulkSegmentWriter`). Documents come in
    ascending order, so the runs of a term hold its postings in order.
    """

    def __init__(self):
        self.fields: dict[str, dict[bytes, tuple[array, array]]] = {}
        self.runs: dict[str, list[PostingRun]] = {}

    def add_field(self, fieldname: str, docnum: int, postings: Iterable[tuple], scorable: bool) -> int:
        """Add one document's postings in one field (``(term, frequency, weight, value)`` each, as a
        field's ``index()`` yields them); return the field's length in the document (0 unless ``scorable``)."""
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        length = 0
        for btext, freq, weight, _ in postings:
            lists = terms.get(btext)
            if lists is None:
                lists = terms[btext] = (array("I"), array("f"))
            lists[0].append(docnum)
            lists[1].append(weight)
            length += freq
        return length if scorable else 0

    def pack(self) -> None:
        """Pack the postings kept per term into runs."""
        for fieldname, terms in self.fields.items():
            self.runs.setdefault(fieldname, []).append(PostingRun(terms))
        self.fields.clear()

    def fieldnames(self) -> list[str]:
        return sorted({*self.fields, *self.runs})

    def take(self, fieldname: str) -> Iterator[tuple[bytes, array, array]]:
        """Yield ``(term, document numbers, weights)`` of ``fieldname`` in term order, releasing them."""
        self.pack()
        runs = self.runs.pop(fieldname, [])
        entries = heapq.merge(*(run.entries(number) for number, run in enumerate(runs)))
        for btext, group in itertools.groupby(entries, key=operator.itemgetter(0)):
            ids, weights = array("I"), array("f")
            for _, number, index in group:
                more_ids, more_weights = runs[number].postings(index)
                ids += more_ids
                weights += more_weights
            yield btext, ids, weights

    def cleanup(self) -> None:
        self.fields.clear()
        self.runs.clear()


class BulkSegmentWriter(SegmentWriter):
    """A ``SegmentWriter`` whose postings are grouped in memory and written list by list.

    Values of ``recall_fields`` are not Whoosh fields: they go to the segment's
    recall index (:mod:`search.recall`), written beside its Whoosh files.
    """

    def __init__(self, ix, *, recall_fields: tuple[str, ...] = (), **kwargs):
        unsupported = [name for name, field in ix.schema.items()
                       if field.indexed and field.format.fixed_value_size() != 0 or field.vector
                       or field.separate_spelling()]
        if unsupported:
            raise ValueError(f"fields with posting values, vectors or spelling cannot be written in bulk: "
                             f"{', '.join(unsupported)}")
        super().__init__(ix, **kwargs)
        self.pool.cleanup()  # the sorting pool Whoosh made (and its temporary files) is never used
        self.pool = TermGroupingPool()
        self.recall = RecallWriter(recall_fields)
        self.ids: list[str] = []  # of the documents added, in order (see IDS_EXTENSION)

    def add_document(self, **fields):
        """Add one document, as Whoosh does but without document or field boosts (``_boost``, ...).

        Whoosh sends every posting to its pool as a tuple, one call each; here a
        field's postings go to the pool together, which is about 10% of a build.
        """
        self._check_state()
        recall = {name: fields.pop(name) for name in self.recall.fields if name in fields}
        schema, perdoc, docnum = self.schema, self.perdocwriter, self.docnum
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = self.pool.add_field(name, docnum, field.index(value), field.scorable) if field.indexed else 0
                perdoc.add_field(name, field, value if field.stored else None, length)
                if field.column_type:
                    perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1
        self.ids.append(fields.get("id", ""))
        self.recall.add(docnum, recall)
        if self.docnum % RUN_DOCS == 0:
            self.pool.pack()

    def _flush_segment(self):
        self.perdocwriter.close()
        writer = self.fieldwriter
        for fieldname in self.pool.fieldnames():
            fieldobj = self.schema[fieldname]
            writer.start_field(fieldname, fieldobj)
            for btext, ids, weights in self.pool.take(fieldname):
                write_term(writer, fieldobj.format, btext, ids, weights)
            writer.finish_field()
        writer.close()
        self.recall.doc_count = self.docnum
        self.recall.write(Path(self.storage.folder) / self.newsegment.make_filename(EXTENSION))
        write_ids(Path(self.storage.folder) / self.newsegment.make_filename(IDS_EXTENSION), self.ids)

    def segment(self):
        """Finish this writer's segment and return it, without writing a TOC (the caller does).

        Writers working side by side share the index's temporary directory, so
        it is left in place; :func:`remove_temporary_files` clears it afterwards.
        """
        self._check_state()
        segment = self._finalize_segment()
        self.is_closed = True
        return segment


    def discard(self) -> None:
        """Abandon this writer's segment (its files are removed by :func:`commit_segments`)."""
        if not self.is_closed:
            self._close_segment()
            self.is_closed = True


def merge_segments(ix, sources: list[tuple[object, np.ndarray]]) -> object:
    """Write one new segment of ``ix`` holding the kept documents of ``sources``, in order; return it.

    ``sources`` pairs each Whoosh segment with a boolean mask of the documents
    to keep (its live ones, for a merge that purges deletions). The new
    segment is not in the TOC yet (see :func:`commit_segments`). Field lengths
    are summed from the postings, so the segment's length totals, and with
    them BM25's average lengths, are exactly a fresh build's.
    """
    readers = [SegmentReader(ix.storage, ix.schema, segment) for segment, _ in sources]
    recalls = [RecallReader(Path(ix.storage.folder) / segment.make_filename(EXTENSION)) for segment, _ in sources]
    writer = BulkSegmentWriter(ix, recall_fields=(), _lk=False, compound=False)
    try:
        numbers, total = [], 0
        for _, keep in sources:
            new = np.full(len(keep), -1, dtype=np.int64)
            new[keep] = np.arange(total, total + int(keep.sum()))
            numbers.append(new)
            total += int(keep.sum())
        lengths = _merge_postings(writer, readers, numbers, total)
        _merge_documents(writer, readers, numbers, lengths)
        writer.docnum = total
        writer.perdocwriter.close()
        writer.fieldwriter.close()
        folder = Path(ix.storage.folder)
        write_ids(folder / writer.newsegment.make_filename(IDS_EXTENSION),
                  [doc_id for reader, (_, keep) in zip(readers, sources)
                   for doc_id, kept in zip(segment_ids(reader), keep) if kept])
        merge_recall([(recall, keep) for recall, (_, keep) in zip(recalls, sources)],
                     Path(ix.storage.folder) / writer.newsegment.make_filename(EXTENSION))
        writer.is_closed = True
        return writer.get_segment()
    except BaseException:
        writer.discard()
        raise
    finally:
        for reader in [*readers, *recalls]:
            reader.close()


def _merge_postings(writer, readers: list, numbers: list[np.ndarray], total: int) -> dict[str, np.ndarray]:
    """Write every field's merged posting lists; return each scored field's exact length per new document.

    Most terms of a news archive occur in a post or two, and their postings
    are inlined in the term table: those are renumbered in plain Python (numpy
    costs more than the work on lists this short); longer lists go through numpy.
    """
    schema, fieldwriter = writer.schema, writer.fieldwriter
    renumber = [new.tolist() for new in numbers]
    lengths = {}
    for fieldname in sorted(name for name, field in schema.items() if field.indexed):
        field = schema[fieldname]
        short = [0.0] * total if field.scorable else None  # lengths from inlined lists
        long = np.zeros(total) if field.scorable else None  # ... and from the others
        terms = heapq.merge(*(_tagged_terms(reader, fieldname, k) for k, reader in enumerate(readers)),
                            key=operator.itemgetter(0, 1))
        started = False
        for btext, group in itertools.groupby(terms, key=operator.itemgetter(0)):
            parts = [(k, info) for _, k, info in group]
            if all(info.is_inlined() for _, info in parts):
                ids, weights = [], []
                for k, info in parts:
                    new = renumber[k]
                    old_ids, old_weights, _ = info.inlined_postings()
                    for docnum, weight in zip(old_ids, old_weights):
                        if new[docnum] >= 0:
                            ids.append(new[docnum])
                            weights.append(weight)
                if short is not None:
                    for docnum, weight in zip(ids, weights):
                        short[docnum] += weight
            else:
                ids, weights = _renumbered_postings(readers, numbers, parts)
                if long is not None:
                    np.add.at(long, ids, weights)
                ids = array("I", ids.astype(np.uint32).tobytes())
                weights = array("f", weights.astype(np.float32).tobytes())
            if not len(ids):
                continue  # only deleted documents had it
            if not started:
                fieldwriter.start_field(fieldname, field)
                started = True
            write_term(fieldwriter, field.format, btext, ids, weights)
        if started:
            fieldwriter.finish_field()
        if field.scorable:
            lengths[fieldname] = long + np.asarray(short)
    return lengths


def _renumbered_postings(readers: list, numbers: list[np.ndarray], parts: list) -> tuple[np.ndarray, np.ndarray]:
    """Return one term's postings from several segments, renumbered, without deleted documents."""
    ids, weights = [], []
    for k, info in parts:
        old_ids, old_weights = terminfo_postings(readers[k], info)
        new_ids = numbers[k][old_ids]
        kept = new_ids >= 0
        ids.append(new_ids[kept])
        weights.append(old_weights[kept])
    return np.concatenate(ids), np.concatenate(weights)


def _tagged_terms(reader, fieldname: str, tag: int) -> Iterator[tuple[bytes, int, object]]:
    """Yield ``(term, tag, term info)`` for every term of ``fieldname`` in a segment, in order.

    The codec's term table is read directly: Whoosh's ``iter_field`` converts
    its prefix argument with the field, which fails for dates.
    """
    for (name, btext), info in reader._terms.items_from(fieldname, b""):
        if name != fieldname:
            return
        yield btext, tag, info


def _merge_documents(writer, readers: list, numbers: list[np.ndarray], lengths: dict[str, np.ndarray]) -> None:
    """Copy the stored fields, field lengths and column values of the kept documents, in their new order."""
    schema, perdoc = writer.schema, writer.perdocwriter
    for reader, new in zip(readers, numbers):
        columns = {name: reader.column_reader(name, translate=False) for name, field in schema.items()
                   if field.column_type and reader.has_column(name)}
        for docnum in np.flatnonzero(new >= 0).tolist():
            docnum_new = int(new[docnum])
            stored = reader.stored_fields(docnum)
            perdoc.start_doc(docnum_new)
            for name, field in schema.items():
                length = int(lengths[name][docnum_new]) if name in lengths else 0
                value = stored.get(name)
                if value is not None or length:
                    perdoc.add_field(name, field, value, length)
                if name in columns:
                    perdoc.add_column_value(name, field.column_type, columns[name][docnum])
            perdoc.finish_doc()


def write_ids(path: Path, ids: list[str]) -> None:
    """Write a segment's document ids (a new file renamed into place)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes("\0".join(ids).encode("utf-8"))
    os.replace(temporary, path)


def segment_ids(reader) -> list[str]:
    """Return the id of every document of a Whoosh segment reader, deleted ones included, in order.

    Read from the segment's ids file; a segment written before those existed
    has its id term table walked instead (each id is one term of one document).
    """
    segment = reader.segment()
    try:
        raw = (Path(reader.storage().folder) / segment.make_filename(IDS_EXTENSION)).read_bytes()
        return raw.decode("utf-8").split("\0") if segment.doc_count_all() else []
    except FileNotFoundError:
        ids = [""] * segment.doc_count_all()
        for (name, btext), info in reader._terms.items_from("id", b""):
            if name != "id":
                break
            ids[info.min_id()] = btext.decode("utf-8")
        return ids


def delete_documents(ix, ids: Iterable[str]) -> list:
    """Return the segments of ``ix`` with the documents of these ids marked deleted (not committed:
    give them to :func:`commit_segments`)."""
    writer = SegmentWriter(ix, _lk=False, compound=False)
    try:
        for doc_id in ids:
            writer.delete_by_term("id", doc_id)
        return list(writer.segments)
    finally:
        writer.cancel()


def index_segments(ix) -> list:
    """Return the segments of ``ix`` in document order (as its TOC lists them)."""
    return list(ix._segments())


def live_mask(segment) -> np.ndarray:
    """Return which documents of ``segment`` are not deleted."""
    keep = np.ones(segment.doc_count_all(), dtype=bool)
    if segment.has_deletions():
        keep[np.fromiter(segment.deleted_docs(), np.int64)] = False
    return keep


def commit_segments(ix, segments: list) -> None:
    """Make ``segments`` (and only them) the content of ``ix``: write the TOC, remove every other file."""
    generation = ix.latest_generation() + 1
    TOC(ix.schema, segments, generation).write(ix.storage, ix.indexname)
    clean_files(ix.storage, ix.indexname, generation, segments)
    ix.storage.temp_storage(f"{ix.indexname}.tmp").destroy()


def read_postings(reader, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return a term's whole posting list in a Whoosh segment: ``(document numbers, weights)``.

    Deleted documents are included (Whoosh filters them out above this level).
    This reads the ``whoosh3`` codec's private format, as its ``W3LeafMatcher``
    does, but a block at a time: a short list is inlined in the term info,
    a longer one is a header followed by blocks of ``[length][pickled block
    info][pickled, maybe zlib-compressed (delta-coded ids, weights, values)]``
    (tuples as Whoosh writes them, typed arrays as :mod:`search.segments` does);
    a negative length marks the last block.
    """
    return terminfo_postings(reader, reader.term_info(fieldname, btext))


def terminfo_postings(reader, terminfo) -> tuple[np.ndarray, np.ndarray]:
    """Return the posting list ``terminfo`` describes in a Whoosh segment (see :func:`read_postings`)."""
    if terminfo.is_inlined():
        ids, weights, _ = terminfo.inlined_postings()
        return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)
    postfile = reader._terms._postfile
    offset, _ = terminfo.extent()
    if postfile.get(offset, 4) != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"no posting list at offset {offset} of the postings file")
    position, ids, weights = offset + 4, [], []
    while True:
        postfile.seek(position)
        length = postfile.read_int()
        count, _, _, compression, _, _ = postfile.read_pickle()
        start = postfile.tell()
        end = position + 4 + abs(length)
        data = postfile.get(start, end - start)
        block_ids, block_weights, _ = pickle.loads(zlib.decompress(data) if compression else data)
        ids.append(np.cumsum(np.asarray(block_ids, dtype=np.int64)))
        if block_weights is None or isinstance(block_weights, float):
            weights.append(np.full(count, 1.0 if block_weights is None else block_weights))
        else:
            weights.append(np.asarray(block_weights, dtype=np.float64))
        if length < 0:
            return np.concatenate(ids), np.concatenate(weights)
        position = end


def write_term(writer, format_, btext: bytes, ids: Sequence[int], weights: Sequence[float]) -> None:
    """Write one term's posting list (no values): inlined when short, else as full blocks."""
    writer._btext = btext
    if len(ids) <= INLINE_LIMIT:
        writer._tindex.add(_key(writer, btext), _inlined_terminfo(ids, weights))
        return
    if not isinstance(ids, array):  # a merge gives short lists that add up to a long one
        ids, weights = array("I", ids), array("f", weights)
    postings = writer._postwriter
    postings.start_postings(format_, W3TermInfo())
    limit = BLOCK_LIMIT
    for start in range(0, len(ids), limit):
        postings._ids = ids[start:start + limit]
        postings._weights = weights[start:start + limit]
        postings._maxweight = max(postings._weights)
        postings._minlength, postings._maxlength = 1, 1
        _write_block(postings, last=start + limit >= len(ids))
    info = postings.finish_postings()  # the blocks are written: this records where they are
    writer._tindex.add(_key(writer, btext), info.to_bytes())


_TERMINFO = W3TermInfo._struct


def _inlined_terminfo(ids: Sequence[int], weights: Sequence[float]) -> bytes:
    """Return the bytes of ``W3TermInfo.to_bytes()`` for a posting list kept in the term table, made
    directly (a term info object costs more than the rest of writing a term of one posting).

    Values are None, as Whoosh reads a block of them, and whole weights pickle as small ints.

    >>> info = W3TermInfo(weight=3.0, df=2, minlength=None, maxlength=0, maxweight=2.0, minid=4, maxid=9)
    >>> info.set_inlined([4, 9], [1, 2], [None, None])
    >>> _inlined_terminfo([4, 9], [1.0, 2.0]) == info.to_bytes()
    True
    """
    whole = tuple(int(w) if float(w).is_integer() else w for w in weights)
    return (_TERMINFO.pack(True, float(sum(weights)), len(ids), 0, 0, float(max(weights)), ids[0], ids[-1])
            + pickle.dumps((tuple(ids), whole, (None,) * len(ids)), 2))


def _write_block(postings, *, last: bool) -> None:
    """Write the block buffered in Whoosh's postings writer, as its ``_write_block`` does, except for
    the data: document-number deltas and weights as typed arrays (pickle protocol 5), not tuples.

    Whoosh's matchers read either, but unpickling a tuple makes an object per
    posting, which a query then turns into a numpy array: for a common word's
    1,024-posting block, 44 µs instead of 3.
    """
    if not postings._blockcount:
        postings._postfile.write(WHOOSH3_HEADER_MAGIC)
    postings._terminfo.add_block(postings)
    ids = postings._ids
    data = pickle.dumps((_packed_deltas(ids), _packed_weights(postings._weights), None), 5)
    if postings._compression:
        data = zlib.compress(data, postings._compression)
    info = pickle.dumps((len(ids), ids[-1], postings._maxweight, postings._compression,
                         length_to_byte(postings._minlength), length_to_byte(postings._maxlength)), 2)
    length = len(info) + len(data)
    postings._postfile.write_int(-length if last else length)  # a negative length marks the last block
    postings._postfile.write(info)
    postings._postfile.write(data)
    postings._blockcount += 1
    postings._new_block()


def _packed_deltas(ids: array) -> array:
    """Document numbers as deltas (the first from 0), in the narrowest unsigned type that holds them."""
    deltas = np.diff(np.frombuffer(ids, dtype=np.uint32), prepend=np.uint32(0))
    return _narrowest(deltas)


def _packed_weights(weights: array) -> array | float | None:
    """Weights as Whoosh minifies them (None if all 1, one float if all equal), else an array: whole
    frequencies in the narrowest unsigned type, anything else as 4-byte floats."""
    values = np.frombuffer(weights, dtype=np.float32)
    if (values == values[0]).all():
        return None if values[0] == 1.0 else float(values[0])
    if values.min() >= 0 and values.max() < 1 << 32 and (values == np.floor(values)).all():
        return _narrowest(values.astype(np.uint32))
    return weights


def _narrowest(values: np.ndarray) -> array:
    largest = int(values.max())
    typecode = "B" if largest < 1 << 8 else "H" if largest < 1 << 16 else "I"
    return array(typecode, values.astype(typecode).tobytes())


def document_frequencies(segment, fieldname: str) -> Iterator[tuple[bytes, int]]:
    """Yield ``(term, documents holding it)`` for every term of a field in one segment's term table.

    Read from the table's raw entries (a 2-byte field number before each term;
    the document frequency at bytes 5-9 of the ``whoosh3`` term info): Whoosh's
    ``iter_field`` decodes each term info and unpickles every inlined posting
    list, 10 µs a term, which is most of the vocabulary's cost on a large index.
    """
    terms = segment._terms
    if fieldname not in terms._fieldmap:
        return
    prefix = terms._keycoder(fieldname, b"")
    for key, value in terms._tindex.items_from(prefix):
        if key[:2] != prefix:
            return
        yield key[2:], int.from_bytes(value[5:9], "big")


def _key(writer, btext: bytes) -> bytes:
    from whoosh.system import pack_ushort

    return pack_ushort(writer._fieldid) + btext
