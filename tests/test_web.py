"""The web site and JSON API through Flask's test client, over real indexes.

Browser tests (a real Chromium against the real server) are in test_browser.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from html import unescape

from markupsafe import escape
from urllib.parse import quote, unquote

import pytest

import web
import web.sanitize
import web.templating
from search import Index, build_index
from tests.helpers import check_response, write_post
from web import SECURITY_HEADERS, create_app
from web.index import get_index

XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>'


@pytest.fixture
def app(demo_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(demo_index_dir)})


@pytest.fixture
def client(app):
    return app.test_client()


def text(response) -> str:
    return response.get_data(as_text=True)


def post_links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'class="hit-title"[^>]*><a href="([^"]+)"', html)]


# --- home ------------------------------------------------------------------------------------

def test_home_has_a_focused_search_box_examples_and_stats(client):
    html = text(client.get("/"))
    assert re.search(r'<input id="q"[^>]*name="q"[^>]*autofocus', html)
    assert '<label class="visually-hidden" for="q">搜索新闻</label>' in html
    assert 'href="/search?q=%E8%8A%AF%E7%89%87+OR+%E5%8D%8A%E5%AF%BC%E4%BD%93"' in html  # 芯片 OR 半导体
    assert "<dd>32 篇</dd>" in html and "<dd>8 个</dd>" in html
    assert "最近更新" in html and "时间范围" in html


def test_search_without_query_or_filters_goes_home(client):
    response = client.get("/search?q=++")
    assert response.status_code == 302 and response.headers["Location"] == "/"


# --- results ---------------------------------------------------------------------------------

def test_results_show_total_time_highlighted_titles_and_keep_the_query(client):
    html = text(client.get("/search?q=冬奥会"))
    assert re.search(r"找到 <strong>6</strong> 条结果\s*<span class=\"summary-time\">（用时 [\d.]+ 毫秒）", html)
    assert 'value="冬奥会"' in html
    assert "<mark>冬奥会</mark>短道速滑混合团体接力中国队夺冠" in html
    assert html.count('<li class="hit">') == 6
    assert re.search(r'<time datetime="2022-02-0\dT[^"]+">2022年2月\d+日</time>', html)


def test_hit_links_carry_the_query_to_the_article(client):
    link = post_links(text(client.get("/search?q=冬奥会")))[0]
    assert link.startswith("/post/") and link.endswith("?q=%E5%86%AC%E5%A5%A5%E4%BC%9A")


def test_results_sort_newest_and_oldest(client):
    def dates(sort):
        return re.findall(r'<time datetime="([^"]+)"', text(client.get(f"/search?q=中亚&sort={sort}")))
    assert dates("newest") == sorted(dates("newest"), reverse=True)
    assert dates("oldest") == sorted(dates("oldest"))
    html = text(client.get("/search?q=中亚&sort=newest"))
    assert '<a href="/search?q=%E4%B8%AD%E4%BA%9A&amp;sort=newest" aria-current="true" class="active">最新</a>' in html


def test_facet_link_adds_a_filter_and_the_chip_removes_it(client):
    html = text(client.get("/search?q=中亚"))
    assert 'href="/search?q=%E4%B8%AD%E4%BA%9A&amp;source=%E6%96%B0%E5%8D%8E%E5%BF%AB%E8%AE%AF"' in html
    filtered = text(client.get("/search?q=中亚&source=新华快讯"))
    assert "找到 <strong>2</strong> 条结果" in filtered
    assert 'aria-label="去掉筛选：来源 新华快讯"' in filtered
    chip = re.search(r'<a class="chip chip-active" href="([^"]+)"', filtered).group(1)
    assert unescape(chip) == "/search?q=%E4%B8%AD%E4%BA%9A"


def test_category_filter_alone_browses_newest_first(client):
    html = text(client.get("/search?category=体育"))
    assert "找到 <strong>4</strong> 条结果" in html
    dates = re.findall(r'<time datetime="([^"]+)"', html)
    assert dates == sorted(dates, reverse=True)


def test_pagination_links_keep_query_and_filters(client):
    html = text(client.get("/search?q=冬奥会&per_page=2&page=2"))
    assert '<span class="page-current" aria-current="page">2</span>' in html
    assert 'rel="prev" href="/search?q=%E5%86%AC%E5%A5%A5%E4%BC%9A&amp;per_page=2"' in html
    assert 'rel="next" href="/search?q=%E5%86%AC%E5%A5%A5%E4%BC%9A&amp;per_page=2&amp;page=3"' in html
    assert '<ol class="hits" start="3">' in html


def test_date_range_filter_from_and_to(client):
    html = text(client.get("/search?q=冬奥会&from=2022-02-01&to=2022-02-28"))
    assert "找到 <strong>4</strong> 条结果" in html
    assert 'name="from" value="2022-02-01"' in html and 'name="to" value="2022-02-28"' in html
    assert "<span class=\"chip-label\">日期</span>2022-02-01 至 2022-02-28" in html


def test_timeline_is_inline_svg_whose_bars_filter_by_month(client):
    html = text(client.get("/search?q=冬奥会"))
    svg = re.search(r'<svg class="timeline-chart".*?</svg>', html, re.DOTALL).group(0)
    assert svg.count('class="tl-bar"') == 3  # 2022-01, 2022-02 and 2022-06 have posts
    assert svg.count('class="tl-hit"') == 6  # every month from January to June
    assert "<title>2022年2月：4 篇</title>" in svg
    assert 'href="/search?q=%E5%86%AC%E5%A5%A5%E4%BC%9A&amp;from=2022-02&amp;to=2022-02"' in svg
    assert "找到 <strong>4</strong> 条结果" in text(client.get("/search?q=冬奥会&from=2022-02&to=2022-02"))


# --- dates in the query ----------------------------------------------------------------------

@pytest.fixture
def dated_client(demo_index_dir):
    """The demo site on 1 March 2022, so 上个月 is February 2022."""
    return create_app({"TESTING": True, "INDEX_DIR": str(demo_index_dir), "TODAY": "2022-03-01"}).test_client()


def test_results_show_the_date_read_from_the_query(dated_client):
    html = text(dated_client.get("/search?q=冬奥会 上个月"))
    assert "找到 <strong>4</strong> 条结果" in html
    assert '<span class="chip-label">按日期筛选</span>2022年2月1日–2月28日' in html
    assert 'aria-label="不按日期理解“上个月”（按日期筛选 2022年2月1日–2月28日），按文字搜索"' in html


def test_the_date_chip_searches_the_words_as_text_instead(dated_client):
    html = text(dated_client.get("/search?q=冬奥会 上个月"))
    link = unescape(re.search(r'<a class="chip chip-active chip-date" href="([^"]+)"', html).group(1))
    assert link == "/search?q=%E5%86%AC%E5%A5%A5%E4%BC%9A+%E4%B8%8A%E4%B8%AA%E6%9C%88&date_parse=0"
    literal = text(dated_client.get(link))
    assert "没有同时包含全部关键词的结果" in literal  # no post says 上个月: the 冬奥会 posts follow as partial matches
    assert '<span class="chip-label">日期词</span>按文字搜索' in literal
    assert '<input type="hidden" name="date_parse" value="0">' in literal  # typing a new query keeps it


def test_a_query_of_only_a_date_lists_the_period_newest_first(dated_client):
    html = text(dated_client.get("/search?q=2022年"))
    dates = re.findall(r'<time datetime="([^"]+)"', html)
    assert dates == sorted(dates, reverse=True) and dates[0].startswith("2022-12")
    assert 'aria-current="true" class="active">最新</a>' in html
    assert ">相关度</a>" not in html


def test_a_query_of_only_a_relative_date_says_the_sort_the_library_used(dated_client):
    html = text(dated_client.get("/search?q=去年"))  # 2021 on 1 March 2022: no words to rank by
    dates = re.findall(r'<time datetime="([^"]+)"', html)
    assert dates and dates == sorted(dates, reverse=True) and all(d.startswith("2021") for d in dates)
    assert re.findall(r'aria-current="true" class="active">([^<]+)</a>', html) == ["最新"]
    assert ">相关度</a>" not in html and 'name="sort" value="relevance"' not in html
    data = dated_client.get("/api/search?q=去年").get_json()
    assert data["sort"] == "newest"


def test_no_results_for_a_date_suggests_searching_the_words_as_text(dated_client):
    html = text(dated_client.get("/search?q=冬奥会 2020年"))
    assert '&amp;date_parse=0">不按日期理解“2020年”</a>，把它当作文字搜索' in html


def test_api_lists_the_dates_read_and_date_parse_0_turns_reading_off(dated_client):
    read = dated_client.get("/api/search?q=冬奥会 上个月").get_json()
    assert (read["total"], read["dates"][0]["date"]) == (4, "2022-02-01..2022-02-28")
    literal = dated_client.get("/api/search?q=冬奥会 上个月&date_parse=0").get_json()
    assert (literal["exact"], literal["partial"], literal["dates"]) == (0, True, [])


def test_today_comes_from_the_environment(demo_index_dir, monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_TODAY", "2022-03-01")
    client = create_app({"INDEX_DIR": str(demo_index_dir)}).test_client()
    assert client.get("/api/search?q=上个月").get_json()["dates"][0]["date"] == "2022-02-01..2022-02-28"


def test_a_bad_today_setting_is_refused_at_startup(monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_TODAY", "2022-02-30")
    with pytest.raises(ValueError, match="NEWS_SEARCH_TODAY.*YYYY-MM-DD.*2022-02-30"):
        create_app()


def test_no_results_suggests_dropping_filters_and_words(client):
    html = text(client.get("/search?q=火星基地 木卫探测&source=新华快讯"))  # no post holds either word
    assert "没有找到与“<span class=\"no-results-q\">火星基地 木卫探测</span>”相关的新闻" in html
    assert f'href="/search?q={quote("火星基地")}+{quote("木卫探测")}">去掉筛选条件</a>' in html
    assert f'<a class="suggestion" href="/search?q={quote("火星基地")}&amp;source=' in html


def test_thumbnail_only_for_real_pictures_lazy_and_without_referrer(tmp_path):
    corpus = tmp_path / "posts"
    write_post(corpus, "a/real.md", title="图片新闻一", extra="thumbnail: 'https://img.example.com/a/photo.jpg'\n")
    write_post(corpus, "a/page.md", title="图片新闻二", extra="thumbnail: 'https://example.com/article/1/'\n")
    write_post(corpus, "a/fake.md", title="图片新闻三", extra="thumbnail: 'https://picsum.photos/400/300?random=1'\n")
    build_index(corpus, tmp_path / "ix", procs=1)
    html = text(create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client().get("/search?q=图片新闻"))
    assert html.count('class="hit-thumb"') == 1
    assert ('<img class="hit-thumb" src="https://img.example.com/a/photo.jpg" alt="" loading="lazy" '
            'decoding="async" referrerpolicy="no-referrer"') in html


@pytest.mark.parametrize("url, expected", [
    ("https://img1.mydrivers.com/img/20220926/x.jpg", True),
    ("https://3-im.guokr.com/abc.png?imageView2/1/w/555/h/370", True),
    ("https://mmbiz.qpic.cn/mmbiz_gif/abc/640?wx_fmt=gif", True),
    ("https://cors.example.dev/?http://www.guokr.com/article/462262/", False),
    ("https://picsum.photos/400/300?random=146", False),
    ("javascript:alert(1)//.jpg", False),
    ("", False),
    (None, False),
])
def test_thumbnail_recognises_picture_urls(url, expected):
    assert (web.templating.thumbnail(url) is not None) is expected


def test_dates_are_shown_in_beijing_time(small_index_dir):
    client = create_app({"INDEX_DIR": str(small_index_dir)}).test_client()
    html = text(client.get("/search?q=ＧＤＰ"))  # dated Tue, 25 Jan 2022 17:07:56 GMT
    assert ">2022年1月26日</time>" in html


# --- article ---------------------------------------------------------------------------------

def test_article_shows_title_metadata_body_related_and_highlights(client):
    link = next(link for link in post_links(text(client.get("/search?q=冬奥会"))) if "短道速滑" in unquote(link))
    html = text(client.get(link))
    assert '<h1 class="article-title"><mark>冬奥会</mark>短道速滑混合团体接力中国队夺冠</h1>' in html
    assert '<div class="article-body">' in html and "<mark>" in html.split('<div class="article-body">')[1]
    assert '<a class="article-source" href="/search?source=' in html
    assert '<h2 id="related-title" class="facet-title">相关报道</h2>' in html
    assert html.count("<li><a href=\"/post/") >= 1
    assert "← 返回“冬奥会”的搜索结果" in html


def test_article_without_query_has_no_marks(client):
    link = post_links(text(client.get("/search?q=冬奥会")))[0].split("?")[0]
    assert "<mark>" not in text(client.get(link))


def test_post_ids_with_spaces_hash_question_mark_and_percent_round_trip(tmp_path):
    corpus = tmp_path / "posts"
    rel = "国际/来 源/50% off #1 what?.md"
    write_post(corpus, rel, title="奇怪的文件名", body="<p>正文内容</p>")
    build_index(corpus, tmp_path / "ix", procs=1)
    client = create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client()
    link = post_links(text(client.get("/search?q=奇怪")))[0]
    assert link == "/post/" + quote(rel) + "?q=%E5%A5%87%E6%80%AA"
    assert "奇怪的文件名" in text(client.get(link))
    assert client.get("/api/post/" + quote(rel)).get_json()["path"] == rel


@pytest.mark.parametrize("doc_id", [
    "../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "体育/../../../etc/passwd", "/etc/passwd", "a/./b.md",
    "a%00b.md", "a%5Cb.md", "没有这篇.md",
])
@pytest.mark.parametrize("prefix, kind", [("/post/", "html"), ("/api/post/", "json")])
def test_unknown_or_malicious_ids_are_404(client, prefix, kind, doc_id):
    response = client.get(prefix + doc_id, follow_redirects=True)  # "//" is merged by a redirect first
    assert response.status_code == 404
    if kind == "json":
        assert response.get_json() == {"error": {"status": 404, "message": "链接可能已失效，或者文章已从索引中删除。"}}
    else:
        assert "<h1>找不到这个页面</h1>" in text(response)


# --- parameter errors ------------------------------------------------------------------------

BAD_PARAMS = [
    ("page=-1", "page 必须是 1 到 500 之间的整数，收到 '-1'。"),
    ("page=0", "page 必须是 1 到 500 之间的整数，收到 '0'。"),
    ("page=abc", "page 必须是 1 到 500 之间的整数，收到 'abc'。"),
    ("page=501", "page 必须是 1 到 500 之间的整数，收到 '501'。"),
    ("per_page=10000", "per_page 必须是 1 到 50 之间的整数，收到 '10000'。"),
    ("per_page=0", "per_page 必须是 1 到 50 之间的整数，收到 '0'。"),
    ("sort=best", "sort 只能是 relevance（相关度）、newest（最新）或 oldest（最早），收到 'best'。"),
    # Dates and sorts are checked by the library, whose QuerySyntaxError says what is wrong in its own words.
    ("from=2022-13-01", "“2022-13-01”不是有效的日期"),
    ("to=yesterday", "“yesterday”不是日期，请用 YYYY、YYYY-MM 或 YYYY-MM-DD"),
    ("from=2022-03&to=2022-01", "日期范围“2022-03..2022-01”的结束早于开始"),
    ("date=soon", "“soon”不是日期，请用 YYYY、YYYY-MM 或 YYYY-MM-DD"),
    ("date=2022&from=2022-01", "date 不能与 from/to 同时使用。"),
    ("date_parse=maybe", "date_parse 只能是 1 或 0（true 或 false），收到 'maybe'。"),
]


@pytest.mark.parametrize("query, message", BAD_PARAMS)
def test_api_rejects_bad_parameters_with_400_json(client, query, message):
    response = client.get(f"/api/search?q=冬奥会&{query}")
    assert response.status_code == 400
    assert response.get_json() == {"error": {"status": 400, "message": message}}


@pytest.mark.parametrize("query, message", BAD_PARAMS)
def test_pages_reject_bad_parameters_with_400_page_keeping_the_query(client, query, message):
    response = client.get(f"/search?q=冬奥会&{query}")
    html = text(response)
    assert response.status_code == 400
    assert f'<p class="error-message">{escape(message)}</p>' in html
    assert 'value="冬奥会"' in html


def test_api_rejects_unknown_format(client):
    response = client.get("/api/search?q=冬奥会&format=xml")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "format 只能是 json 或 html，收到 'xml'。"


@pytest.mark.parametrize("path", ["/search", "/api/search"])
def test_too_long_query_gets_a_friendly_message(client, path):
    response = client.get(path, query_string={"q": "冬" * 201})
    assert response.status_code == 400
    assert "查询太长了（201 个字符），请缩短到 200 个字符以内。" in text(response)


@pytest.mark.parametrize("path", ["/search", "/api/search"])
def test_bad_date_inside_the_query_is_400(client, path):
    response = client.get(path, query_string={"q": "冬奥会 date:someday"})
    assert response.status_code == 400
    assert "“someday”不是日期，请用 YYYY、YYYY-MM 或 YYYY-MM-DD" in text(response)


def test_api_rejects_other_methods_with_json_405(client):
    response = client.post("/api/search?q=冬奥会")
    assert response.status_code == 405
    assert response.get_json()["error"]["status"] == 405


def test_unknown_api_path_is_json_404_and_unknown_page_is_html_404(client):
    assert client.get("/api/nothing").get_json()["error"]["status"] == 404
    response = client.get("/nothing")
    assert response.status_code == 404 and response.mimetype == "text/html"


# --- JSON API --------------------------------------------------------------------------------

def test_api_search_returns_the_library_results(client, demo_index_dir):
    data = client.get("/api/search?q=中亚&per_page=2&page=2&sort=newest&source=新华快讯").get_json()
    with Index.open(demo_index_dir) as ix:
        expected = ix.search("中亚", page=2, per_page=2, sort="newest", filters={"source": "新华快讯"}).to_dict()
    data.pop("ms"), expected.pop("ms")
    assert data == expected
    assert (data["total"], data["page"], data["pages"]) == (2, 2, 1)


def test_api_search_format_html_renders_the_results_region(client):
    data = client.get("/api/search?q=冬奥会&format=html").get_json()
    assert data["total"] == 6
    assert data["html"].lstrip().startswith("<div class=\"results-layout\">")
    assert "<mark>冬奥会</mark>" in data["html"] and "<html" not in data["html"]


def test_api_post_returns_the_post_as_plain_text(client):
    data = client.get("/api/search?q=冬奥会").get_json()
    post = client.get("/api/post/" + quote(data["hits"][0]["path"])).get_json()
    assert post["path"] == data["hits"][0]["path"] and post["title"] == data["hits"][0]["title"]
    assert "html" not in post and post["text"]


def test_api_stats(client):
    data = client.get("/api/stats").get_json()
    assert data["docs"] == 32 and data["sources"]["新华快讯"] == 7


def test_openapi_document_matches_real_responses(client):
    doc = client.get("/api/openapi.json").get_json()
    post_path = client.get("/api/search?q=冬奥会").get_json()["hits"][0]["path"]
    cases = [
        ("/api/search", "/api/search?q=冬奥会&per_page=3", 200),
        ("/api/search", "/api/search?q=冬奥会&format=html", 200),
        ("/api/search", "/api/search?category=体育&from=2022&to=2022", 200),
        ("/api/search", "/api/search?q=最近 冬奥会 2022年2月", 200),
        ("/api/search", "/api/search?q=2021年以来&date_parse=0", 200),
        ("/api/search", "/api/search?page=-1", 400),
        ("/api/post/{doc_id}", "/api/post/" + quote(post_path), 200),
        ("/api/post/{doc_id}", "/api/post/nothing.md", 404),
        ("/api/search", "/api/search?q=中亚班列", 200),
        ("/api/search", "/api/search?q=中亚班列&fold=0", 200),
        ("/api/search", "/api/search?q=中亚班列 火星基地&partial=1", 200),
        ("/api/related/{doc_id}", "/api/related/" + quote(post_path) + "?days=10", 200),
        ("/api/related/{doc_id}", "/api/related/nothing.md", 404),
        ("/api/related/{doc_id}", "/api/related/" + quote(post_path) + "?days=0", 400),
        ("/api/stats", "/api/stats", 200),
        ("/api/search", "/api/search?q=dongaohui", 200),
        ("/api/search", "/api/search?q=dongaohui&as_typed=1", 200),
        ("/api/suggest", "/api/suggest?q=dongao", 200),
        ("/api/suggest", "/api/suggest?q=" + "x" * 300, 400),
    ]
    for path, url, status in cases:
        response = client.get(url)
        assert response.status_code == status, url
        schema = doc["paths"][path]["get"]["responses"][str(status)]["content"]["application/json"]["schema"]
        check_response(doc, schema, response.get_json())
    documented = {p["name"] for p in doc["paths"]["/api/search"]["get"]["parameters"]}
    assert documented == {"q", "page", "per_page", "sort", "source", "category", "date", "from", "to", "date_parse",
                          "fold", "as_typed", "partial", "format"}


# --- security --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/", "/search?q=冬奥会", "/search?page=-1", "/post/nothing.md", "/api/search?q=冬奥会", "/api/search?page=-1",
    "/api/stats", "/api/openapi.json", "/api/post/nothing.md", "/static/style.css", "/static/app.js", "/nothing",
])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    response.close()
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "frame-src 'none'" in csp


def test_no_inline_scripts_or_styles_in_pages(client):
    for path in ("/", "/search?q=冬奥会", post_links(text(client.get("/search?q=冬奥会")))[0]):
        html = text(client.get(path))
        assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>']
        assert " style=" not in html and "<style" not in html and " on" not in re.sub(r">[^<]*<", "><", html)


def test_query_with_markup_is_shown_as_text(client):
    for path in ("/search", "/api/search"):
        response = client.get(path, query_string={"q": XSS, "format": "html"})
        body = response.get_json()["html"] if "api" in path else text(response)
        assert "<script>alert(1)" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.fixture
def xss_client(tmp_path):
    corpus = tmp_path / "posts"
    write_post(corpus, "evil/一.md", title=f"恶意标题{XSS}", author=f"恶意来源{XSS}",
               categories=(f"分类{XSS}", "恶意来源", "要闻"),
               body=('<p>恶意正文<script>alert(1)</script><img src="x" onerror="alert(1)">'
                     '<a href="javascript:alert(1)">点我</a><iframe src="https://evil.example"></iframe>'
                     '<p style="width: expression(alert(1))">样式</p><svg onload="alert(1)"></svg>'
                     '<img src="https://img.example.com/ok.png" onload="alert(1)"></p>'))
    write_post(corpus, "evil/二.md", title="恶意正文的邻居", body="<p>恶意正文 相似的内容</p>")
    build_index(corpus, tmp_path / "ix", procs=1)
    return create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client()


def _assert_inert(html: str) -> None:
    assert "<script>alert" not in html
    assert re.search(r"<[^>]+\son\w+=", html) is None, "an event handler attribute survived"
    assert "javascript:" not in html and "<iframe" not in html and "expression(" not in html


def test_markup_in_a_post_is_shown_as_text_on_results(xss_client):
    html = text(xss_client.get("/search?q=恶意"))
    _assert_inert(html)
    assert "恶意标题&lt;script&gt;alert(1)&lt;/script&gt;" in html.replace("<mark>", "").replace("</mark>", "")
    assert "恶意来源&lt;script&gt;" in html


def test_markup_in_a_post_is_sanitised_on_the_article_page(xss_client):
    link = [h for h in post_links(text(xss_client.get("/search?q=恶意标题"))) if "%E4%B8%80" in h][0]
    html = text(xss_client.get(link))
    _assert_inert(html)
    body = html.split('<div class="article-body">')[1].split("</div>")[0]
    assert ('<img src="https://img.example.com/ok.png" alt="" loading="lazy" decoding="async" '
            'referrerpolicy="no-referrer">') in body
    assert '<a target="_blank" rel="noopener noreferrer nofollow">点我</a>' in body
    assert "<mark>恶意</mark>正文" in body
    api = xss_client.get("/api/post/" + link[len("/post/"):].split("?")[0])
    assert api.mimetype == "application/json" and "html" not in api.get_json()  # plain text fields only


def test_highlighting_never_marks_inside_tags_or_attributes():
    html = web.sanitize.clean_html('<p title="国际">国际<a href="https://e.com/国际">国际</a>&lt;国际&gt;</p>', ["国际"])
    assert html == ('<p title="国际"><mark>国际</mark><a href="https://e.com/%E5%9B%BD%E9%99%85" target="_blank" '
                    'rel="noopener noreferrer nofollow"><mark>国际</mark></a>&lt;<mark>国际</mark>&gt;</p>')


def test_unexpected_errors_give_a_500_without_a_traceback(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    for path in ("/boom",):
        response = app.test_client().get(path)
        assert response.status_code == 500
        assert "secret detail" not in text(response) and "Traceback" not in text(response)
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- the index: shared, missing, rebuilt -----------------------------------------------------

def test_one_index_is_shared_by_all_requests(app):
    with app.test_request_context():
        first = get_index()
    client = app.test_client()
    client.get("/search?q=冬奥会"), client.get("/api/stats")
    with app.test_request_context():
        assert get_index() is first


def test_missing_index_gives_503_and_the_site_recovers_when_it_appears(corpus_dir, tmp_path):
    target = tmp_path / "later"
    client = create_app({"INDEX_DIR": str(target)}).test_client()
    page, api = client.get("/search?q=冬奥会"), client.get("/api/search?q=冬奥会")
    assert (page.status_code, api.status_code) == (503, 503)
    assert "<h1>索引不可用</h1>" in text(page)
    assert api.get_json()["error"]["message"].startswith("搜索索引暂时无法打开")
    build_index(corpus_dir, target, procs=1)
    assert client.get("/api/search?q=冬奥会").get_json()["total"] == 1


def test_rebuild_while_serving_fails_no_request_and_is_picked_up(corpus_dir, index_dir):
    app = create_app({"INDEX_DIR": str(index_dir)})
    statuses: list[int] = []
    stop = threading.Event()

    def hammer():
        client = app.test_client()
        while not stop.is_set():
            statuses.append(client.get("/api/search?q=冬奥会").status_code)
            statuses.append(client.get("/search?q=论坛").status_code)

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        write_post(corpus_dir, "体育/新华/要闻/冬奥会闭幕.md", title="北京冬奥会闭幕", date="2022-02-20")
        for _ in range(2):
            build_index(corpus_dir, index_dir, procs=1)
    finally:
        stop.set()
        worker.join()
    assert statuses and set(statuses) == {200}
    assert app.test_client().get("/api/search?q=冬奥会").get_json()["total"] == 2


# --- configuration ---------------------------------------------------------------------------

def test_config_comes_from_the_environment(monkeypatch, demo_index_dir):
    monkeypatch.setenv("NEWS_SEARCH_INDEX", str(demo_index_dir))
    monkeypatch.setenv("NEWS_SEARCH_PER_PAGE", "3")
    monkeypatch.setenv("NEWS_SEARCH_TITLE", "档案<检索>")
    monkeypatch.setenv("NEWS_SEARCH_MAX_QUERY", "5")
    client = create_app().test_client()
    html = text(client.get("/search?q=冬奥会"))
    assert html.count('<li class="hit">') == 3
    assert "<title>冬奥会 - 档案&lt;检索&gt;</title>" in html
    assert client.get("/search?q=一二三四五六").status_code == 400


def test_test_config_overrides_the_environment(monkeypatch, demo_index_dir):
    monkeypatch.setenv("NEWS_SEARCH_PER_PAGE", "3")
    app = create_app({"INDEX_DIR": str(demo_index_dir), "PER_PAGE": 4})
    assert text(app.test_client().get("/search?q=冬奥会")).count('<li class="hit">') == 4


@pytest.mark.parametrize("value", ["0", "51", "many"])
def test_bad_page_size_in_the_environment_is_refused(monkeypatch, value):
    monkeypatch.setenv("NEWS_SEARCH_PER_PAGE", value)
    with pytest.raises(ValueError, match="PER_PAGE"):
        create_app()


def test_flask_cli_finds_the_app(demo_index_dir):
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "web", "routes"], capture_output=True,
                            text=True, env={"NEWS_SEARCH_INDEX": str(demo_index_dir), "PATH": ""}, check=True)
    for rule in ("/search", "/post/<path:doc_id>", "/api/search", "/api/post/<path:doc_id>", "/api/stats",
                 "/api/openapi.json"):
        assert rule in result.stdout
