"""Segment merging: the merge policy's bounds, merges that carry everything a segment holds, optimize."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from whoosh import index as whoosh_index

from bench.mergesim import SizeModel, replay
from search import Index, build_index, optimize_index, update_index
from search.cli import cli
from search.corpus.posts import find_posts
from search.corpus.duplicates import FingerprintTable
from search.local import stories
from search.local.merging import MergePolicy, SegmentSize
from search.local.stories import StoryMap
from search.writing.storage import current_generation
from tests.helpers import EVAL, RSSHUB, posts_in_segments, require_shared, write_post

#: Sizes of indexes built from news-big, kept by ``python -m bench.mergesim``.
CALIBRATION = Path(__file__).parent.parent / "bench" / "results" / "mergesim-calibration.json"

# --- the policy ------------------------------------------------------------------------------------


def test_policy_merges_a_level_once_it_holds_factor_segments():
    policy = MergePolicy(factor=3, floor=10)
    assert policy.select([SegmentSize(5000), SegmentSize(10), SegmentSize(10)]) == []
    assert policy.select([SegmentSize(5000), SegmentSize(10), SegmentSize(10), SegmentSize(10)]) == [[1, 2, 3]]


def test_policy_cascades_into_a_single_merge_when_a_merge_completes_the_next_level():
    policy = MergePolicy(factor=3, floor=10)
    sizes = [SegmentSize(40), SegmentSize(40), SegmentSize(10), SegmentSize(10), SegmentSize(10)]
    assert policy.select(sizes) == [[0, 1, 2, 3, 4]]


def test_policy_leaves_segments_of_half_the_maximum_or_more_alone():
    policy = MergePolicy(factor=3, floor=10, max_docs=1000)
    assert policy.select([SegmentSize(500), SegmentSize(600), SegmentSize(700)]) == []


def test_policy_never_merges_past_the_segment_maximum():
    policy = MergePolicy(factor=3, floor=10, max_docs=1000)
    assert policy.select([SegmentSize(450), SegmentSize(460), SegmentSize(470)]) == [[0, 1]]


def test_policy_rewrites_a_segment_whose_deleted_posts_pass_the_share():
    policy = MergePolicy(deleted_share=0.2)
    assert policy.select([SegmentSize(20000, deleted=3000), SegmentSize(5000, deleted=1001)]) == [[1]]


def test_policy_merges_small_segments_past_their_share_into_the_smallest_larger_one():
    policy = MergePolicy(factor=3, floor=300, small_share=0.1)  # small: below 6,000 / 3 posts
    sizes = [SegmentSize(6000), SegmentSize(5000), SegmentSize(900), SegmentSize(300), SegmentSize(200)]
    assert policy.select(sizes) == [[1, 2, 3, 4]]  # 1,400 small posts of 12,400: past 10%
    assert policy.select(sizes[:4]) == []  # 1,200 small posts of 12,200: within it


def test_policy_merges_small_segments_together_when_no_larger_one_has_room():
    policy = MergePolicy(factor=3, floor=300, max_docs=1000, small_share=0.05)  # small: below 500 / 3 posts
    assert policy.select([SegmentSize(900), SegmentSize(950), SegmentSize(100), SegmentSize(90)]) == [[2, 3]]
    # merged together they would still be small, and merged again at the next update: wait instead
    assert policy.select([SegmentSize(900), SegmentSize(950), SegmentSize(80), SegmentSize(60)]) == []


def _live_updates(policy: MergePolicy, sizes: list[SegmentSize], updates: int):
    """Apply ``updates`` updates of 10 new posts (every tenth also changes 10 and deletes 2, as
    ``bench.living`` does) to segments of ``sizes``, merging as ``policy`` selects; yield the segments
    after each update."""
    rng = random.Random(7)
    for update in range(1, updates + 1):
        sizes.append(SegmentSize(20 if update % 10 == 0 else 10))
        for _ in range(12 if update % 10 == 0 else 0):  # changed and deleted posts leave deletions behind
            i = rng.randrange(len(sizes))
            if sizes[i].live > 1:
                sizes[i] = SegmentSize(sizes[i].docs, sizes[i].deleted + 1)
        groups = policy.select(sizes)
        merged = {i for group in groups for i in group}
        sizes = [s for i, s in enumerate(sizes) if i not in merged] + [
            SegmentSize(sum(sizes[i].live for i in group)) for group in groups]
        yield sizes


@pytest.mark.parametrize("base", [[5000, 5000], [1000], [14000, 14000]])
def test_policy_keeps_segments_within_its_bound_over_a_thousand_updates(base):
    policy, most = MergePolicy(), 0
    for sizes in _live_updates(policy, [SegmentSize(n) for n in base], 1000):
        assert all(s.live <= policy.max_docs for s in sizes)
        most = max(most, len(sizes))
    assert most <= policy.max_segments() == 9


@pytest.mark.parametrize("base", [[5000, 5000], [1000], [2000, 2000]])
def test_policy_keeps_small_segments_within_their_share_over_a_thousand_updates(base):
    """... while a larger segment has room for them (else they wait to make a segment that is not small)."""
    policy, cap, checked = MergePolicy(), MergePolicy().max_docs // 2, 0
    for sizes in _live_updates(policy, [SegmentSize(n) for n in base], 1000):
        live = sum(s.live for s in sizes)
        limit = min(max(s.live for s in sizes), cap) / policy.factor
        small = sum(s.live for s in sizes if s.live < limit)
        if any(limit <= s.live < cap and s.live + small <= policy.max_docs for s in sizes):
            assert small <= policy.small_share * live + 20  # the share, and at most this update's posts
            checked += 1
    assert checked > 500


def test_policy_keeps_a_living_index_within_a_tenth_of_a_fresh_builds_size():
    """bench.living's updates replayed on segment sizes fitted to news-big indexes (bench.mergesim)."""
    points = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    model = SizeModel.fit([(p["text_bytes"], p["bytes"]) for p in points])
    posts = [3000] * 20000  # bytes of each post's file, news-big's mean
    worst = {share: max(r["ratio"] for r in replay(MergePolicy(small_share=share), posts, model, base=10000,
                                                   updates=1000, per_update=10))
             for share in (0.1, 1.0)}
    assert worst[0.1] <= 1.1 < worst[1.0]  # levels alone let small segments grow past it


