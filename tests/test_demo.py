"""The bundled demo corpus: it indexes cleanly and exercises the special cases it was written for."""

import pytest

from search import Index, build_index
from search.cli import demo_corpus


def test_demo_corpus_builds_without_problems(tmp_path):
    report = build_index(demo_corpus(), tmp_path / "ix", procs=1)
    assert (report.total_docs, report.skipped, report.warnings) == (32, [], [])


@pytest.mark.parametrize("hidden", ["SCRIPT_SHOULD_NOT_BE_INDEXED", "STYLE_SHOULD_NOT_BE_INDEXED",
                                    "统计代码不应被索引", "IFRAME_FALLBACK"])
def test_script_style_and_iframe_content_is_not_searchable(demo_index_dir, hidden):
    with Index.open(demo_index_dir) as ix:
        assert ix.search(f'"{hidden}"').total == 0


@pytest.mark.parametrize("query", ["冬奥会", "國際論壇", "ＧＤＰ", "3300公里", "博物馆", "iphone 15", "中亚五国"])
def test_demo_queries_find_posts(demo_index_dir, query):
    with Index.open(demo_index_dir) as ix:
        assert ix.search(query).total >= 1
