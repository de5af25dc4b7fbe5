"""Building and updating the index: reports, incremental changes, locking, and surviving kill -9."""

import json
import shutil
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.local.merging import MergePolicy
from search import (Index, IndexBusyError, IndexCorruptError, IndexNotFoundError, SearchError,
                    build_index, update_index)
from search.local import indexer
from search.corpus.posts import read_post
from search.writing.builds import SCHEMA_VERSION, post_cost
from search.writing.storage import writer_lock
from tests.helpers import posts_in_segments, write_post


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("gen-*"))


def test_build_reports_counts_and_records_provenance(corpus_dir, tmp_path):
    report = build_index(corpus_dir, tmp_path / "ix", procs=1)
    assert (report.indexed, report.total_docs, report.skipped, report.warnings) == (4, 4, [], [])
    meta = json.loads(next((tmp_path / "ix").glob("gen-*/meta.json")).read_text())
    assert meta["corpus"] == str(corpus_dir.resolve())
    assert meta["segmenter"].startswith("jieba")


def test_broken_files_are_listed_and_good_ones_indexed(corpus_dir, tmp_path):
    (corpus_dir / "empty.md").write_bytes(b"")
    (corpus_dir / "binary.md").write_bytes(b"\x00\x01\x02")
    (corpus_dir / "bad-yaml.md").write_text("---\ntitle: [x\n---\n<p>还能读</p>", encoding="utf-8")
    report = build_index(corpus_dir, tmp_path / "ix", procs=1)
    assert sorted((p.path, p.reason) for p in report.skipped) == [
        ("binary.md", "binary file (NUL bytes)"), ("empty.md", "empty file")]
    assert [p.path for p in report.warnings if "YAML" in p.reason] == ["bad-yaml.md"]
    assert report.total_docs == 5


@pytest.mark.slow
def test_parallel_build_indexes_the_same_documents(tmp_path):
    for i in range(450):
        write_post(tmp_path / "c", f"a/b/c/{i}.md", title=f"新闻{i}", body=f"<p>第{i}条消息，关于芯片和冬奥会。</p>")
    report = build_index(tmp_path / "c", tmp_path / "ix", procs=2)
    assert report.total_docs == 450
    with Index.open(tmp_path / "ix") as ix:
        assert ix.search("芯片").total == 450
        assert ix.search("title:新闻449").total == 1


def test_update_touches_only_added_changed_and_deleted_posts(corpus_dir, index_dir):
    write_post(corpus_dir, "新/台风.md", title="台风登陆", body="<p>台风登陆广东</p>")
    changed = corpus_dir / "科技/环球/科技/iPhone.md"
    changed.write_text(changed.read_text(encoding="utf-8").replace("5G", "6G"), encoding="utf-8")
    (corpus_dir / "财经/晨光/快讯/GDP.md").unlink()
    touched = corpus_dir / "体育/新华/要闻/冬奥会开幕.md"
    os.utime(touched, (time.time() + 5, time.time() + 5))  # new mtime, same content
    report = update_index(index_dir, procs=1)
    assert (report.added, report.changed, report.deleted, report.unchanged) == (1, 1, 1, 2)
    assert report.total_docs == 4
    with Index.open(index_dir) as ix:
        assert ix.search("台风").total == 1
        assert ix.search("6G").total == 1 and ix.search("5G").total == 0
        assert ix.search("GDP").total == 0


def test_update_with_nothing_changed_writes_nothing(index_dir):
    before = generations(index_dir)
    report = update_index(index_dir, procs=1)
    assert (report.added, report.changed, report.deleted, report.unchanged) == (0, 0, 0, 4)
    assert generations(index_dir) == before


def test_update_without_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexNotFoundError, match="news-search build"):
        update_index(tmp_path / "none")


def test_second_writer_fails_with_a_clear_message(corpus_dir, index_dir):
    with writer_lock(index_dir):
        with pytest.raises(IndexBusyError, match=f"pid {os.getpid()}"):
            build_index(corpus_dir, index_dir, procs=1)


