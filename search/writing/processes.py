"""Child processes: workers that share out a job, and never outlive their parent."""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import pickle
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence

from ..errors import IndexWriteError

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to kill this (forked) process when its parent dies, even by ``kill -9``.

    Build workers must not keep writing for a dead build, and web workers must
    not keep a port open for a server that is gone. Linux only; elsewhere
    children notice when their pipes or sockets close.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def in_workers(work: Callable[[Sequence], Iterable], shares: Sequence[Sequence]) -> Iterator[tuple[int, object]]:
    """Run ``work(share)`` for each of ``shares`` in a forked process of its own (here, if there is one share)
    and yield ``(share's number, item)`` for every item it yields, as they come.

    Both writers analyse posts this way (a worker per core, each dealt every n-th batch). A worker's
    exception is raised here: as it is if it can travel between processes, else as an
    :class:`IndexWriteError` naming it; a worker that dies is reported the same way.

    Each worker answers on a pipe of its own, whose only writing end it holds:
    a worker killed half-way through a message then reads as end-of-file here.
    (A shared ``multiprocessing.Queue`` deadlocks instead: a worker killed while
    its feeder thread holds the queue's write lock leaves the others waiting for
    the lock and this process waiting for the rest of the message.)
    """
    if len(shares) <= 1:
        for share in shares:
            yield from ((0, item) for item in work(share))
        return
    context = multiprocessing.get_context("fork")
    processes, readers = [], {}
    try:
        for number, share in enumerate(shares):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(number, work, share, writer), daemon=True)
            process.start()
            writer.close()  # before the next fork, so that the worker holds the only writing end
            processes.append(process)
            readers[reader] = process
        while readers:
            for reader in multiprocessing.connection.wait(list(readers)):
                try:
                    message = reader.recv()
                except (EOFError, OSError):  # the worker died, perhaps half-way through a message
                    readers[reader].join()
                    codes = [process.exitcode for process in processes]
                    raise IndexWriteError(f"an indexing worker process died (exit codes {codes})") from None
                if message is None:
                    del readers[reader]
                elif isinstance(message, BaseException):
                    raise message
                else:
                    yield message
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        for reader in readers:
            reader.close()


def _work(number: int, work: Callable[[Sequence], Iterable], share: Sequence, results) -> None:
    """A worker process: send ``(number, item)`` on ``results`` for each item of ``work(share)``, then a None."""
    try:
        for item in work(share):
            results.send((number, item))
    except BaseException as exc:  # the parent re-raises it: as it is if it can travel, else as its message
        try:
            pickle.dumps(exc)
        except Exception:
            exc = IndexWriteError(f"indexing failed: {type(exc).__name__}: {exc}")
        results.send(exc)
    results.send(None)
