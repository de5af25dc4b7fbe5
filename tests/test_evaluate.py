"""The numpy evaluation of queries (search.local.evaluate) against Whoosh's own: the same results, exactly.

Every query runs twice through ``Index.search``: once as shipped (numpy) and
once with :func:`search.local.evaluate.evaluate` replaced by one that always
declines, which sends the query down the Whoosh path. The two must list the
same posts in the same order with the same scores (up to float rounding) and
the same totals and facets.
"""

import json
from datetime import datetime

import numpy as np
import pytest
from whoosh import query as wq

from search import Index, build_index, update_index
from search.local import evaluate as evaluate_module
from search.local import searcher as searcher_module
from search.local.evaluate import Unsupported, evaluate
from search.whoosh_internals import read_postings
from search.query.syntax import parse_query, plan_query
from search.local.whoosh_query import compile_query, to_whoosh
from tests.helpers import EVAL, require_shared, write_post

NOW = datetime(2022, 10, 1)

#: Every kind of node the query language compiles to, and the search options that change ranking.
HAND_WRITTEN = [
    ("冬奥", {}), ('"国际 论坛"', {}), ("芯片 OR 半导体", {}), ("芯片 -美国", {}), ("(芯片 OR 半导体) 美国", {}),
    ("-广告", {}), ("NOT 游戏 科技", {}), ("title:冬奥", {}), ("title:游戏 Steam", {}),
    ("source:果壳网", {}), ("category:科技 手机", {}), ("source:果壳网 OR source:IT之家", {}),
    ("date:2022-09", {}), ("手机 date:2022-09-01..2022-09-15", {}), ("游戏 date:>=2022-09-20", {}),
    ("日", {}), ("a", {}), ("國際", {}), ("ｉＰｈｏｎｅ", {}), ("iPhone 14", {}), ("去年 手机", {}),
    ("近三天", {}), ("手机", {"half_life_days": 7}), ("游戏 发布", {"half_life_days": 30}),
    ("手机", {"sort": "newest"}), ("手机", {"sort": "oldest"}), ("", {}), ("", {"sort": "oldest"}),
    ("zzzyyyxxx不存在的词", {}), ("手机 -手机", {}), ("中亚五国峰会", {}), ("人工智能 芯片 美国", {}),
    ("手机", {"filters": {"source": "IT之家", "date": "2022-09"}}), ("手机", {"page": 3, "per_page": 7}),
    ("家用 NAS 怎么搭建", {}), ("K8s", {}), ("通胀 数据", {}), ("冬奥会 火星基地", {}),  # optional, synonyms, partial
    ("冬奥会 火星基地", {"sort": "newest"}), ("芯片 火星基地", {"half_life_days": 30}),
]


def _dev_queries():
    path = EVAL / "dev-queries.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def rsshub(rsshub_index_dir):
    with Index.open(rsshub_index_dir) as ix:
        yield ix


def _with_whoosh(monkeypatch):
    def decline(searcher, q, **kwargs):
        raise Unsupported("forced")

    monkeypatch.setattr(searcher_module, "evaluate", decline)


def _fell_back(*args, **kwargs):
    raise AssertionError("the numpy evaluation declined the query")


def _snapshot(ix: Index, text: str, options: dict):
    options = {"per_page": 0, "snippets": False, "fold": False, "now": NOW} | options
    results = ix.search(text, **options)
    return results, [(hit.id, hit.score) for hit in results.hits]


