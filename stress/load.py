"""Load and soak against the real server (``news-search serve``, waitress) on 127.0.0.1.

While a background loop runs ``news-search update`` again and again (posts
added and deleted between runs), client threads query ``/api/search`` and
``/search`` without pause. Every response is checked:

* status 200, no connection errors, no 5xx;
* well formed: the JSON has every field the OpenAPI document requires, the page is a whole HTML document;
* consistent: each update publishes exactly one *marker* post (round k's replaces
  round k-1's), so the marker query must always find exactly one post, and a
  client must never see an older round after a newer one. A mix of two
  generations would show 0 or 2 markers or go backwards.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from tests.servers import Server

MARKER = "压测轮次标记"
WORDS = ("中国", "北京", "经济", "国际", "手机", "芯片", "游戏", "科技", "冬奥", "上海", "美国", "苹果",
         "人工智能", "新能源", "教育", "医疗", "足球", "电影", "汽车", "疫情")
HIT_FIELDS = {"path", "score", "title", "title_html", "source", "categories", "date", "image", "snippet"}
RESULT_FIELDS = {"query", "total", "page", "per_page", "pages", "sort", "ms", "hits", "facets"}


def start_server(index_dir: Path, log_path: Path, threads: int = 8) -> Server:
    """Start ``news-search serve`` on ``index_dir`` (its output to ``log_path``); return it once it answers."""
    return Server(index_dir, "--threads", str(threads), log=log_path, timeout=90)


def rss_kib(pid: int) -> dict[str, int]:
    """Return a process's resident memory in KiB: total, anonymous (heap) and file-backed (mmap)."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file"}
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name = line.split(":")[0]
        if name in fields:
            out[fields[name]] = int(line.split()[1])
    return out


def request(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


# --- the corpus and the updater ----------------------------------------------------------------

def prepare_corpus(source: Path, target: Path, *, held_out: int = 200) -> list[Path]:
    """Copy ``source`` to ``target``; move ``held_out`` posts aside (the updater adds and deletes them)."""
    shutil.copytree(source, target / "posts")
    posts = sorted((target / "posts").rglob("*.md"))
    pool = target / "pool"
    pool.mkdir()
    moved = []
    for i, post in enumerate(random.Random(7).sample(posts, min(held_out, len(posts) // 4))):
        dest = pool / f"{i}.md"
        post.rename(dest)
        moved.append(dest)
    write_marker(target / "posts", 0)
    return moved


def write_marker(posts: Path, round_: int) -> None:
    for old in posts.glob("zz-marker/*.md"):
        old.unlink()
    path = posts / "zz-marker" / f"{round_}.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"---\ntitle: '{MARKER} {round_}'\ncategories:\n - 压测\nauthor: 压测\ndate: 2022-06-07\n---\n\n"
                    f"<p>{MARKER}：第 {round_} 轮更新。</p>\n", encoding="utf-8")


@dataclass
class Updates:
    runs: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    added: int = 0
    deleted: int = 0
    published_round: int = 0


def update_loop(root: Path, index_dir: Path, pool: list[Path], stop: threading.Event, updates: Updates,
                rng: random.Random, *, pause: float = 0.0) -> None:
    """Until ``stop``: move a few posts in and out of the corpus, write the next marker, run ``update``."""
    posts, inside = root / "posts", []
    first = max(int(p.stem) for p in posts.glob("zz-marker/*.md"))  # continue after an earlier loop's rounds
    while not stop.is_set():
        round_ = first + updates.runs + 1
        for path in rng.sample(inside, min(len(inside), rng.randint(0, 5))):  # delete some added earlier
            path.unlink()
            inside.remove(path)
            updates.deleted += 1
        for src in rng.sample(pool, 5):  # add a few from the pool
            dest = posts / "zz-added" / f"{round_}-{src.name}"
            dest.parent.mkdir(exist_ok=True)
            shutil.copy(src, dest)
            inside.append(dest)
            updates.added += 1
        write_marker(posts, round_)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "search", "update", "--index", str(index_dir), "-q"],
                              capture_output=True, text=True)
        updates.seconds.append(time.monotonic() - started)
        updates.runs += 1
        if done.returncode not in (0, 3):
            updates.failed.append(f"update {round_} exited {done.returncode}: {done.stderr[-300:]}")
        else:
            updates.published_round = round_
        stop.wait(pause)


# --- the load generator ------------------------------------------------------------------------

@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    failed: int = 0  # connection errors and timeouts
    server_errors: int = 0
    other_status: int = 0
    malformed: int = 0
    inconsistent: int = 0
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def problem(self, kind: str, detail: str) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)
            if len(self.examples) < 20:
                self.examples.append(f"{kind}: {detail[:300]}")

    def summary(self, seconds: float) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000, 1) if lat else 0.0
        return {"requests": self.requests, "seconds": round(seconds, 1),
                "req_per_s": round(self.requests / seconds, 1) if seconds else 0.0,
                "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
                "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else 0.0,
                "failed": self.failed, "5xx": self.server_errors, "other_status": self.other_status,
                "malformed": self.malformed, "inconsistent": self.inconsistent, "examples": self.examples}


