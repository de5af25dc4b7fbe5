"""Reading a query as the reader meant it: pinyin, typos, date words as text, suggestions; and never
rewriting a query that matches as typed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search import Index, QuerySyntaxError, Reading, Rewrite, build_index
from tests.helpers import write_post
from web import create_app

NOW = date(2026, 12, 5)  # the archive below ends in September 2022


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    """Posts with words readers misspell or type in pinyin, Latin words, and dated text."""
    root = tmp_path_factory.mktemp("readings")
    posts = root / "posts"
    titled = {
        "冬奥/开幕.md": ("北京冬奥会开幕式举行", "<p>第二十四届冬奥会在北京开幕。</p>", "2022-02-04"),
        "冬奥/闭幕.md": ("北京冬奥会闭幕", "<p>冬奥会圆满闭幕。</p>", "2022-02-20"),
        "冬奥/奖牌.md": ("冬奥会奖牌榜", "<p>奖牌榜公布。</p>", "2022-02-18"),
        "手机/销量.md": ("智能手机销量增长", "<p>智能手机市场回暖。</p>", "2022-03-10"),
        "手机/新品.md": ("智能手机新品发布", "<p>多款智能手机亮相。</p>", "2022-05-10"),
        "国际/访华.md": ("加拿大总理访华", "<p>加拿大总理抵达北京。</p>", "2022-06-01"),
        "国际/经济.md": ("加拿大经济回暖", "<p>加拿大央行维持利率。</p>", "2022-06-02"),
        "公司/美团.md": ("Meituan 发布财报", "<p>meituan 营收增长。</p>", "2022-08-01"),
        "公司/美团二.md": ("Meituan 业绩超预期", "<p>美团外卖。</p>", "2022-08-02"),
        "公司/微软.md": ("Microsoft 发布新系统", "<p>microsoft windows 更新。</p>", "2022-09-01"),
        "公司/小米.md": ("Xiaomi 新品", "<p>xiaomi phone.</p>", "2022-09-02"),
        "公司/小米手机.md": ("小米手机发布", "<p>小米发布新手机。</p>", "2022-09-03"),
        "科技/驱动.md": ("显卡驱动更新", "<p>驱动更新修复问题。</p>", "2022-07-01"),
        "科技/博客.md": ("The blog moves", "<p>our blog has moved.</p>", "2022-07-02"),
        "经济/出口.md": ("出口保持增长", "<p>今年以来，出口保持增长。</p>", "2022-04-01"),
        "经济/三月.md": ("3月出口数据", "<p>3月出口数据公布。</p>", "2022-04-20"),
        "经济/三月出口.md": ("外贸出口回升", "<p>外贸出口回升。</p>", "2022-03-15"),
        "科技/拼写.md": ("Mail tips", "<p>how to recieve mail.</p>", "2022-05-01"),
    }
    for i in range(12):
        titled[f"科技/邮件{i}.md"] = (f"Mail guide {i}", "<p>how to receive mail.</p>", f"2022-05-{i + 2:02d}")
    for rel, (title, body, day) in titled.items():
        write_post(posts, rel, title=title, body=body, date=day)
    build_index(posts, root / "index", procs=1)
    return root / "index"


@pytest.fixture(scope="module")
def ix(index_dir):
    with Index.open(index_dir) as index:
        yield index


def ids(results) -> set[str]:
    """The posts a reading matches (and their copies); partial matches after them are tested in test_ranking."""
    full = [hit for hit in results.hits if not hit.partial]
    return {hit.id for hit in full} | {c.id for hit in full for c in hit.copies}


WINTER_GAMES = {"冬奥/开幕.md", "冬奥/闭幕.md", "冬奥/奖牌.md"}


# --- pinyin ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, kind", [("dongaohui", "pinyin"), ("dong ao hui", "pinyin"), ("DongAoHui", "pinyin"),
                                         ("冬aohui", "pinyin"), ("dah", "initials")])
def test_pinyin_is_read_as_the_index_word_it_spells(ix, typed, kind):
    results = ix.search(typed, now=NOW)
    assert results.reading == Reading("冬奥会", "pinyin", (Rewrite(typed, "冬奥会", kind),), 3)
    assert ids(results) == WINTER_GAMES


def test_initials_of_four_letters_read_as_a_four_character_word(ix):
    results = ix.search("znsj", now=NOW)
    assert results.reading.text == "智能手机"
    assert ids(results) == {"手机/销量.md", "手机/新品.md"}


def test_pinyin_beside_other_words_keeps_them(ix):
    results = ix.search("dongaohui 闭幕", now=NOW)
    assert results.reading.text == "冬奥会 闭幕"
    assert ids(results) == {"冬奥/闭幕.md"}


def test_the_reading_shown_offers_the_query_as_typed(ix):
    results = ix.search("dongaohui", now=NOW)
    assert results.offered[0] == Reading("dongaohui", "typed", (), 0)


def test_a_latin_word_of_the_index_keeps_its_literal_meaning(ix):
    results = ix.search("xiaomi", now=NOW)
    assert results.reading is None
    assert results.hits[0].id == "公司/小米.md"  # first: the synonym 小米 (search.query.synonyms) ranks below it


# --- typos -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, read, kind", [
    ("meiutan", "meituan", "spelling"),          # 7 letters, a swap: one edit
    ("micorsfot", "microsoft", "spelling"),      # 9 letters, two swaps: two edits
    ("加那大", "加拿大", "homophone"),
    ("驰动", "驱动", "shape"),
])
def test_a_typo_that_finds_nothing_is_corrected(ix, typed, read, kind):
    results = ix.search(typed, now=NOW)
    assert results.reading.rewrites == (Rewrite(typed, read, kind),)
    assert results.total > 0 and all(read in (h.title + h.snippet).lower().replace("<mark>", "").replace("</mark>", "")
                                     for h in results.hits)


def test_a_homophone_typo_beside_other_words(ix):
    results = ix.search("加那大 总理", now=NOW)
    assert results.reading.text == "加拿大 总理"
    assert ids(results) == {"国际/访华.md"}


@pytest.mark.parametrize("typed", ["bolg", "mxxxosoft"])  # 4 letters: no edit; 9 letters, three edits: too far
def test_latin_words_beyond_the_edit_limit_are_not_corrected(ix, typed):
    results = ix.search(typed, now=NOW)
    assert (results.reading, results.total) == (None, 0)


def test_a_word_found_as_typed_is_only_offered_a_much_commoner_correction(ix):
    results = ix.search("recieve", now=NOW)
    assert results.reading is None
    assert ids(results) == {"科技/拼写.md"}
    assert [(r.text, r.kind, r.total) for r in results.offered] == [("receive", "spelling", 12)]


def test_a_query_that_matches_as_typed_is_not_read_otherwise(ix):
    results = ix.search("冬奥会", now=NOW)
    assert (results.reading, results.offered) == (None, ())


def test_as_typed_searches_exactly_what_was_typed(ix):
    results = ix.search("dongaohui", now=NOW, as_typed=True)
    assert (results.total, results.reading, results.offered) == (0, None, ())


# --- date words ------------------------------------------------------------------------------------

def test_date_words_whose_period_holds_nothing_are_searched_as_text(ix):
    results = ix.search("今年以来 出口", now=NOW)
    assert ids(results) == {"经济/出口.md"}
    assert results.reading == Reading("今年以来 出口", "date_text", (Rewrite("今年以来", "今年以来", "date_text"),), 1,
                                      date_parse=False)
    assert results.dates == ()
    dated = results.offered[0]
    assert dated.is_typed and dated.total == 0
    assert dated.rewrites == (Rewrite("今年以来", "2026-01-01..", "date"),)


def test_date_words_whose_period_holds_posts_stay_a_filter(ix):
    results = ix.search("2022年 出口", now=NOW)
    assert results.reading is None and results.dates[0].text == "2022年"
    assert ids(results) == {"经济/出口.md", "经济/三月.md", "经济/三月出口.md"}


def test_as_typed_keeps_an_empty_date_filter(ix):
    assert ix.search("今年以来 出口", now=NOW, as_typed=True).total == 0


def test_a_month_without_a_year_is_its_latest_within_the_archive_and_also_text(ix):
    results = ix.search("3月 出口", now=NOW)
    found = results.dates[0]
    assert (found.start, found.end, found.also_text) == (datetime(2022, 3, 1, tzinfo=UTC),
                                                          datetime(2022, 4, 1, tzinfo=UTC), True)
    assert ids(results) == {"经济/三月.md", "经济/三月出口.md"}  # March 2022, and a post that says 3月


def test_the_json_says_which_reading_was_applied(ix):
    data = ix.search("dongaohui", now=NOW).to_dict()
    assert data["reading"] == {"query": "冬奥会", "kind": "pinyin", "total": 3, "date_parse": True, "dates": [],
                               "rewrites": [{"typed": "dongaohui", "read": "冬奥会", "kind": "pinyin"}]}
    assert data["offered"][0]["kind"] == "typed"
    assert ix.search("冬奥会", now=NOW).to_dict()["reading"] is None


# --- suggestions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["冬奥", "dongao", "dongaoh", "dah", "冬ao"])
def test_suggestions_complete_text_pinyin_and_initials(ix, typed):
    assert "冬奥会" in ix.suggest(typed)


def test_suggestions_complete_the_last_word_and_keep_the_others(ix):
    assert "北京 冬奥会" in ix.suggest("北京 dongao")


def test_suggestions_include_frequent_title_phrases(ix):
    assert "北京冬奥会" in ix.suggest("北京冬")


@pytest.mark.parametrize("typed", ["", "   ", "北京 ", "zzzzzz"])
def test_nothing_to_complete_suggests_nothing(ix, typed):
    assert ix.suggest(typed) == []


def test_at_most_eight_suggestions_commonest_first(ix):
    found = ix.suggest("m")
    assert 0 < len(found) <= 8
    assert found[0] == "mail"  # in thirteen titles


# --- anything typed ----------------------------------------------------------------------------------

PINYINISH = st.lists(st.sampled_from(["zh", "ch", "sh", "a", "o", "e", "i", "u", "v", "ng", "n", "g", "x", "q", "j",
                                      "ong", "ao", "hui", "dong", " ", "冬", "'", "-", "OR", '"']),
                     max_size=20).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(max_codepoint=127), max_size=60) | PINYINISH)
def test_any_ascii_or_pinyin_like_query_searches_and_suggests(ix, text):
    try:
        results = ix.search(text, per_page=5, now=NOW)
    except QuerySyntaxError as exc:
        assert str(exc)
    else:
        assert results.total >= len(results.hits)
    assert len(ix.suggest(text)) <= 8


@pytest.fixture(scope="module")
def client(index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(index_dir), "TODAY": NOW.isoformat()}).test_client()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(alphabet=st.characters(max_codepoint=127), max_size=60) | PINYINISH,
       path=st.sampled_from(["/api/search", "/api/suggest", "/search"]))
def test_any_ascii_or_pinyin_like_query_on_the_web_never_fails(client, q, path):
    response = client.get(path, query_string={"q": q})
    assert response.status_code in (200, 302, 400)


# --- the web ---------------------------------------------------------------------------------------

def test_page_shows_the_pinyin_reading_and_one_click_back(client):
    page = client.get("/search?q=dongaohui").get_data(as_text=True)
    assert "拼音：<strong class=\"reading-text\">冬奥会</strong>" in page
    assert 'href="/search?q=dongaohui&amp;as_typed=1"' in page


def test_page_shows_the_correction_and_searching_as_typed(client):
    page = client.get("/search?q=加那大").get_data(as_text=True)
    assert "已显示「<strong class=\"reading-text\">加拿大</strong>」的结果，仍然搜索「" in page
    typed = client.get("/search?q=加那大&as_typed=1").get_data(as_text=True)
    assert "reading-note" not in typed and "没有同时包含全部关键词的结果" in typed  # as typed: partial matches only


def test_page_offers_did_you_mean(client):
    page = client.get("/search?q=recieve").get_data(as_text=True)
    assert '您是不是要找：<a class="suggestion" href="/search?q=receive">receive</a>' in page


def test_page_says_date_words_were_searched_as_text_and_offers_the_date(client):
    page = client.get("/search?q=今年以来 出口").get_data(as_text=True)
    assert "「今年以来」按日期（2026年1月1日起）没有找到结果，已按文字搜索。" in page
    assert "仍按日期筛选" in page


def test_api_suggest_returns_completions(client):
    assert client.get("/api/suggest?q=dongao").get_json() == {"query": "dongao", "suggestions": ["冬奥会"]}
    assert client.get("/api/suggest?q=beijingd").get_json()["suggestions"] == ["北京冬奥会"]


def test_api_suggest_refuses_a_too_long_query(client):
    response = client.get("/api/suggest", query_string={"q": "x" * 300})
    assert response.status_code == 400 and response.get_json()["error"]["message"]


def test_index_without_a_vocabulary_reads_nothing_and_suggests_nothing(tmp_path):
    posts = tmp_path / "posts"
    write_post(posts, "a.md", title="冬奥会开幕", body="<p>冬奥会。</p>")
    build_index(posts, tmp_path / "index", procs=1)
    (next((tmp_path / "index").glob("gen-*")) / "vocabulary.npz").unlink()  # as an index built before it existed
    with Index.open(tmp_path / "index") as index:
        assert (index.search("dongaohui").reading, index.search("dongaohui").total) == (None, 0)
        assert index.suggest("dongao") == []
        assert index.search("冬奥会").total == 1


def test_an_archive_without_dates_opens_and_reads_yearless_months_from_today(tmp_path):
    write_post(tmp_path / "posts", "a.md", title="3月的计划", date=None)
    build_index(tmp_path / "posts", tmp_path / "index", procs=1)
    with Index.open(tmp_path / "index") as index:
        results = index.search("3月 计划", now=NOW)
    assert results.dates[0].start == datetime(2026, 3, 1, tzinfo=UTC) and results.total == 1  # and as text
