"""Faults with real processes and real files: kill -9 at random points, full and read-only disks,
an index directory deleted or damaged under the running server, and two writers at once.

Disk-full and read-only cases mount a small tmpfs (root only; they skip elsewhere,
except the RLIMIT_FSIZE variant, which needs no privileges). ``stress/run.py``
repeats the kill cases many more times.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from search import Index, build_index, update_index
from search.local import searcher as searcher_module
from search.local.merging import MergePolicy
from search.writing.storage import current_generation
from tests.helpers import write_post
from tests.servers import running_server, served
from web import create_app

pytestmark = pytest.mark.slow

#: Queries whose results are compared before and after a fault.
QUERIES = ("开幕", "国际论坛", "GDP", "iPhone", "冬奥会 -火星")
#: Text long enough that a build of a few hundred posts takes seconds (so it can be killed mid-way).
SLOW_TEXT = "国际论坛在北京举行，各国代表讨论数字经济与人工智能的发展。" * 60


def news_search(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI (``python -m search``) to completion."""
    return subprocess.run([sys.executable, "-m", "search", *map(str, args)], capture_output=True, text=True,
                          timeout=180, **kwargs)


def start_news_search(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "search", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def snapshot(index_dir: Path) -> dict:
    """What the index answers: document count and the ranked ids for :data:`QUERIES`."""
    with Index.open(index_dir) as ix:
        answers = {q: [h.id for h in ix.search(q, per_page=20).hits] for q in QUERIES}
        return {"docs": ix.stats().docs, **answers}


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("gen-*"))


def leftovers(index_dir: Path) -> list[str]:
    """Entries of an index directory that are neither the pointer, the lock nor a generation."""
    return sorted(p.name for p in index_dir.iterdir() if p.name not in ("CURRENT", ".lock")
                  and not p.name.startswith("gen-"))


def add_slow_posts(corpus: Path, n: int, *, tag: str = "") -> None:
    for i in range(n):
        write_post(corpus, f"slow/{i // 100}/{i}.md", title=f"慢速文章{i}", body=f"<p>{SLOW_TEXT}{tag}{i}</p>")


def get(base: str, path: str) -> tuple[int, dict | str]:
    """GET ``base + path``; return the status and the parsed JSON (or text) body, for 4xx/5xx too."""
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            status, body, kind = response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        status, body, kind = exc.code, exc.read(), exc.headers.get_content_type()
    text = body.decode("utf-8")
    return status, json.loads(text) if kind == "application/json" else text


def search_ids(base: str, q: str) -> list[str]:
    status, data = get(base, "/api/search?per_page=20&q=" + quote(q))
    assert status == 200, data
    return [h["path"] for h in data["hits"]]


# --- kill -9 at random points ------------------------------------------------------------------

def _kill_at_random_point(proc: subprocess.Popen, index_dir: Path, rng: random.Random, early: bool,
                          writing_for: float = 1.2) -> str:
    """Kill ``proc`` with SIGKILL: during start-up/scanning (``early``) or while it writes a generation,
    up to ``writing_for`` seconds after it starts writing (about as long as it writes)."""
    before = set(generations(index_dir))
    if early:
        time.sleep(rng.uniform(0.0, 1.0))
    else:
        deadline = time.monotonic() + 30
        while set(generations(index_dir)) <= before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, writing_for))
    if proc.poll() is not None:
        return "finished"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return "killed"


