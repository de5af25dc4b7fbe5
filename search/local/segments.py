"""Writing Whoosh segments fast: postings grouped by term in memory, posting lists written in bulk.

Whoosh's ``SegmentWriter`` sends every posting through a sorting pool (tuples,
pickled to temporary runs, merged back) and then through the codec one call at a
time; profiled on news posts that costs several microseconds per posting.
:class:`BulkSegmentWriter` keeps Whoosh's document handling (stored fields,
columns, lengths, deletions) but collects a document's postings a field at a
time, grouped per term, packs them into compact runs every :data:`RUN_DOCS`
documents (so a segment of tens of thousands of posts fits in a few hundred
MB), then writes each posting list as whole blocks of typed arrays, and inlines
short lists into the term table (:mod:`search.whoosh_internals.postings`). The
files are ordinary Whoosh segments, read by Whoosh's own readers, plus the
segment's recall index (:mod:`search.local.recall`).

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
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from whoosh.reading import SegmentReader

from .recall import EXTENSION, RecallReader, RecallWriter, merge_recall
from ..whoosh_internals import HookedSegmentWriter, field_terms, terminfo_postings, write_term
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


class BulkSegmentWriter(HookedSegmentWriter):
    """A ``SegmentWriter`` whose postings are grouped in memory and written list by list.

    Values of ``recall_fields`` are not Whoosh fields: they go to the segment's
    recall index (:mod:`search.local.recall`), written beside its Whoosh files.
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
        recall = {name: fields.pop(name) for name in self.recall.fields if name in fields}
        schema, perdoc, docnum = self.schema, self.perdocwriter, self.docnum
        names = sorted(name for name in fields if not name.startswith("_"))
        self.check_document(names)
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
        self.mark_added()
        self.docnum += 1
        self.ids.append(fields.get("id", ""))
        self.recall.add(docnum, recall)
        if self.docnum % RUN_DOCS == 0:
            self.pool.pack()

    def flush_postings(self):
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


def merge_segments(ix, sources: list[tuple[object, np.ndarray]]) -> object:
    """Write one new segment of ``ix`` holding the kept documents of ``sources``, in order; return it.

    ``sources`` pairs each Whoosh segment with a boolean mask of the documents
    to keep (its live ones, for a merge that purges deletions). The new
    segment is not in the TOC yet (see :func:`search.whoosh_internals.commit_segments`). Field lengths
    are summed from the postings, so the segment's length totals, and with
    them BM25's average lengths, are exactly a fresh build's.
    """
    readers = [SegmentReader(ix.storage, ix.schema, segment) for segment, _ in sources]
    recalls = [RecallReader(Path(ix.storage.folder) / segment.make_filename(EXTENSION)) for segment, _ in sources]
    writer = BulkSegmentWriter(ix, recall_fields=(), lock=False, compound=False)
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
    """Yield ``(term, tag, term info)`` for every term of ``fieldname`` in a segment, in order."""
    for btext, info in field_terms(reader, fieldname):
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
        for btext, info in field_terms(reader, "id"):
            ids[info.min_id()] = btext.decode("utf-8")
        return ids


def delete_documents(ix, ids: Iterable[str]) -> list:
    """Return the segments of ``ix`` with the documents of these ids marked deleted (not committed:
    give them to :func:`search.whoosh_internals.commit_segments`)."""
    writer = HookedSegmentWriter(ix, lock=False, compound=False)
    try:
        for doc_id in ids:
            writer.delete_by_term("id", doc_id)
        return list(writer.segments)
    finally:
        writer.cancel()
