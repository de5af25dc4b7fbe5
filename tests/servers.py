"""Start the real ``news-search serve`` (waitress) on a free local port for tests, and a
plain second site (another origin) to embed the widget in."""

from __future__ import annotations

import html
import http.server
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(index_dir: Path, *args: str) -> Iterator[str]:
    """Run ``news-search serve --index index_dir *args``; yield its base URL once it answers."""
    with server_process(index_dir, *args) as (_, base):
        yield base


@contextmanager
def server_process(index_dir: Path, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """Like :func:`running_server`, also yielding the server's process."""
    port = free_port()
    script = Path(sys.executable).with_name("news-search")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "search"]
    process = subprocess.Popen(command + ["serve", "--index", str(index_dir), "--port", str(port), *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, base)
        yield process, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


def wait_until_up(process: subprocess.Popen, base: str) -> None:
    """Return once ``base`` answers; raise if the server exits or stays silent for a minute."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(base + "/api/stats", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not answer within 60 s")


class HostSite:
    """A plain web site on another local port (another origin), as a blog is to our server.

    ``/`` answers :attr:`page`; every other path answers a small page naming
    the path (a stand-in for a post on the blog) and is recorded in :attr:`visited`.
    """

    def __init__(self, page: str = ""):
        self.page = page
        self.visited: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/":
                    body = site.page
                else:
                    site.visited.append(self.path)
                    body = f"<!doctype html><meta charset=utf-8><title>博客文章</title><h1>{html.escape(self.path)}</h1>"
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"


@contextmanager
def host_site(page: str = "") -> Iterator[HostSite]:
    """Serve a :class:`HostSite` in a thread until the block ends."""
    site = HostSite(page)
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()
        thread.join()
