"""The living archive: an index updated a thousand times, against a fresh build of the same posts.

A base of posts is built, then updates arrive as a feed delivers them: each
adds ``--posts`` new posts, and every tenth also changes ten and deletes two.
Every ``--every`` updates the run stops to compare the living index with a
fresh build of exactly the same posts: segments, the query mix (median and
p95, from a warm searcher in a child process, as ``bench.run`` measures it)
and size; the update times of the window are summarised beside them. At the
end the living index is optimized and compared once more.

Updates run in this process through the library (``update_index``), as
``news-search watch`` runs them: the segmenter is loaded once, so an update's
time is its own work (scan, index, merge, stories), which is what the
amortisation target is about. Writes ``living.json``, ``living.md`` and
``living.svg`` under ``--out``.

    python -m bench.living                                   # the issue's run: 10,000 + 1,000 x 10 posts
    python -m bench.living --base 2000 --updates 100 --every 25 --out /tmp/living
    python -m bench.living --smoke --out /tmp/living-smoke   # a minute; what tests/test_bench.py runs
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import click

from search import Index, build_index, optimize_index, update_index
from search.cli import demo_corpus
from search.local.merging import MergePolicy
from search.writing.storage import current_generation

from . import corpus, queries
from .chart import write_panels
from .latency import compare_mix
from .measure import bytes_by_kind, code_commit, dir_bytes, median, percentile
from .run import QUERY_SAMPLE

#: Targets of the living-archive issue.
MAX_SEGMENTS = 12
QUERY_P95_RATIO = 1.2
SIZE_RATIO = 1.1
UPDATE_P95_OVER_MEDIAN = 3.0
OPTIMIZED_SIZE_TOLERANCE = 0.05
#: Dev queries in the living run's mix (of 520), beside the generated kinds: the mix is timed four times
#: at each of ten checkpoints, so the whole file would make the run hours long.
LIVING_DEV_QUERIES = 100
#: Every this many updates also changes ``CHANGED`` posts and deletes ``DELETED``.
EDIT_EVERY, CHANGED, DELETED = 10, 10, 2

PANELS = (
    ("segments", (("living index", lambda c: c["living"]["segments"]),
                  ("most in the window", lambda c: c["window"]["max_segments"]),
                  ("fresh build", lambda c: c["fresh"]["segments"]))),
    ("query mix p95 (ms)", (("living index", lambda c: c["living"]["queries"]["overall"]["p95"]),
                            ("fresh build", lambda c: c["fresh"]["queries"]["overall"]["p95"]))),
    ("update wall time (s)", (("p95 of the window", lambda c: c["window"]["update_s"]["p95"]),
                              ("median of the window", lambda c: c["window"]["update_s"]["median"]))),
)


@click.command()
@click.option("--corpus", "corpus_spec", type=click.Path(exists=True, path_type=Path),
              default=corpus.DEFAULT_TARBALL, show_default=True, help="Posts: a directory, or a tarball to unpack.")
@click.option("--base", type=click.IntRange(1, None), default=10000, show_default=True,
              help="Posts built before the updates start.")
@click.option("--updates", type=click.IntRange(1, None), default=1000, show_default=True)
@click.option("--posts", "per_update", type=click.IntRange(1, None), default=10, show_default=True,
              help="New posts per update.")
@click.option("--every", type=click.IntRange(1, None), default=100, show_default=True,
              help="Compare with a fresh build after this many updates.")
@click.option("--rounds", type=click.IntRange(1, None), default=2, show_default=True,
              help="Timed passes over the query mix at each comparison.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench/results"),
              show_default=True)
@click.option("--smoke", is_flag=True, help="The demo corpus, 12 posts then 10 updates of 2: a minute.")
def main(corpus_spec: Path, base: int, updates: int, per_update: int, every: int, rounds: int, out: Path,
         smoke: bool) -> None:
    """Update an index a thousand times as a news feed would; compare it with fresh builds as it goes.

    \b
    Examples:
        python -m bench.living
        python -m bench.living --base 2000 --updates 100 --every 25 --out /tmp/living
    """
    if smoke:
        corpus_spec, base, updates, per_update, every, rounds = demo_corpus(), 12, 10, 2, 5, 2
    source = corpus.locate_corpus(corpus_spec)
    posts = corpus.post_paths(source)
    arriving = base + updates * per_update
    if len(posts) < arriving:
        raise click.ClickException(f"{source} holds {len(posts):,} posts; the run needs {arriving:,}")
    chosen = corpus.every_kth(posts, arriving)
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="news-search-living-") as scratch:
        work = Path(scratch)
        mix_file = out / "living-queries.jsonl"
        sample = queries.sample_documents(source, chosen, QUERY_SAMPLE)
        queries.save_mix(queries.make_mix(sample, per_kind=3 if smoke else 20,
                                          dev_limit=20 if smoke else LIVING_DEV_QUERIES), mix_file)
        run = LivingRun(source, chosen, work, mix_file, base=base, per_update=per_update, rounds=rounds)
        checkpoints = run.go(updates, every, keep=lambda points: _keep_partial(points, run, out))
        final = run.optimize()
    document = {
        "meta": {"started": run.started, "corpus": str(source), "base": base, "updates": updates,
                 "posts_per_update": per_update, "every": every, "query_rounds": rounds, "commit": code_commit(),
                 "policy": asdict(MergePolicy()),
                 "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in load_before],
                 "load_after": [round(x, 2) for x in os.getloadavg()]},
        "checkpoints": checkpoints,
        "all_updates": run.summary(),
        "optimized": final,
    }
    document["targets"] = check_targets(document)
    (out / "living.json").write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    write_panels(checkpoints, PANELS, out / "living.svg", x_of=lambda c: c["updates"], x_label="updates")
    table = render_table(document)
    (out / "living.md").write_text(table, encoding="utf-8")
    click.echo(table)
    _log(f"wrote {out / 'living.json'}, {out / 'living.md'} and {out / 'living.svg'}")


class LivingRun:
    """The corpus, the living index and the fresh builds of one run."""

    def __init__(self, source: Path, chosen: list[Path], work: Path, mix_file: Path, *, base: int,
                 per_update: int, rounds: int):
        self.source, self.work, self.mix_file, self.rounds = source, work, mix_file, rounds
        self.corpus_dir, self.index_dir = work / "corpus", work / "living"
        self.waiting = chosen[base:]  # in arrival order
        self.per_update = per_update
        self.rng = random.Random(5)
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.update_s: list[float] = []
        self.searchable_s: list[float] = []
        self.segments: list[int] = []
        self.merged_docs: list[int] = []
        corpus.link_tree(source, chosen[:base], self.corpus_dir)
        _log(f"building the base of {base:,} posts")
        build_index(self.corpus_dir, self.index_dir)

    def go(self, updates: int, every: int, keep: Callable[[list[dict]], None] = lambda points: None) -> list[dict]:
        """Run ``updates`` updates, comparing with a fresh build every ``every`` of them.

        ``keep`` is handed the checkpoints so far after each one, so that an
        hour-long run stopped half-way still leaves its measurements.
        """
        checkpoints = []
        for n in range(1, updates + 1):
            self._arrive(n)
            started = time.perf_counter()
            report = update_index(self.index_dir, self.corpus_dir)
            self.update_s.append(time.perf_counter() - started)
            self.searchable_s.append(report.searchable_after if report.searchable_after is not None
                                     else self.update_s[-1])
            self.segments.append(report.merge.segments_after if report.merge else self.segments[-1])
            self.merged_docs.append(report.merge.docs_merged if report.merge else 0)
            if n % every == 0 or n == updates:
                checkpoints.append(self._checkpoint(n, len(checkpoints) * every))
                keep(checkpoints)
        return checkpoints

    def _arrive(self, n: int) -> None:
        """Add this update's new posts; every :data:`EDIT_EVERY` updates, change and delete some too."""
        arriving, self.waiting = self.waiting[:self.per_update], self.waiting[self.per_update:]
        corpus.link_tree(self.source, arriving, self.corpus_dir)
        if n % EDIT_EVERY == 0:
            present = corpus.post_paths(self.corpus_dir)
            picked = self.rng.sample(present, CHANGED + DELETED)
            for i, post in enumerate(picked[:CHANGED]):
                corpus.append_sentence(post, n * CHANGED + i)
            for post in picked[CHANGED:]:
                post.unlink()

    def _checkpoint(self, n: int, since: int) -> dict:
        _log(f"after {n} updates: measuring the living index and a fresh build of the same posts")
        fresh_dir = self.work / "fresh"
        shutil.rmtree(fresh_dir, ignore_errors=True)
        started = time.perf_counter()
        build_index(self.corpus_dir, fresh_dir)
        fresh_build_s = time.perf_counter() - started
        living, fresh = self._measure(self.index_dir, fresh_dir)
        fresh["build_s"] = round(fresh_build_s, 2)
        window = self.update_s[since:n]
        return {"updates": n, "docs": living["docs"], "living": living, "fresh": fresh,
                "window": {"update_s": _seconds(window), "max_segments": max(self.segments[since:n]),
                           "merged_docs": sum(self.merged_docs[since:n])}}

    def _measure(self, *index_dirs: Path) -> list[dict]:
        """Measure each index; their query mixes are timed taking turns (:func:`compare_mix`)."""
        measured = []
        for index_dir, timed in zip(index_dirs, compare_mix(list(index_dirs), self.mix_file, self.work,
                                                            self.rounds)):
            with Index.open(index_dir) as ix:
                stats = ix.stats()
            measured.append({"docs": stats.docs, "segments": stats.segments, "deleted": stats.deleted,
                             "bytes": dir_bytes(current_generation(index_dir)),
                             "bytes_by_kind": bytes_by_kind(current_generation(index_dir)), "queries": timed})
        return measured

    def optimize(self) -> dict:
        """Optimize the living index; compare it with the last fresh build (the same posts)."""
        _log("optimizing the living index")
        started = time.perf_counter()
        report = optimize_index(self.index_dir)
        seconds = time.perf_counter() - started
        living, fresh = self._measure(self.index_dir, self.work / "fresh")
        return {"seconds": round(seconds, 2), "merged_docs": report.merged_docs, "living": living, "fresh": fresh}

    def summary(self) -> dict:
        """All updates: their wall time summarised, the slowest, and every update's own numbers."""
        return {"update_s": _seconds(self.update_s), "searchable_s": _seconds(self.searchable_s),
                "max_segments": max(self.segments), "merged_docs": sum(self.merged_docs),
                "each": {"seconds": [round(s, 3) for s in self.update_s],
                         "searchable_s": [round(s, 3) for s in self.searchable_s],
                         "merged_docs": self.merged_docs, "segments": self.segments},
                "slowest": [{"update": i + 1, "seconds": round(s, 2), "merged_docs": self.merged_docs[i]}
                            for i, s in sorted(enumerate(self.update_s), key=lambda x: -x[1])[:10]]}


