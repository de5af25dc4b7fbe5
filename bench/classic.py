"""The classic engine (Whoosh + jieba's ChineseAnalyzer, the tutorial design) measured on the same documents.

It is the anchor the issue compares against: our build must index at least 3x
as many documents per second, and our query p95 must be no higher. Both
engines are timed the same way: the wall time of the whole command.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from .corpus import REPO
from .measure import Run, run

CLASSIC_ENGINE = REPO.parent / "shared" / "anchors" / "classic_engine.py"


def build(corpus: Path, index_dir: Path, *, timeout: float | None = None) -> Run:
    """Build the classic index of ``corpus`` in ``index_dir`` and return the run."""
    return run([sys.executable, str(CLASSIC_ENGINE), "build", str(corpus), str(index_dir)], timeout=timeout)


def query_ms(index_dir: Path, queries: list[str], *, limit: int = 10) -> list[float]:
    """Return the classic engine's own per-query milliseconds, warm.

    It times each query itself (search, hits and one highlight). The queries run
    twice in one process and only the second pass counts, so the dictionary
    load and cold caches are left out, as they are for ours.
    """
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as fh:
        fh.write("".join(f"{q}\n" for q in queries * 2))
        fh.flush()
        result = run([sys.executable, str(CLASSIC_ENGINE), "query", str(index_dir), str(limit)], stdin=Path(fh.name))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [line["ms"] for line in lines[len(queries):]]
