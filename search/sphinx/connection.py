"""Talking SphinxQL (the MySQL protocol) to searchd: query nodes with fail-over, and single nodes for writes.

A distributed index answers a query from whichever mirror of each shard is
alive, but in the moments after a node dies searchd may still pick it and
return the other shards' matches with a warning instead of an error. Every
``SELECT`` here is therefore followed by ``SHOW META`` and a batch whose meta
carries a warning is run again, so a reader never gets a silently incomplete
result: either all shards answered, or :class:`ClusterUnavailableError`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import IndexNotFoundError, SearchError

#: Seconds to wait for a TCP connection to a node.
CONNECT_TIMEOUT = 2.0
#: Seconds a query may take before the connection is given up.
READ_TIMEOUT = 60.0
#: Tries of one batch (other query nodes, other mirrors) before giving up.
ATTEMPTS = 10
#: Pause between tries: long enough for searchd to mark a dead mirror, short enough for a reader.
RETRY_DELAY = 0.05


class ClusterUnavailableError(IndexNotFoundError):
    """No query node answered, or the cluster kept answering only in part (a shard has no live mirror)."""


@dataclass(frozen=True)
class Address:
    """Where a node speaks SphinxQL."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ClusterURL:
    """A ``sphinx://HOST:PORT[,HOST:PORT…][/INDEX]`` backend URL: query nodes, tried in turn, and the index name."""

    addresses: tuple[Address, ...]
    index: str

    @classmethod
    def parse(cls, url: str, default_index: str = "news") -> ClusterURL:
        """Return the parsed URL.

        :raises SearchError: if it is not a ``sphinx://`` URL with at least one ``host:port``.

        >>> ClusterURL.parse("sphinx://127.0.0.1:9306,10.0.0.2:9306/news")
        ClusterURL(addresses=(Address(host='127.0.0.1', port=9306), Address(host='10.0.0.2', port=9306)), index='news')
        """
        scheme, _, rest = url.partition("://")
        nodes, _, index = rest.partition("/")
        addresses = []
        for item in nodes.split(","):
            host, _, port = item.strip().rpartition(":")
            if scheme != "sphinx" or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise SearchError(f"{url!r} is not a Sphinx backend URL; use sphinx://HOST:PORT[,HOST:PORT…][/INDEX]")
            addresses.append(Address(host, int(port)))
        return cls(tuple(addresses), index.strip("/") or default_index)

    def __str__(self) -> str:
        return "sphinx://" + ",".join(map(str, self.addresses)) + f"/{self.index}"


@dataclass(frozen=True)
class Result:
    """The rows of one ``SELECT``, each ``{column or alias: value}``, and its ``SHOW META`` (``total_found``,
    keyword statistics, warnings)."""

    rows: list[dict]
    meta: dict[str, str]

    @property
    def total_found(self) -> int:
        return int(self.meta.get("total_found", 0))


def connect(address: Address, *, timeout: float = CONNECT_TIMEOUT):
    """Return a new autocommitting PyMySQL connection to one node (multi-statement batches on).

    :raises SearchError: if PyMySQL is not installed.
    :raises pymysql.err.OperationalError: if the node does not answer.
    """
    pymysql = require_pymysql()
    from pymysql.constants import CLIENT

    return pymysql.connect(host=address.host, port=address.port, user="", autocommit=True, charset="utf8mb4",
                           client_flag=CLIENT.MULTI_STATEMENTS, connect_timeout=timeout,
                           read_timeout=READ_TIMEOUT, write_timeout=READ_TIMEOUT)


def require_pymysql():
    """Return the PyMySQL module.

    :raises SearchError: saying how to install it, if it is missing.
    """
    try:
        import pymysql
    except ImportError:
        raise SearchError("the Sphinx backend needs PyMySQL: pip install 'news-search[sphinx]'") from None
    return pymysql


def fetch_all(connection, sql: str, args: Sequence | None = None, *, by_name: bool = False) -> list[list]:
    """Run ``sql`` (one statement or a ``;``-separated batch) and return every result set's rows: tuples, or
    with ``by_name`` dicts ``{column or alias: value}``."""
    with connection.cursor(require_pymysql().cursors.DictCursor if by_name else None) as cursor:
        cursor.execute(sql, args)
        sets = [list(cursor.fetchall())]
        while cursor.nextset():
            sets.append(list(cursor.fetchall()))
    return sets