def _seconds(values: list[float]) -> dict:
    return {"n": len(values), "median": round(median(values), 3), "p95": round(percentile(values, 95), 3),
            "max": round(max(values), 3)}


def check_targets(document: dict) -> list[dict]:
    """Return each target with its measured value and whether it was met."""
    points = document["checkpoints"]
    updates, optimized = document["all_updates"], document["optimized"]
    worst_query = max(c["living"]["queries"]["overall"]["p95"] / c["fresh"]["queries"]["overall"]["p95"]
                      for c in points)
    worst_size = max(c["living"]["bytes"] / c["fresh"]["bytes"] for c in points)
    size_after = optimized["living"]["bytes"] / optimized["fresh"]["bytes"]
    rows = [
        ("segments, at most", MAX_SEGMENTS, updates["max_segments"], updates["max_segments"] <= MAX_SEGMENTS),
        ("query p95 ÷ fresh build's, worst checkpoint", QUERY_P95_RATIO, round(worst_query, 3),
         worst_query <= QUERY_P95_RATIO),
        ("size ÷ fresh build's, worst checkpoint", SIZE_RATIO, round(worst_size, 3), worst_size <= SIZE_RATIO),
        ("update p95 ÷ median, all updates", UPDATE_P95_OVER_MEDIAN,
         round(updates["update_s"]["p95"] / updates["update_s"]["median"], 3),
         updates["update_s"]["p95"] <= UPDATE_P95_OVER_MEDIAN * updates["update_s"]["median"]),
        ("after optimize: segments = fresh build's", optimized["fresh"]["segments"], optimized["living"]["segments"],
         optimized["living"]["segments"] == optimized["fresh"]["segments"]),
        ("after optimize: size ÷ fresh build's within ±5%", 1.0, round(size_after, 3),
         abs(size_after - 1) <= OPTIMIZED_SIZE_TOLERANCE),
    ]
    return [{"target": t, "limit": limit, "value": value, "met": bool(met)} for t, limit, value, met in rows]


