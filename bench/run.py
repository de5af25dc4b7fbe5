"""Run the whole benchmark: build, update, query and web measurements at several corpus sizes.

``python -m bench.run --help`` explains the options. Each size is measured in
turn, one thing at a time (the machine has two cores, and every measurement
wants both), and the results go to ``--out``: results.json, results.md (the
printed table) and scaling.svg.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import click

if __package__ in (None, ""):  # run as ``python bench/run.py``: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.text.analysis import ENGINES, Segmenter  # noqa: E402
from search.cli import demo_corpus  # noqa: E402
from search.writing.storage import current_generation  # noqa: E402

from bench import classic, corpus, floor, queries, report, web  # noqa: E402
from bench.chart import write_chart  # noqa: E402
from bench.latency import run_mix  # noqa: E402
from bench.measure import BenchError, code_commit, dir_bytes, median, run, summarise  # noqa: E402

DEFAULT_SIZES = (2000, 10000, 30000, 56642)
DEFAULT_OUT = corpus.REPO / "bench" / "results"
#: Posts read to draw the generated queries from (spread over the whole corpus).
QUERY_SAMPLE = 1000
#: Posts changed and added before the timed update (the issue's scenario).
UPDATE_POSTS = 100
#: Longest a single build may run before the benchmark gives up on it (the 56k classic build is the slowest).
BUILD_TIMEOUT = 4 * 3600


class SizeList(click.ParamType):
    """Comma-separated document counts, e.g. ``2000,10000``."""

    name = "sizes"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            sizes = tuple(int(v) for v in str(value).split(",") if v.strip())
        except ValueError:
            self.fail(f"{value!r} should be comma-separated whole numbers, e.g. 2000,10000", param, ctx)
        if not sizes or min(sizes) < 1:
            self.fail(f"{value!r} should name at least one size, each 1 or more", param, ctx)
        return tuple(sorted(set(sizes)))


@click.command()
@click.option("--corpus", "corpus_spec", type=click.Path(exists=True, path_type=Path), default=corpus.DEFAULT_TARBALL,
              show_default=True, help="Directory of posts, or a tarball unpacked once into "
                                      f"{corpus.CACHE_DIR} and reused.")
@click.option("--sizes", type=SizeList(), default=",".join(map(str, DEFAULT_SIZES)), show_default=True,
              help="Document counts to measure: every k-th post in name order. Sizes above the corpus mean all of it.")
@click.option("--repeat", type=click.IntRange(1, None), default=3, show_default=True,
              help="Timed runs of each build and of the segmentation floor; the median is reported.")
@click.option("--rounds", type=click.IntRange(1, None), default=3, show_default=True,
              help="Timed passes over the query mix (after one warm-up pass).")
@click.option("--web-seconds", type=click.IntRange(1, None), default=15, show_default=True,
              help="Duration of the wrk load on /api/search.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Where to write results.json, results.md, scaling.svg and the query mix (queries.jsonl).")
@click.option("--segmenter", type=click.Choice(ENGINES), default="jieba", show_default=True,
              help="Segmenter our builds use. The floor is always jieba's (the issue's yardstick); with rjieba "
                   "its own floor is measured too.")
@click.option("--skip-classic", is_flag=True, help="Do not build or query the classic engine.")
@click.option("--skip-web", is_flag=True, help="Do not load-test the web server.")
@click.option("--smoke", is_flag=True,
              help="A tiny run on the bundled demo corpus (1 repeat, few queries, short load): checks the suite works.")
def main(corpus_spec: Path, sizes: tuple[int, ...], repeat: int, rounds: int, web_seconds: int, out: Path,
         segmenter: str, skip_classic: bool, skip_web: bool, smoke: bool) -> None:
    """Benchmark news-search: build, update, queries and web, against the targets of the issue.

    For each size: jieba's segmentation floor on 2 processes, full builds
    (`news-search build`, wall time, CPU, peak memory of the process tree,
    index size), the classic engine on the same posts, an update after 100
    changed and 100 new posts, the query mix from a warm searcher (latency by
    kind, searcher memory) and wrk on /api/search with 8 clients. Prints a
    table with pass/fail marks and writes it with results.json and a scaling
    chart to --out.

    A full run (all four sizes, 3 repeats) takes hours on two cores; the
    56,642-document build alone takes about half an hour.

    \b
    Examples:
        python -m bench.run --sizes 2000,10000 --repeat 1
        python -m bench.run --smoke --out /tmp/bench-smoke
        python -m bench.run --corpus ~/blog/source/_posts --sizes 500 --skip-classic
        python -m bench.run --sizes 56642 --segmenter rjieba --repeat 1
    """
    if smoke:
        corpus_spec, sizes, repeat, rounds, web_seconds = demo_corpus(), (sys.maxsize,), 1, 1, 3  # every post
    if not skip_web and not web.has_wrk():
        raise click.ClickException("wrk is not installed: install it (apt-get install wrk) or pass --skip-web")
    if not skip_classic and not classic.CLASSIC_ENGINE.exists():
        raise click.ClickException(f"the classic engine is not at {classic.CLASSIC_ENGINE}; pass --skip-classic")
    if not skip_classic and importlib.util.find_spec("bs4") is None:
        raise click.ClickException("the classic engine needs BeautifulSoup: pip install -e '.[bench]', "
                                   "or pass --skip-classic")
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_before = os.getloadavg()
    try:
        corpus_dir = corpus.locate_corpus(corpus_spec)
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        raise click.ClickException(f"cannot use corpus {corpus_spec}: {exc}") from None
    posts = corpus.post_paths(corpus_dir)
    if not posts:
        raise click.ClickException(f"no posts (*.md) under {corpus_dir}")
    out.mkdir(parents=True, exist_ok=True)
    _log(f"corpus {corpus_dir}: {len(posts):,} posts; drawing the query mix")
    try:
        mix = queries.make_mix(queries.sample_documents(corpus_dir, posts, QUERY_SAMPLE),
                               per_kind=3 if smoke else 20, dev_limit=20 if smoke else None)
    except ValueError as exc:
        raise click.ClickException(f"cannot draw queries from {corpus_dir}: {exc}") from None
    mix_file = out / "queries.jsonl"
    queries.save_mix(mix, mix_file)
    options = {"repeat": repeat, "rounds": rounds, "web_seconds": web_seconds, "segmenter": segmenter,
               "skip_classic": skip_classic,
               "skip_web": skip_web, "total_posts": len(posts), "update_posts": 5 if smoke else UPDATE_POSTS}
    try:
        results = [measure_size(corpus_dir, posts, n, mix_file, **options)
                   for n in sorted({min(n, len(posts)) for n in sizes})]
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    document = {
        "meta": {"started": started, "corpus": str(corpus_dir), "corpus_posts": len(posts), "cpus": os.cpu_count(),
                 "load_before": [round(x, 2) for x in load_before],
                 "load_after": [round(x, 2) for x in os.getloadavg()], "commit": code_commit(),
                 "python": platform.python_version(), "repeat": repeat, "query_rounds": rounds,
                 "segmenter": Segmenter(segmenter).name,
                 "queries": {kind: sum(q.kind == kind for q in mix) for kind in queries.KINDS}},
        "sizes": results,
        "targets": report.check_targets(results),
    }
    report.write_json(document, out / "results.json")
    write_chart(results, out / "scaling.svg")
    table = report.render_table(document)
    (out / "results.md").write_text(table, encoding="utf-8")
    click.echo(table)
    _log(f"wrote {out / 'results.json'}, {out / 'results.md'} and {out / 'scaling.svg'}")


def measure_size(corpus_dir: Path, posts: list, n: int, mix_file: Path, *, repeat: int, rounds: int,
                 web_seconds: int, segmenter: str, skip_classic: bool, skip_web: bool, total_posts: int,
                 update_posts: int) -> dict:
    """Return every measurement for ``n`` posts of the corpus (every k-th, see :func:`corpus.every_kth`)."""
    subset = corpus.subset_dir(corpus_dir, posts, n)
    texts = corpus.read_texts(subset, corpus.post_paths(subset))
    body_bytes = sum(t.body_bytes for t in texts)
    _log(f"[{n}] {len(texts):,} readable posts, {body_bytes / 1e6:.1f} MB of body text; segmentation floor")
    floor_runs = [floor.segment_corpus([t.folded for t in texts]) for _ in range(repeat)]
    floor_s, floor_cpu = median([r.wall_s for r in floor_runs]), median([r.cpu_s for r in floor_runs])
    result = {"posts": n, "body_bytes": body_bytes, "segmenter": segmenter,
              "floor": {"seconds": round(floor_s, 2), "cpu_s": round(floor_cpu, 2),
                        "runs": _rounded(r.wall_s for r in floor_runs), "procs": 2}}
    if segmenter != "jieba":
        own = [floor.segment_corpus([t.folded for t in texts], segmenter=Segmenter(segmenter)) for _ in range(repeat)]
        result["segmenter_floor"] = {"seconds": round(median([r.wall_s for r in own]), 2),
                                     "cpu_s": round(median([r.cpu_s for r in own]), 2)}
    del texts  # the folded text is as large as the corpus; the builds should not compete with it for memory
    with tempfile.TemporaryDirectory(prefix="news-search-bench-") as tmp:
        work = Path(tmp)
        index_dir, build = _build_ours(subset, work, repeat, body_bytes, segmenter)
        build["vs_floor"] = round(build["wall_s"] / floor_s, 2)
        build["cpu_vs_floor"] = round(build["cpu_s"] / floor_cpu, 2)
        build["projected_full_s"] = round(build["wall_s"] * total_posts / n, 1)
        result["docs"], result["build"] = build["report"]["docs"], build
        if not skip_classic:
            result["classic"] = _classic(subset, work, repeat, mix_file)
        result["update"] = _update(subset, index_dir, work, update_posts)
        _log(f"[{n}] query mix, {rounds} timed rounds")
        result["queries"] = run_mix(index_dir, mix_file, work, rounds)
        if not skip_web:
            _log(f"[{n}] web: wrk for {web_seconds} s")
            paths = [q.url() for q in queries.load_mix(mix_file) if q.kind in queries.MIX_KINDS]
            log = work / "serve.log"
            try:
                result["web"] = web.load_test(index_dir, paths, seconds=web_seconds, log=log)
            except RuntimeError as exc:
                tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
                raise BenchError(f"web load test: {exc}\nserver log:\n{tail}") from None
    return result


def _build_ours(subset: Path, work: Path, repeat: int, body_bytes: int, segmenter: str) -> tuple[Path, dict]:
    """Build ``repeat`` times; return the last index and the build's figures (medians over the runs)."""
    runs = []
    for i in range(repeat):
        index_dir = work / f"index-{i}"
        _log(f"  build {i + 1}/{repeat} of {subset.name}")
        runs.append(run([sys.executable, "-m", "search", "build", "--corpus", str(subset), "--index", str(index_dir),
                         "--segmenter", segmenter, "-q", "--json"], ok_codes=(0, 3), timeout=BUILD_TIMEOUT))
        if i < repeat - 1:
            shutil.rmtree(index_dir)
    build_report = json.loads(runs[-1].stdout)
    wall = median([r.wall_s for r in runs])
    index_bytes = dir_bytes(current_generation(index_dir))
    return index_dir, {
        "wall_s": round(wall, 2), "runs": _rounded(r.wall_s for r in runs),
        "cpu_s": round(median([r.cpu_s for r in runs]), 2), "cores": round(median([r.cores for r in runs]), 2),
        "peak_rss_bytes": max(r.peak_rss for r in runs), "peak_pss_bytes": max(r.peak_pss for r in runs),
        "docs_per_s": round(build_report["docs"] / wall, 1), "mb_per_s": round(body_bytes / 1e6 / wall, 3),
        "index_bytes": index_bytes, "index_ratio": round(index_bytes / body_bytes, 3), "report": build_report,
    }


