"""Servers for tests, stress runs and benchmarks: the real ``news-search serve`` (waitress) in a child
process on a free local port, and plain local web sites (a blog, another origin) served from a thread.

This is the one launcher tests/, stress/ and bench/ share. It imports nothing from pytest, so
``python -m stress.run`` and ``python -m bench.run`` (run from the checkout, as tests are) use it too.
"""

from __future__ import annotations

import functools
import html
import http.server
import mimetypes
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Seconds a server may take to open its index and answer, unless told otherwise.
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> int:
    """Return a port from which ``count`` consecutive ports on 127.0.0.1 are free (a cluster's nodes)."""
    for _ in range(200):
        base = random.randrange(20000, 60000, 2)
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports on 127.0.0.1")


class Server:
    """``news-search serve --index index_dir *args`` in a child process, once it answers.

    Its stdout and stderr go to ``log`` (a temporary file when not given), which
    :meth:`output` reads and any failure to start quotes.
    """

    def __init__(self, index_dir: Path, *args: str, log: Path | None = None, ready: str = "/api/stats",
                 accept: Collection[int] = (200,), timeout: float = STARTUP_TIMEOUT):
        """Start the server; return once ``GET ready`` answers one of the ``accept`` statuses.

        :raises RuntimeError: if it exits first or stays silent for ``timeout`` seconds (with its output).
        """
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "w+b") if log is not None else tempfile.TemporaryFile()
        script = Path(sys.executable).with_name("news-search")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "search"]
        started = time.perf_counter()
        self.process = subprocess.Popen([*command, "serve", "--index", str(index_dir), "--port", str(self.port),
                                         *map(str, args)], stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_up(ready, accept, timeout)
        except BaseException:
            self.stop()
            raise
        #: Seconds from the start until the server answered.
        self.startup_s = time.perf_counter() - started

    def _wait_until_up(self, ready: str, accept: Collection[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"news-search serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.base + ready, timeout=timeout) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                time.sleep(0.2)
                continue
            if status in accept:
                return
            time.sleep(0.2)
        raise RuntimeError(f"news-search serve did not answer {ready} within {timeout:g} s:\n{self.output()}")

    def output(self) -> str:
        """What the server has written so far (stdout and stderr), also once it has stopped."""
        if self._log.closed:
            return self._output
        return os.pread(self._log.fileno(), os.fstat(self._log.fileno()).st_size, 0).decode(errors="replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` seconds); return its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._output = self.output()
            self._log.close()
        return self.process.returncode


@contextmanager
def served(index_dir: Path, *args: str, **options) -> Iterator[Server]:
    """A :class:`Server` (same arguments) for the length of the block."""
    server = Server(index_dir, *args, **options)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_server(index_dir: Path, *args: str) -> Iterator[str]:
    """Run ``news-search serve --index index_dir *args``; yield its base URL once it answers."""
    with served(index_dir, *args) as server:
        yield server.base


# --- plain sites in a thread ----------------------------------------------------------------------

@contextmanager
def in_thread(server: http.server.ThreadingHTTPServer) -> Iterator[http.server.ThreadingHTTPServer]:
    """Serve ``server`` from a thread until the block ends, then shut it down."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


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
    """Serve a :class:`HostSite` until the block ends."""
    site = HostSite(page)
    with in_thread(site.server):
        yield site


@contextmanager
def static_site(folder: Path, port: int) -> Iterator[str]:
    """Serve ``folder`` (a generated blog) on ``port`` as a static host would; yield its base URL."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    mimetypes.add_type("text/javascript", ".js")
    handler = functools.partial(Handler, directory=str(folder))
    with in_thread(http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)):
        yield f"http://127.0.0.1:{port}"
