"""The results: the issue's targets, the printed table (also saved as Markdown) and results.json.

The table has one column per corpus size. Targets are stated for the full
news-big corpus; at smaller sizes the size-free ones (ratios, latencies,
memory) are marked as they are, and the 5-minute build is judged on the time
projected linearly to the full corpus, so a reader sees early where a full
build would land.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .queries import KINDS

MB = 1e6
#: A build "uses both cores" when it keeps this many busy on average (start-up and merging are serial).
BOTH_CORES = 1.7


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: a value read from a size's results, compared with a limit."""

    label: str
    value: Callable[[dict], float | None]
    compare: Callable[[float, float], bool]
    limit: Callable[[dict], float | None]

    def check(self, size: dict) -> bool | None:
        """Return whether ``size`` meets the target, or None if it was not measured."""
        try:
            value, limit = self.value(size), self.limit(size)
        except (KeyError, TypeError):
            return None
        if value is None or limit is None:
            return None
        return self.compare(value, limit)


def _fixed(limit: float) -> Callable[[dict], float]:
    return lambda size: limit


TARGETS = (
    Target("full build ≤ 5 min (projected to the whole corpus)", lambda s: s["build"]["projected_full_s"],
           operator.le, _fixed(300)),
    Target("build peak memory (PSS, process tree) ≤ 1.5 GB", lambda s: s["build"]["peak_pss_bytes"],
           operator.le, _fixed(1.5e9)),
    Target(f"build uses both cores (≥ {BOTH_CORES} busy)", lambda s: s["build"]["cores"], operator.ge,
           _fixed(BOTH_CORES)),
    Target("build ≤ 3x segmentation floor", lambda s: s["build"]["vs_floor"], operator.le, _fixed(3)),
    Target("update 100 changed + 100 new < 15 s", lambda s: s["update"]["wall_s"], operator.lt, _fixed(15)),
    Target("optimize peak memory (PSS) ≤ the build's", lambda s: s["update"]["optimize"]["peak_pss_bytes"],
           operator.le, lambda s: s["build"]["peak_pss_bytes"]),
    Target("query median ≤ 10 ms (overall mix)", lambda s: s["queries"]["overall"]["median"], operator.le,
           _fixed(10)),
    Target("query p95 ≤ 50 ms (overall mix)", lambda s: s["queries"]["overall"]["p95"], operator.le, _fixed(50)),
    Target("index ≤ 3x body text", lambda s: s["build"]["index_ratio"], operator.le, _fixed(3)),
    Target("web server memory (PSS, all workers) ≤ 500 MB", lambda s: s["web"]["server_pss_bytes"], operator.le,
           _fixed(500 * MB)),
    Target("web ≥ 100 requests/s (8 clients)", lambda s: s["web"]["requests_per_s"], operator.ge, _fixed(100)),
    Target("web p99 ≤ 200 ms", lambda s: s["web"]["latency_ms"]["p99"], operator.le, _fixed(200)),
    Target("build docs/s ≥ 3x classic", lambda s: s["build"]["docs_per_s"], operator.ge,
           lambda s: 3 * s["classic"]["build"]["docs_per_s"]),
    Target("dev-query p95 ≤ classic's", lambda s: s["queries"]["by_kind"]["dev"]["p95"], operator.le,
           lambda s: s["classic"]["query_ms"]["p95"]),
)


def check_targets(sizes: list[dict]) -> list[dict]:
    """Return each target with its verdict per size (True, False, or None when not measured)."""
    return [{"target": t.label, "met": [t.check(s) for s in sizes]} for t in TARGETS]


def write_json(results: dict, path: Path) -> None:
    """Write the whole results document."""
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def render_table(results: dict) -> str:
    """Return the results as a Markdown table (one column per size) followed by the targets."""
    sizes = results["sizes"]
    header = ["", *(f"{s['docs']:,} docs" for s in sizes)]
    rows = [[label, *(_cell(fn, s) for s in sizes)] for label, fn in _ROWS]
    lines = [_row(header), _row(["---"] * len(header)), *map(_row, rows), ""]
    lines += ["Query latency (ms, median / p95 / p99; warm searcher, 10 results with snippets):", ""]
    lines += [_row(["kind", *header[1:]]), _row(["---"] * len(header))]
    for kind in (*KINDS, "news", "overall", "classic (dev)"):
        lines.append(_row([kind, *(_latency(_kind_summary(s, kind)) for s in sizes)]))
    lines += ["", "Targets (stated for the full news-big corpus):", ""]
    lines += [_row(["target", *header[1:]]), _row(["---"] * len(header))]
    for target in results["targets"]:
        lines.append(_row([target["target"], *({True: "✓", False: "✗", None: "–"}[m] for m in target["met"])]))
    meta = results["meta"]
    lines += ["", (f"Machine: {meta['cpus']} cores, load average {meta['load_before']} before and "
                   f"{meta['load_after']} after; commit {meta['commit']}; {meta['started']}.")]
    return "\n".join(lines) + "\n"


