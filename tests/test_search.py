"""Searching a real index: matching, folding, operators, filters, ranking, paging, facets, snippets."""

from datetime import datetime, timezone

import pytest

from search import Index, QuerySyntaxError, build_index
from search.query.highlight import make_snippet
from tests.helpers import write_post

GAMES = "体育/新华/要闻/冬奥会开幕.md"
FORUM = "国际/香港/要聞/論壇.md"
GDP = "财经/晨光/快讯/GDP.md"
PHONE = "科技/环球/科技/iPhone.md"


def ids(results):
    """The posts a query matches: its full matches (the partial ones listed after them are tested in test_ranking)."""
    return [h.id for h in results.hits if not h.partial]


@pytest.mark.parametrize("text, expected", [
    ("冬奥会", [GAMES]),
    ("冬奥会开幕", [GAMES]),          # no spaces: segmented like the index
    ("中亚五国峰会", [GAMES]),
    ("国峰", [GAMES]),                # cuts through jieba's words
    ("國際論壇", [FORUM]),            # Traditional query
    ("国际论坛", [FORUM]),            # Simplified query, Traditional post
    ("ＧＤＰ", [GDP]),                # full-width query
    ("gdp", [GDP]),                   # half-width query, full-width post
    ("3300公里", [GDP]),
    ("IPHONE", [PHONE]),              # case
    ("usb-c", [PHONE]),
    ("新华社", [GAMES]),              # source name is searchable
])
def test_text_contained_in_a_post_finds_it(index, text, expected):
    assert ids(index.search(text)) == expected


def test_all_words_must_match(index):
    results = index.search("冬奥会 论坛")
    assert ids(results) == [] and results.exact == 0
    assert results.hits and all(hit.partial for hit in results.hits)


def test_phrase_must_be_contiguous(index):
    assert ids(index.search('"中亚五国峰会"')) == [GAMES]
    assert ids(index.search('"冬奥会峰会"')) == []


def test_phrase_ignores_whitespace_differences(index):
    assert ids(index.search('"iPhone15"')) == [PHONE]


@pytest.mark.parametrize("text, expected", [
    ("开幕 -冬奥会", [FORUM]),
    ('开幕 -"国家体育场"', [FORUM]),
    ("冬奥会 OR 论坛", [GAMES, FORUM]),
    ("(冬奥会 OR 论坛) 开幕", [GAMES, FORUM]),
    ("(冬奥会 OR 论坛) -體育場", [FORUM]),
])
def test_operators(index, text, expected):
    assert sorted(ids(index.search(text))) == sorted(expected)


@pytest.mark.parametrize("text, expected", [
    ("title:冬奥", [GAMES]),
    ("title:峰会", []),                     # in the body only
    ("source:新华社", [GAMES]),
    ("author:香江通讯", [FORUM]),            # folded: Traditional source name
    ("category:国际", [FORUM]),
    ("category:要聞", [GAMES, FORUM]),       # any level, folded
    ("category:财经/晨光财经", [GDP]),        # a path prefix
    ("date:2022", [GAMES, GDP]),
    ("date:2022-01..2022-02", [GAMES, GDP]),
    ("date:>=2023-01-01", [PHONE]),
    ("date:<2022", [FORUM]),
])
def test_field_filters(index, text, expected):
    assert sorted(ids(index.search(text))) == sorted(expected)


def test_api_filters_match_query_filters(index):
    assert ids(index.search("", filters={"source": "新华社"})) == [GAMES]
    assert sorted(ids(index.search("", filters={"date": "2022"}))) == sorted([GAMES, GDP])


def test_unknown_api_filter_is_an_error(index):
    with pytest.raises(QuerySyntaxError, match="unknown filter"):
        index.search("x", filters={"colour": "red"})


def test_empty_query_lists_everything(index):
    assert index.search("").total == 4


