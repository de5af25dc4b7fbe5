"""Watch latency: how long after a post's file is complete a query finds it, with ``news-search watch`` running.

The real CLI watches a copy of the corpus (hard links) and its index. Posts
are dropped into the corpus as a feed would: first ``--trickle`` posts one a
second, then a burst of ``--burst`` posts written as fast as the disk takes
them. Each is a copy of an existing post with a probe word added to its body,
and its time is taken when its file is closed. A searcher in this process
watches for new generations (every 50 ms) and, for each, asks which probes it
finds: a probe's latency is the time from its file's close to the first
generation that holds it.

    python -m bench.watch --index /tmp/big-index --corpus /tmp/corpus-big --out bench/results
    python -m bench.watch --smoke --out /tmp/watch-smoke
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

from search import Index, build_index
from search.writing import storage
from search.cli import demo_corpus

from . import corpus
from .measure import code_commit, median, percentile

PROBE = "watchprobe"
#: Targets of the living-archive issue (seconds).
MEDIAN_TARGET, P95_TARGET = 5.0, 10.0


@click.command()
@click.option("--index", "index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="An index of --corpus (copied by hard links; the original is not touched).")
@click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="The posts the index was built from.")
@click.option("--trickle", type=click.IntRange(0, None), default=100, show_default=True,
              help="Posts dropped one a second.")
@click.option("--burst", type=click.IntRange(0, None), default=1000, show_default=True,
              help="Posts dropped at once, after the trickle.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench/results"),
              show_default=True)
@click.option("--smoke", is_flag=True, help="The demo corpus, 5 posts a second then a burst of 20.")
def main(index_dir: Path | None, corpus_dir: Path | None, trickle: int, burst: int, out: Path, smoke: bool) -> None:
    """Measure how soon `news-search watch` makes new posts searchable.

    \b
    Example:
        python -m bench.watch --index /tmp/big-index --corpus /tmp/corpus-big
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="news-search-watch-") as scratch:
        work = Path(scratch)
        if smoke:
            corpus_dir, trickle, burst = demo_corpus(), 5, 20
        if corpus_dir is None:
            raise click.UsageError("give --corpus (and --index built from it), or --smoke")
        posts = corpus.post_paths(corpus_dir)
        live_corpus, live_index = work / "corpus", work / "index"
        corpus.link_tree(corpus_dir, posts, live_corpus)
        if index_dir is None:
            _log(f"building an index of {len(posts):,} posts")
            build_index(live_corpus, live_index)
        else:
            shutil.copytree(index_dir, live_index, copy_function=os.link)  # generations are never modified
        _retarget(live_index, live_corpus)
        templates = corpus.every_kth(posts, trickle + burst)
        result = measure(live_index, live_corpus, templates, trickle=trickle, work=work)
    result["meta"] = {"corpus": str(corpus_dir), "posts": len(posts), "commit": code_commit(),
                      "cpus": os.cpu_count(), "load_after": [round(x, 2) for x in os.getloadavg()]}
    (out / "watch.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    table = render_table(result)
    (out / "watch.md").write_text(table, encoding="utf-8")
    click.echo(table)


def measure(index_dir: Path, corpus_dir: Path, templates: list[Path], *, trickle: int, work: Path) -> dict:
    """Run ``news-search watch`` and drop probe posts; return the latencies of both phases."""
    log_file = work / "watch.log"
    with open(log_file, "w") as log, subprocess.Popen(
            [sys.executable, "-m", "search", "watch", "--index", str(index_dir)], stderr=log) as watcher:
        try:
            _wait(lambda: "watching" in log_file.read_text(encoding="utf-8"), 300)
            found = _Finder(index_dir)
            found.start()
            phases = {}
            for name, posts, pause in (("trickle", templates[:trickle], 1.0), ("burst", templates[trickle:], 0.0)):
                if not posts:
                    continue
                _log(f"{name}: dropping {len(posts)} posts" + (f", one every {pause:g} s" if pause else " at once"))
                closed = _drop(posts, corpus_dir, pause, start=len(found.closed))
                found.closed.update(closed)
                _wait(lambda probes=set(closed): probes <= found.seen.keys(), 600)
                latencies = [found.seen[probe] - at for probe, at in closed.items()]
                phases[name] = {"posts": len(posts), "median_s": round(median(latencies), 2),
                                "p95_s": round(percentile(latencies, 95), 2), "max_s": round(max(latencies), 2)}
            found.stop()
        finally:
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(timeout=120)
    batches = [line for line in log_file.read_text(encoding="utf-8").splitlines() if " added " in line]
    return {"phases": phases, "batches": len(batches), "log": batches[-20:]}


class _Finder(threading.Thread):
    """Watches for new generations; records when each probe was first found."""

    def __init__(self, index_dir: Path):
        super().__init__(daemon=True)
        self.index_dir = index_dir
        self.closed: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self._done = threading.Event()

    def run(self) -> None:
        key = None
        with Index.open(self.index_dir) as ix:
            while not self._done.wait(0.05):
                now, current = time.time(), storage.generation_key(self.index_dir)
                if current == key:
                    continue
                key = current
                hits = ix.search(PROBE, per_page=0, snippets=False, facets=False, fold=False, partial=False).hits
                for hit in hits:
                    self.seen.setdefault(Path(hit.id).stem, now)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _drop(templates: list[Path], corpus_dir: Path, pause: float, *, start: int) -> dict[str, float]:
    """Write a probe copy of each template into ``corpus_dir``; return each probe's close time."""
    closed = {}
    for i, template in enumerate(templates, start):
        probe = f"{PROBE}{i:05d}"
        target = corpus_dir / "probes" / f"{probe}.md"
        target.parent.mkdir(exist_ok=True)
        with open(target, "wb") as out:
            out.write(template.read_bytes() + f"\n<p>{probe}</p>\n".encode())
        closed[probe] = time.time()
        if pause:
            time.sleep(pause)
    return closed


def _retarget(index_dir: Path, corpus_dir: Path) -> None:
    """Point a copied index's metadata at the copied corpus (what ``watch`` follows by default)."""
    generation = storage.current_generation(index_dir)
    meta = storage.read_json(generation / storage.META)
    (generation / storage.META).unlink()  # a hard link to the original: replace, never write through it
    storage.write_json(generation / storage.META, {**meta, "corpus": str(corpus_dir)})


def render_table(result: dict) -> str:
    lines = [f"# Watch latency ({result['meta']['posts']:,} posts, commit {result['meta']['commit']})", "",
             "| phase | posts | median | p95 | max | target |", "|---|---|---|---|---|---|"]
    for name, phase in result["phases"].items():
        met = phase["median_s"] <= MEDIAN_TARGET and phase["p95_s"] <= P95_TARGET
        lines.append(f"| {name} | {phase['posts']} | {phase['median_s']:.2f} s | {phase['p95_s']:.2f} s "
                     f"| {phase['max_s']:.2f} s | ≤ {MEDIAN_TARGET:g} / {P95_TARGET:g} s: {'yes' if met else 'NO'} |")
    lines += ["", f"{result['batches']} batches; load after {result['meta']['load_after']}"]
    return "\n".join(lines) + "\n"


def _wait(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise click.ClickException("timed out waiting for the watcher")
        time.sleep(0.05)


def _log(message: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {message}", err=True)


if __name__ == "__main__":
    main(prog_name="python -m bench.watch")
