"""Shared fixtures: real posts in temporary directories, real indexes built from them.

Tests that need ``../shared`` (the real corpus and the eval set) skip with a
reason in a user's own clone, but fail in CI (``CI=true``), where it always
exists, so nothing silently stops being tested. Tests of the Sphinx backend
need ``searchd`` (``apt-get install sphinxsearch``, which ``.ci/run`` does) and
follow the same rule.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import textwrap
from pathlib import Path

import pytest

from search import Index, build_index
from search.cli import demo_corpus

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RSSHUB = SHARED / "corpus" / "rsshub"
EVAL = SHARED / "eval"


def require_shared(path: Path) -> Path:
    """Return ``path`` if it exists; otherwise skip (or fail in CI)."""
    if not path.exists():
        message = f"{path} not found: the shared corpus is beside the repository in CI"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_searchd() -> str:
    """Return the path of Sphinx's ``searchd``; skip without it (fail in CI)."""
    path = shutil.which("searchd")
    if path is None:
        message = "searchd not found: the Sphinx backend tests need apt-get install sphinxsearch (.ci/run does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_ports(count: int) -> int:
    """Return a port from which ``count`` consecutive ports on 127.0.0.1 are free."""
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


def start_cluster(directory: Path, *, shards: int = 2, mirrors: int = 2, nodes: int = 3):
    """Write a shard map for local nodes in ``directory``, start them and return the map."""
    from search.sphinx.cluster import MAP_FILE, load_map, plan_cluster, start, write_map

    require_searchd()
    planned = plan_cluster(directory, shards=shards, mirrors=mirrors, nodes=nodes, base_port=free_ports(2 * nodes))
    write_map(planned, directory / MAP_FILE)
    cluster = load_map(directory / MAP_FILE)
    start(cluster)
    return cluster


def write_post(root: Path, rel: str, *, title: str = "标题", body: str = "<p>正文</p>", date: str | None = "2022-06-07",
               author: str = "测试来源", categories: tuple[str, ...] = ("新闻", "测试来源", "要闻"),
               extra: str = "") -> Path:
    """Write one Hexo post under ``root`` and return its path."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    cats = "".join(f"\n - {c}" for c in categories)
    header = f"title: '{title}'\ncategories:{cats}\nauthor: {author}\n"
    if date is not None:
        header += f"date: {date}\n"
    path.write_text(f"---\n{header}{textwrap.dedent(extra)}---\n\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A tiny corpus of four posts, Simplified, Traditional and full-width."""
    root = tmp_path / "posts"
    write_post(root, "体育/新华/要闻/冬奥会开幕.md", title="北京冬奥会开幕式举行", date="2022-02-04",
               author="新华社", categories=("体育", "新华社", "要闻"),
               body="<p>第二十四届冬奥会开幕式在国家体育场举行。</p><p>中亚五国峰会代表出席。</p>")
    write_post(root, "国际/香港/要聞/論壇.md", title="國際論壇在港舉行", date="2021-10-28 14:08:07",
               author="香江通訊", categories=("国际", "香江通訊", "要聞"),
               body="<p>亞洲經濟國際論壇今日開幕，與會者討論數字轉型。</p>")
    write_post(root, "财经/晨光/快讯/GDP.md", title="一季度ＧＤＰ同比增长", date="'Tue, 25 Jan 2022 17:07:56 GMT'",
               author="晨光财经", categories=("财经", "晨光财经", "快讯"),
               body="<p>一季度ＧＤＰ同比增长５．２％，全长３３００公里的高铁贯通。</p>")
    write_post(root, "科技/环球/科技/iPhone.md", title="iPhone 15 发布", date="2023-06-12",
               author="环球日报", categories=("科技", "环球日报", "科技"),
               body="<p>Apple released the iPhone 15 with USB-C. 新款手机支持5G。</p>")
    return root


@pytest.fixture
def index_dir(corpus_dir: Path, tmp_path: Path) -> Path:
    """An index of :func:`corpus_dir`."""
    target = tmp_path / "index"
    build_index(corpus_dir, target, procs=1)
    return target


@pytest.fixture
def index(index_dir: Path):
    with Index.open(index_dir) as ix:
        yield ix


@pytest.fixture(scope="session")
def demo_index_dir(tmp_path_factory) -> Path:
    """An index of the bundled demo corpus (built once per test session)."""
    target = tmp_path_factory.mktemp("demo") / "index"
    build_index(demo_corpus(), target, procs=1)
    return target


@pytest.fixture(scope="session")
def rsshub_index_dir(tmp_path_factory) -> Path:
    """An index of the real 2,023-post corpus in ../shared (built once per test session)."""
    corpus = require_shared(RSSHUB)
    target = tmp_path_factory.mktemp("rsshub") / "index"
    build_index(corpus, target)
    return target


@pytest.fixture(scope="session")
def rsshub_cluster(tmp_path_factory):
    """A running Sphinx cluster (2 shards, each mirrored on 2 of 3 local nodes) holding ../shared's corpus."""
    from search.sphinx import SphinxBackend
    from search.sphinx.cluster import stop

    corpus = require_shared(RSSHUB)
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        SphinxBackend.from_url(cluster.url, cluster.path).build(corpus)
        yield cluster
    finally:
        stop(cluster)