def test_sort_newest_and_oldest(index):
    assert ids(index.search("", sort="newest")) == [PHONE, GAMES, GDP, FORUM]
    assert ids(index.search("", sort="oldest")) == [FORUM, GDP, GAMES, PHONE]


@pytest.mark.parametrize("kwargs, message", [
    ({"page": 0}, "page"), ({"per_page": -1}, "per_page"), ({"sort": "random"}, "sort"),
    ({"half_life_days": -3}, "half_life"),
])
def test_bad_parameters_raise_clear_errors(index, kwargs, message):
    with pytest.raises(QuerySyntaxError, match=message):
        index.search("冬奥会", **kwargs)


def test_paging_with_exact_total(index):
    first = index.search("", per_page=3, sort="oldest")
    second = index.search("", per_page=3, page=2, sort="oldest")
    assert (first.total, first.pages, len(first.hits)) == (4, 2, 3)
    assert ids(second) == [PHONE]
    assert index.search("", per_page=3, page=3).hits == ()


def test_facets_count_the_whole_result_set(index):
    facets = index.search("", per_page=1).facets
    assert {f.value: f.count for f in facets["category"]} == {"体育": 1, "国际": 1, "财经": 1, "科技": 1}
    assert [(f.value, f.count) for f in facets["month"]] == [
        ("2021-10", 1), ("2022-01", 1), ("2022-02", 1), ("2023-06", 1)]
    assert len(facets["source"]) == 4


def test_hit_carries_display_fields(index):
    hit = index.search("冬奥会").hits[0]
    assert (hit.title, hit.source, hit.categories) == ("北京冬奥会开幕式举行", "新华社", ("体育", "新华社", "要闻"))
    assert hit.date == datetime(2022, 2, 4, tzinfo=timezone.utc)
    assert hit.score > 0


def test_snippet_marks_traditional_text_for_simplified_query(index):
    assert "<mark>國際論壇</mark>" in index.search("国际论坛").hits[0].snippet


def test_snippet_marks_full_width_text_for_half_width_query(index):
    assert "<mark>ＧＤＰ</mark>" in index.search("gdp").hits[0].snippet


def test_title_is_highlighted(index):
    assert index.search("冬奥会").hits[0].title_html == "北京<mark>冬奥会</mark>开幕式举行"


def test_title_only_match_gets_start_of_body_as_snippet(index):
    hit = index.search("title:举行 date:2022").hits[0]
    assert hit.snippet == "第二十四届冬奥会开幕式在国家体育场举行。 中亚五国峰会代表出席。"


def test_post_and_query_markup_come_back_escaped(tmp_path):
    write_post(tmp_path / "c", "x/y/z/evil.md", title="<script>alert(1)</script>标题",
               body="<p>&lt;script&gt;alert(1)&lt;/script&gt; 正文</p>")
    build_index(tmp_path / "c", tmp_path / "ix", procs=1)
    with Index.open(tmp_path / "ix") as ix:
        assert ix.search("<script>alert(1)</script>").total == 1
        hit = ix.search('"<script>alert(1)</script>"').hits[0]
    assert "<script>" not in hit.snippet and "<script>" not in hit.title_html
    assert hit.snippet == "<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark> 正文"
    assert hit.title_html == "<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark>标题"


def test_snippet_fragments_are_cut_around_distant_matches():
    text = "开头" + "填充" * 200 + "冬奥会" + "填充" * 200 + "峰会" + "结尾" * 50
    snippet = make_snippet(text, ["冬奥会", "峰会"])
    assert snippet.count("<mark>") == 2
    assert snippet.startswith("…") and " …" in snippet


def test_recency_blend_lifts_newer_posts(tmp_path):
    for year in (2015, 2022):
        write_post(tmp_path / "c", f"a/b/c/{year}.md", title=f"芯片 {year}", body="<p>芯片产业</p>",
                   date=f"{year}-01-01")
    build_index(tmp_path / "c", tmp_path / "ix", procs=1)
    now = datetime(2022, 6, 1, tzinfo=timezone.utc)
    with Index.open(tmp_path / "ix") as ix:
        plain = ix.search("芯片 2015")
        blended = ix.search("芯片", half_life_days=30, now=now)
    assert ids(plain)[0] == "a/b/c/2015.md"
    assert ids(blended) == ["a/b/c/2022.md", "a/b/c/2015.md"]
    assert blended.hits[0].score > 10 * blended.hits[1].score


