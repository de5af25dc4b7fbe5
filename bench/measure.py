"""Running a command and recording what it cost: wall time, CPU time and peak memory of its whole process tree.

A build forks worker processes, so the memory that matters is the sum over the
tree, sampled from /proc while it runs (psutil is not a dependency). RSS counts
pages shared after fork once per process and so overstates the total; PSS
splits shared pages between their users and is what the machine really spends.
Both are kept. RSS is cheap to read and sampled often; PSS makes the kernel walk
every page table (tens of milliseconds for a large process), so it is sampled
seldom, lest the sampling steal a core from what it measures.
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Seconds between RSS samples (/proc/PID/statm: microseconds to read).
SAMPLE_INTERVAL = 0.1
#: Seconds between PSS samples (/proc/PID/smaps_rollup: costly to read).
PSS_INTERVAL = 2.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class BenchError(RuntimeError):
    """A measured command failed; the message holds its command line and the end of its stderr."""


@dataclass(frozen=True)
class Run:
    """One finished command."""

    wall_s: float
    cpu_s: float  # user + system time of the command and every descendant it waited for
    peak_rss: int  # bytes, summed over the process tree, sampled every SAMPLE_INTERVAL
    peak_pss: int  # the same, sampled every PSS_INTERVAL
    stdout: str
    stderr: str

    @property
    def cores(self) -> float:
        """Average number of cores busy while it ran."""
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


def run(cmd: list[str], *, stdin: Path | None = None, cwd: Path | None = None, ok_codes: tuple[int, ...] = (0,),
        timeout: float | None = None) -> Run:
    """Run ``cmd`` to completion and return its cost and output.

    CPU time is the change in this process's ``RUSAGE_CHILDREN``, so no other
    child of ours may finish meanwhile (the suite measures one thing at a time).

    :raises BenchError: if it exits with a code outside ``ok_codes`` or runs past ``timeout``.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            open(stdin or os.devnull, "rb") as inp:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=inp, stdout=out, stderr=err, cwd=cwd)
        peak_rss = peak_pss = 0
        next_pss = started
        while proc.poll() is None:
            members = _tree(proc.pid)
            peak_rss = max(peak_rss, sum(map(_rss, members)))
            if time.perf_counter() >= next_pss:
                peak_pss = max(peak_pss, sum(map(_pss, members)))
                next_pss += PSS_INTERVAL
            if timeout is not None and time.perf_counter() - started > timeout:
                proc.kill()
                proc.wait()
                raise BenchError(f"{' '.join(map(str, cmd))} ran longer than {timeout:.0f} s")
            time.sleep(SAMPLE_INTERVAL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    if proc.returncode not in ok_codes:
        raise BenchError(f"{' '.join(map(str, cmd))} exited with {proc.returncode}:\n{stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall_s=wall, cpu_s=cpu, peak_rss=peak_rss, peak_pss=peak_pss, stdout=stdout, stderr=stderr)


def process_memory(pid: int) -> dict[str, int]:
    """Return the memory of ``pid`` and its children, in bytes.

    ``rss``/``pss``: summed over the tree (PSS counts pages that forked workers
    share once); ``peak_rss``: the largest VmHWM of one member; ``largest_rss``:
    the largest VmRSS of one member (one web worker's searcher).
    """
    members = _tree(pid)
    status = [_status_fields(Path(f"/proc/{m}/status")) for m in members]
    return {"rss": sum(f.get("VmRSS", 0) for f in status), "pss": sum(map(_pss, members)),
            "peak_rss": max((f.get("VmHWM", 0) for f in status), default=0),
            "largest_rss": max((f.get("VmRSS", 0) for f in status), default=0)}


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError):  # exited meanwhile
        return 0


def _pss(pid: int) -> int:
    return _status_fields(Path(f"/proc/{pid}/smaps_rollup")).get("Pss", 0)


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        member = todo.pop()
        found.append(member)
        try:
            with os.scandir(f"/proc/{member}/task") as tasks:
                for task in tasks:
                    todo.extend(int(c) for c in Path(task.path, "children").read_text().split())
        except OSError:  # exited between the listing and the read
            continue
    return found


def _status_fields(path: Path) -> dict[str, int]:
    """Parse ``Name:   123 kB`` lines of a /proc file into bytes."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[name] = int(parts[0]) * 1024
    return fields


def median(values: list[float]) -> float:
    """Return the median of timed repeats (the suite's one summary of repeated runs)."""
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    """Return the ``q``-th percentile by nearest rank: a value that was actually observed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarise(ms: list[float]) -> dict:
    """Return ``{"n", "median", "p95", "p99", "max"}`` of latencies in milliseconds."""
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "median": round(median(ms), 3), "p95": round(percentile(ms, 95), 3),
            "p99": round(percentile(ms, 99), 3), "max": round(max(ms), 3)}


def dir_bytes(path: Path) -> int:
    """Return the apparent size of the files under ``path`` (each hard-linked file once)."""
    seen, total = set(), 0
    for file in path.rglob("*"):
        st = file.stat()
        if file.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def bytes_by_kind(path: Path) -> dict[str, int]:
    """Return the bytes of the files under ``path`` by kind: the suffix after a segment's name
    (``trm``, ``pst``, ``rcl``, ``_stored.col``...) or a sidecar's extension, largest first."""
    kinds: dict[str, int] = {}
    for file in path.rglob("*"):
        if file.is_file():
            kind = file.name.split(".", 1)[1] if file.name.startswith("MAIN_") and "." in file.name else file.suffix[1:]
            kinds[kind] = kinds.get(kind, 0) + file.stat().st_size
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def code_commit() -> str:
    """Return the short commit of the code measured, with ``-dirty`` if search/ or web/ have local changes."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                              text=True, check=False)
        return done.stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if git("status", "--porcelain", "search", "web") else "")
