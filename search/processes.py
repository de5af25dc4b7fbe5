"""Child processes that never outlive their parent."""

from __future__ import annotations

import ctypes
import signal

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
