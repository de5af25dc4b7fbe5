"""Shared fixtures: real posts in temporary directories, real indexes built from them, a real browser.

Helpers that are not fixtures live in :mod:`tests.helpers`, :mod:`tests.servers` and
:mod:`tests.browsing`. Read-only indexes are built once per session; a test that
writes to an index takes :func:`index_dir`, its own copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search import Index, build_index
from search.cli import demo_corpus
from tests.browsing import CHROMIUM, CHROMIUM_ARGS, TODAY, WIDGET_PAGE, Embedding, require_browser
from tests.helpers import RSSHUB, require_shared, start_cluster, write_small_corpus
from tests.servers import host_site, running_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test of the real corpus's index is ``slow``: building it takes half a minute on two cores."""
    for item in items:
        if "rsshub_index_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A tiny corpus of four posts, Simplified, Traditional and full-width (the test's own, to change at will)."""
    return write_small_corpus(tmp_path / "posts")


@pytest.fixture
def index_dir(corpus_dir: Path, tmp_path: Path) -> Path:
    """An index of :func:`corpus_dir` (the test's own, to change at will)."""
    target = tmp_path / "index"
    build_index(corpus_dir, target, procs=1)
    return target


@pytest.fixture(scope="session")
def small_index_dir(tmp_path_factory) -> Path:
    """An index of the same four posts as :func:`corpus_dir`, built once per session: only to read."""
    root = tmp_path_factory.mktemp("small")
    target = root / "index"
    build_index(write_small_corpus(root / "posts"), target, procs=1)
    return target


@pytest.fixture(scope="session")
def index(small_index_dir: Path):
    """The open :func:`small_index_dir` (searching only)."""
    with Index.open(small_index_dir) as ix:
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


# --- a real browser -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, driven by Playwright (skips without them; fails in CI)."""
    sync_playwright = require_browser()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(rsshub_index_dir):
    """The real server on ../shared's corpus, its "today" fixed at :data:`tests.browsing.TODAY`."""
    require_browser()
    with running_server(rsshub_index_dir, "--today", TODAY) as base:
        yield base


@pytest.fixture(scope="module")
def embedding(rsshub_index_dir) -> Embedding:
    """The real server, a blog embedding the widget that may call it, and a site that may not."""
    require_browser()
    with host_site() as blog, host_site() as stranger:
        with running_server(rsshub_index_dir, "--allow-origin", blog.origin, "--blog-url", blog.origin,
                            "--blog-timezone", "Asia/Shanghai") as api:
            blog.page = stranger.page = WIDGET_PAGE.replace("{endpoint}", api)
            yield Embedding(api, blog, stranger)
