"""Posting lists and term tables in Whoosh's ``whoosh3`` codec, read and written a whole list at a time.

A term's postings live in the segment's term table (``.trm``) when short
(inlined in its term info) and in the postings file (``.pst``) otherwise: a
header followed by blocks of ``[length][pickled block info][pickled, maybe
zlib-compressed (delta-coded ids, weights, values)]``, a negative length
marking the last block. Whoosh writes tuples in those blocks; we write typed
arrays (its matchers read either, and unpickling an array makes no object
per posting). None of this is Whoosh's public API: see :mod:`search.whoosh_internals`.
"""

from __future__ import annotations

import pickle
import zlib
from array import array
from collections.abc import Iterator, Sequence

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.system import pack_ushort
from whoosh.util.numeric import length_to_byte

#: Posting lists this short are stored inside the term table (no block, no header).
INLINE_LIMIT = 6
#: Postings per block of a longer list. Whoosh writes 128, for its matchers to skip blocks;
#: :mod:`search.local.evaluate` reads whole lists, and a block costs a pickle load and a zlib call.
BLOCK_LIMIT = 1024

_TERMINFO = W3TermInfo._struct


class DamagedFileError(ValueError):
    """An index file's bytes are not what its format says they are (a truncated or overwritten file)."""


def field_terms(reader, fieldname: str) -> Iterator[tuple[bytes, object]]:
    """Yield ``(term, term info)`` for every term of ``fieldname`` in a Whoosh segment reader, in order.

    The codec's term table is read directly: Whoosh's ``iter_field`` converts
    its prefix argument with the field, which fails for dates.
    """
    for (name, btext), info in reader._terms.items_from(fieldname, b""):
        if name != fieldname:
            return
        yield btext, info


def document_frequencies(reader, fieldname: str) -> Iterator[tuple[bytes, int]]:
    """Yield ``(term, documents holding it)`` for every term of a field in one segment's term table.

    Read from the table's raw entries (a 2-byte field number before each term;
    the document frequency at bytes 5-9 of the ``whoosh3`` term info): Whoosh's
    ``iter_field`` decodes each term info and unpickles every inlined posting
    list, 10 µs a term, which is most of the vocabulary's cost on a large index.
    """
    terms = reader._terms
    if fieldname not in terms._fieldmap:
        return
    prefix = terms._keycoder(fieldname, b"")
    for key, value in terms._tindex.items_from(prefix):
        if key[:2] != prefix:
            return
        yield key[2:], int.from_bytes(value[5:9], "big")


def read_postings(reader, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return a term's whole posting list in a Whoosh segment: ``(document numbers, weights)``.

    Deleted documents are included (Whoosh filters them out above this level).
    """
    return terminfo_postings(reader, reader.term_info(fieldname, btext))


def terminfo_postings(reader, terminfo) -> tuple[np.ndarray, np.ndarray]:
    """Return the posting list ``terminfo`` describes in a Whoosh segment, as ``W3LeafMatcher`` reads it
    but a block at a time (see the module's docstring for the layout).

    :raises DamagedFileError: if the postings file holds no posting list where the term table says.
    """
    if terminfo.is_inlined():
        ids, weights, _ = terminfo.inlined_postings()
        return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)
    postfile = reader._terms._postfile
    offset, _ = terminfo.extent()
    if postfile.get(offset, 4) != WHOOSH3_HEADER_MAGIC:
        raise DamagedFileError(f"no posting list at offset {offset} of the postings file")
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


def write_term(fieldwriter, format_, btext: bytes, ids: Sequence[int], weights: Sequence[float]) -> None:
    """Write one term's posting list (no values) with a ``whoosh3`` field writer (between its
    ``start_field`` and ``finish_field``): inlined when short, else as full blocks."""
    fieldwriter._btext = btext
    if len(ids) <= INLINE_LIMIT:
        fieldwriter._tindex.add(_key(fieldwriter, btext), _inlined_terminfo(ids, weights))
        return
    if not isinstance(ids, array):  # a merge gives short lists that add up to a long one
        ids, weights = array("I", ids), array("f", weights)
    postings = fieldwriter._postwriter
    postings.start_postings(format_, W3TermInfo())
    limit = BLOCK_LIMIT
    for start in range(0, len(ids), limit):
        postings._ids = ids[start:start + limit]
        postings._weights = weights[start:start + limit]
        postings._maxweight = max(postings._weights)
        postings._minlength, postings._maxlength = 1, 1
        _write_block(postings, last=start + limit >= len(ids))
    info = postings.finish_postings()  # the blocks are written: this records where they are
    fieldwriter._tindex.add(_key(fieldwriter, btext), info.to_bytes())


def _key(fieldwriter, btext: bytes) -> bytes:
    return pack_ushort(fieldwriter._fieldid) + btext


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
