"""Query latency from a warm searcher, measured in a process of its own.

Run by the suite as ``python -m bench.latency INDEX MIX OUT``. A separate
process makes the searcher's memory measurable (its resident size after the
mix is what one web worker would hold) and keeps the suite's own memory out
of it. The mix runs once untimed to warm caches, then ``--rounds`` times timed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from search import Index, SearchError

from . import queries
from .measure import process_memory, run, summarise
from .queries import PER_PAGE, load_mix

REPO = Path(__file__).resolve().parents[1]


def time_mix(index_dir: Path, mix_file: Path, *, rounds: int) -> dict:
    """Return per-kind latencies (ms, every round), failures, open time and this process's memory."""
    mix = load_mix(mix_file)
    started = time.perf_counter()
    ix = Index.open(index_dir)
    open_s = time.perf_counter() - started
    timings: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    with ix:
        for round_no in range(rounds + 1):  # round 0 warms up
            for query in mix:
                started = time.perf_counter()
                try:
                    ix.search(query.text, page=query.page, per_page=PER_PAGE, sort=query.sort,
                              filters=query.filters, facets=query.facets)
                except SearchError as exc:
                    errors[query.text] = str(exc)
                    continue
                if round_no:
                    timings.setdefault(query.kind, []).append((time.perf_counter() - started) * 1000)
        memory = process_memory(os.getpid())
    return {"open_s": round(open_s, 3), "rounds": rounds, "ms": timings, "errors": errors,
            "rss_bytes": memory["rss"], "peak_rss_bytes": memory["peak_rss"]}


def run_mix(index_dir: Path, mix_file: Path, work: Path, rounds: int) -> dict:
    """Time the mix against ``index_dir`` in a child process (``work`` holds its output); return latency
    summaries by kind, for the generated news kinds and overall, with the searcher's memory."""
    latency, peak_pss = _time_in_child(index_dir, mix_file, work, rounds)
    return _summary(latency, peak_pss)


def compare_mix(index_dirs: list[Path], mix_file: Path, work: Path, rounds: int) -> list[dict]:
    """Time the mix against each of ``index_dirs`` in turn, one round each, ``rounds`` times over; return
    :func:`run_mix`'s summary for each.

    Taking turns puts whatever else the machine does at the time on every index
    alike, so their ratio holds on a busy machine where one index timed after
    the other would not.
    """
    timed: list[dict | None] = [None] * len(index_dirs)
    peaks = [0] * len(index_dirs)
    for _ in range(rounds):
        for i, index_dir in enumerate(index_dirs):
            latency, peak = _time_in_child(index_dir, mix_file, work, 1)
            peaks[i] = max(peaks[i], peak)
            if timed[i] is None:
                timed[i] = latency
            else:
                for kind, values in latency["ms"].items():
                    timed[i]["ms"].setdefault(kind, []).extend(values)
                timed[i]["errors"].update(latency["errors"])
    return [_summary(latency, peak) for latency, peak in zip(timed, peaks)]


def _time_in_child(index_dir: Path, mix_file: Path, work: Path, rounds: int) -> tuple[dict, int]:
    out = work / "latency.json"
    child = run([sys.executable, "-m", "bench.latency", str(index_dir), str(mix_file), str(out),
                 "--rounds", str(rounds)], cwd=REPO)
    return json.loads(out.read_text(encoding="utf-8")), child.peak_pss


def _summary(latency: dict, peak_pss: int) -> dict:
    by_kind = latency["ms"]
    return {"by_kind": {kind: summarise(values) for kind, values in by_kind.items()},
            "news": summarise([ms for kind in queries.NEWS_KINDS for ms in by_kind.get(kind, ())]),
            "overall": summarise([ms for kind in queries.MIX_KINDS for ms in by_kind.get(kind, ())]),
            "errors": latency["errors"], "open_s": latency["open_s"], "rss_bytes": latency["rss_bytes"],
            "peak_pss_bytes": peak_pss}


@click.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("mix_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rounds", type=click.IntRange(1, None), default=3, show_default=True,
              help="Timed passes over the mix, after one untimed warm-up pass.")
def main(index_dir: Path, mix_file: Path, out: Path, rounds: int) -> None:
    """Time every query of MIX_FILE (JSON lines, see bench.queries) against INDEX_DIR; write JSON to OUT.

    \b
    Example:
        python -m bench.latency /tmp/ix mix.jsonl latency.json --rounds 3
    """
    out.write_text(json.dumps(time_mix(index_dir, mix_file, rounds=rounds), ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
