"""Load on the web API: ``news-search serve`` (waitress) under wrk, 8 concurrent clients on 127.0.0.1.

wrk runs for a fixed time (the load is bounded in time, not in requests) and
rotates over the query mix's URLs with a small Lua script. wrk shares the two
cores with the server, as any client on the same machine would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import served

from .measure import process_memory

WRK = "wrk"
#: Seconds the server may take to open the index and answer its first search.
STARTUP_TIMEOUT = 120
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
_LUA = """\
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def has_wrk() -> bool:
    """Return True if the wrk load generator is installed."""
    return shutil.which(WRK) is not None


def load_test(index_dir: Path, paths: list[str], *, seconds: int = 15, connections: int = 8,
              threads: int = 2, workers: int = 2, log: Path | None = None) -> dict:
    """Serve ``index_dir`` with ``workers`` processes, load it with wrk over ``paths`` (URL paths), and return
    throughput, latency and memory (the whole server: its workers included).

    :raises RuntimeError: if the server does not come up or wrk fails.
    """
    with served(index_dir, "--workers", str(workers), log=log, ready=paths[0],
                timeout=STARTUP_TIMEOUT) as server:
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(_LUA % ", ".join(f'"{p}"' for p in paths))
            script.flush()
            result = subprocess.run([WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                                     "-s", script.name, server.base], capture_output=True, text=True, check=False,
                                    timeout=seconds + 60)
        if result.returncode:
            raise RuntimeError(f"wrk failed: {result.stderr.strip()}")
        report = parse_wrk(result.stdout)
        memory = process_memory(server.process.pid)
        report.update(startup_s=round(server.startup_s, 2), connections=connections, seconds=seconds,
                      workers=workers, server_rss_bytes=memory["rss"], server_pss_bytes=memory["pss"],
                      worker_rss_bytes=memory["largest_rss"], server_peak_rss_bytes=memory["peak_rss"])
        return report


def parse_wrk(output: str) -> dict:
    """Return requests/s, latency percentiles (ms) and error counts from wrk's ``--latency`` report.

    >>> parse_wrk("  50%  9.50ms\\n  99%  1.20s\\n  300 requests in 15.00s\\nRequests/sec:  20.00\\n")
    {'requests_per_s': 20.0, 'requests': 300, 'latency_ms': {'p50': 9.5, 'p99': 1200.0}, 'errors': 0, 'non_2xx': 0}
    """
    latency = {f"p{m.group(1)}": round(float(m.group(2)) * _UNITS_MS[m.group(3)], 3)
               for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if rate is None or total is None:
        raise RuntimeError(f"cannot read wrk's report:\n{output}")
    return {"requests_per_s": float(rate.group(1)), "requests": int(total.group(1)), "latency_ms": latency,
            "errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0}