def _kind_summary(size: dict, kind: str) -> dict | None:
    if kind == "classic (dev)":
        return (size.get("classic") or {}).get("query_ms")
    if kind in ("news", "overall"):
        return size["queries"][kind]
    return size["queries"]["by_kind"].get(kind)


def _latency(summary: dict | None) -> str:
    if not summary or not summary.get("n"):
        return "–"
    return f"{summary['median']:.1f} / {summary['p95']:.1f} / {summary['p99']:.1f}"


_ROWS: list[tuple[str, Callable[[dict], str]]] = [
    ("body text (UTF-8)", lambda s: f"{s['body_bytes'] / MB:.2f} MB"),
    ("segmenter of our build", lambda s: s.get("segmenter", "jieba")),
    ("segmentation floor (jieba, 2 procs)", lambda s: f"{s['floor']['seconds']:.2f} s"),
    ("segmentation floor of our segmenter", lambda s: f"{s.get('segmenter_floor', s['floor'])['seconds']:.2f} s"),
    ("build wall (median)", lambda s: f"{s['build']['wall_s']:.1f} s"),
    ("build ÷ floor (wall; CPU)", lambda s: f"{s['build']['vs_floor']:.2f}x; {s['build']['cpu_vs_floor']:.2f}x"),
    ("CPU time: build / classic / floor",
     lambda s: f"{s['build']['cpu_s']:.0f} / {_classic(s, 'cpu_s', '.0f')} / {s['floor']['cpu_s']:.0f} s"),
    ("build projected to full corpus (linear)", lambda s: f"{s['build']['projected_full_s'] / 60:.1f} min"),
    ("build docs/s (ours / classic)", lambda s: f"{s['build']['docs_per_s']:.0f} / {_classic(s, 'docs_per_s', '.0f')}"),
    ("build MB/s of body text", lambda s: f"{s['build']['mb_per_s']:.2f}"),
    ("build cores busy", lambda s: f"{s['build']['cores']:.2f}"),
    ("build peak RSS / PSS (tree)",
     lambda s: f"{s['build']['peak_rss_bytes'] / MB:.0f} / {s['build']['peak_pss_bytes'] / MB:.0f} MB"),
    ("classic build wall", lambda s: f"{_classic(s, 'wall_s', '.1f')} s"),
    ("index size (ours / classic)",
     lambda s: f"{s['build']['index_bytes'] / MB:.1f} / {_classic(s, 'index_bytes', '.1f', MB)} MB"),
    ("index ÷ body text", lambda s: f"{s['build']['index_ratio']:.2f}x"),
    ("update after posts changed + added",
     lambda s: f"{s['update']['wall_s']:.1f} s ({s['update']['changed']} + {s['update']['added']})"),
    ("optimize after the update: wall, peak PSS",
     lambda s: f"{s['update']['optimize']['wall_s']:.1f} s, {s['update']['optimize']['peak_pss_bytes'] / MB:.0f} MB "
               f"({s['update']['optimize']['report']['segments_before']} -> "
               f"{s['update']['optimize']['report']['segments']} segments)"),
    ("searcher RSS after the mix", lambda s: f"{s['queries']['rss_bytes'] / MB:.0f} MB"),
    ("web requests/s (8 clients)", lambda s: f"{s['web']['requests_per_s']:.0f}"),
    ("web latency p50 / p90 / p99",
     lambda s: " / ".join(f"{s['web']['latency_ms'][p]:.0f}" for p in ("p50", "p90", "p99")) + " ms"),
    ("web errors / non-2xx", lambda s: f"{s['web']['errors']} / {s['web']['non_2xx']}"),
    ("web server after load: PSS all / RSS one worker",
     lambda s: f"{s['web']['server_pss_bytes'] / MB:.0f} / {s['web']['worker_rss_bytes'] / MB:.0f} MB "
               f"({s['web']['workers']} workers)"),
]


def _classic(size: dict, key: str, fmt: str, scale: float = 1.0) -> str:
    build = (size.get("classic") or {}).get("build")
    return format(build[key] / scale, fmt) if build else "–"


def _cell(fn: Callable[[dict], str], size: dict) -> str:
    try:
        return fn(size)
    except (KeyError, TypeError):  # that part was skipped
        return "–"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
