"""Suggestions as you type: ``/api/suggest`` latency, with ``/api/stats`` as the baseline in the same run.

``/api/stats`` is the cheapest answer the API gives (cached statistics through
the same Flask app, JSON encoding and index lookup), so the ratio is what
completing a prefix adds to a request. The prefixes are what readers type on
the way to the index's common title words: each word's first 1, 2, … characters,
its pinyin a few letters at a time, and its initials. One untimed pass builds
the vocabulary's lookup tables (reported as the cold start), then every prefix
is timed ``--rounds`` times, interleaved with the baseline.

    python -m bench.suggest /tmp/qu-big --words 300 --rounds 3
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import click

from web import create_app


def typed_prefixes(vocabulary, words: int) -> list[str]:
    """Return the prefixes readers type on the way to ``words`` title words, taken evenly from the commonest
    few thousand."""
    ranked = sorted((vocabulary.word(i) for i in range(len(vocabulary))), key=lambda w: (-w.titles, w.text))
    common = [w for w in ranked if w.titles and len(w.text) >= 2 and not w.is_phrase][:words * 10]
    chosen = common[::max(1, len(common) // words)][:words]
    prefixes = []
    for word in chosen:
        prefixes += [word.text[:n] for n in range(1, len(word.text) + 1)]
        if word.spellings:
            spelt = "".join(word.spellings[0])
            prefixes += [spelt[:n] for n in range(2, len(spelt) + 1, 2)]
            prefixes.append(word.initials)
    return prefixes


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(index_dir: Path, *, words: int, rounds: int) -> dict:
    """Return the cold start and the per-request latencies (ms) of suggestions and of the baseline."""
    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    client.get("/api/stats")  # opens the index
    from web.index import get_index

    with client.application.app_context():
        vocabulary = get_index()._vocabulary
    prefixes = typed_prefixes(vocabulary, words)
    started = time.perf_counter()
    client.get("/api/suggest", query_string={"q": prefixes[0]})
    cold = (time.perf_counter() - started) * 1000
    for prefix in prefixes:  # warm: the tables, the short-prefix caches
        client.get("/api/suggest", query_string={"q": prefix})
    timed: dict[str, list[float]] = {"suggest": [], "stats": [], "suggest CPU": [], "stats CPU": []}
    for _ in range(rounds):
        for prefix in prefixes:
            for name, url in (("suggest", "/api/suggest"), ("stats", "/api/stats")):
                started, cpu = time.perf_counter(), time.thread_time()
                response = client.get(url, query_string={"q": prefix} if name == "suggest" else None)
                timed[name].append((time.perf_counter() - started) * 1000)
                timed[f"{name} CPU"].append((time.thread_time() - cpu) * 1000)
                assert response.status_code == 200
    return {"prefixes": len(prefixes), "cold_ms": cold, **timed}


@click.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--words", type=click.IntRange(1, None), default=300, show_default=True,
              help="Title words whose prefixes are typed.")
@click.option("--rounds", type=click.IntRange(1, None), default=3, show_default=True, help="Timed passes.")
def main(index_dir: Path, words: int, rounds: int) -> None:
    """Print /api/suggest latency on INDEX_DIR next to /api/stats, measured in the same run."""
    result = run(index_dir, words=words, rounds=rounds)
    click.echo(f"{result['prefixes']} prefixes x {rounds} rounds; "
               f"first request {result['cold_ms']:.0f} ms")
    click.echo(f"{'':22}{'p50':>8}{'p95':>8}{'p99':>8}  (ms; CPU: this thread's time, without waiting)")
    for name in ("suggest", "stats", "suggest CPU", "stats CPU"):
        values = result[name]
        click.echo(f"/api/{name:<17}{statistics.median(values):8.2f}{percentile(values, 0.95):8.2f}"
                   f"{percentile(values, 0.99):8.2f}")
    ratio = percentile(result["suggest"], 0.95) / percentile(result["stats"], 0.95)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    click.echo(f"suggest p95 / baseline p95: {ratio:.2f}x; load average {load}")


if __name__ == "__main__":
    main()