@pytest.mark.slow
def test_lock_of_a_killed_writer_is_released(corpus_dir, index_dir):
    with subprocess.Popen([sys.executable, "-c", (
            "import sys, time; from search.writing.storage import writer_lock\n"
            f"with writer_lock({str(index_dir)!r}):\n    print('locked', flush=True); time.sleep(60)")],
            stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexBusyError):
            build_index(corpus_dir, index_dir, procs=1)
        holder.send_signal(signal.SIGKILL)
    assert build_index(corpus_dir, index_dir, procs=1).total_docs == 4


def test_previous_generation_is_kept_and_older_ones_removed(corpus_dir, index_dir):
    for _ in range(3):
        build_index(corpus_dir, index_dir, procs=1)
    assert generations(index_dir) == ["gen-000003", "gen-000004"]
    assert (index_dir / "CURRENT").read_text().strip() == "gen-000004"


def slow_corpus(root: Path, n: int = 500) -> Path:
    """Enough text that a build takes several seconds, so it can be killed mid-way."""
    text = "国际论坛在北京举行，各国代表讨论数字经济与人工智能的发展。" * 60
    for i in range(n):
        write_post(root, f"slow/{i // 100}/{i}.md", title=f"慢速文章{i}", body=f"<p>{text}{i}</p>")
    return root