# --- merging real segments -------------------------------------------------------------------------

def _copy(posts: list[Path], source: Path, corpus: Path) -> None:
    for post in posts:
        target = corpus / post.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(post, target)


@pytest.fixture(scope="module")
def rsshub_posts() -> list[Path]:
    return find_posts(require_shared(RSSHUB))[0]


@pytest.fixture(scope="module")
def dev_queries() -> list[str]:
    lines = (require_shared(EVAL) / "dev-queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["q"] for line in lines][::3]


def _scores(index_dir: Path, queries: list[str]) -> dict[str, list[tuple[float, str]]]:
    """Every match of each query with its score (rounded: float sums may run in another order)."""
    with Index.open(index_dir) as ix:
        return {q: sorted((round(h.score, 6), h.id) for h in ix.search(
            q, per_page=0, snippets=False, facets=False, fold=False).hits) for q in queries}


#: A policy that merges at this corpus's scale (the default's floor is 50 posts).
SMALL_POLICY = MergePolicy(factor=3, floor=10)


def _grown_index(tmp_path: Path, posts: list[Path], *, deletions: bool) -> tuple[Path, Path]:
    """Build an index of 500 posts, then apply 16 updates of 8 new posts (and, with ``deletions``,
    delete two posts and change one in every fourth), merging by :data:`SMALL_POLICY`; return the
    corpus and the index."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    _copy(posts[:500], RSSHUB, corpus)
    build_index(corpus, index_dir, procs=2)
    rng = random.Random(3)
    for update in range(16):
        _copy(posts[500 + 8 * update:508 + 8 * update], RSSHUB, corpus)
        if deletions and update % 4 == 3:
            for path in rng.sample(sorted(corpus.rglob("*.md")), 3):
                path.unlink()
            changed = sorted(corpus.rglob("*.md"))[update]
            changed.write_text(changed.read_text(encoding="utf-8") + "\n<p>更新：补充报道。</p>\n", encoding="utf-8")
        update_index(index_dir, procs=2, policy=SMALL_POLICY)
    return corpus, index_dir


@pytest.mark.slow
def test_updates_with_merges_rank_as_a_fresh_build_of_the_same_posts(tmp_path, rsshub_posts, dev_queries):
    corpus, grown = _grown_index(tmp_path, rsshub_posts, deletions=False)
    with Index.open(grown) as ix:
        assert ix.stats().segments <= 2 + SMALL_POLICY.max_segments()
    build_index(corpus, tmp_path / "fresh", procs=2)
    assert posts_in_segments(grown) != posts_in_segments(tmp_path / "fresh")  # made by merges, not a build
    assert _scores(grown, dev_queries) == _scores(tmp_path / "fresh", dev_queries)


@pytest.mark.slow
def test_optimize_after_updates_and_deletions_ranks_as_a_fresh_build(tmp_path, rsshub_posts, dev_queries):
    corpus, grown = _grown_index(tmp_path, rsshub_posts, deletions=True)
    optimize_index(grown, procs=2)
    build_index(corpus, tmp_path / "fresh", procs=2)
    assert _scores(grown, dev_queries) == _scores(tmp_path / "fresh", dev_queries)


@pytest.mark.slow
def test_merged_segments_carry_stored_fields_columns_and_stories(tmp_path, rsshub_posts):
    corpus, grown = _grown_index(tmp_path, rsshub_posts, deletions=True)
    optimize_index(grown, procs=2)
    build_index(corpus, tmp_path / "fresh", procs=2)
    with Index.open(grown) as merged, Index.open(tmp_path / "fresh") as fresh:
        ids = sorted(str(p.relative_to(corpus).as_posix()) for p in corpus.rglob("*.md"))
        assert [merged.get(i) for i in ids] == [fresh.get(i) for i in ids]  # stored text, HTML, dates, sources
        for query in ("新闻", "科技 -苹果", "title:中国"):
            a, b = merged.search(query, per_page=50), fresh.search(query, per_page=50)
            assert (a.total, a.total_posts, a.facets) == (b.total, b.total_posts, b.facets)
            assert {h.id: [c.id for c in h.copies] for h in a.hits} == {h.id: [c.id for c in h.copies] for h in b.hits}
        assert merged.stats().to_dict() | {"generation": None, "built_at": None, "size_bytes": None} == \
            fresh.stats().to_dict() | {"generation": None, "built_at": None, "size_bytes": None}


@pytest.mark.slow
def test_optimize_purges_deleted_posts_into_the_segments_a_fresh_build_makes(tmp_path, rsshub_posts):
    corpus, grown = _grown_index(tmp_path, rsshub_posts, deletions=True)
    with Index.open(grown) as ix:
        assert ix.stats().deleted > 0
    report = optimize_index(grown, procs=2)
    build_index(corpus, tmp_path / "fresh", procs=2)
    with Index.open(grown) as merged, Index.open(tmp_path / "fresh") as fresh:
        assert (merged.stats().segments, merged.stats().deleted, merged.stats().docs) == \
            (fresh.stats().segments, 0, fresh.stats().docs) == (report.segments, 0, report.docs)
        assert merged.stats().size_bytes == pytest.approx(fresh.stats().size_bytes, rel=0.05)


def test_optimize_of_an_index_as_a_fresh_build_makes_it_writes_nothing(index_dir):
    live = (index_dir / "CURRENT").read_text()
    report = optimize_index(index_dir)
    assert (report.merged_docs, report.segments, (index_dir / "CURRENT").read_text()) == (0, 1, live)


def test_an_update_that_merges_reports_it(corpus_dir, index_dir):
    reports = []
    for update in range(2):  # the built segment (4 posts), then one new segment of 1 post per update
        write_post(corpus_dir, f"新增/{update}.md", title=f"第{update}篇新增")
        reports.append(update_index(index_dir, policy=MergePolicy(factor=3, floor=10, small_share=1.0)))  # levels only
    assert [(r.merge.segments_before, r.merge.segments_after, r.merge.docs_merged) for r in reports] == \
        [(2, 2, 0), (3, 1, 6)]
    assert reports[1].to_dict()["segments"] == 1


def _segment_sizes(generation: Path) -> list[int]:
    with whoosh_index.open_dir(generation).reader() as reader:
        return [segment.doc_count_all() for segment, _ in reader.leaf_readers()]


def test_an_updates_posts_are_published_in_a_generation_before_its_merge(corpus_dir, index_dir):
    write_post(corpus_dir, "新增/1.md", title="第一篇新增")
    update_index(index_dir, policy=None)
    write_post(corpus_dir, "新增/2.md", title="第二篇新增")
    report = update_index(index_dir, policy=MergePolicy(factor=3, floor=10), vocabulary=False)  # no third one
    before_merge, merged = sorted(index_dir.glob("gen-*"))[-2:]
    assert (report.merge.segments_before, report.merge.segments_after) == (3, 1)
    assert _segment_sizes(before_merge) == [4, 1, 1] and _segment_sizes(merged) == [6]
    with whoosh_index.open_dir(before_merge).searcher() as searcher:
        assert searcher.document(id="新增/2.md") is not None
    assert 0 < report.searchable_after < report.seconds


def test_an_update_with_nothing_to_index_makes_the_merges_left_undone(corpus_dir, index_dir):
    for i in range(2):
        write_post(corpus_dir, f"新增/{i}.md", title=f"第{i}篇新增")
        update_index(index_dir, policy=None)  # as if killed before merging
    report = update_index(index_dir, policy=MergePolicy(factor=3, floor=10))
    assert (report.indexed, report.merge.segments_before, report.merge.segments_after) == (0, 3, 1)
    assert update_index(index_dir, policy=MergePolicy(factor=3, floor=10)).merge is None  # nothing left to do


def test_an_update_with_nothing_to_index_or_merge_publishes_nothing(corpus_dir, index_dir):
    live = (index_dir / "CURRENT").read_text()
    report = update_index(index_dir)
    assert (report.merge, (index_dir / "CURRENT").read_text(), len(list(index_dir.glob("gen-*")))) == (None, live, 1)


@pytest.mark.slow
def test_stories_renumbered_through_merges_are_those_worked_out_again(tmp_path, rsshub_posts):
    _, grown = _grown_index(tmp_path, rsshub_posts, deletions=True)
    live = current_generation(grown)
    carried = StoryMap.load(live, whoosh_index.open_dir(live).doc_count_all())
    again = tmp_path / "again"
    shutil.copytree(live, again)
    with whoosh_index.open_dir(again).reader() as reader:
        stories.write_stories(again, reader, FingerprintTable.load(again / stories.FINGERPRINTS))
        fresh = StoryMap.load(again, reader.doc_count_all())
        live_docs = sorted(stories.document_numbers(reader).values())  # a deleted post has no story
    assert carried.has_copies
    assert (carried.canonical[live_docs].tolist(), carried.position[live_docs].tolist()) == \
        (fresh.canonical[live_docs].tolist(), fresh.position[live_docs].tolist())


def test_a_segment_whose_posts_are_all_deleted_is_dropped(corpus_dir, index_dir):
    for name in ("新增/1.md", "新增/2.md"):
        write_post(corpus_dir, name, title="很快删除")
    update_index(index_dir, policy=None)
    shutil.rmtree(corpus_dir / "新增")
    report = update_index(index_dir, policy=MergePolicy(floor=1))  # levels apart: only the deletions call for it
    assert (report.merge.segments_before, report.merge.segments_after, report.merge.docs_merged) == (2, 1, 0)
    with Index.open(index_dir) as ix:
        assert (ix.stats().docs, ix.stats().segments, ix.stats().deleted) == (4, 1, 0)
        assert ix.search("很快删除").total == 0 and ix.search("冬奥会").total == 1


def test_optimize_command_prints_what_it_did(corpus_dir, index_dir):
    write_post(corpus_dir, "新增/1.md", title="新增")
    update_index(index_dir, policy=None)
    result = CliRunner().invoke(cli, ["optimize", "--index", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) | {"seconds": 0} == {
        "docs": 5, "segments_before": 2, "segments": 1, "merged_docs": 5, "deleted_purged": 0, "seconds": 0}


def test_stats_report_segments_and_deleted_posts_still_held(corpus_dir, index_dir):
    (corpus_dir / "科技/环球/科技/iPhone.md").unlink()
    write_post(corpus_dir, "新增/1.md", title="新增")
    update_index(index_dir, policy=None)
    result = CliRunner().invoke(cli, ["stats", "--index", str(index_dir), "--json"])
    assert (json.loads(result.output)["segments"], json.loads(result.output)["deleted"]) == (2, 1)
