"""``news-search serve`` with several worker processes: shared port, supervision, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import wait_for
from tests.servers import served

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find workers")]


def workers_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (its web workers)."""
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def port_is_closed(base: str) -> bool:
    host, port = base.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def test_workers_share_the_port_and_answer_concurrent_searches(demo_index_dir):
    with served(demo_index_dir, "--workers", "2") as server:
        process, base = server.process, server.base
        assert wait_for(lambda: len(workers_of(process.pid)) == 2)
        urls = [f"{base}/api/search?q=%E5%9B%BD%E9%99%85&page={1 + i % 3}" for i in range(40)]
        with ThreadPoolExecutor(8) as pool:
            totals = {result["total"] for result in pool.map(get_json, urls)}
        assert len(totals) == 1 and totals.pop() > 0


def test_a_worker_that_dies_is_replaced(demo_index_dir):
    with served(demo_index_dir, "--workers", "2") as server:
        process, base = server.process, server.base
        assert wait_for(lambda: len(workers_of(process.pid)) == 2)
        victim = workers_of(process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: victim not in workers_of(process.pid) and len(workers_of(process.pid)) == 2)
        assert all(get_json(f"{base}/api/stats")["docs"] == 32 for _ in range(10))


def test_workers_die_with_a_killed_server(demo_index_dir):
    with served(demo_index_dir, "--workers", "2") as server:
        process, base = server.process, server.base
        assert wait_for(lambda: len(workers_of(process.pid)) == 2)
        workers = workers_of(process.pid)
        process.kill()
        process.wait()
        assert wait_for(lambda: not any(alive(pid) for pid in workers))
        assert wait_for(lambda: port_is_closed(base))


def test_sigterm_stops_the_server_and_its_workers(demo_index_dir):
    with served(demo_index_dir, "--workers", "2") as server:
        process, base = server.process, server.base
        assert wait_for(lambda: len(workers_of(process.pid)) == 2)
        workers = workers_of(process.pid)
        process.terminate()
        assert process.wait(timeout=20) == 0
        assert not any(alive(pid) for pid in workers)
        assert port_is_closed(base)


def test_one_worker_serves_in_the_server_process_itself(demo_index_dir):
    with served(demo_index_dir, "--workers", "1") as server:
        process, base = server.process, server.base
        assert get_json(f"{base}/api/stats")["docs"] == 32
        assert workers_of(process.pid) == []
