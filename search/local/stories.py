"""Stories of one index generation: which documents are copies of one story, and folding results by story.

A build or update finds the stories (:func:`search.corpus.duplicates.find_stories`)
and writes them next to the Whoosh files as two sidecars, each a new file
renamed into place (an update starts from hard links of the previous
generation's files):

* ``fingerprints.npz``: every post's fingerprint by id, so an update only
  fingerprints what it re-reads and then regroups the whole index (a new copy
  joins its story; an earlier one becomes the canonical copy);
* ``stories.npz``: for every Whoosh document number, its story's canonical
  document number and its place in date order, which is what searching needs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..corpus.duplicates import FingerprintTable, date_order, find_stories
from .segments import segment_ids

FINGERPRINTS = "fingerprints.npz"
STORIES = "stories.npz"


def write_stories(generation: Path, reader, table: FingerprintTable) -> int:
    """Group ``table`` into stories and write both sidecars of ``generation``; return the number of
    stories with more than one copy.

    ``reader`` is a Whoosh reader of the generation's final documents.
    """
    canonical_rows = find_stories(table)
    table.save(generation / FINGERPRINTS)  # with the boilerplate masks find_stories worked out
    numbers = document_numbers(reader)
    total = reader.doc_count_all()
    canonical, position = np.arange(total, dtype=np.int32), np.zeros(total, dtype=np.int32)
    rows = np.array([i for i, doc_id in enumerate(table.ids) if doc_id in numbers], dtype=np.int64)
    if len(rows):
        docnums = np.array([numbers[table.ids[i]] for i in rows], dtype=np.int32)
        row_docnum = np.full(len(table), -1, dtype=np.int32)
        row_docnum[rows] = docnums
        canonical[docnums] = row_docnum[canonical_rows[rows]]
        position[docnums[date_order(table.days[rows], rows)]] = np.arange(len(rows), dtype=np.int32)
    _save(generation, canonical, position)
    has_copies = canonical != np.arange(total)
    return int(np.unique(canonical[has_copies]).size)


def carry_stories(generation: Path, reader, previous: Path, previous_reader) -> int:
    """Write ``generation``'s stories as ``previous`` had them, without grouping again; return the number
    of stories with more than one copy.

    The fast path of an update that must be searchable at once (``watch``):
    posts keep the story they had (by id), posts new to the index are stories
    of their own, and a story whose canonical copy is gone comes apart. The
    next full grouping (:func:`write_stories`) puts everything right.
    """
    total = reader.doc_count_all()
    canonical, position = np.arange(total, dtype=np.int32), np.zeros(total, dtype=np.int32)
    before = StoryMap.load(previous, previous_reader.doc_count_all())
    if before is not None:
        numbers = document_numbers(reader)
        # live documents only: a deleted earlier version of a post has its id but no story
        pairs = [(old, new) for doc_id, old in document_numbers(previous_reader).items()
                 if (new := numbers.get(doc_id)) is not None]
        olds, news = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
        renumbered = np.full(len(before.canonical), -1, dtype=np.int64)  # old document number -> new
        renumbered[olds] = news
        position[:] = int(before.position.max(initial=0)) + 1  # new posts after every post kept
        position[news] = before.position[olds]
        heads = renumbered[before.canonical[olds]]
        canonical[news] = np.where(heads >= 0, heads, news)
    _save(generation, canonical, position)
    has_copies = canonical != np.arange(total)
    return int(np.unique(canonical[has_copies]).size)


def _save(generation: Path, canonical: np.ndarray, position: np.ndarray) -> None:
    tmp = generation / f"{STORIES}.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, canonical=canonical, position=position)
    os.replace(tmp, generation / STORIES)


def document_numbers(reader) -> dict[str, int]:
    """Return the Whoosh document number of every live document id."""
    numbers = {}
    for segment, offset in reader.leaf_readers():
        ids = segment_ids(segment)
        if segment.has_deletions():
            for docnum in segment.segment().deleted_docs():
                ids[docnum] = None
        numbers.update((doc_id, offset + docnum) for docnum, doc_id in enumerate(ids) if doc_id is not None)
    return numbers


class StoryMap:
    """Which story every document of one generation belongs to.

    Documents without copies are their own story; ``canonical[d] == d`` for
    them and for every story's canonical copy.
    """

    def __init__(self, canonical: np.ndarray, position: np.ndarray):
        self.canonical, self.position = canonical, position
        copies = np.flatnonzero(canonical != np.arange(len(canonical)))
        members = np.union1d(copies, canonical[copies])
        members = members[np.lexsort((position[members], canonical[members]))]
        self._members: dict[int, list[int]] = {}
        for docnum in members.tolist():
            self._members.setdefault(int(canonical[docnum]), []).append(docnum)

    @classmethod
    def load(cls, generation: Path, doc_count: int) -> StoryMap | None:
        """Return the story map of ``generation``, or None if it has none for its ``doc_count`` documents."""
        try:
            with np.load(generation / STORIES) as data:
                canonical, position = data["canonical"], data["position"]
        except FileNotFoundError:
            return None
        return cls(canonical, position) if len(canonical) == doc_count else None

    @property
    def has_copies(self) -> bool:
        return bool(self._members)

    def members(self, docnum: int) -> list[int]:
        """Return every document of ``docnum``'s story in date order (earliest, the canonical copy, first)."""
        return self._members.get(int(self.canonical[docnum]), [docnum])

    def first_of_each(self, ranked: np.ndarray) -> np.ndarray:
        """Return the positions in ``ranked`` (document numbers, best first) of each story's best match, in order."""
        _, first = np.unique(self.canonical[ranked], return_index=True)
        first.sort()
        return first

    def fold(self, ranked: Sequence[int], *, prefer_canonical: bool = False) -> list[int]:
        """Return one document per story of ``ranked`` (matches, best first), in the order of each story's
        best match: that match, or the story's canonical copy if ``prefer_canonical`` and it is a match too."""
        if not ranked:
            return []
        shown = [ranked[i] for i in self.first_of_each(np.asarray(ranked)).tolist()]
        if prefer_canonical:
            matched = set(ranked)
            shown = [int(self.canonical[d]) if int(self.canonical[d]) in matched else d for d in shown]
        return shown
