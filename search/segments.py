"""Writing Whoosh segments fast: postings grouped by term in memory, posting lists written in bulk.

Whoosh's ``SegmentWriter`` sends every posting through a sorting pool (tuples,
pickled to temporary runs, merged back) and then through the codec one call at a
time; profiled on news posts that costs several microseconds per posting.
:class:`BulkSegmentWriter` keeps Whoosh's document handling (stored fields,
columns, lengths, deletions) but collects postings per term while documents are
added, then writes each posting list as whole blocks, and inlines short lists
into the term table. The files are ordinary Whoosh segments, read by Whoosh's
own readers, plus the segment's recall index (:mod:`search.recall`). Segments
are never merged: Whoosh's merge would drop the recall index.
"""

from __future__ import annotations

from array import array
from pathlib import Path

from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.index import TOC, clean_files
from whoosh.writing import SegmentWriter

from .recall import EXTENSION, RecallWriter

#: Posting lists this short are stored inside the term table (no block, no header).
INLINE_LIMIT = 6
#: Postings per block of a longer list. Whoosh writes 128, for its matchers to skip blocks;
#: :mod:`search.evaluate` reads whole lists, and a block costs a pickle load and a zlib call.
BLOCK_LIMIT = 1024


class TermGroupingPool:
    """Stands in for Whoosh's posting pool: groups postings by field and term, in memory."""

    def __init__(self):
        self.fields: dict[str, dict[bytes, tuple[array, array, list]]] = {}
        # Posting values repeat (a frequency of 1 is always the same four
        # bytes): keeping one object of each saves ~40 bytes a posting.
        self._values: dict[bytes, bytes] = {}

    def add(self, item) -> None:
        fieldname, btext, docnum, weight, value = item
        value = self._values.setdefault(value, value)
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        postings = terms.get(btext)
        if postings is None:
            postings = terms[btext] = (array("I"), array("f"), [])
        postings[0].append(docnum)
        postings[1].append(weight)
        postings[2].append(value)

    def cleanup(self) -> None:
        self.fields.clear()
        self._values.clear()


class BulkSegmentWriter(SegmentWriter):
    """A ``SegmentWriter`` whose postings are grouped in memory and written list by list.

    Values of ``recall_fields`` are not Whoosh fields: they go to the segment's
    recall index (:mod:`search.recall`), written beside its Whoosh files.
    """

    def __init__(self, ix, *, recall_fields: tuple[str, ...] = (), **kwargs):
        super().__init__(ix, **kwargs)
        self.pool.cleanup()  # the sorting pool Whoosh made (and its temporary files) is never used
        self.pool = TermGroupingPool()
        self.recall = RecallWriter(recall_fields)

    def add_document(self, **fields):
        recall = {name: fields.pop(name) for name in self.recall.fields if name in fields}
        docnum = self.docnum
        super().add_document(**fields)
        self.recall.add(docnum, recall)

    def _flush_segment(self):
        self.perdocwriter.close()
        writer = self.fieldwriter
        for fieldname in sorted(self.pool.fields):
            terms = self.pool.fields[fieldname]
            fieldobj = self.schema[fieldname]
            writer.start_field(fieldname, fieldobj)
            for btext in sorted(terms):
                ids, weights, values = terms[btext]
                if len(ids) > 1 and any(a >= b for a, b in zip(ids, ids[1:])):
                    ids, weights, values = _sorted_postings(ids, weights, values)
                _write_term(writer, fieldobj.format, btext, ids, weights, values)
            writer.finish_field()
        writer.close()
        self.recall.doc_count = self.docnum
        self.recall.write(Path(self.storage.folder) / self.newsegment.make_filename(EXTENSION))

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


def commit_segments(ix, segments: list) -> None:
    """Make ``segments`` (and only them) the content of ``ix``: write the TOC, remove every other file."""
    generation = ix.latest_generation() + 1
    TOC(ix.schema, segments, generation).write(ix.storage, ix.indexname)
    clean_files(ix.storage, ix.indexname, generation, segments)
    ix.storage.temp_storage(f"{ix.indexname}.tmp").destroy()


def _sorted_postings(ids: array, weights: array, values: list):
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return (array("I", (ids[i] for i in order)), array("f", (weights[i] for i in order)),
            [values[i] for i in order])


def _write_term(writer, format_, btext: bytes, ids: array, weights: array, values: list) -> None:
    """Write one term's posting list: inlined when short, else as full blocks."""
    writer._btext = btext
    if len(ids) <= INLINE_LIMIT:
        info = W3TermInfo(weight=sum(weights), df=len(ids), minlength=None, maxlength=0,
                          maxweight=max(weights), minid=ids[0], maxid=ids[-1])
        if format_.fixed_value_size() == 0:
            # No values to keep (None, as Whoosh reads a block of them), and whole weights pickle as small ints.
            weights, values = [int(w) if w.is_integer() else w for w in weights], [None] * len(ids)
        info.set_inlined(ids, weights, values)
        writer._tindex.add(_key(writer, btext), info.to_bytes())
        return
    postings = writer._postwriter
    postings.start_postings(format_, W3TermInfo())
    limit = BLOCK_LIMIT
    for start in range(0, len(ids), limit):
        postings._ids = ids[start:start + limit]
        postings._weights = weights[start:start + limit]
        postings._values = values[start:start + limit]
        postings._maxweight = max(postings._weights)
        postings._minlength, postings._maxlength = 1, 1
        if start + limit < len(ids):
            postings._write_block()
    info = postings.finish_postings()
    writer._tindex.add(_key(writer, btext), info.to_bytes())


def _key(writer, btext: bytes) -> bytes:
    from whoosh.system import pack_ushort

    return pack_ushort(writer._fieldid) + btext