def _assert_same(ix: Index, text: str, options: dict, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(searcher_module, "_rank_with_whoosh", _fell_back)
        fast, fast_hits = _snapshot(ix, text, options)
    with monkeypatch.context() as patch:
        _with_whoosh(patch)
        slow, slow_hits = _snapshot(ix, text, options)
    assert [i for i, _ in fast_hits] == [i for i, _ in slow_hits], text
    np.testing.assert_allclose([s for _, s in fast_hits], [s for _, s in slow_hits], rtol=1e-6, err_msg=text)
    assert (fast.total, fast.total_posts, fast.facets) == (slow.total, slow.total_posts, slow.facets), text


@pytest.mark.slow
def test_every_dev_query_ranks_as_whoosh_ranks_it(rsshub, monkeypatch):
    queries = _dev_queries()
    require_shared(EVAL / "dev-queries.jsonl")
    for text in queries:
        _assert_same(rsshub, text, {}, monkeypatch)


@pytest.mark.parametrize(("text", "options"), HAND_WRITTEN, ids=[f"{t}|{sorted(o)}" for t, o in HAND_WRITTEN])
def test_every_node_type_ranks_as_whoosh_ranks_it(rsshub, monkeypatch, text, options):
    _assert_same(rsshub, text, options, monkeypatch)


def test_folded_pages_match_whoosh(rsshub, monkeypatch):
    for page in (1, 2):
        _assert_same(rsshub, "手机", {"fold": True, "per_page": 10, "page": page}, monkeypatch)


def test_dev_queries_are_evaluated_with_numpy(rsshub):
    """The fast path covers the query language: no dev query needs the fallback."""
    searcher = rsshub._searcher
    declined = []
    for text in _dev_queries():
        node = parse_query(text)
        try:
            evaluate(searcher, compile_query(node, segmenter=rsshub.segmenter).query)
        except Unsupported:
            declined.append(text)
    assert declined == []


@pytest.mark.parametrize("text", ["冬奥会 火星基地", "家用 NAS 怎么搭建", "手机 -美国", "K8s", "芯片 date:2022-09"])
def test_a_query_evaluated_within_some_posts_matches_and_scores_them_as_over_all(rsshub, text):
    searcher = rsshub._searcher
    plan = plan_query(parse_query(text), segmenter=rsshub.segmenter, synonyms=rsshub.synonyms)
    for node in filter(None, (plan.match, plan.relaxed)):
        q = to_whoosh(node)
        every = evaluate(searcher, q, memo={})
        within = np.arange(0, searcher.doc_count_all(), 3)
        some = evaluate(searcher, q, memo={}, within=within)
        kept = np.isin(every.docnums, within)
        assert some.docnums.tolist() == every.docnums[kept].tolist()
        assert some.scores.tolist() == every.scores[kept].tolist()


def test_an_unsupported_node_falls_back_to_whoosh(index, monkeypatch):
    """A query node the evaluator does not know is declined, and Index.search still answers through Whoosh."""
    searcher = index._searcher
    with pytest.raises(Unsupported):
        evaluate(searcher, wq.Prefix("title", "冬"))
    calls = []
    original = searcher_module._rank_with_whoosh
    monkeypatch.setattr(searcher_module, "_rank_with_whoosh", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(searcher_module, "evaluate", lambda s, q, **k: evaluate(s, wq.Prefix("title", "冬")))
    assert [hit.title for hit in index.search("冬奥").hits] == ["北京冬奥会开幕式举行"]
    assert calls == [1]


def test_an_or_of_zero_scores_in_a_small_segment_is_declined(index):
    """Whoosh's preloaded Or drops zero-score matches (but not all of them); that quirk is left to Whoosh."""
    zero = [wq.Term("body", word, boost=0.0) for word in ("冬奥会", "论坛", "手机")]
    with pytest.raises(Unsupported):
        evaluate(index._searcher, wq.Or(zero))


def test_a_filter_scoring_zero_adds_one_as_in_whoosh(index):
    """ConstantScoreQuery(q, 0.0) scores 1.0 in Whoosh (its ListMatcher reads weight 0 as none)."""
    filtered = evaluate(index._searcher, wq.ConstantScoreQuery(wq.Term("source_key", "新华社"), 0.0))
    assert filtered.scores.tolist() == [1.0]


# --- the postings reader ---------------------------------------------------------------------

def _whoosh_postings(reader, field, btext):
    matcher = reader._terms.matcher(field, btext, reader.schema[field].format)
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return ids, weights


def _reader(ix: Index):
    (leaf, _), = ix._searcher.leaf_searchers()
    return leaf.reader()


def test_postings_of_a_long_list_are_read_block_by_block(tmp_path):
    root = tmp_path / "posts"
    for i in range(300):  # more than one 128-posting block, weights varying
        write_post(root, f"p{i}.md", title=f"报道{i}", body="<p>" + "新闻 " * (1 + i % 5) + "</p>")
    build_index(root, tmp_path / "index", procs=1)
    with Index.open(tmp_path / "index") as ix:
        reader = _reader(ix)
        inlined = reader.term_info("body", "新闻".encode()).is_inlined()
        ids, weights = read_postings(reader, "body", "新闻".encode())
        expected_ids, expected_weights = _whoosh_postings(reader, "body", "新闻".encode())
    assert len(ids) == 300 and not inlined
    assert ids.tolist() == expected_ids
    assert weights.tolist() == expected_weights


def test_postings_of_a_short_list_come_from_the_term_info(index):
    reader = _reader(index)
    btext = "冬奥会".encode()
    assert reader.term_info("body", btext).is_inlined()
    ids, weights = read_postings(reader, "body", btext)
    assert (ids.tolist(), weights.tolist()) == _whoosh_postings(reader, "body", btext)


def test_deleted_documents_are_left_out_after_an_update(corpus_dir, index_dir, monkeypatch):
    (corpus_dir / "体育/新华/要闻/冬奥会开幕.md").unlink()
    write_post(corpus_dir, "体育/新华/要闻/冬奥会闭幕.md", title="北京冬奥会闭幕", date="2022-02-20",
               body="<p>冬奥会闭幕式举行。</p>")
    update_index(index_dir, policy=None)  # no merge: the deletion stays in its segment
    with Index.open(index_dir) as ix:
        assert any(leaf.reader().has_deletions() for leaf, _ in ix._searcher.leaf_searchers())
        assert [hit.title for hit in ix.search("冬奥").hits] == ["北京冬奥会闭幕"]
        for text in ("冬奥", "举行", "source:新华社", "日", ""):
            _assert_same(ix, text, {}, monkeypatch)


def test_the_recency_weighting_halves_an_undated_post(tmp_path, monkeypatch):
    root = tmp_path / "posts"
    write_post(root, "dated.md", title="手机发布", date="2022-09-30")
    write_post(root, "undated.md", title="手机发布", date=None)
    build_index(root, tmp_path / "index", procs=1)
    with Index.open(tmp_path / "index") as ix:
        plain = {hit.id: hit.score for hit in ix.search("手机", now=NOW).hits}
        weighted = {hit.id: hit.score for hit in ix.search("手机", now=NOW, half_life_days=1).hits}
        _assert_same(ix, "手机", {"half_life_days": 1}, monkeypatch)
    assert weighted["undated.md"] == pytest.approx(plain["undated.md"] / 2)
    assert weighted["dated.md"] == pytest.approx(plain["dated.md"] / 2)  # one day old, half-life one day


def test_evaluation_module_is_used_by_search(index, monkeypatch):
    calls = []
    monkeypatch.setattr(searcher_module, "evaluate",
                        lambda s, q, **k: calls.append(q) or evaluate_module.evaluate(s, q, **k))
    index.search("冬奥")
    assert len(calls) == 1


def test_an_excluded_word_excludes_the_first_match_too(tmp_path, monkeypatch):
    """Whoosh's AndNot kept a segment's first match when the excluded word's first post came earlier."""
    root = tmp_path / "posts"
    write_post(root, "a.md", title="苹果", body="<p>苹果</p>")
    write_post(root, "b.md", title="苹果香蕉", body="<p>苹果 香蕉</p>")
    write_post(root, "c.md", title="香蕉", body="<p>香蕉</p>")
    build_index(root, tmp_path / "index", procs=1)
    with Index.open(tmp_path / "index") as ix:
        for whoosh in (False, True):
            with monkeypatch.context() as patch:
                if whoosh:
                    _with_whoosh(patch)
                assert [hit.id for hit in ix.search("香蕉 -苹果").hits] == ["c.md"]
