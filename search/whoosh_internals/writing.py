"""Segments written outside Whoosh's own commit: a ``SegmentWriter`` with its private steps named, and the TOC.

A build's workers each write segments into one generation side by side and
the parent commits them all in one TOC; a merge writes one segment from
others. Whoosh's ``SegmentWriter`` does neither on its own, so this module
reaches its private steps (``_check_state``, ``_flush_segment``, ...) and
gives them public names for :mod:`search.local.segments`.
"""

from __future__ import annotations

from collections.abc import Iterable

from whoosh.index import TOC, clean_files
from whoosh.writing import SegmentWriter

from .compat import check_internals


class HookedSegmentWriter(SegmentWriter):
    """Whoosh's ``SegmentWriter`` whose steps a bulk writer calls or replaces have public names.

    ``lock=False`` writes without taking the index's write lock (writers
    working side by side in a generation that only their build can see).
    A subclass replaces :meth:`flush_postings` to write the segment's
    postings its own way.

    :raises WhooshIncompatibleError: if the installed Whoosh lacks an internal this relies on.
    """

    def __init__(self, ix, *, lock: bool = True, **kwargs):
        check_internals()
        super().__init__(ix, _lk=lock, **kwargs)

    def check_document(self, fieldnames: Iterable[str]) -> None:
        """Check, as ``add_document`` does first, that the writer is open and every name is a schema field."""
        self._check_state()
        self._check_fields(self.schema, fieldnames)

    def mark_added(self) -> None:
        """Record that a document was added (Whoosh writes a segment on commit only then)."""
        self._added = True

    def flush_postings(self) -> None:
        """Write the segment's postings and per-document files (Whoosh's ``_flush_segment``)."""
        SegmentWriter._flush_segment(self)

    def _flush_segment(self):
        self.flush_postings()

    def segment(self):
        """Finish this writer's segment and return it, without writing a TOC (the caller does, with
        :func:`commit_segments`).

        Writers working side by side share the index's temporary directory, so
        it is left in place; :func:`commit_segments` clears it afterwards.
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


def index_segments(ix) -> list:
    """Return the segments of a Whoosh index in document order (as its TOC lists them)."""
    return list(ix._segments())


def commit_segments(ix, segments: list) -> None:
    """Make ``segments`` (and only them) the content of ``ix``: write the TOC, remove every other file
    and the temporary directory Whoosh's writers share."""
    generation = ix.latest_generation() + 1
    TOC(ix.schema, segments, generation).write(ix.storage, ix.indexname)
    clean_files(ix.storage, ix.indexname, generation, segments)
    ix.storage.temp_storage(f"{ix.indexname}.tmp").destroy()