def _classic(subset: Path, work: Path, repeat: int, mix_file: Path) -> dict:
    runs = []
    for i in range(repeat):
        index_dir = work / f"classic-{i}"
        _log(f"  classic build {i + 1}/{repeat}")
        runs.append(classic.build(subset, index_dir, timeout=BUILD_TIMEOUT))
        if i < repeat - 1:
            shutil.rmtree(index_dir)
    docs = json.loads(runs[-1].stdout)["docs"]
    wall = median([r.wall_s for r in runs])
    dev = [q.text for q in queries.load_mix(mix_file) if q.kind == "dev"]
    return {
        "build": {"wall_s": round(wall, 2), "runs": _rounded(r.wall_s for r in runs), "docs": docs,
                  "docs_per_s": round(docs / wall, 1), "cpu_s": round(median([r.cpu_s for r in runs]), 2),
                  "cores": round(median([r.cores for r in runs]), 2),
                  "peak_rss_bytes": max(r.peak_rss for r in runs), "index_bytes": dir_bytes(index_dir)},
        "query_ms": summarise(classic.query_ms(index_dir, dev)) if dev else {"n": 0},
    }


def _update(subset: Path, index_dir: Path, work: Path, posts: int) -> dict:
    """Time ``news-search update`` after changing and adding ``posts`` posts, on a copy of the built index."""
    edited, copy = work / "update-corpus", work / "update-index"
    changed, added = corpus.make_update_corpus(subset, edited, changed=posts, added=posts)
    shutil.copytree(index_dir, copy, copy_function=os.link)  # generations are never modified in place
    _log(f"  update after {changed} changed and {added} new posts")
    result = run([sys.executable, "-m", "search", "update", "--index", str(copy), "--corpus", str(edited),
                  "-q", "--json"], ok_codes=(0, 3))
    _log("  optimize after the update (merging every segment, purging the changed posts' old copies)")
    merged = run([sys.executable, "-m", "search", "optimize", "--index", str(copy), "-q", "--json"])
    shutil.rmtree(copy)
    shutil.rmtree(edited)
    return {"wall_s": round(result.wall_s, 2), "changed": changed, "added": added,
            "peak_pss_bytes": result.peak_pss, "report": json.loads(result.stdout),
            "optimize": {"wall_s": round(merged.wall_s, 2), "cpu_s": round(merged.cpu_s, 2),
                         "peak_pss_bytes": merged.peak_pss, "peak_rss_bytes": merged.peak_rss,
                         "report": json.loads(merged.stdout)}}


def _rounded(values) -> list[float]:
    return [round(v, 2) for v in values]


def _log(message: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {message}", err=True)


if __name__ == "__main__":
    main(prog_name="python -m bench.run")