class QueryNodes:
    """A thread-safe pool of connections to the query nodes of a cluster, tried in turn.

    >>> nodes = QueryNodes([Address("127.0.0.1", 9306), Address("127.0.0.1", 9308)])  # doctest: +SKIP
    >>> nodes.select(["SELECT id FROM news WHERE MATCH(%s) LIMIT 10"], ["(@grams 国际)"])  # doctest: +SKIP
    """

    def __init__(self, addresses: Sequence[Address]):
        if not addresses:
            raise ValueError("a cluster needs at least one query node")
        self.addresses = tuple(addresses)
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._preferred = 0
        self._lock = threading.Lock()
        self._server_version: str | None = None

    @property
    def server_version(self) -> str:
        """The version searchd reports, e.g. ``2.2.11-id64-release (95ae9a6)``."""
        if self._server_version is None:
            connection = self._acquire()
            self._release(connection)
        return self._server_version or ""

    def select(self, statements: Sequence[str], args: Sequence = ()) -> list[Result]:
        """Run ``SELECT`` statements as one batch, each followed by ``SHOW META``; return their results.

        ``args`` fill the ``%s`` placeholders of all statements, in order.

        :raises ClusterUnavailableError: if no query node answers, or the answers stay incomplete.
        :raises SearchError: if searchd rejects the statement itself.
        """
        sql = "; ".join(f"{statement}; SHOW META" for statement in statements)
        problem = "no attempt was made"
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(RETRY_DELAY * attempt)
            try:
                connection = self._acquire()
            except ClusterUnavailableError as exc:
                problem = str(exc)
                continue
            try:
                sets = fetch_all(connection, sql, args, by_name=True)
            except Exception as exc:  # PyMySQL raises several types for one failure
                connection.close()
                problem = _describe(exc)
                if _is_connection_error(exc):
                    self._prefer_next()
                    continue
                if _is_agent_error(exc):
                    continue
                raise SearchError(f"searchd at {self.addresses[0]} rejected a query: {problem}") from exc
            self._release(connection)
            results = [Result(rows, {str(row["Variable_name"]): str(row["Value"]) for row in meta})
                       for rows, meta in zip(sets[::2], sets[1::2])]
            warnings = [r.meta["warning"] for r in results if r.meta.get("warning")]
            if not warnings:
                return results
            problem = warnings[0]
        raise ClusterUnavailableError(
            f"the Sphinx cluster ({', '.join(map(str, self.addresses))}) could not answer completely "
            f"after {ATTEMPTS} tries: {problem}")

    def close(self) -> None:
        """Close the idle connections (connections in use close when released by a closed pool)."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def _acquire(self):
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        require_pymysql()
        problems = []
        for offset in range(len(self.addresses)):
            with self._lock:
                index = (self._preferred + offset) % len(self.addresses)
            address = self.addresses[index]
            try:
                connection = connect(address)
            except Exception as exc:  # noqa: BLE001 - refused, unreachable, timed out
                problems.append(f"{address}: {_describe(exc)}")
                continue
            with self._lock:
                self._preferred = index
                self._server_version = connection.get_server_info()
            return connection
        raise ClusterUnavailableError(f"no Sphinx query node answers ({'; '.join(problems)})")

    def _release(self, connection) -> None:
        self._idle.put(connection)

    def _prefer_next(self) -> None:
        with self._lock:
            self._preferred = (self._preferred + 1) % len(self.addresses)
        self.close()  # the other idle connections may lead to the same dead node


def _is_connection_error(exc: Exception) -> bool:
    pymysql = require_pymysql()
    return isinstance(exc, pymysql.err.OperationalError | pymysql.err.InterfaceError | OSError)


def _is_agent_error(exc: Exception) -> bool:
    """True when a distributed index failed to reach a shard (searchd reports it as a query error)."""
    return ": agent " in _describe(exc)


def _describe(exc: Exception) -> str:
    args = getattr(exc, "args", ())
    message = args[1] if len(args) > 1 and isinstance(args[1], str) else str(exc)
    return message.rstrip("\x00") or type(exc).__name__
