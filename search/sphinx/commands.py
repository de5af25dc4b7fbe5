"""``news-search cluster``: shard map, searchd configurations, local nodes and their health."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cluster import MAP_FILE, load_map, plan_cluster, searchd_config, start, status, stop, write_map


def cluster_option(fn):
    return click.option("--cluster", "cluster_file", type=click.Path(dir_okay=False, path_type=Path),
                        default=MAP_FILE, envvar="NEWS_SEARCH_CLUSTER", show_default=True,
                        help="The cluster's shard map (env NEWS_SEARCH_CLUSTER).")(fn)


@click.group()
def cluster() -> None:
    """Run the index on a Sphinx cluster: shard map, searchd configs, local nodes, health.

    \b
    Example (two shards, each on two of three local nodes):
        news-search cluster init demo-cluster --shards 2 --mirrors 2 --nodes 3
        news-search cluster start --cluster demo-cluster/cluster.toml
        news-search build --corpus posts/ --cluster demo-cluster/cluster.toml \\
            --backend sphinx://127.0.0.1:9306,127.0.0.1:9308,127.0.0.1:9310
        news-search cluster status --cluster demo-cluster/cluster.toml
    """


@cluster.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--shards", type=click.IntRange(1, 256), default=2, show_default=True, help="Shards to split posts into.")
@click.option("--mirrors", type=click.IntRange(1, 16), default=2, show_default=True, help="Copies of each shard.")
@click.option("--nodes", type=click.IntRange(1, 256), default=None,
              help="searchd processes to spread the copies over [default: max(shards, mirrors)].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the nodes listen on.")
@click.option("--base-port", type=click.IntRange(1, 65000), default=9306, show_default=True,
              help="Node i listens on BASE+2i (SphinxQL) and BASE+2i+1 (agents).")
@click.option("--index", "index_name", default="news", show_default=True, help="Name of the distributed index.")
def init(directory, shards, mirrors, nodes, host, base_port, index_name):
    """Write a shard map, DIRECTORY/cluster.toml, for local nodes (edit it to use other machines).

    \b
    Example:
        news-search cluster init demo-cluster --shards 2 --mirrors 2 --nodes 3
    """
    path = directory / MAP_FILE
    if path.exists():
        raise click.ClickException(f"{path} exists already; remove it or choose another directory")
    shard_map = plan_cluster(directory, shards=shards, mirrors=mirrors, nodes=nodes, host=host,
                             base_port=base_port, index=index_name)
    write_map(shard_map, path)
    click.echo(f"Wrote {path}: {shards} shards x {mirrors} mirrors on {len(shard_map.nodes)} nodes.", err=True)
    click.echo("Next:", err=True)
    click.echo(f"  news-search cluster start --cluster {path}", err=True)
    click.echo(f"  news-search build --corpus DIR --cluster {path} --backend {shard_map.url}", err=True)


@cluster.command(name="start")
@cluster_option
def start_command(cluster_file):
    """Start the searchd of every local node in the shard map that is not running.

    Each node's configuration is (re)written from the map first, into its data directory.

    \b
    Example:
        news-search cluster start --cluster demo-cluster/cluster.toml
    """
    shard_map = load_map(cluster_file)
    for node in start(shard_map):
        click.echo(f"started {node.name} ({node.address})", err=True)
    click.echo(f"backend URL: {shard_map.url}")


@cluster.command(name="stop")
@cluster_option
def stop_command(cluster_file):
    """Stop the searchd of every local node in the shard map.

    \b
    Example:
        news-search cluster stop --cluster demo-cluster/cluster.toml
    """
    for node in stop(load_map(cluster_file)):
        click.echo(f"stopped {node.name} ({node.address})", err=True)


@cluster.command(name="status")
@cluster_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_command(cluster_file, as_json):
    """Show whether each node answers and how many posts each copy of each shard holds.

    Exits with 1 if a node is down or the mirrors of a shard hold different numbers of posts.

    \b
    Example:
        news-search cluster status --cluster demo-cluster/cluster.toml
    """
    shard_map = load_map(cluster_file)
    nodes = status(shard_map)
    shards = []
    for k in range(len(shard_map.shards)):
        counts = {s.node.name: s.docs[k] for s in nodes if s.up and k in s.docs}
        shards.append({"shard": k, "index": shard_map.shard_index(k), "mirrors": list(shard_map.shards[k]),
                       "docs": counts, "in_sync": len(set(counts.values())) == 1 and len(counts) > 0})
    healthy = all(s.up for s in nodes) and all(s["in_sync"] for s in shards)
    if as_json:
        click.echo(json.dumps({"healthy": healthy, "nodes": [s.to_dict() for s in nodes], "shards": shards},
                              ensure_ascii=False))
    else:
        for s in nodes:
            held = ", ".join(f"shard{k} {n} posts" for k, n in s.docs.items())
            state = f"up    {held}  {s.size_bytes / 1e6:.1f} MB" if s.up else f"DOWN  {s.error}"
            click.echo(f"{s.node.name:8s} {s.node.address!s:21s} {state}")
        for s in shards:
            note = "in sync" if s["in_sync"] else "MIRRORS DIFFER OR ARE DOWN"
            copies = ", ".join(f"{name} {n}" for name, n in s["docs"].items()) or "no copy answers"
            click.echo(f"shard {s['shard']}: {copies} ({note})")
    if not healthy:
        sys.exit(1)


@cluster.command(name="config")
@cluster_option
@click.argument("node")
def config_command(cluster_file, node):
    """Print the searchd configuration of NODE (to run it on its own machine).

    \b
    Example:
        news-search cluster config --cluster cluster.toml node1 > /etc/sphinxsearch/sphinx.conf
    """
    shard_map = load_map(cluster_file)
    if node not in shard_map.nodes:
        raise click.BadParameter(f"no node {node!r} in {cluster_file}; nodes: {', '.join(shard_map.nodes)}",
                                 param_hint="NODE")
    click.echo(searchd_config(shard_map, shard_map.nodes[node]))
