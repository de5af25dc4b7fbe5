"""A Sphinx cluster: the shard map, each node's searchd configuration, local nodes and their health.

The shard map (``cluster.toml``) says which node holds which shard::

    index = "news"                      # the distributed index every node serves

    [nodes.node0]
    host = "127.0.0.1"
    sql_port = 9306                     # SphinxQL: readers and writers
    api_port = 9307                     # Sphinx API: the other nodes' distributed indexes
    data_dir = "nodes/node0"            # on that node's machine, relative to this file

    [[shards]]                          # shard 0
    mirrors = ["node0", "node1"]        # every copy of it

A post belongs to shard ``doc_key(id) % len(shards)``; writers send it to
every mirror of its shard. Every node holds real-time indexes
``<index>_shard<k>`` for its shards, ``<index>_meta`` (what built the
index) and the distributed index ``<index>`` whose agents are all shards with
their mirrors, so any node can answer queries.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SearchError
from .connection import Address, connect, fetch_all
from .documents import ATTRIBUTES, FIELDS

MAP_FILE = "cluster.toml"
DEFAULT_INDEX = "news"
#: Settings of every shard index. Tokens arrive pre-analysed (see documents.py): letters, digits
#: and ``_`` are all the word characters there are, nothing is folded, stemmed or dropped.
INDEX_SETTINGS = {
    "charset_table": "0..9, A..Z, a..z, _, U+80..U+2FFFF",
    "dict": "keywords",
    "min_word_len": "1",
    "min_prefix_len": "1",
    "index_field_lengths": "1",
    "rt_mem_limit": "256M",
}
#: How a distributed index reaches its agents: a mirror that fails three times in a row is left out.
AGENT_SETTINGS = {"agent_connect_timeout": "500", "agent_query_timeout": "30000", "ha_strategy": "nodeads"}
#: Seconds ``start`` waits for a node to answer.
START_TIMEOUT = 30.0
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ClusterConfigError(SearchError):
    """The shard map is missing or wrong (the message names the file and what to fix)."""


@dataclass(frozen=True)
class Node:
    """One searchd: where it listens and where it keeps its files."""

    name: str
    host: str
    sql_port: int
    api_port: int
    data_dir: Path | None = None  # absolute, on the node's own machine

    @property
    def address(self) -> Address:
        return Address(self.host, self.sql_port)

    @property
    def is_local(self) -> bool:
        """True for a node this machine can start (loopback address, data directory known)."""
        return self.data_dir is not None and (self.host in ("localhost", "::1") or self.host.startswith("127."))


@dataclass(frozen=True)
class ClusterMap:
    """The shard map: nodes by name, and for each shard the names of the nodes holding its mirrors."""

    index: str
    nodes: dict[str, Node]
    shards: tuple[tuple[str, ...], ...]
    path: Path | None = field(default=None, compare=False)

    def shard_index(self, shard: int) -> str:
        """Return the name of shard ``shard``'s real-time index."""
        return f"{self.index}_shard{shard}"

    @property
    def meta_index(self) -> str:
        return f"{self.index}_meta"

    def shard_of(self, key: int) -> int:
        """Return the shard holding the post whose Sphinx id is ``key``."""
        return key % len(self.shards)

    def mirrors(self, shard: int) -> list[Node]:
        return [self.nodes[name] for name in self.shards[shard]]

    def held_by(self, node: Node) -> list[int]:
        """Return the shards ``node`` holds a mirror of."""
        return [k for k, names in enumerate(self.shards) if node.name in names]

    @property
    def url(self) -> str:
        """Return the ``--backend`` URL naming every node as a query node."""
        return "sphinx://" + ",".join(str(n.address) for n in self.nodes.values()) + f"/{self.index}"

    def to_dict(self) -> dict:
        """Return the map as plain data (kept in the cluster's meta index; the inverse of :func:`map_from_dict`)."""
        return {"index": self.index, "shards": [{"mirrors": list(m)} for m in self.shards],
                "nodes": {n.name: {"host": n.host, "sql_port": n.sql_port, "api_port": n.api_port}
                          for n in self.nodes.values()}}

    def topology(self) -> dict:
        """Return what routing depends on: rebuilding is needed when this changes."""
        return {"index": self.index, "shards": [list(m) for m in self.shards]}


