"""Keeping an index fast while news keeps arriving: which segments to merge, and merging them.

Every update writes one small segment, and every query visits every segment,
so an archive updated hourly would slow down for ever. After each update the
:class:`MergePolicy` picks segments to merge, in the spirit of Lucene's
``LogMergePolicy``: segments are sorted into size *levels* (live posts below
``floor``, then each level ``factor`` times larger than the one before), and
as soon as a level holds ``factor`` segments they are merged into one of the
next level. Segments of at least half of :data:`~search.local.indexer.SEGMENT_DOCS`
posts are left alone (a merge never makes a segment larger than a build
does), except that any segment whose deleted posts pass ``deleted_share`` is
rewritten to purge them.

The bound: at most ``factor - 1`` segments per level, and levels run from
``floor`` to ``SEGMENT_DOCS / 2`` posts, so with the defaults (2, 50, 30,000:
levels below 100, 200, 400, ... 12,800 posts, and up to 15,000) an index holds
at most ``1 × 9 = 9`` segments below 15,000 posts, plus one segment per 15,000
to 30,000 posts (two for a fresh build of 30,000-60,000 posts on two cores).

Factor 2 makes the levels a binary counter: a post is rewritten about once
per level it climbs (log2 of 15,000 / 50, about 8 times), and an update's
merge is nearly always small. As in Lucene's policies, segments below the
floor count as if they were of its size, so the posts of the last few
updates gather in one segment of under a hundred posts, rewritten by each
update (a few tenths of a second) instead of a dozen tiny segments that
each cost every query a visit and the index a term dictionary. The
defaults were 3 and 300 until ``bench.living`` timed them: the small
segment then grew to 900 posts rewritten every other update, so one update
in ten rewrote 800-900 posts (3 s against a median of 0.8 s) and about 25
posts were rewritten for each one that arrived; with 2 and 50, replayed by
``bench.mergesim`` over the same updates, 15 are, the largest merges are as
rare, and the p95 update rewrites a few hundred posts.

Levels alone bound the count, not the size: small segments cost the most
bytes per post, because a segment's vocabulary grows more slowly than its
posts (a term dictionary costs about 12 KB a post in a segment of 180 news
posts, 3 KB in one of 5,000), and levels let up to a quarter of an index of
13,000 posts sit in segments of a few hundred to 2,700 posts, 1.11x the size
of a fresh build. So small segments, below ``1 / factor`` of the largest
(counted at most ``max_docs / 2``), may together hold at most
``small_share`` of the posts; past it they are merged into the smallest
larger segment that has room, which stays large, so the budget is spent
again only after another ``small_share`` of new posts (merged together
instead when no larger segment has room). Replayed over the updates of
``bench.living`` (``bench.mergesim``), this keeps the size within 1.06x of a
fresh build where levels alone reach 1.11x, for about as many posts
rewritten: such a merge rewrites thousands of posts once every hundred
updates or so, in place of the level cascades it makes rare. A merge copies postings instead of analysing
posts again.

:func:`optimize_segments` merges an index down to the segments a fresh build
of the same posts would make.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from whoosh import index as whoosh_index

from .segments import merge_segments
from ..whoosh_internals import commit_segments, index_segments, live_mask


@dataclass(frozen=True)
class SegmentSize:
    """How many posts a segment holds, and how many of them are deleted."""

    docs: int  # deleted ones included
    deleted: int = 0

    @property
    def live(self) -> int:
        return self.docs - self.deleted


@dataclass(frozen=True)
class MergePolicy:
    """Which segments to merge after an update (see the module docstring)."""

    factor: int = 2
    floor: int = 50
    max_docs: int = 30000
    deleted_share: float = 0.2
    small_share: float = 0.1

    def level(self, live: int) -> int:
        """Return the size level of a segment of ``live`` posts.

        >>> [MergePolicy().level(n) for n in (1, 99, 100, 199, 200, 12799, 12800, 14999)]
        [0, 0, 1, 1, 2, 7, 8, 8]
        """
        return int(math.log(max(live, self.floor) / self.floor, self.factor) + 1e-9)

    def max_segments(self) -> int:
        """The most segments of fewer than ``max_docs / 2`` posts this policy ever leaves."""
        return (self.factor - 1) * (self.level(self.max_docs // 2 - 1) + 1)

    def select(self, sizes: Sequence[SegmentSize]) -> list[list[int]]:
        """Return the merges to make, each a list of indexes into ``sizes`` (merged into one segment).

        Merges cascade: a merge that completes the next level joins that
        level's merge, so no segment is written twice by one update.

        >>> MergePolicy().select([SegmentSize(5000), SegmentSize(10), SegmentSize(10), SegmentSize(10)])
        [[1, 2, 3]]
        """
        # Candidates: groups of original segments, each standing for one segment of their total size.
        groups = [([i], size.live) for i, size in enumerate(sizes) if size.live < self.max_docs // 2]
        merged = set()
        while True:
            by_level: dict[int, list[int]] = {}
            for g, (_, live) in enumerate(groups):
                by_level.setdefault(self.level(live), []).append(g)
            full = [level for level, members in sorted(by_level.items()) if len(members) >= self.factor]
            if not full:
                break
            members = sorted(by_level[full[0]], key=lambda g: groups[g][1])
            take, total = [], 0
            for g in members[:self.factor]:
                if take and total + groups[g][1] > self.max_docs:
                    break
                take.append(g)
                total += groups[g][1]
            if len(take) < 2:
                break
            union = sorted(i for g in take for i in groups[g][0])
            merged.add(tuple(union))
            merged -= {tuple(groups[g][0]) for g in take}
            groups = [group for g, group in enumerate(groups) if g not in take] + [(union, total)]
        # What the segments will be once the level merges are made: the share is kept on those.
        after = [(list(group), sum(sizes[i].live for i in group)) for group in merged]
        merging = {i for group in merged for i in group}
        after += [([i], size.live) for i, size in enumerate(sizes) if i not in merging]
        picks = [members for members in self._small_budget(after) if len(members) > 1 or members[0] in merging]
        chosen = {i for group in picks for i in group}
        picks += [[i] for i, size in enumerate(sizes)
                  if i not in chosen and size.deleted and size.deleted > self.deleted_share * size.docs]
        return sorted(sorted(group) for group in picks)

    def _small_budget(self, segments: list[tuple[list[int], int]]) -> list[list[int]]:
        """Return ``segments`` (each: the indexes of the segments it is made of, and its live posts) with
        the small ones merged as needed to hold at most ``small_share`` of the posts.

        A segment is small below ``1 / factor`` of the largest one (counted at
        most ``max_docs / 2``): small segments cost the most bytes per post,
        since each repeats the vocabulary it shares with the others. Past the
        share they are merged into the smallest larger segment that has room
        (a merge stays within ``max_docs``); when none has, they are merged
        together once they add up to a segment that is no longer small.

        >>> MergePolicy().select([SegmentSize(10000), SegmentSize(900), SegmentSize(300), SegmentSize(100)])
        [[0, 1, 2, 3]]
        """
        cap = self.max_docs // 2
        limit = min(max(live for _, live in segments), cap) / self.factor
        small = [k for k, (_, live) in enumerate(segments) if live < limit]
        held = sum(segments[k][1] for k in small)
        unchanged = [members for members, _ in segments]
        if not small or held <= self.small_share * sum(live for _, live in segments):
            return unchanged
        room = [k for k, (_, live) in enumerate(segments)
                if k not in small and live < cap and live + held <= self.max_docs]
        if room:
            into = [*small, min(room, key=lambda k: segments[k][1])]
        elif len(small) >= 2 and held >= limit:
            into = small
        else:
            return unchanged
        return [[i for k in into for i in segments[k][0]]] + [members for k, (members, _) in enumerate(segments)
                                                               if k not in into]


@dataclass(frozen=True)
class MergeResult:
    """What merging did to one index: segments before and after, and the posts rewritten."""

    segments_before: int
    segments_after: int
    merges: int = 0
    docs_merged: int = 0
    deleted_purged: int = 0


def merge_index(folder: str, policy: MergePolicy, *, procs: int = 1, postpone: bool = False) -> MergeResult:
    """Merge the segments of the Whoosh index in ``folder`` that ``policy`` selects (one TOC commit).

    ``postpone`` (a burst published in parts, more parts to come) merges
    nothing while the segments stay within the policy's bound: the burst's
    last part merges them all at once, and until then each part is searchable
    without waiting for merges its successors would redo.
    """
    ix = whoosh_index.open_dir(folder)
    segments = index_segments(ix)
    groups = policy.select([SegmentSize(s.doc_count_all(), s.deleted_count()) for s in segments])
    if not groups or postpone and len(segments) <= policy.max_segments():
        return MergeResult(len(segments), len(segments))
    sources = [[(segments[i], live_mask(segments[i])) for i in group] for group in groups]
    return _replace(ix, segments, groups, sources, procs)


def optimize_segments(folder: str, target: int, *, procs: int = 1) -> MergeResult:
    """Merge the index in ``folder`` into ``target`` segments of equal size without deleted posts:
    what a fresh build of the same posts makes. Nothing is written if it holds that already."""
    ix = whoosh_index.open_dir(folder)
    segments = index_segments(ix)
    masks = [live_mask(s) for s in segments]
    live = sum(int(m.sum()) for m in masks)
    target = max(1, min(target, live))
    sizes = [int(m.sum()) for m in masks]
    even = len(segments) == target and all(not s.has_deletions() for s in segments) \
        and max(sizes, default=0) - min(sizes, default=0) <= max(1, live // (20 * target))
    if even or not live:
        return MergeResult(len(segments), len(segments))
    # Cut the live posts, in document order, into ``target`` runs of equal length.
    cuts = [live * k // target for k in range(target + 1)]
    starts = np.cumsum([0, *sizes])  # rank of each segment's first live post
    sources = []
    for low, high in zip(cuts, cuts[1:]):
        part = []
        for segment, mask, first in zip(segments, masks, starts):
            ranks = np.cumsum(mask) - 1 + first  # each live post's rank over the index
            keep = mask & (ranks >= low) & (ranks < high)
            if keep.any():
                part.append((segment, keep))
        sources.append(part)
    return _replace(ix, segments, [list(range(len(segments)))], sources, procs, whole=True)


def _replace(ix, segments: list, groups: list[list[int]], sources: list, procs: int, *,
             whole: bool = False) -> MergeResult:
    """Write the merged segments of ``sources`` and commit a TOC where they replace ``groups``.

    A group whose posts are all deleted is dropped without writing a segment.
    """
    written = _run_merges(ix.storage.folder, sources, procs)
    if whole:
        final = [segment for segment in written if segment is not None]
    else:
        replaced = {i: g for g, group in enumerate(groups) for i in group}
        final, placed = [], set()
        for i, segment in enumerate(segments):
            g = replaced.get(i)
            if g is None:
                final.append(segment)
            elif g not in placed:  # the merged segment takes the place of its first source
                if written[g] is not None:
                    final.append(written[g])
                placed.add(g)
    commit_segments(whoosh_index.open_dir(ix.storage.folder), final)
    merged = [segments[i] for group in groups for i in group]
    return MergeResult(len(segments), len(final), merges=len(groups),
                       docs_merged=sum(int(keep.sum()) for part in sources for _, keep in part),
                       deleted_purged=sum(s.deleted_count() for s in merged))


def _run_merges(folder: str, sources: list, procs: int) -> list:
    """Write one merged segment per entry of ``sources``, on up to ``procs`` processes; return them."""
    if procs <= 1 or len(sources) <= 1:
        return [_merge_in(folder, part) for part in sources]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(procs, len(sources)), mp_context=context) as pool:
        return list(pool.map(_merge_in, [folder] * len(sources), sources))


def _merge_in(folder: str, part: list) -> object | None:
    if not any(keep.any() for _, keep in part):
        return None  # nothing left to keep
    return merge_segments(whoosh_index.open_dir(folder), part)
