"""``news-search watch``: a real watcher (watchfiles, inotify) on real folders, in a thread or a real process."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from search import Index, build_index, update_index
from search.writing import storage
from search.local import watching as watching_module
from search.local.indexer import VOCABULARY_STAGE
from search.local.watching import Watcher, WatchSettings
from search.writing.builds import post_cost
from search.query import vocabulary as vocabulary_module
from search.query.vocabulary import Vocabulary
from tests import helpers
from tests.helpers import write_post

pytestmark = pytest.mark.slow

FAST = WatchSettings(debounce=0.2, settle=0.5, rescan=300, retry=0.5, poll_interval=0.2)


@pytest.fixture
def watching(corpus_dir, index_dir, caplog):
    """Start a watcher of ``corpus_dir`` in a thread; yield a function that returns its log lines."""
    caplog.set_level(logging.INFO, logger="news_search.watch")
    watchers = []

    def start(settings: WatchSettings = FAST) -> Watcher:
        watcher = Watcher(index_dir, corpus_dir, settings=settings, procs=1)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        watchers.append((watcher, thread))
        wait_for(lambda: "watching" in " ".join(caplog.messages))
        return watcher

    yield start
    for watcher, thread in watchers:
        watcher.stop()
        thread.join(timeout=30)
        assert not thread.is_alive()


def wait_for(condition, timeout: float = 60.0) -> None:
    assert helpers.wait_for(condition, timeout, interval=0.05), "timed out"


def titles(index_dir: Path, query: str) -> list[str]:
    with Index.open(index_dir) as ix:
        return [hit.title for hit in ix.search(query, per_page=50, fold=False).hits]


def batch_lines(caplog) -> list[str]:
    return [m for m in caplog.messages if m.startswith("added ")]


def test_a_new_post_is_found_within_seconds(watching, corpus_dir, index_dir):
    watching()
    write_post(corpus_dir, "新/水星.md", title="水星探测器发射成功")
    wait_for(lambda: titles(index_dir, "水星探测器") == ["水星探测器发射成功"])


def test_a_changed_and_a_deleted_post_are_updated(watching, corpus_dir, index_dir, caplog):
    watching()
    write_post(corpus_dir, "体育/新华/要闻/冬奥会开幕.md", title="北京冬奥会闭幕式举行")
    (corpus_dir / "科技/环球/科技/iPhone.md").unlink()
    wait_for(lambda: titles(index_dir, "冬奥会") == ["北京冬奥会闭幕式举行"] and titles(index_dir, "iPhone") == [])

    def totals() -> list[int]:  # added, changed, deleted
        counts = [[int(part.split()[1]) for part in line.split(" in ")[0].split(", ")] for line in batch_lines(caplog)]
        return [sum(column) for column in zip(*counts)]

    wait_for(lambda: totals() == [0, 1, 1])  # a batch's line comes once its merge is done, after it publishes


def test_a_moved_folder_moves_its_posts(watching, corpus_dir, index_dir):
    watching()
    shutil.move(corpus_dir / "财经", corpus_dir / "经济")
    wait_for(lambda: _ids(index_dir, "ＧＤＰ") == ["经济/晨光/快讯/GDP.md"])


def _ids(index_dir: Path, query: str) -> list[str]:
    with Index.open(index_dir) as ix:
        return [hit.id for hit in ix.search(query, fold=False).hits]


def test_a_post_written_in_pieces_is_indexed_once_complete(watching, corpus_dir, index_dir, caplog):
    watching()
    path = corpus_dir / "新/分段.md"
    path.parent.mkdir()
    with open(path, "w", encoding="utf-8") as out:  # a fetcher writing slowly, flushing as it goes
        for piece in ("---\ntitle: '分段写入的文章'\n", "date: 2022-06-07\n---\n\n<p>开头", "中间", "结尾标记</p>\n"):
            out.write(piece)
            out.flush()
            time.sleep(0.3)
    wait_for(lambda: titles(index_dir, "结尾标记") == ["分段写入的文章"])
    time.sleep(1.0)
    assert [line.split(" in ")[0] for line in batch_lines(caplog)] == ["added 1, changed 0, deleted 0"]


def test_a_new_copy_of_a_story_is_folded_once_the_folder_is_quiet(watching, corpus_dir, index_dir):
    watching()
    body = "<p>" + "第二十四届冬奥会开幕式在国家体育场隆重举行，各国运动员依次入场，现场观众热情欢呼。" * 3 + "</p>"
    write_post(corpus_dir, "a/开幕.md", title="冬奥会开幕式隆重举行", body=body, date="2022-02-04", author="甲报")
    write_post(corpus_dir, "b/开幕.md", title="冬奥会开幕式隆重举行", body=body + "<p>乙报记者</p>",
               date="2022-02-04", author="乙报")
    def folded() -> bool:
        with Index.open(index_dir) as ix:
            hits = ix.search("隆重举行").hits
        return len(hits) == 1 and len(hits[0].copies) == 1

    wait_for(folded)


def test_editor_and_sync_temporary_files_are_ignored(watching, corpus_dir, index_dir, caplog):
    watching()
    for name in (".新闻.md.tmp", "新闻.md~", ".#新闻.md", ".新闻.md.swp", "新闻.md.part", ".syncthing.新闻.md"):
        write_post(corpus_dir, f"新/{name}", title="临时文件")
    write_post(corpus_dir, ".git/objects/新闻.md", title="临时文件")
    time.sleep(1.5)
    assert batch_lines(caplog) == [] and titles(index_dir, "临时文件") == []


def test_a_burst_of_posts_is_indexed_in_few_batches(watching, corpus_dir, index_dir, caplog):
    watching()
    for i in range(500):
        write_post(corpus_dir, f"快讯/{i // 100}/{i}.md", title=f"快讯第{i}条", body=f"<p>突发新闻编号{i}</p>")
    wait_for(lambda: Index.open(index_dir).stats().docs == 504, timeout=60)
    assert len(batch_lines(caplog)) <= 5


def test_a_burst_still_being_written_waits_to_fill_its_first_part(corpus_dir, index_dir):
    old = [write_post(corpus_dir, f"快讯/{i}.md", title=f"快讯第{i}条") for i in range(3)]
    for path in old:
        os.utime(path, (time.time() - 5, time.time() - 5))
    fresh = write_post(corpus_dir, "快讯/3.md", title="快讯第3条")
    part = sum(post_cost(path.stat().st_size) for path in old)  # a part of three posts
    watcher = Watcher(index_dir, corpus_dir, settings=replace(FAST, part_bytes=part, settle=0.5))
    assert 0.3 < watcher._filling({*old[:2], fresh, corpus_dir / "快讯"}) <= 0.5  # 2 ready of a part of 3
    assert watcher._filling({*old, fresh}) == 0.0  # a full part is ready: go
    assert watcher._filling(set(old[:2])) == 0.0  # nothing is being written


def test_a_file_written_for_long_holds_back_the_posts_beside_it_no_longer_than_settle(watching, corpus_dir,
                                                                                       index_dir):
    watching()
    write_post(corpus_dir, "新/先.md", title="天宫课堂再次开讲")
    wait_for(lambda: titles(index_dir, "天宫课堂") == ["天宫课堂再次开讲"])  # caught up, watching events
    writing = threading.Event()

    def write_slowly():  # a download that takes its time
        with open(corpus_dir / "新/慢.md", "w", encoding="utf-8") as out:
            while not writing.wait(0.1):
                out.write("<p>还在写</p>\n")
                out.flush()

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        time.sleep(0.5)
        write_post(corpus_dir, "新/快.md", title="猎户座流星雨今夜迎来极大")
        wait_for(lambda: titles(index_dir, "猎户座流星雨") == ["猎户座流星雨今夜迎来极大"], timeout=3.0)
    finally:
        writing.set()
        writer.join()


def test_a_burst_is_published_in_full_before_its_stories_are_worked_out_again(watching, corpus_dir, index_dir,
                                                                               monkeypatch):
    updates = []  # (fast, posts indexed) of every update the watcher makes
    real = watching_module.update_index

    def recorded(*args, **kwargs):
        report = real(*args, **kwargs)
        updates.append((kwargs["fast"], report.indexed))
        return report

    monkeypatch.setattr(watching_module, "update_index", recorded)
    watching(replace(FAST, part_bytes=5 * post_cost(150), regroup_every=0.0,  # parts of 5 posts
                      regroup_idle=60.0))  # stories always overdue
    wait_for(lambda: updates)  # the catch-up scan, which works everything out
    for i in range(12):
        write_post(corpus_dir, f"快讯/{i}.md", title=f"快讯第{i}条", body=f"<p>突发新闻编号{i}</p>")
    wait_for(lambda: sum(indexed for _, indexed in updates) == 12 and updates[-1] == (False, 0))
    parts = [fast for fast, indexed in updates if indexed]
    assert len(parts) >= 3 and all(parts)  # every part carried the stories forward; worked out again after


def test_new_posts_never_wait_for_the_vocabulary(watching, corpus_dir, index_dir, caplog, monkeypatch):
    real = vocabulary_module.write_vocabulary

    def slow(*args):  # the vocabulary of a large archive
        time.sleep(8.0)
        return real(*args)

    monkeypatch.setattr(vocabulary_module, "write_vocabulary", slow)
    watching()
    write_post(corpus_dir, "新/火星.md", title="火星车着陆成功")  # one post in five: the vocabulary is due
    wait_for(lambda: titles(index_dir, "火星车") == ["火星车着陆成功"])
    time.sleep(2.5)  # the folder has been quiet: the stories are being worked out again
    write_post(corpus_dir, "新/木星.md", title="木星探测器启程")
    wait_for(lambda: titles(index_dir, "木星探测器") == ["木星探测器启程"], timeout=3.0)
    assert not any("vocabulary" in m for m in caplog.messages)  # still being worked out
    wait_for(lambda: any(m.startswith("vocabulary worked out again") for m in caplog.messages), timeout=30)
    assert Vocabulary.load(storage.current_generation(index_dir)).get("火星车") is not None
    assert not (index_dir / VOCABULARY_STAGE).exists()


def test_merges_an_earlier_update_left_undone_are_made_and_logged_as_merges(watching, corpus_dir, index_dir,
                                                                              caplog):
    write_post(corpus_dir, "新/先.md", title="天宫课堂再次开讲")
    update_index(index_dir, policy=None)  # a second segment, which the policy merges with the first
    watching()
    wait_for(lambda: batch_lines(caplog))
    assert "posts merged" in batch_lines(caplog)[0] and "1 segment" in batch_lines(caplog)[0]
    assert not any("stories worked out again" in m for m in caplog.messages)


def test_a_vanished_corpus_is_reported_once_and_watched_again_when_back(watching, corpus_dir, index_dir, caplog):
    watching()
    away = corpus_dir.with_name("away")
    corpus_dir.rename(away)
    wait_for(lambda: any("is gone" in m for m in caplog.messages))
    assert titles(index_dir, "冬奥会") == ["北京冬奥会开幕式举行"]  # the index keeps serving
    time.sleep(1.0)
    write_post(away, "新/回来.md", title="文件夹回来了")
    away.rename(corpus_dir)
    wait_for(lambda: titles(index_dir, "回来") == ["文件夹回来了"])
    assert sum("is gone" in m for m in caplog.messages) == 1


def test_another_writer_holding_the_index_is_waited_for(watching, corpus_dir, index_dir, caplog):
    watching()
    with storage.writer_lock(index_dir, wait=True):  # as soon as the watcher's catch-up batch lets go
        write_post(corpus_dir, "新/等待.md", title="等待写锁的文章")
        wait_for(lambda: any("waiting" in m for m in caplog.messages))
        assert titles(index_dir, "等待写锁") == []
    wait_for(lambda: titles(index_dir, "等待写锁") == ["等待写锁的文章"])


def test_polling_finds_changes_without_events(watching, corpus_dir, index_dir, caplog):
    watching(WatchSettings(debounce=0.2, settle=0.5, polling=True, poll_interval=0.2))
    assert any("polling every 0.2 s" in m for m in caplog.messages)
    write_post(corpus_dir, "新/轮询.md", title="轮询发现的文章")
    wait_for(lambda: titles(index_dir, "轮询") == ["轮询发现的文章"])


def test_sigterm_during_a_batch_stops_without_publishing_anything(corpus_dir, index_dir):
    live = storage.current_generation(index_dir)
    for i in range(400):
        write_post(corpus_dir, f"慢/{i}.md", title=f"长文{i}", body="<p>" + "国际论坛讨论数字经济。" * 400 + "</p>")
    with subprocess.Popen([sys.executable, "-m", "search", "watch", "--index", str(index_dir), "--procs", "1"],
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            wait_for(lambda: len(list(index_dir.glob("gen-*"))) > 1 or proc.poll() is not None)  # a batch writes
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped during a batch; nothing was published" in err
    assert storage.current_generation(index_dir) == live
    assert Index.open(index_dir).stats().docs == 4


def test_watch_builds_a_missing_index_from_its_corpus_first(tmp_path, corpus_dir):
    index_dir = tmp_path / "new-index"
    with subprocess.Popen([sys.executable, "-m", "search", "watch", "--index", str(index_dir), "--corpus",
                           str(corpus_dir)], stderr=subprocess.PIPE, text=True) as proc:
        try:
            wait_for(lambda: (index_dir / "CURRENT").exists())
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert Index.open(index_dir).stats().docs == 4


def test_watch_without_an_index_or_a_corpus_is_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "search", "watch", "--index", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "give --corpus DIR to build one and watch it" in result.stderr


def test_build_and_watch_agree_that_hidden_posts_are_not_posts(tmp_path, corpus_dir):
    write_post(corpus_dir, ".隐藏.md", title="隐藏文章")
    build_index(corpus_dir, tmp_path / "ix", procs=1)
    assert titles(tmp_path / "ix", "隐藏文章") == []