def render_table(document: dict) -> str:
    meta = document["meta"]
    lines = [f"# Living archive: {meta['base']:,} posts, then {meta['updates']:,} updates of "
             f"{meta['posts_per_update']} (every {EDIT_EVERY}th also changes {CHANGED} and deletes {DELETED})",
             "",
             f"commit {meta['commit']}, {meta['cpus']} cores, load {meta['load_before']} -> {meta['load_after']}; "
             f"query mix: {meta['query_rounds']} timed rounds per index, the two taking turns; "
             "updates through the library, segmenter loaded once",
             "",
             "| updates | posts | segments: now (most in window) / fresh | update s: median / p95 (window) "
             "| query ms: median / p95, living | fresh | p95 ratio | size MB: living / fresh (ratio) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [_checkpoint_row(c) for c in document["checkpoints"]]
    updates, optimized = document["all_updates"], document["optimized"]
    oq = optimized["living"]["queries"]["overall"]
    lines += ["",
              f"All {updates['update_s']['n']} updates: median {updates['update_s']['median']:.2f} s, "
              f"p95 {updates['update_s']['p95']:.2f} s, max {updates['update_s']['max']:.2f} s; "
              f"{updates['merged_docs']:,} posts merged in all.",
              f"Optimized in {optimized['seconds']:.1f} s: {optimized['living']['segments']} segments, "
              f"{optimized['living']['bytes'] / 1e6:.1f} MB, query mix {oq['median']:.1f} / {oq['p95']:.1f} ms.",
              "", "| target | limit | measured | met |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['limit']} | {t['value']} | {'yes' if t['met'] else 'NO'} |"
              for t in document["targets"]]
    return "\n".join(lines) + "\n"


def _checkpoint_row(c: dict) -> str:
    living, fresh = c["living"], c["fresh"]
    lq, fq = living["queries"]["overall"], fresh["queries"]["overall"]
    return (f"| {c['updates']} | {c['docs']:,} | {living['segments']} ({c['window']['max_segments']}) / "
            f"{fresh['segments']} | {c['window']['update_s']['median']:.2f} / {c['window']['update_s']['p95']:.2f} "
            f"| {lq['median']:.1f} / {lq['p95']:.1f} | {fq['median']:.1f} / {fq['p95']:.1f} "
            f"| {lq['p95'] / fq['p95']:.2f} | {living['bytes'] / 1e6:.1f} / {fresh['bytes'] / 1e6:.1f} "
            f"({living['bytes'] / fresh['bytes']:.3f}) |")


def _keep_partial(checkpoints: list[dict], run: LivingRun, out: Path) -> None:
    """Log the newest checkpoint's row; save it and every update so far to ``living-partial.json``."""
    _log(_checkpoint_row(checkpoints[-1]))
    partial = {"checkpoints": checkpoints, "all_updates": run.summary()}
    (out / "living-partial.json").write_text(json.dumps(partial, ensure_ascii=False, indent=1), encoding="utf-8")


def _log(message: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {message}", err=True)


if __name__ == "__main__":
    main(prog_name="python -m bench.living")