_MARKER_ROUND = re.compile(MARKER + r" (\d+)")
_TOTAL = re.compile(r"找到 <strong>(\d+)</strong> 条结果")


def client(port: int, deadline: float, load: Load, rng: random.Random, *, check_markers: bool) -> None:
    """Query until ``deadline`` over one keep-alive connection, checking every response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    last_round = -1
    while time.monotonic() < deadline:
        marker = check_markers and rng.random() < 0.4
        q = MARKER if marker else " ".join(rng.sample(WORDS, rng.choice((1, 1, 2))))
        args = {"q": q, "partial": "0"} if marker else {"q": q}  # the marker is counted among full matches
        if not marker and rng.random() < 0.3:
            args["sort"] = rng.choice(("newest", "oldest"))
        if not marker and rng.random() < 0.2:
            args["page"] = rng.randint(2, 4)
        page = rng.random() < 0.3
        path = ("/search?" if page else "/api/search?") + urlencode(args, quote_via=quote)
        started = time.perf_counter()
        try:
            status, body = request(port, path, conn)
        except (OSError, http.client.HTTPException) as exc:
            load.problem("failed", f"{path}: {exc!r}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        elapsed = time.perf_counter() - started
        with load.lock:
            load.requests += 1
            load.latencies.append(elapsed)
        if status >= 500:
            load.problem("server_errors", f"{status} {path}")
            continue
        if status != 200:
            load.problem("other_status", f"{status} {path}")
            continue
        seen = _check_body(load, path, body, page, marker)
        if seen is not None:
            if seen < last_round:
                load.problem("inconsistent", f"{path}: marker round {seen} after {last_round}")
            last_round = max(last_round, seen)
    conn.close()


def _check_body(load: Load, path: str, body: bytes, page: bool, marker: bool) -> int | None:
    """Check one 200 response; return the marker round it shows (marker queries), else None."""
    text = body.decode("utf-8", "replace")
    if page:
        if not (text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")):
            load.problem("malformed", f"{path}: not a whole HTML page")
            return None
        if not marker:
            return None
        total = _TOTAL.search(text)
        rounds = _MARKER_ROUND.findall(re.sub(r"</?mark>", "", text))
        if total is None or total.group(1) != "1" or not rounds:
            load.problem("inconsistent", f"{path}: marker total {total and total.group(1)}")
            return None
        return int(rounds[0])
    try:
        data = json.loads(text)
        ok = RESULT_FIELDS <= set(data) and all(HIT_FIELDS <= set(h) for h in data["hits"]) \
            and isinstance(data["total"], int) and len(data["hits"]) <= data["per_page"]
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        load.problem("malformed", f"{path}: {text[:200]}")
        return None
    if not marker:
        return None
    if data["total"] != 1 or not (m := _MARKER_ROUND.search(data["hits"][0]["title"])):
        load.problem("inconsistent", f"{path}: marker total {data['total']}")
        return None
    return int(m.group(1))


def run_load(port: int, seconds: float, *, threads: int, seed: int, check_markers: bool = True) -> Load:
    load = Load()
    deadline = time.monotonic() + seconds
    workers = [threading.Thread(target=client, args=(port, deadline, load, random.Random(seed + i)),
                                kwargs={"check_markers": check_markers}) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return load


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
