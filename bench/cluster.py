"""The Sphinx cluster against the local index on one corpus: build speed, query speed, the same answers.

    python -m bench.cluster --corpus ../shared/corpus/rsshub --out /tmp/cluster-bench

Builds the local index and a local cluster (2 shards, each mirrored on 2 of
3 searchd nodes on 127.0.0.1, started in ``--out``) from the same posts, then
runs the dev queries as the web does (page 1, 10 hits, snippets, facets,
copies of a story folded): once one at a time for latency, then from
``--clients`` threads for throughput. Last, every dev query with every match
(``--limit 0``, the eval's batch contract) on both, for ``evaluate.py``'s
table, and with copies unfolded, for the agreement of the posts found and of
the top tens. Prints a Markdown report; writes ``results.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from search.local.backend import LocalBackend
from search.sphinx import SphinxBackend
from search.sphinx.cluster import MAP_FILE, load_map, plan_cluster, start, status, stop, write_map

from .measure import summarise
from .queries import DEV_QUERIES

EVALUATE = DEV_QUERIES.parent / "evaluate.py"


def timed_build(backend, corpus: Path) -> dict:
    started = time.perf_counter()
    report = backend.build(corpus)
    seconds = time.perf_counter() - started
    return {"docs": report.total_docs, "seconds": round(seconds, 1),
            "docs_per_s": round(report.total_docs / seconds, 1)}


def latency(ix, queries: list[str], rounds: int) -> dict:
    for q in queries:  # warm up
        ix.search(q)
    ms = []
    for _ in range(rounds):
        for q in queries:
            started = time.perf_counter()
            ix.search(q)
            ms.append((time.perf_counter() - started) * 1000)
    return summarise(ms) | {"qps_one_client": round(1000 * len(ms) / sum(ms), 1)}


def throughput(ix, queries: list[str], clients: int, rounds: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda q: ix.search(q), queries * rounds))
    return round(len(queries) * rounds / (time.perf_counter() - started), 1)


def batch(ix, queries: list[str], path: Path) -> list[int]:
    """Run the eval's batch contract (every match, no snippets) and write it to ``path``; return the totals."""
    lines, totals = [], []
    for q in queries:
        results = ix.search(q, per_page=0, snippets=False, facets=False)
        totals.append(results.total)
        lines.append(json.dumps({"query": q, "total": results.total, "ms": round(results.ms, 3),
                                 "hits": [{"path": h.id, "score": h.score} for h in results.hits]},
                                ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return totals


def posts(ix, queries: list[str]) -> list[tuple[set[str], list[str]]]:
    """Return every post each query matches (copies unfolded) and its top ten."""
    return [({h.id for h in ix.search(q, per_page=0, snippets=False, facets=False, fold=False).hits},
             [h.id for h in ix.search(q, snippets=False, facets=False, fold=False).hits]) for q in queries]


def evaluate(results: Path) -> dict:
    out = subprocess.run([sys.executable, str(EVALUATE), str(DEV_QUERIES), str(results), "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@click.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Working directory: the local index, the cluster's nodes, results.json.")
@click.option("--rounds", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--clients", type=click.IntRange(1, 64), default=4, show_default=True)
def main(corpus: Path, out: Path, rounds: int, clients: int) -> None:
    """Compare the local index and a 2-shard, 2-mirror Sphinx cluster on CORPUS."""
    out.mkdir(parents=True, exist_ok=True)
    queries = [json.loads(line)["q"] for line in DEV_QUERIES.read_text(encoding="utf-8").splitlines()]
    planned = plan_cluster(out / "cluster", shards=2, mirrors=2, nodes=3, base_port=19700)
    write_map(planned, out / "cluster" / MAP_FILE)
    cluster = load_map(out / "cluster" / MAP_FILE)
    start(cluster)
    try:
        backends = {"local": LocalBackend(out / "index"), "cluster": SphinxBackend.from_url(cluster.url, cluster.path)}
        report: dict = {"corpus": str(corpus), "queries": len(queries), "rounds": rounds, "clients": clients}
        totals, found = {}, {}
        for name, backend in backends.items():
            entry = report[name] = {"build": timed_build(backend, corpus)}
            with backend.open() as ix:
                entry["latency"] = latency(ix, queries, rounds)
                entry["qps_clients"] = throughput(ix, queries, clients, rounds)
                totals[name] = batch(ix, queries, out / f"{name}.jsonl")
                found[name] = posts(ix, queries)
            entry["eval"] = evaluate(out / f"{name}.jsonl")
        report["cluster"]["size_bytes"] = sum(s.size_bytes for s in status(cluster))
        pairs = list(zip(found["cluster"], found["local"], strict=True))
        report["same_result_sets"] = sum(c[0] == loc[0] for c, loc in pairs)
        report["same_story_counts"] = sum(c == loc for c, loc in zip(totals["cluster"], totals["local"]))
        overlaps = [len(set(c[1]) & set(loc[1])) / len(loc[1]) for c, loc in pairs if loc[1]]
        report["top10_overlap"] = round(sum(overlaps) / len(overlaps), 3)
        agree = sum(c[1][:1] == loc[1][:1] for c, loc in pairs if loc[1])
        report["top1_agree"] = round(agree / len(overlaps), 3)
    finally:
        stop(cluster)
    (out / "results.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    click.echo(markdown(report))


def markdown(report: dict) -> str:
    rows = ["| | local (Whoosh) | cluster (Sphinx, 2 shards x 2 mirrors, 3 nodes) |", "|---|---|---|"]
    for label, get in (("build (docs/s)", lambda e: f"{e['build']['docs_per_s']} ({e['build']['seconds']} s)"),
                       ("query median / p95, one client",
                        lambda e: f"{e['latency']['median']} / {e['latency']['p95']} ms"),
                       ("queries/s, one client", lambda e: e["latency"]["qps_one_client"]),
                       (f"queries/s, {report['clients']} clients", lambda e: e["qps_clients"])):
        rows.append(f"| {label} | {get(report['local'])} | {get(report['cluster'])} |")
    rows += ["", f"same posts found: {report['same_result_sets']}/{report['queries']}; same number of stories: "
             f"{report['same_story_counts']}/{report['queries']}; top-10 overlap {report['top10_overlap']}; "
             f"same first hit {report['top1_agree']}", "",
             "| type | local | cluster |", "|---|---|---|"]
    for kind, local in report["local"]["eval"].items():
        cluster = report["cluster"]["eval"][kind]
        keys = [k for k in local if k != "n"]
        rows.append(f"| {kind} | {' '.join(f'{k}={local[k]}' for k in keys)} | "
                    f"{' '.join(f'{k}={cluster[k]}' for k in keys)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
