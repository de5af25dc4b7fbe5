"""Serving the site with waitress on every core: one listening socket, several worker processes.

Searching is CPU-bound Python, so the threads of one process take turns on
one core (the GIL, and one searcher per index). ``workers`` processes share a
socket bound once by the parent; the kernel hands each connection to one of
them. Each worker opens the index itself after the fork (index files must not
be shared between processes), so the machine's memory holds one searcher per
worker. The parent only supervises: it restarts a worker that dies and stops
them all on SIGINT/SIGTERM; workers die with it even if it is killed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence

import waitress

from search.writing.processes import die_with_parent

log = logging.getLogger("news_search.serve")

#: A worker dying sooner than this after its start is not restarted again at once.
RESTART_BACKOFF_S = 1.0


def serve(make_app: Callable[[], object], *, host: str, port: int, threads: int, workers: int,
          companions: Sequence[Callable[[], None]] = ()) -> None:
    """Serve the WSGI app made by ``make_app`` on ``host:port`` until interrupted.

    ``make_app`` runs in each worker (after the fork), so each opens its own index.
    Each of ``companions`` (the corpus watcher of ``serve --watch``) runs in a
    process of its own beside the workers, supervised the same way; it gets
    SIGTERM when the server stops and should then return.
    """
    if workers <= 1 and not companions:
        waitress.serve(make_app(), host=host, port=port, threads=threads, ident="news-search")
        return
    listener = socket.create_server((host, port), backlog=1024)
    children: dict[int, float] = {}
    helpers: dict[int, int] = {}  # pid of a companion's process -> its index in ``companions``
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True
        for pid in children:
            _kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            while len(children) - len(helpers) < workers and not stopping:
                children[_start_worker(listener, make_app, threads)] = time.monotonic()
            for k in set(range(len(companions))) - set(helpers.values()):
                if not stopping:
                    pid = _start_companion(listener, companions[k])
                    children[pid], helpers[pid] = time.monotonic(), k
            pid, status = _wait()
            if pid in children:
                started = children.pop(pid)
                what = "companion" if helpers.pop(pid, None) is not None else "web worker"
                if not stopping:
                    log.warning("%s %d exited (status %d); starting another", what, pid, status)
                    time.sleep(max(0.0, RESTART_BACKOFF_S - (time.monotonic() - started)))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for pid in children:
            _kill(pid, signal.SIGTERM)
        for pid in list(children):
            _reap(pid)
        listener.close()


def _start_worker(listener: socket.socket, make_app: Callable[[], object], threads: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        die_with_parent()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        waitress.serve(make_app(), sockets=[listener], threads=threads, ident="news-search")
    except BaseException:  # noqa: BLE001 - a worker must never return into the parent's code
        log.exception("web worker %d failed", os.getpid())
        code = 1
    finally:
        os._exit(code)


def _start_companion(listener: socket.socket, run: Callable[[], None]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        die_with_parent()
        listener.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        run()
    except BaseException:  # noqa: BLE001 - a companion must never return into the parent's code
        log.exception("companion %d failed", os.getpid())
        code = 1
    finally:
        os._exit(code)


def _wait() -> tuple[int, int]:
    while True:
        try:
            pid, status = os.wait()
            return pid, os.waitstatus_to_exitcode(status)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0, 0


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