def load_map(path: Path | str) -> ClusterMap:
    """Return the shard map in ``path`` (a ``cluster.toml``).

    :raises ClusterConfigError: if the file is missing, not TOML, or inconsistent.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClusterConfigError(f"no shard map at {path}; create one with: news-search cluster init DIR") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ClusterConfigError(f"cannot read the shard map {path}: {exc}") from None
    return map_from_dict(data, path)


def map_from_dict(data: dict, path: Path | None = None) -> ClusterMap:
    """Return the shard map described by ``data`` (the TOML document, or :meth:`ClusterMap.to_dict`).

    :raises ClusterConfigError: naming what is wrong.
    """
    where = str(path) if path else "the shard map"

    def fail(problem: str):
        raise ClusterConfigError(f"{where}: {problem}")

    index = data.get("index", DEFAULT_INDEX)
    if not isinstance(index, str) or not _NAME.match(index):
        fail(f"index must be a name of lower-case letters, digits and _, not {index!r}")
    nodes: dict[str, Node] = {}
    for name, spec in (data.get("nodes") or {}).items():
        if not _NAME.match(name) or not isinstance(spec, dict):
            fail(f"node {name!r} must be a table named with lower-case letters, digits and _")
        ports = [spec.get("sql_port"), spec.get("api_port")]
        if not isinstance(spec.get("host"), str) or not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
            fail(f"node {name} needs host (a string), sql_port and api_port (port numbers)")
        data_dir = spec.get("data_dir")
        if data_dir is not None:
            data_dir = Path(data_dir) if Path(data_dir).is_absolute() or path is None else path.parent / data_dir
        nodes[name] = Node(name, spec["host"], spec["sql_port"], spec["api_port"], data_dir)
    if not nodes:
        fail("no [nodes.NAME] tables")
    shards = []
    for k, shard in enumerate(data.get("shards") or ()):
        mirrors = shard.get("mirrors") if isinstance(shard, dict) else None
        if not mirrors or not isinstance(mirrors, list) or len(set(mirrors)) != len(mirrors):
            fail(f"shard {k} needs mirrors = [node names], each once")
        unknown = [m for m in mirrors if m not in nodes]
        if unknown:
            fail(f"shard {k} names unknown node {unknown[0]!r}")
        shards.append(tuple(mirrors))
    if not shards:
        fail("no [[shards]] tables")
    return ClusterMap(index, nodes, tuple(shards), path)


def plan_cluster(directory: Path | str, *, shards: int = 2, mirrors: int = 2, nodes: int | None = None,
                 host: str = "127.0.0.1", base_port: int = 9306, index: str = DEFAULT_INDEX) -> ClusterMap:
    """Return a shard map for ``shards`` shards with ``mirrors`` copies each, spread over ``nodes`` nodes.

    Shard ``k``'s copies go to nodes ``k, k+1, …`` (modulo the node count), so
    losing any one node loses no shard when ``mirrors >= 2``. Node ``i``
    listens on ``base_port + 2i`` (SphinxQL) and ``base_port + 2i + 1`` (API).

    >>> [list(m) for m in plan_cluster("c", shards=2, mirrors=2, nodes=3).shards]
    [['node0', 'node1'], ['node1', 'node2']]
    """
    nodes = nodes or max(shards, mirrors)
    if shards < 1 or mirrors < 1 or mirrors > nodes:
        raise ClusterConfigError(f"cannot place {shards} shards with {mirrors} mirrors each on {nodes} nodes")
    directory = Path(directory)
    members = {f"node{i}": Node(f"node{i}", host, base_port + 2 * i, base_port + 2 * i + 1,
                                directory.absolute() / "nodes" / f"node{i}") for i in range(nodes)}
    placement = tuple(tuple(f"node{(k + j) % nodes}" for j in range(mirrors)) for k in range(shards))
    return ClusterMap(index, members, placement, directory / MAP_FILE)


def write_map(cluster: ClusterMap, path: Path | str) -> None:
    """Write the shard map as TOML (data directories relative to the file when they lie below it)."""
    path = Path(path)
    lines = ["# news-search cluster: which node holds which shard. See README.md, \"Scaling out\".",
             f"index = {json.dumps(cluster.index)}", ""]
    for node in cluster.nodes.values():
        lines += [f"[nodes.{node.name}]", f"host = {json.dumps(node.host)}", f"sql_port = {node.sql_port}",
                  f"api_port = {node.api_port}"]
        if node.data_dir is not None:
            lines.append(f"data_dir = {json.dumps(_relative(node.data_dir, path.parent.absolute()))}")
        lines.append("")
    for k, names in enumerate(cluster.shards):
        lines += [f"[[shards]]  # shard {k}", f"mirrors = {json.dumps(list(names))}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def _relative(directory: Path, base: Path) -> str:
    try:
        return directory.relative_to(base).as_posix()
    except ValueError:
        return str(directory)


# --- searchd configuration --------------------------------------------------------------------

def searchd_config(cluster: ClusterMap, node: Node) -> str:
    """Return the ``sphinx.conf`` of ``node``: its shards, the meta index, the distributed index, searchd.

    :raises ClusterConfigError: if the node has no ``data_dir``.
    """
    if node.data_dir is None:
        raise ClusterConfigError(f"node {node.name} has no data_dir in the shard map")
    data = node.data_dir / "data"
    out = [f"# searchd of node {node.name} in the news-search cluster {cluster.path or ''}",
           "# written by news-search from the shard map; edit the map, not this file", ""]
    for shard in cluster.held_by(node):
        name = cluster.shard_index(shard)
        body = [("type", "rt"), ("path", data / name)]
        body += [("rt_field", f) for f in FIELDS] + [(f"rt_attr_{kind}", a) for a, kind in ATTRIBUTES.items()]
        out += _section(f"index {name}", body + list(INDEX_SETTINGS.items()))
    out += _section(f"index {cluster.meta_index}", [("type", "rt"), ("path", data / cluster.meta_index),
                                                    ("rt_field", "note"), ("rt_attr_string", "data")])
    agents = [("agent", "|".join(f"{m.host}:{m.api_port}" for m in cluster.mirrors(k)) + f":{cluster.shard_index(k)}")
              for k in range(len(cluster.shards))]
    out += _section(f"index {cluster.index}", [("type", "distributed"), *agents, *AGENT_SETTINGS.items()])
    out += _section("searchd", [
        ("listen", f"{node.host}:{node.api_port}"), ("listen", f"{node.host}:{node.sql_port}:mysql41"),
        ("log", node.data_dir / "searchd.log"), ("pid_file", node.data_dir / "searchd.pid"),
        ("binlog_path", data), ("workers", "threads"), ("max_packet_size", "32M"),
        ("watchdog", "0"),  # a killed node stays dead (as a crashed machine would); start it again with `cluster start`
    ])
    return "\n".join(out)


def _section(title: str, settings: list[tuple[str, object]]) -> list[str]:
    return [title, "{", *(f"    {key} = {value}" for key, value in settings), "}", ""]


# --- local nodes -----------------------------------------------------------------------------

def start(cluster: ClusterMap, *, timeout: float = START_TIMEOUT) -> list[Node]:
    """Write the configuration of every local node that is not running and start its searchd.

    Return the nodes started. Nodes on other machines are left alone.

    :raises SearchError: if searchd is not installed, fails to start or does not answer within ``timeout``.
    """
    searchd = _searchd()
    started = []
    for node in cluster.nodes.values():
        if not node.is_local or _answers(node):
            continue
        (node.data_dir / "data").mkdir(parents=True, exist_ok=True)
        config = node.data_dir / "sphinx.conf"
        config.write_text(searchd_config(cluster, node), encoding="utf-8")
        run = subprocess.run([searchd, "--config", str(config)], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            detail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            raise SearchError(f"searchd of node {node.name} did not start: {detail[0]} (see {node.data_dir})")
        started.append(node)
    deadline = time.monotonic() + timeout
    for node in started:
        while not _answers(node):
            if time.monotonic() > deadline:
                raise SearchError(f"node {node.name} ({node.address}) did not answer within {timeout:.0f} s; "
                                  f"see {node.data_dir / 'searchd.log'}")
            time.sleep(0.1)
    return started


def stop(cluster: ClusterMap) -> list[Node]:
    """Stop the searchd of every local node that runs; return the nodes stopped."""
    stopped = []
    for node in cluster.nodes.values():
        config = node.data_dir / "sphinx.conf" if node.data_dir else None
        if node.is_local and config.exists() and (node.data_dir / "searchd.pid").exists():
            subprocess.run([_searchd(), "--config", str(config), "--stopwait"], capture_output=True, check=False)
            stopped.append(node)
    return stopped


def _searchd() -> str:
    path = shutil.which("searchd")
    if path is None:
        raise SearchError("searchd is not installed; install Sphinx (Debian: apt-get install sphinxsearch)")
    return path


def _answers(node: Node) -> bool:
    try:
        connect(node.address, timeout=0.5).close()
    except Exception:  # noqa: BLE001 - refused or unreachable: not running
        return False
    return True


# --- health ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class NodeStatus:
    """What one node reports: whether it answers, documents per shard it holds, bytes used."""

    node: Node
    up: bool
    docs: dict[int, int] = field(default_factory=dict)  # shard -> documents
    sizes: dict[int, int] = field(default_factory=dict)  # shard -> bytes in memory and on disk
    error: str = ""

    @property
    def size_bytes(self) -> int:
        return sum(self.sizes.values())

    def to_dict(self) -> dict:
        return {"node": self.node.name, "address": str(self.node.address), "up": self.up,
                "shards": {str(k): {"docs": n, "bytes": self.sizes.get(k, 0)} for k, n in self.docs.items()},
                "size_bytes": self.size_bytes, "error": self.error}


def status(cluster: ClusterMap) -> list[NodeStatus]:
    """Return the health and document counts of every node in the map."""
    return [node_status(cluster, node) for node in cluster.nodes.values()]


def node_status(cluster: ClusterMap, node: Node) -> NodeStatus:
    """Return one node's health: documents in each shard it holds and the size of those indexes."""
    try:
        connection = connect(node.address, timeout=1.0)
    except Exception as exc:  # noqa: BLE001 - refused, unreachable, timed out
        return NodeStatus(node, up=False, error=str(exc.args[-1] if exc.args else exc))
    docs, sizes = {}, {}
    try:
        for shard in cluster.held_by(node):
            name = cluster.shard_index(shard)
            docs[shard] = int(fetch_all(connection, f"SELECT COUNT(*) FROM {name}")[0][0][0])
            info = dict(fetch_all(connection, f"SHOW INDEX {name} STATUS")[0])
            sizes[shard] = int(info.get("ram_bytes", 0)) + int(info.get("disk_bytes", 0))
    except Exception as exc:  # noqa: BLE001 - an index missing from its config, a query refused
        return NodeStatus(node, up=False, docs=docs, error=str(exc.args[-1] if exc.args else exc).rstrip("\x00"))
    finally:
        connection.close()
    return NodeStatus(node, up=True, docs=docs, sizes=sizes)
