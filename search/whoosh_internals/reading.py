"""Whole columns of a Whoosh segment read at once, the lengths BM25F sees, and caches kept with a reader.

:mod:`search.local.evaluate` scores every document of a segment with numpy, so it
needs as arrays what Whoosh reads one document at a time: the byte-quantised
field lengths (a private column per field), numeric columns (fixed-width
big-endian values after a base position), and a ``BM25F`` weighting's
per-field ``B``.
"""

from __future__ import annotations

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.util.numeric import _length_byte_cache

#: Document length of each quantised length byte (``whoosh.util.numeric.byte_to_length``).
_BYTE_LENGTHS = np.asarray(_length_byte_cache, dtype=np.float64)
#: Prefix of the attributes :func:`reader_cache` keeps on a reader (never one of Whoosh's).
_CACHE_PREFIX = "_news_search_"


def reader_cache(reader, name: str) -> dict:
    """Return the dict named ``name`` kept with a Whoosh reader, for what is worked out from it once.

    A reader never changes, and it is closed and dropped with its searcher, so
    whatever is derived from its files lives exactly as long as it should.
    """
    return reader.__dict__.setdefault(_CACHE_PREFIX + name, {})


def live_mask(segment) -> np.ndarray:
    """Return which documents of a Whoosh segment are not deleted, as a boolean mask."""
    keep = np.ones(segment.doc_count_all(), dtype=bool)
    if segment.has_deletions():
        keep[np.fromiter(segment.deleted_docs(), np.int64)] = False
    return keep


def live_documents(reader) -> np.ndarray:
    """Return a segment reader's live documents as a read-only boolean mask (worked out once per reader:
    a segment of an updated index holds deletions, and every query of every segment asks)."""
    cache = reader_cache(reader, "live")
    if "mask" not in cache:
        mask = live_mask(reader.segment())
        mask.flags.writeable = False
        cache["mask"] = mask
    return cache["mask"]


def read_field_lengths(reader, fieldname: str) -> np.ndarray:
    """Return every document's length in ``fieldname`` of a segment as Whoosh scores it (quantised to a
    byte, then decoded), as floats; 0 for a field none of the segment's documents has."""
    column_name = _lenfield(fieldname)
    if not reader._perdoc.has_column(column_name):  # Whoosh writes no lengths column then
        return np.zeros(reader.doc_count_all())
    column = reader._perdoc.column_reader(column_name, LENGTHS_COLUMN)
    return _BYTE_LENGTHS[_fixed_column(column, np.uint8, reader.doc_count_all())]


def has_numeric_column(field) -> bool:
    """Return True if a schema field's column holds fixed-width numbers (:func:`read_numeric_column` reads it)."""
    return hasattr(field.column_type, "_typecode")


def read_numeric_column(reader, fieldname: str) -> np.ndarray:
    """Return a numeric column's raw (sortable) value for every document of a segment, in the column's type."""
    column = reader.column_reader(fieldname, translate=False)
    if not hasattr(column, "_typecode"):  # no document has a value (an archive of undated posts)
        return np.full(reader.doc_count_all(), column._default, dtype=np.uint64)
    return _fixed_column(column, np.dtype(">" + column._typecode), reader.doc_count_all())


def _fixed_column(column, dtype, doc_count: int) -> np.ndarray:
    """Read a Whoosh fixed-width column's values at once (documents past its end get its default)."""
    dtype = np.dtype(dtype)
    count = min(column._count, doc_count)
    raw = column._dbfile.get(column._basepos, count * dtype.itemsize) if count else b""
    values = np.full(doc_count, column._default, dtype=dtype.newbyteorder("="))
    values[:count] = np.frombuffer(raw, dtype=dtype)
    return values


def field_b(weighting, fieldname: str) -> float:
    """Return the ``B`` a ``BM25F`` weighting uses for ``fieldname`` (its ``fieldname_B`` option, else ``B``)."""
    return weighting._field_B.get(fieldname, weighting.B)