@pytest.mark.parametrize("command", ["build", "update"])
@pytest.mark.slow
def test_killed_writer_leaves_the_live_index_answering(tmp_path, corpus_dir, index_dir, command):
    with Index.open(index_dir) as ix:
        before = [h.id for h in ix.search("开幕").hits]
    slow_corpus(corpus_dir)
    args = ["--corpus", str(corpus_dir)] if command == "build" else []
    proc = subprocess.Popen([sys.executable, "-m", "search", command, "--index", str(index_dir), "-q", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(generations(index_dir)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # well inside the writing phase
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Index.open(index_dir) as ix:
        assert ix.stats().docs == 4
        assert [h.id for h in ix.search("开幕").hits] == before
    report = build_index(corpus_dir, index_dir)  # no manual clean-up needed
    assert report.total_docs == 504
    assert len(generations(index_dir)) == 2
    assert not list(index_dir.glob("*.tmp"))


@pytest.mark.parametrize("field", ["title", "body", "chars"])
def test_fast_field_indexing_matches_the_shared_analyzers(field):
    from whoosh import fields

    from search.local.indexer import make_schema

    text = "國際論壇在港舉行 ＧＤＰ增長５．２％\u200b iPhone15，ok\x1f標題 a"
    fieldobj = make_schema()[field]
    via_analyzer = sorted(fields.FieldType.index(fieldobj, text))
    assert sorted(fieldobj.index(text)) == via_analyzer


def write_numbered_posts(corpus: Path, count: int) -> None:
    for i in range(count):
        write_post(corpus, f"p{i}.md", title=f"标题{i}", body=f"<p>正文第{i}篇 国际论坛</p>")


@pytest.mark.slow
def test_a_parallel_build_writes_one_segment_per_worker(tmp_path):
    write_numbered_posts(tmp_path / "posts", 450)
    build_index(tmp_path / "posts", tmp_path / "index", procs=2)
    # as many batches for each worker (four of 113 or 111 posts, dealt in turn), so both finish together
    assert sorted(posts_in_segments(tmp_path / "index")) == [224, 226]


def documents_in_order(index_dir: Path) -> list[str]:
    from whoosh import index as whoosh_index

    live = next(p for p in index_dir.iterdir() if p.name.startswith("gen-"))
    with whoosh_index.open_dir(live).reader() as reader:
        return [fields["id"] for _, fields in reader.iter_docs()]


@pytest.mark.slow
def test_the_same_posts_make_the_same_segments_in_the_same_order(tmp_path, monkeypatch):
    monkeypatch.setattr(indexer, "BATCH_POSTS", 30)
    write_numbered_posts(tmp_path / "posts", 450)
    build_index(tmp_path / "posts", tmp_path / "first", procs=2)
    build_index(tmp_path / "posts", tmp_path / "second", procs=2)
    assert documents_in_order(tmp_path / "second") == documents_in_order(tmp_path / "first")


@pytest.mark.slow
def test_segments_stop_growing_at_the_segment_size(tmp_path, monkeypatch):
    monkeypatch.setattr(indexer, "SEGMENT_DOCS", 100)
    monkeypatch.setattr(indexer, "BATCH_POSTS", 40)
    write_numbered_posts(tmp_path / "posts", 450)
    build_index(tmp_path / "posts", tmp_path / "index", procs=2)
    sizes = posts_in_segments(tmp_path / "index")
    assert sum(sizes) == 450 and len(sizes) >= 4
    assert max(sizes) < 100 + 40  # a segment is closed after the batch that fills it


@pytest.mark.slow
def test_each_segment_has_its_recall_index(tmp_path, monkeypatch):
    monkeypatch.setattr(indexer, "SEGMENT_DOCS", 100)
    write_numbered_posts(tmp_path / "posts", 450)
    build_index(tmp_path / "posts", tmp_path / "index", procs=2)
    live = next(p for p in (tmp_path / "index").iterdir() if p.name.startswith("gen-"))
    segments = {p.name.split(".")[0] for p in live.glob("MAIN_*") if p.suffix != ".rcl"}
    assert len(segments) >= 3
    assert {p.name.split(".")[0] for p in live.glob("MAIN_*.rcl")} == segments


def test_scores_do_not_depend_on_how_the_build_split_posts_into_segments(tmp_path, monkeypatch):
    corpus = tmp_path / "posts"
    for i in range(12):  # documents of different lengths: each segment alone would have its own average
        write_post(corpus, f"p{i:02}.md", title=f"标题{i}", body=f"<p>{'新闻' * (i * 7 + 1)}国际论坛{'内容' * i}</p>")
    build_index(corpus, tmp_path / "one", procs=1)
    monkeypatch.setattr(indexer, "SEGMENT_DOCS", 3)
    monkeypatch.setattr(indexer, "BATCH_POSTS", 3)
    build_index(corpus, tmp_path / "four", procs=1)
    assert len(posts_in_segments(tmp_path / "four")) == 4
    with Index.open(tmp_path / "one") as one, Index.open(tmp_path / "four") as four:
        for query in ("国际论坛", '"际论"', "title:标题"):
            assert [(h.id, round(h.score, 9)) for h in four.search(query, fold=False).hits] == \
                [(h.id, round(h.score, 9)) for h in one.search(query, fold=False).hits]


@pytest.mark.slow
def test_a_worker_that_dies_fails_the_build_and_the_live_index_stays(tmp_path, monkeypatch):
    write_numbered_posts(tmp_path / "posts", 450)
    build_index(tmp_path / "posts", tmp_path / "index", procs=2)
    before = generations(tmp_path / "index")

    def killed_on_p7(corpus_dir, path):
        if path.name == "p7.md":
            os.kill(os.getpid(), signal.SIGKILL)  # runs in a worker process (parallel build)
        return read_post(corpus_dir, path)

    monkeypatch.setattr(indexer, "read_post", killed_on_p7)
    with pytest.raises(SearchError, match=r"indexing worker process died \(exit codes .*-9"):
        build_index(tmp_path / "posts", tmp_path / "index", procs=2)
    assert generations(tmp_path / "index") == before
    with Index.open(tmp_path / "index") as ix:
        assert ix.search("国际论坛").total == 450


def test_an_error_in_a_worker_reaches_the_build_as_it_was_raised(tmp_path, monkeypatch):
    write_numbered_posts(tmp_path / "posts", 450)

    def broken(doc):
        raise RuntimeError(f"cannot index {doc.id}")

    monkeypatch.setattr(indexer, "document_fields", broken)
    with pytest.raises(RuntimeError, match=r"cannot index p\d+\.md"):
        build_index(tmp_path / "posts", tmp_path / "index", procs=2)
    assert generations(tmp_path / "index") == []


def every_posting(index_dir: Path) -> dict:
    from whoosh import index as whoosh_index

    from search.whoosh_internals import read_postings

    live = next(p for p in index_dir.iterdir() if p.name.startswith("gen-"))
    with whoosh_index.open_dir(live).reader() as reader:
        return {(field, term): [a.tolist() for a in read_postings(reader, field, term)]
                for field, term in reader.all_terms()}


def test_postings_packed_in_runs_are_written_as_if_kept_whole(tmp_path, monkeypatch):
    from search.local import segments

    corpus = tmp_path / "posts"
    for i in range(30):
        write_post(corpus, f"p{i:02}.md", title=f"标题{i % 4}", body=f"<p>{'国际论坛' * (i % 5 + 1)} 第{i}篇</p>",
                   categories=["新闻", f"类{i % 3}"])
    build_index(corpus, tmp_path / "whole", procs=1)
    monkeypatch.setattr(segments, "RUN_DOCS", 7)
    build_index(corpus, tmp_path / "runs", procs=1)
    assert every_posting(tmp_path / "runs") == every_posting(tmp_path / "whole")


def test_word_frequencies_live_in_posting_weights_without_a_stored_value(tmp_path):
    from whoosh import index as whoosh_index

    from search.whoosh_internals import read_postings

    corpus = tmp_path / "posts"
    for i in range(12):  # 论坛 is in 12 posts (a block of postings), 独有 in one (inlined)
        body = "论坛" * (i + 1) + ("独有独有独有" if i == 5 else "")
        write_post(corpus, f"p{i:02}.md", title=f"标题{i}", body=f"<p>{body}</p>")
    build_index(corpus, tmp_path / "index", procs=1)
    live = next(p for p in (tmp_path / "index").iterdir() if p.name.startswith("gen-"))
    with whoosh_index.open_dir(live).reader() as reader:
        ids, weights = read_postings(reader, "body", "论坛".encode())
        assert weights.tolist() == [i + 1 for i in range(12)]
        assert read_postings(reader, "body", "独有".encode())[1].tolist() == [3]
        inlined = reader.term_info("body", "独有".encode()).inlined_postings()
        assert inlined == ((5,), (3,), (None,))
        matcher, seen = reader.postings("body", "论坛".encode()), []
        while matcher.is_active():
            seen.append((matcher.id(), matcher.weight()))
            matcher.next()
        assert seen == list(zip(ids.tolist(), weights.tolist()))


def test_updates_keep_finding_posts_in_old_and_new_segments(corpus_dir, index_dir):
    write_post(corpus_dir, "new.md", title="新发布", body="<p>国际论坛新篇章</p>")
    update_index(index_dir)
    (corpus_dir / "科技/环球/科技/iPhone.md").unlink()
    update_index(index_dir)
    with Index.open(index_dir) as ix:
        assert {h.id for h in ix.search("发布").hits} == {"new.md"}
        assert {h.id for h in ix.search("论坛").hits} == {"new.md", "国际/香港/要聞/論壇.md"}


@pytest.mark.parametrize("version", [1, SCHEMA_VERSION - 1])
def test_an_index_in_an_older_format_asks_for_a_rebuild(index_dir, version):
    live = next(p for p in index_dir.iterdir() if p.name.startswith("gen-"))
    meta = json.loads((live / "meta.json").read_text())
    (live / "meta.json").write_text(json.dumps({**meta, "schema_version": version}))
    with pytest.raises(IndexCorruptError, match="another version of news-search.*news-search build"):
        Index.open(index_dir)


def test_a_missing_recall_file_is_reported_as_damage(index_dir):
    live = next(p for p in index_dir.iterdir() if p.name.startswith("gen-"))
    for path in live.glob("*.rcl"):
        path.unlink()
    with pytest.raises(IndexCorruptError, match="MAIN_.*rcl.*rebuild it"):
        Index.open(index_dir)


def test_an_index_built_with_rjieba_is_updated_and_queried_with_rjieba(corpus_dir, tmp_path):
    index_dir = tmp_path / "index"
    build_index(corpus_dir, index_dir, segmenter="rjieba", procs=1)
    write_post(corpus_dir, "new.md", title="中亚峰会", body="<p>中亚五国峰会在西安举行</p>")
    update_index(index_dir)
    with Index.open(index_dir) as ix:
        assert ix.stats().segmenter.startswith("rjieba-")
        assert ix.segmenter.engine == "rjieba"
        assert {h.id for h in ix.search("五国峰会").hits} == {"new.md", "体育/新华/要闻/冬奥会开幕.md"}


def test_a_missing_segmenter_is_a_clear_error(corpus_dir, tmp_path, monkeypatch):
    from search.text import analysis

    monkeypatch.setitem(sys.modules, "rjieba", None)  # makes `import rjieba` fail
    analysis._engine.cache_clear()
    try:
        with pytest.raises(SearchError, match=r"rjieba segmenter is not installed.*news-search\[fast\]"):
            build_index(corpus_dir, tmp_path / "index", segmenter="rjieba")
    finally:
        analysis._engine.cache_clear()
    assert not (tmp_path / "index").exists()


# --- updates of part of a corpus, in parts, in parallel ------------------------------------------

def _titles(index_dir, query: str) -> list[str]:
    with Index.open(index_dir) as ix:
        return sorted(h.title for h in ix.search(query, per_page=0, snippets=False, fold=False).hits)


def test_an_update_of_some_paths_leaves_the_rest_of_the_corpus_alone(corpus_dir, index_dir):
    write_post(corpus_dir, "新/甲.md", title="甲新闻")
    write_post(corpus_dir, "新/乙.md", title="乙新闻")
    report = update_index(index_dir, only=[corpus_dir / "新/甲.md"])
    assert (report.added, _titles(index_dir, "新闻")) == (1, ["甲新闻"])
    assert update_index(index_dir).added == 1 and _titles(index_dir, "新闻") == ["乙新闻", "甲新闻"]


def test_an_update_of_a_folder_that_is_gone_deletes_its_posts(corpus_dir, index_dir):
    shutil.move(corpus_dir / "财经", corpus_dir.parent / "elsewhere")
    report = update_index(index_dir, only=[corpus_dir / "财经"])
    assert (report.deleted, _titles(index_dir, "ＧＤＰ")) == (1, [])


def test_an_update_with_a_limit_takes_the_shortest_posts_first_and_leaves_the_rest(corpus_dir, index_dir):
    posts = [write_post(corpus_dir, f"新/{i}.md", title=f"新闻{i}", body="<p>正文</p>" * (100 * paragraphs))
             for i, paragraphs in enumerate([5, 1, 4, 2, 3])]
    limit = sum(post_cost(p.stat().st_size) for p in posts[1::2] + posts[4:])  # the three shortest
    first = update_index(index_dir, limit_bytes=limit)
    assert (first.added, first.deferred, _titles(index_dir, "新闻")) == (3, 2, ["新闻1", "新闻3", "新闻4"])
    second = update_index(index_dir, limit_bytes=limit)  # the other two do not fit together
    assert (second.added, second.deferred, "新闻2" in _titles(index_dir, "新闻")) == (1, 1, True)
    third = update_index(index_dir, limit_bytes=limit)
    assert (third.added, third.deferred, len(_titles(index_dir, "新闻"))) == (1, 0, 5)


def test_an_update_with_a_limit_takes_one_post_longer_than_it(corpus_dir, index_dir):
    write_post(corpus_dir, "新/长文.md", title="长新闻", body="<p>正文</p>" * 1000)
    assert update_index(index_dir, limit_bytes=1).added == 1


def test_a_burst_published_in_parts_merges_after_its_last_part(corpus_dir, index_dir):
    policy = MergePolicy(factor=2, floor=1)  # any two segments of a size would merge
    parts = []
    for i in range(4):
        write_post(corpus_dir, f"新/{i}.md", title=f"新闻{i}")
    while not parts or parts[-1].deferred:
        parts.append(update_index(index_dir, limit_bytes=1, policy=policy))  # a post a part
    assert [p.merge.merges for p in parts] == [0, 0, 0, parts[-1].merge.merges] and parts[-1].merge.merges
    assert len(_titles(index_dir, "新闻")) == 4


@pytest.mark.slow
def test_a_large_update_is_indexed_in_parallel_as_a_build_would(corpus_dir, index_dir, tmp_path):
    for i in range(450):
        write_post(corpus_dir, f"快讯/{i}.md", title=f"快讯{i}", body=f"<p>突发新闻第{i}条</p>")
    write_post(corpus_dir, "体育/新华/要闻/冬奥会开幕.md", title="北京冬奥会闭幕式举行")
    report = update_index(index_dir, procs=2, policy=None)
    assert (report.added, report.changed, report.indexed) == (450, 1, 451)
    with Index.open(index_dir) as ix:
        assert ix.stats().segments == 3 and ix.stats().docs == 454  # the built one and one per worker
    build_index(corpus_dir, tmp_path / "fresh", procs=2)
    for query in ("快讯", "冬奥会", "突发新闻第7条"):
        assert _titles(index_dir, query) == _titles(tmp_path / "fresh", query)