@pytest.mark.parametrize("command", ["build", "update"])
def test_writer_killed_three_times_at_random_points_leaves_the_live_index_answering(
        tmp_path, corpus_dir, index_dir, command):
    seed = int(os.environ.get("NEWS_SEARCH_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    add_slow_posts(corpus_dir, 160)
    if command == "update":
        build_index(corpus_dir, index_dir, procs=1)
    expected = snapshot(index_dir)
    outcomes = []
    for round_ in range(3):
        if command == "update":  # give the update work: change, add and delete posts
            add_slow_posts(corpus_dir, 120, tag=f"第{round_}轮")
            write_post(corpus_dir, f"round/{round_}/新增.md", title=f"第{round_}轮新增")
            shutil.rmtree(corpus_dir / "round" / str(round_ - 1), ignore_errors=True)
        args = ["--corpus", corpus_dir] if command == "build" else []
        live = current_generation(index_dir)
        proc = start_news_search(command, "--index", index_dir, "-q", "--procs", "1", *args)
        outcome = _kill_at_random_point(proc, index_dir, rng, early=round_ == 0)
        proc.stderr.close()
        if outcome == "killed" and current_generation(index_dir) != live:
            outcome = "killed after committing"  # the pointer moves only to a complete generation
        outcomes.append(outcome)
        if outcome != "killed":  # it won the race: the new index is the one to keep answering
            assert outcome != "finished" or proc.returncode == 0
            expected = snapshot(index_dir)
        assert snapshot(index_dir) == expected, f"seed {seed}, round {round_}, {outcomes}"
        assert len(generations(index_dir)) <= 3, f"seed {seed}: {generations(index_dir)}"
    finished = news_search(command, "--index", index_dir, "-q", *(["--corpus", corpus_dir] if command == "build"
                                                                     else []))
    assert finished.returncode == 0, finished.stderr
    assert len(generations(index_dir)) == 2 and leftovers(index_dir) == [], f"seed {seed}"
    assert snapshot(index_dir)["docs"] == (164 if command == "build" else 165)


def test_optimize_killed_three_times_at_random_points_leaves_the_live_index_answering(corpus_dir, index_dir):
    seed = int(os.environ.get("NEWS_SEARCH_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    add_slow_posts(corpus_dir, 600)
    build_index(corpus_dir, index_dir, procs=1)
    outcomes = []
    for round_ in range(3):  # each round leaves an unmerged segment and deleted posts for optimize to merge
        add_slow_posts(corpus_dir, 150, tag=f"第{round_}轮")
        update_index(index_dir, policy=None)
        expected, live = snapshot(index_dir), current_generation(index_dir)
        proc = start_news_search("optimize", "--index", index_dir, "-q", "--procs", "2")
        # merging 750 posts takes well under a second once the generation is started
        outcome = _kill_at_random_point(proc, index_dir, rng, early=round_ == 0, writing_for=0.25)
        proc.stderr.close()
        if outcome == "killed" and current_generation(index_dir) != live:
            outcome = "killed after committing"
        outcomes.append(outcome)
        if outcome == "killed":
            assert snapshot(index_dir) == expected, f"seed {seed}, round {round_}, {outcomes}"
        else:  # optimize only merges: the same posts, each with the same score
            assert snapshot(index_dir)["docs"] == expected["docs"], f"seed {seed}, {outcomes}"
        assert len(generations(index_dir)) <= 3, f"seed {seed}: {generations(index_dir)}"
    finished = news_search("optimize", "--index", index_dir, "-q", "--procs", "2")
    assert finished.returncode == 0, finished.stderr
    assert len(generations(index_dir)) == 2 and leftovers(index_dir) == [], f"seed {seed}"
    with Index.open(index_dir) as ix:
        assert (ix.stats().docs, ix.stats().segments, ix.stats().deleted) == (604, 2, 0)
    assert "killed" in outcomes, f"seed {seed}: no kill landed while optimize wrote ({outcomes})"


#: Runs an update (of the index in argv[1]) that is killed with SIGKILL once its merge has written the
#: merged segment, just before the merge's generation would be committed.
KILLED_IN_MERGE = """
import os, signal, sys
from pathlib import Path
from search import update_index
from search.local import merging
merging.commit_segments = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
update_index(Path(sys.argv[1]), policy=merging.MergePolicy(factor=3, floor=10))
"""


def test_update_killed_during_its_merge_leaves_its_posts_searchable_and_the_next_update_merges(
        corpus_dir, index_dir):
    write_post(corpus_dir, "新增/1.md", title="第一篇新增")
    update_index(index_dir, policy=None)
    write_post(corpus_dir, "新增/2.md", title="第二篇新增")
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_MERGE, str(index_dir)], timeout=180)
    assert killed.returncode == -signal.SIGKILL
    assert len(generations(index_dir)) == 3  # the one before, the update's (live), the merge's (unpublished)
    with Index.open(index_dir) as ix:
        assert (ix.stats().docs, ix.stats().segments, ix.search("新增").total) == (6, 3, 2)
    report = update_index(index_dir, policy=MergePolicy(factor=3, floor=10))
    assert (report.indexed, report.merge.segments_after) == (0, 1)
    assert len(generations(index_dir)) == 2 and leftovers(index_dir) == []
    with Index.open(index_dir) as ix:
        assert (ix.stats().docs, ix.stats().segments, ix.search("新增").total) == (6, 1, 2)


# --- concurrent writers --------------------------------------------------------------------------

def test_two_updates_at_once_one_runs_the_other_exits_with_the_holders_pid(corpus_dir, index_dir):
    add_slow_posts(corpus_dir, 150)
    first = start_news_search("update", "--index", index_dir, "-q", "--procs", "1")
    deadline = time.monotonic() + 30
    while str(first.pid) != (index_dir / ".lock").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = news_search("update", "--index", index_dir, "-q")
    first.wait(timeout=120)
    assert first.returncode == 0, first.stderr.read()
    first.stderr.close()
    assert second.returncode == 1
    assert second.stderr.strip() == (f"Error: index {index_dir}/ is being written by pid {first.pid}; "
                                     "wait for it to finish or pass --wait")
    assert snapshot(index_dir)["docs"] == 154


def test_two_updates_with_wait_run_one_after_the_other(corpus_dir, index_dir):
    add_slow_posts(corpus_dir, 100)
    procs = [subprocess.Popen([sys.executable, "-m", "search", "update", "--index", str(index_dir), "--wait",
                               "--json", "--procs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    assert sorted((r["added"], r["unchanged"]) for r in reports) == [(0, 104), (100, 4)]
    assert {r["docs"] for r in reports} == {104}
    assert snapshot(index_dir)["docs"] == 104 and len(generations(index_dir)) == 2


# --- disk full and read-only ---------------------------------------------------------------------

@pytest.fixture
def tmpfs(tmp_path):
    """A 16 MB tmpfs mounted in ``tmp_path`` (skips where mounting is not allowed)."""
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mountpoint)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def fill_disk(mountpoint: Path, *, leave: int = 48 * 1024) -> Path:
    """Fill the filesystem of ``mountpoint`` until only ``leave`` bytes are free; return the filler file."""
    filler = mountpoint / "filler"
    st = os.statvfs(mountpoint)
    size = st.f_bavail * st.f_frsize - leave
    with open(filler, "wb") as fh:
        while size > 0:
            size -= fh.write(b"\0" * min(size, 1 << 20))
    return filler


def test_disk_full_build_fails_leaving_the_server_answering_then_recovers(tmpfs, corpus_dir):
    index_dir = tmpfs / "index"
    assert news_search("build", "--corpus", corpus_dir, "--index", index_dir, "-q").returncode == 0
    write_post(corpus_dir, "新/磁盘.md", title="磁盘写满之后", body="<p>磁盘恢复之后才能找到</p>")
    with running_server(index_dir) as base:
        before = {q: search_ids(base, q) for q in QUERIES}
        filler = fill_disk(tmpfs)
        for command in (["build", "--corpus", corpus_dir], ["update"]):
            failed = news_search(*command, "--index", index_dir, "-q")
            assert failed.returncode == 1 and "No space left on device" in failed.stderr
            assert generations(index_dir) == ["gen-000001"] and leftovers(index_dir) == []
            assert {q: search_ids(base, q) for q in QUERIES} == before
            assert get(base, "/api/search?q=" + quote("磁盘"))[1]["total"] == 0
        filler.unlink()
        assert news_search("update", "--index", index_dir, "-q").returncode == 0
        assert search_ids(base, "磁盘") == ["新/磁盘.md"]
        assert {q: search_ids(base, q) for q in QUERIES} == before


def test_watch_on_a_full_disk_logs_retries_and_indexes_once_there_is_room(tmpfs, corpus_dir, tmp_path):
    index_dir, log = tmpfs / "index", tmp_path / "watch.log"
    build_index(corpus_dir, index_dir, procs=1)
    filler = fill_disk(tmpfs)
    with open(log, "w") as err, subprocess.Popen(
            [sys.executable, "-m", "search", "watch", "--index", str(index_dir), "--debounce", "0.2", "--settle",
             "0.2", "--retry", "1"], stderr=err) as proc:
        try:
            _wait_until(lambda: "watching" in log.read_text())
            write_post(corpus_dir, "新/磁盘.md", title="磁盘写满之后", body="<p>磁盘恢复之后才能找到</p>")
            _wait_until(lambda: "No space left on device" in log.read_text())
            assert snapshot(index_dir)["docs"] == 4 and leftovers(index_dir) == []
            filler.unlink()
            _wait_until(lambda: [h.id for h in Index.open(index_dir).search("磁盘").hits] == ["新/磁盘.md"])
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()
    assert "the live index is unchanged; retrying in 1 s" in log.read_text()


def _wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _limit_file_size(limit: int):
    def apply() -> None:  # in the child: writes past ``limit`` fail with EFBIG (SIGXFSZ is ignored)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_write_failure_without_privileges_leaves_the_live_index_and_no_leftovers(corpus_dir, index_dir):
    """The same fault as a full disk, for machines where no tmpfs can be mounted: RLIMIT_FSIZE."""
    expected = snapshot(index_dir)
    add_slow_posts(corpus_dir, 20)
    failed = news_search("update", "--index", index_dir, "-q", preexec_fn=_limit_file_size(8 * 1024))
    assert failed.returncode == 1 and "File too large" in failed.stderr
    assert snapshot(index_dir) == expected
    assert generations(index_dir) == ["gen-000001"] and leftovers(index_dir) == []
    assert news_search("update", "--index", index_dir, "-q").returncode == 0
    assert snapshot(index_dir)["docs"] == 24


@pytest.mark.parametrize("fault", ["disk full", "read-only"])
def test_write_failures_are_one_clear_line_naming_the_index(tmpfs, corpus_dir, fault):
    index_dir = tmpfs / "index"
    assert news_search("build", "--corpus", corpus_dir, "--index", index_dir, "-q").returncode == 0
    write_post(corpus_dir, "新/一篇.md")
    if fault == "disk full":
        fill_disk(tmpfs)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    failed = news_search("update", "--index", index_dir, "-q")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert failed.stderr.startswith(f"Error: cannot write the index in {index_dir}/: ")
    assert "the live index is unchanged" in failed.stderr


def test_read_only_index_keeps_answering_and_update_works_once_writable(tmpfs, corpus_dir):
    index_dir = tmpfs / "index"
    assert news_search("build", "--corpus", corpus_dir, "--index", index_dir, "-q").returncode == 0
    write_post(corpus_dir, "新/只读.md", title="只读之后的新文章")
    with running_server(index_dir) as base:
        before = {q: search_ids(base, q) for q in QUERIES}
        subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
        failed = news_search("update", "--index", index_dir, "-q")
        assert failed.returncode == 1 and "Read-only file system" in failed.stderr
        assert {q: search_ids(base, q) for q in QUERIES} == before
        assert get(base, "/api/stats")[0] == 200 and get(base, "/")[0] == 200
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
        assert news_search("update", "--index", index_dir, "-q").returncode == 0
        assert search_ids(base, "只读") == ["新/只读.md"]


# --- index directory deleted under the server ----------------------------------------------------

def test_deleted_index_directory_keeps_the_server_answering_from_open_files(corpus_dir, index_dir):
    with running_server(index_dir) as base:
        before = {q: search_ids(base, q) for q in QUERIES}
        shutil.rmtree(index_dir)
        assert {q: search_ids(base, q) for q in QUERIES} == before
        for path in ("/", "/search?q=" + quote("开幕"), "/api/stats", "/post/" + quote(before["开幕"][0])):
            assert get(base, path)[0] == 200, path


def test_a_generation_deleted_while_a_reader_opens_it_gives_way_to_the_newer_one(corpus_dir, index_dir,
                                                                                 monkeypatch):
    ix = Index.open(index_dir)
    write_post(corpus_dir, "新/1.md", title="蓝鲸观测第1次")
    update_index(index_dir, policy=None)
    opened, real = [], searcher_module._open_searcher

    def racing(generation: Path, *args):
        searcher = real(generation, *args)
        if not opened:  # a busy writer publishes twice more while the reader opens: this one is deleted
            opened.append(generation)
            for n in (2, 3):
                write_post(corpus_dir, f"新/{n}.md", title=f"蓝鲸观测第{n}次")
                update_index(index_dir, policy=None)
        return searcher

    monkeypatch.setattr(searcher_module, "_open_searcher", racing)
    hits = ix.search("蓝鲸观测", partial=False).hits  # titles come from the stored fields, opened with the rest
    assert sorted(hit.title for hit in hits) == ["蓝鲸观测第1次", "蓝鲸观测第2次", "蓝鲸观测第3次"]
    assert not opened[0].exists() and not list(index_dir.glob(".deleted-*"))


def test_deleted_index_directory_answers_503_where_open_files_do_not_suffice(corpus_dir, index_dir):
    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    assert client.get("/api/search?q=开幕").get_json()["total"] == 2  # opens the index; stats not yet read
    shutil.rmtree(index_dir)
    assert client.get("/api/search?q=开幕").get_json()["total"] == 2
    response = client.get("/api/stats")
    assert response.status_code == 503
    assert response.get_json()["error"]["message"].startswith("搜索索引暂时无法打开")
    assert client.get("/").status_code == 503


def test_index_rebuilt_after_the_directory_was_deleted_is_picked_up(corpus_dir, index_dir):
    with running_server(index_dir) as base:
        assert search_ids(base, "冬奥会") == ["体育/新华/要闻/冬奥会开幕.md"]
        shutil.rmtree(index_dir)
        write_post(corpus_dir, "新/重建.md", title="重建后的新文章")
        assert news_search("build", "--corpus", corpus_dir, "--index", index_dir, "-q").returncode == 0
        assert search_ids(base, "重建") == ["新/重建.md"]


# --- damaged index under the server --------------------------------------------------------------

def damage(generation: Path, how: str) -> None:
    if how == "truncated segment":  # the largest segment file, whatever the codec's file layout
        files = [p for p in generation.iterdir() if p.suffix not in (".json", ".toc")]
        segment = max(files, key=lambda p: p.stat().st_size)
        segment.write_bytes(segment.read_bytes()[:1000])
    else:
        next(generation.glob("*.toc")).write_bytes(b"garbage")


@pytest.mark.parametrize("how", ["truncated segment"])  # test_cli.py checks both kinds of damage
def test_server_on_a_damaged_index_answers_503_without_dying_and_recovers_after_rebuild(
        corpus_dir, index_dir, how):
    damage(index_dir / "gen-000001", how)
    with served(index_dir, ready="/api/openapi.json", accept=(200, 503)) as server:  # up, though unavailable
        base = server.base
        for path in ("/api/search?q=" + quote("开幕"), "/api/stats", "/", "/search?q=" + quote("开幕")):
            for _ in range(3):
                status, body = get(base, path)
                assert status == 503, (path, body)
        assert get(base, "/api/stats")[1] == {"error": {"status": 503, "message": (
            "搜索索引暂时无法打开（可能还没有建立，或正在重建）。请稍后再试。")}}
        assert server.process.poll() is None
        assert news_search("build", "--corpus", corpus_dir, "--index", index_dir, "-q").returncode == 0
        assert search_ids(base, "冬奥会") == ["体育/新华/要闻/冬奥会开幕.md"]
        server.stop()
        log = server.output()
    assert f"index {index_dir} unavailable: the index in {index_dir}/ (gen-000001) cannot be read" in log
    assert "rebuild it with: news-search build" in log and "Traceback" not in log


@pytest.mark.parametrize("how", ["garbage toc"])
def test_damaged_new_generation_is_ignored_by_a_running_server(corpus_dir, index_dir, how):
    with running_server(index_dir) as base:
        before = {q: search_ids(base, q) for q in QUERIES}
        broken = index_dir / "gen-000002"
        shutil.copytree(index_dir / "gen-000001", broken)
        damage(broken, how)
        (index_dir / "CURRENT").write_text("gen-000002\n")
        for _ in range(3):
            assert {q: search_ids(base, q) for q in QUERIES} == before
        assert get(base, "/api/stats")[1]["generation"] == "gen-000001"
        write_post(corpus_dir, "新/修好.md", title="修好之后的新文章")
        assert news_search("build", "--corpus", corpus_dir, "--index", index_dir, "-q").returncode == 0
        assert search_ids(base, "修好") == ["新/修好.md"]


def test_live_segment_truncated_under_the_running_server_answers_503_and_recovers(corpus_dir, index_dir):
    with running_server(index_dir) as base:
        assert search_ids(base, "冬奥会") == ["体育/新华/要闻/冬奥会开幕.md"]
        damage(index_dir / "gen-000001", "truncated segment")
        for q in ("开幕", "国际论坛", "GDP"):
            status, body = get(base, "/api/search?q=" + quote(q))
            assert status in (200, 503), body  # what was already read may still answer
        assert get(base, "/api/search?q=" + quote("iPhone"))[0] == 503
        assert news_search("build", "--corpus", corpus_dir, "--index", index_dir, "-q").returncode == 0
        assert search_ids(base, "冬奥会") == ["体育/新华/要闻/冬奥会开幕.md"]