def test_adjacent_words_rank_above_scattered_words(tmp_path):
    write_post(tmp_path / "c", "a/b/c/scattered.md", title="甲", body="<p>国际新闻很多。今天的论坛很热闹。论坛</p>")
    write_post(tmp_path / "c", "a/b/c/adjacent.md", title="乙", body="<p>今天举办国际论坛。</p>")
    build_index(tmp_path / "c", tmp_path / "ix", procs=1)
    with Index.open(tmp_path / "ix") as ix:
        assert ids(ix.search("国际 论坛")) == ["a/b/c/adjacent.md", "a/b/c/scattered.md"]


def test_more_like_this_finds_related_posts(demo_index_dir):
    with Index.open(demo_index_dir) as ix:
        games = ix.search("title:冬奥会开幕式").hits[0].id
        related = ix.more_like(games, limit=3)
    assert related and games not in [h.id for h in related]
    assert any("冬奥" in h.title or "冬奧" in h.title for h in related)


def test_get_returns_the_stored_post(index):
    post = index.get(FORUM)
    assert post.title == "國際論壇在港舉行"
    assert "<p>亞洲經濟國際論壇" in post.html
    assert index.get("../../etc/passwd") is None


def test_stats_describe_the_index(index):
    stats = index.stats()
    assert stats.docs == 4
    assert stats.size_bytes > 0
    assert stats.first_date == datetime(2021, 10, 28, 14, 8, 7, tzinfo=timezone.utc)
    assert {f.value for f in stats.sources} == {"新华社", "香江通訊", "晨光财经", "环球日报"}


def test_open_index_sees_a_rebuild_without_reopening(corpus_dir, index_dir):
    with Index.open(index_dir) as ix:
        assert ix.search("台风").total == 0
        write_post(corpus_dir, "社会/台风.md", title="台风登陆", body="<p>台风登陆广东</p>")
        build_index(corpus_dir, index_dir, procs=1)
        assert ids(ix.search("台风")) == ["社会/台风.md"]


@pytest.mark.parametrize("with_dict, expected", [(True, ["a/b/c/whole.md"]),
                                                  (False, ["a/b/c/split.md", "a/b/c/whole.md"])])
def test_queries_are_cut_with_the_user_dictionary_of_the_index(tmp_path, with_dict, expected):
    userdict = tmp_path / "dict.txt"
    userdict.write_text("量子纠缠态 100 n\n", encoding="utf-8")
    write_post(tmp_path / "c", "a/b/c/whole.md", title="甲", body="<p>量子纠缠态的新实验。</p>")
    write_post(tmp_path / "c", "a/b/c/split.md", title="乙", body="<p>量子的纠缠态。</p>")
    build_index(tmp_path / "c", tmp_path / "ix", userdict=str(userdict) if with_dict else None, procs=1)
    with Index.open(tmp_path / "ix") as ix:
        # One dictionary word must occur whole; three default words may be scattered.
        assert sorted(ids(ix.search("量子纠缠态"))) == expected


def test_one_index_serves_many_threads_during_rebuilds(corpus_dir, index_dir):
    import threading

    errors, totals = [], []
    with Index.open(index_dir) as ix:
        def hammer():
            try:
                for _ in range(30):
                    totals.append(ix.search("开幕 OR 论坛").total)
            except Exception as exc:  # noqa: BLE001 - the test reports any failure
                errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for _ in range(3):
            build_index(corpus_dir, index_dir, procs=1)
        for t in threads:
            t.join()
    assert errors == []
    assert set(totals) == {2}
