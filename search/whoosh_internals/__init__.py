"""The seam to Whoosh's internals: the only code in ``search/`` and ``web/`` that touches what Whoosh does
not publish.

news-search is pinned to one Whoosh (``whoosh-reloaded``, unmaintained). Its
public API (``index.open_dir``, schemas, fields, queries, searchers,
collectors) is used where it is needed; everything else it relies on is here,
behind small functions, and listed in :data:`compat.INTERNALS`, which
:func:`check_internals` checks once per process before an index is opened or
written (a missing one is named in :class:`~search.errors.WhooshIncompatibleError`).

* :mod:`.postings`: posting lists and term tables in the ``whoosh3`` codec's
  layout, read and written a whole list at a time;
* :mod:`.writing`: a ``SegmentWriter`` whose private steps have public names,
  the TOC that commits segments written side by side;
* :mod:`.reading`: whole columns and field lengths as arrays, a ``BM25F``'s
  per-field ``B``, caches kept with a reader;
* :mod:`.matching`: ``AndNotMatcher`` with its first-match bug mended;
* :mod:`.compat`: the self-check, the Whoosh version recorded in an index's
  meta.json and checked on open, and which exceptions mean a damaged file.

``tests/test_whoosh_seam.py`` fails if any other module reaches a private
name of Whoosh's.
"""

from .compat import (PINNED_WHOOSH, WHOOSH_VERSION, check_internals, check_written_by, index_whoosh_version,
                     is_storage_error, missing_internals, written_by)
from .matching import WithoutMatcher
from .postings import (DamagedFileError, document_frequencies, field_terms, read_postings, terminfo_postings,
                       write_term)
from .reading import (field_b, has_numeric_column, live_documents, live_mask, read_field_lengths,
                      read_numeric_column, reader_cache)
from .writing import HookedSegmentWriter, commit_segments, index_segments

__all__ = [
    "PINNED_WHOOSH", "WHOOSH_VERSION", "DamagedFileError", "HookedSegmentWriter", "WithoutMatcher",
    "check_internals", "check_written_by", "commit_segments", "document_frequencies", "field_b", "field_terms",
    "has_numeric_column", "index_segments", "index_whoosh_version", "is_storage_error", "live_documents",
    "live_mask", "missing_internals",
    "read_field_lengths", "read_numeric_column", "read_postings", "reader_cache", "terminfo_postings", "write_term",
    "written_by",
]
