"""The stress run: kill -9 of writers, load under updates, a memory soak and long fuzzing; one summary table.

Example (full run, about 20 minutes on two cores):

    python -m stress.run

Quick smoke run (under two minutes):

    python -m stress.run --kills 3 --load-seconds 10 --soak-minutes 0.5 --fuzz-examples 200
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from search import build_index
from search.cli import demo_corpus

from . import fuzz, kills, load

HERE = Path(__file__).resolve().parent
RSSHUB = HERE.parents[1] / "shared" / "corpus" / "rsshub"
PARTS = ("kills", "load", "soak", "fuzz")


def log(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


@click.command()
@click.option("--kills", "kill_count", type=click.IntRange(1, None), default=20, show_default=True,
              help="kill -9 rounds for build, update and optimize, each.")
@click.option("--kill-posts", type=click.IntRange(50, None), default=300, show_default=True,
              help="Posts in the synthetic corpus the killed writers index.")
@click.option("--load-seconds", type=click.FloatRange(1, None), default=60, show_default=True,
              help="Length of the load test (updates running all the time).")
@click.option("--soak-minutes", type=click.FloatRange(0.1, None), default=10, show_default=True,
              help="Length of the memory soak.")
@click.option("--soak-update-every", type=click.FloatRange(0, None), default=30, show_default=True,
              help="Pause between updates during the soak, in seconds.")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Client threads of the load generator.")
@click.option("--fuzz-examples", type=click.IntRange(1, None), default=3000, show_default=True,
              help="Hypothesis examples per fuzz target.")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Corpus for load and soak [default: ../shared/corpus/rsshub if present, else the demo].")
@click.option("--only", type=click.Choice(PARTS), multiple=True, help="Run only these parts (repeatable).")
@click.option("--seed", type=int, default=None, help="Random seed [default: random, printed].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=HERE / "results",
              show_default=True, help="Directory for the JSON summary and server logs.")
@click.option("--keep", is_flag=True, help="Keep the scratch directory (corpora and indexes).")
def main(kill_count, kill_posts, load_seconds, soak_minutes, soak_update_every, threads, fuzz_examples, corpus, only,
         seed, out, keep):
    """Stress the engine with real processes and files; print a summary table, write JSON to --out.

    Exits 1 if any check failed.

    \b
    Example:
        python -m stress.run --kills 3 --load-seconds 10 --soak-minutes 0.5 --fuzz-examples 200
    """
    parts = set(only or PARTS)
    seed = random.randrange(1 << 30) if seed is None else seed
    corpus = corpus or (RSSHUB if RSSHUB.is_dir() else demo_corpus())
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="news-search-stress-"))
    summary = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seed": seed,
               "settings": {"kills": kill_count, "kill_posts": kill_posts, "load_seconds": load_seconds,
                            "soak_minutes": soak_minutes, "soak_update_every": soak_update_every,
                            "threads": threads, "fuzz_examples": fuzz_examples, "corpus": str(corpus)},
               "load_average_start": load.load_average()}
    log(f"seed {seed}, scratch {workdir}, load average {summary['load_average_start']}")
    try:
        if "kills" in parts:
            summary["kills"] = [kills.run_kills(command, workdir / "kills", kills=kill_count, posts=kill_posts,
                                                seed=seed, log=log).to_dict()
                                for command in ("build", "update", "optimize")]
        if "load" in parts or "soak" in parts:
            root = workdir / "site"
            pool = load.prepare_corpus(corpus, root)
            log(f"building the load index from {corpus} ...")
            build_index(root / "posts", root / "index")
            if "load" in parts:
                summary["load"] = run_load_part(root, pool, out, seconds=load_seconds, threads=threads, seed=seed)
            if "soak" in parts:
                summary["soak"] = run_soak_part(root, pool, out, minutes=soak_minutes, threads=threads, seed=seed,
                                                update_every=soak_update_every)
        if "fuzz" in parts:
            index_dir = workdir / "site" / "index"
            if not index_dir.exists():
                build_index(demo_corpus(), index_dir)
            log(f"fuzzing, {fuzz_examples} examples per target ...")
            summary["fuzz"] = [fuzz.fuzz_corpus_reader(fuzz_examples), fuzz.fuzz_queries(index_dir, fuzz_examples),
                               fuzz.fuzz_api(index_dir, fuzz_examples)]
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    summary["load_average_end"] = load.load_average()
    summary["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    summary["ok"] = is_ok(summary)
    (out / "latest.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    stamp = summary["started"].replace(":", "").replace("-", "")[:15]
    shutil.copy(out / "latest.json", out / f"summary-{stamp}.json")
    click.echo(render_table(summary))
    sys.exit(0 if summary["ok"] else 1)


def run_load_part(root: Path, pool: list[Path], out: Path, *, seconds: float, threads: int, seed: int) -> dict:
    server = load.start_server(root / "index", out / "server-load.log")
    updates, stop = load.Updates(), threading.Event()
    updater = threading.Thread(target=load.update_loop, args=(root, root / "index", pool, stop, updates,
                                                               random.Random(seed)))
    try:
        log(f"load: {threads} clients for {seconds:.0f} s while update runs in a loop ...")
        updater.start()
        started = time.monotonic()
        result = load.run_load(server.port, seconds, threads=threads, seed=seed)
        elapsed = time.monotonic() - started
        stop.set()
        updater.join()
        alive = server.process.poll() is None
    finally:
        stop.set()
        server.stop(timeout=15)
    return {**result.summary(elapsed), "updates": updates.runs, "updates_failed": updates.failed,
            "update_mean_s": round(sum(updates.seconds) / len(updates.seconds), 2) if updates.seconds else None,
            "posts_added": updates.added, "posts_deleted": updates.deleted, "server_alive": alive,
            "load_average": load.load_average()}


def run_soak_part(root: Path, pool: list[Path], out: Path, *, minutes: float, threads: int, seed: int,
                  update_every: float) -> dict:
    """Steady queries for ``minutes`` (an update every ``update_every`` s); the server's RSS sampled every 10 s."""
    server = load.start_server(root / "index", out / "server-soak.log")
    updates, stop = load.Updates(), threading.Event()
    updater = threading.Thread(target=load.update_loop, args=(root, root / "index", pool, stop, updates,
                                                               random.Random(seed + 1)), kwargs={"pause": update_every})
    samples: list[tuple[float, dict[str, int]]] = []
    results: list[load.Load] = []
    try:
        log(f"soak: {minutes:g} min of steady queries from {max(1, threads // 2)} clients ...")
        load.run_load(server.port, 5, threads=2, seed=seed, check_markers=False)  # warm up, then measure
        started = time.monotonic()
        samples.append((0.0, load.rss_kib(server.process.pid)))
        updater.start()
        client = threading.Thread(target=lambda: results.append(load.run_load(
            server.port, minutes * 60, threads=max(1, threads // 2), seed=seed + 100)))
        client.start()
        while client.is_alive():
            client.join(10)
            samples.append((round(time.monotonic() - started, 1), load.rss_kib(server.process.pid)))
        stop.set()
        updater.join()
        alive = server.process.poll() is None
    finally:
        stop.set()
        server.stop(timeout=15)
    rss = [kib["rss"] for _, kib in samples]
    return {**results[0].summary(time.monotonic() - started), "rss_start_mib": round(rss[0] / 1024, 1),
            "rss_end_mib": round(rss[-1] / 1024, 1), "rss_max_mib": round(max(rss) / 1024, 1),
            "heap_start_mib": round(samples[0][1]["anon"] / 1024, 1),
            "heap_end_mib": round(samples[-1][1]["anon"] / 1024, 1),
            "rss_samples": samples, "updates": updates.runs, "updates_failed": updates.failed,
            "server_alive": alive, "load_average": load.load_average()}


def is_ok(summary: dict) -> bool:
    ok = all(not k["failures"] and k["verified"] == k["rounds"] == k["completed_after"]
             for k in summary.get("kills", []))
    for part in ("load", "soak"):
        if part in summary:
            s = summary[part]
            ok &= not (s["failed"] or s["5xx"] or s["other_status"] or s["malformed"] or s["inconsistent"]
                       or s["updates_failed"]) and s["server_alive"]
    ok &= all(f["failure"] is None for f in summary.get("fuzz", []))
    return ok


def render_table(summary: dict) -> str:
    rows = [("part", "check", "result")]
    for k in summary.get("kills", []):
        rows.append((f"kill -9 {k['command']}", f"{k['rounds']} rounds: {k['killed']} killed "
                     f"({k['killed_while_writing']} while writing a generation), "
                     f"{k['finished_before_kill']} finished first",
                     f"{k['verified']} answered as old or new corpus ({k['published_before_kill']} new), "
                     f"{k['completed_after']} next run clean, "
                     f"{len(k['failures'])} failures"))
    for part in ("load", "soak"):
        if part in summary:
            s = summary[part]
            rows.append((part, f"{s['requests']} requests in {s['seconds']:.0f} s, {s['updates']} updates",
                         f"{s['failed']} failed, {s['5xx']} 5xx, {s['malformed']} malformed, "
                         f"{s['inconsistent']} inconsistent"))
            rows.append((part, "throughput / latency", f"{s['req_per_s']} req/s, p50 {s['p50_ms']} ms, "
                         f"p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms"))
    if "soak" in summary:
        s = summary["soak"]
        rows.append(("soak", "server RSS", f"{s['rss_start_mib']} MiB at start, {s['rss_end_mib']} MiB at end "
                     f"(max {s['rss_max_mib']}; heap {s['heap_start_mib']} -> {s['heap_end_mib']} MiB)"))
    for f in summary.get("fuzz", []):
        rows.append(("fuzz", f["target"], f"{f['examples']} inputs, " + ("no failure" if f["failure"] is None
                                                                          else f"FAILED: {f['failure'][:80]}")))
    rows.append(("machine", "load average start / end",
                 f"{summary['load_average_start']} / {summary['load_average_end']}"))
    rows.append(("verdict", "", "PASS" if summary["ok"] else "FAIL"))
    widths = [max(_width(r[i]) for r in rows) for i in range(3)]
    lines = ["| " + " | ".join(_pad(c, widths[i]) for i, c in enumerate(row)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


if __name__ == "__main__":
    main()
