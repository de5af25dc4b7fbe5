"""A real headless Chromium against the real server (``news-search serve``, waitress) on 127.0.0.1.

The site's "today" is fixed at 1 October 2022 (the corpus ends in September
2022), so relative dates in queries are stable.

Uses Debian's ``chromium`` through Playwright. Skips when either is missing,
except in CI (``CI=true``), where it fails. Pictures in posts point to remote
hosts; this machine has no internet, so the browser gets a generated stand-in
picture for them (and a test checks that a picture that fails is hidden).
Screenshots go to artifacts/screenshots/{home,results,article,widget}-{desktop,phone}.png (git-ignored;
$NEWS_SEARCH_SCREENSHOTS overrides); docs/screenshots/ holds reviewed copies.

The widget tests put ``/widget.js`` on a plain page served from other local
ports (other origins, as a Hexo blog is): one allowed to call our API, one not.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from search import build_index
from tests.browsing import SCREENSHOTS, VIEWPORTS, WIDGET, Page, require_browser, widget_search
from tests.helpers import write_post
from tests.servers import host_site, running_server

pytestmark = pytest.mark.browser

XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def xss_index_dir(tmp_path_factory):
    """An index of one post whose title, source and body hold markup and scripts."""
    require_browser()
    root = tmp_path_factory.mktemp("xss")
    write_post(root / "posts", "evil/post.md", title=f"恶意标题{XSS}", author=f"恶意来源{XSS}",
               body=(f'<p>恶意正文{XSS}<a href="javascript:alert(1)">点我</a>'
                     '<iframe src="https://evil.example"></iframe></p>'))
    build_index(root / "posts", root / "index", procs=1)
    return root / "index"


@pytest.fixture(scope="module")
def xss_site(xss_index_dir):
    with running_server(xss_index_dir) as base:
        yield base


@pytest.fixture
def tab(browser, site):
    page = Page(browser, site)
    yield page
    page.close()


def _query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_typing_a_query_shows_highlighted_results_without_reloading(tab):
    page = tab.goto("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.evaluate("window.__sameDocument = true")
    page.keyboard.type("苹果", delay=40)
    page.wait_for_selector(".hit-title mark")
    assert page.evaluate("window.__sameDocument") is True  # instant search, not a page load
    assert page.locator(".hit-title mark").first.inner_text() == "苹果"
    page.wait_for_function("location.search.includes('q=')")
    assert _query_of(page.url) == {"q": "苹果"}
    assert page.input_value("#q") == "苹果"
    total = int(page.locator(".summary").get_attribute("data-total"))
    assert total == tab.context.request.get(tab.base + "/api/search?q=苹果").json()["total"]
    assert tab.errors == []


def test_facet_paging_and_article(tab):
    page = tab.goto("/search?q=苹果")
    facet = page.locator(".results-side .facet-list a").first
    source = facet.locator(".facet-value").inner_text()
    facet.click()
    page.wait_for_url("**source=**")
    assert _query_of(page.url)["source"] == source
    assert page.locator(".chip-active").first.inner_text().startswith("来源")
    assert set(page.locator(".hit-source").all_inner_texts()) == {source}

    page = tab.goto("/search?q=苹果")
    page.locator(".pagination .page-next").click()
    page.wait_for_url("**page=2**")
    assert page.locator("ol.hits").get_attribute("start") == "11"
    assert page.locator(".page-current").inner_text() == "2"

    title = page.locator(".hit-title a").first
    expected = title.inner_text()
    title.click()
    page.wait_for_selector(".article-title")
    assert page.locator(".article-title").inner_text() == expected
    assert page.locator(".article-title mark, .article-body mark").count() > 0
    assert page.locator("#related-title").inner_text() == "相关报道"  # this 2019 post has none within 30 days
    for img in page.locator(".article-body img").all():
        assert img.get_attribute("referrerpolicy") == "no-referrer"
    assert tab.errors == []


def test_clicking_a_timeline_bar_shows_only_that_month(tab):
    page = tab.goto("/search?q=苹果 2022年")
    bar = page.get_by_role("link", name=re.compile(r"^2022年9月：\d+ 篇$"))
    count = int(re.search(r"：(\d+) 篇", bar.get_attribute("aria-label")).group(1))
    assert count > 10
    bar.click()
    page.wait_for_url("**from=2022-09**")
    assert _query_of(page.url) == {"q": "苹果 2022年", "from": "2022-09", "to": "2022-09"}
    assert int(page.locator(".summary").get_attribute("data-total")) == count
    shown = page.locator(".hit time").evaluate_all("times => times.map(t => t.getAttribute('datetime'))")
    assert len(shown) == 10 and all(day.startswith("2022-09") for day in shown)
    assert "2022-09" in page.locator(".active-filters").inner_text()
    page.screenshot(path=_screenshot("timeline-month-desktop.png"))
    assert tab.errors == []


def test_date_words_show_their_range_and_one_click_searches_them_as_text(tab):
    page = tab.goto("/")
    page.keyboard.type("苹果 上个月", delay=40)
    chip = page.locator(".chip-date")
    chip.wait_for()
    assert "按日期筛选" in chip.inner_text() and "2022年9月1日–9月30日" in chip.inner_text()
    assert int(page.locator(".summary").get_attribute("data-total")) > 0
    page.screenshot(path=_screenshot("dates-desktop.png"))
    chip.click()
    page.wait_for_url("**date_parse=0**")
    assert page.locator(".chip-date").count() == 0
    assert "按文字搜索" in page.locator(".active-filters").inner_text()
    assert tab.errors == []


def test_suggestions_appear_as_you_type_pinyin_and_enter_searches_the_chosen_one(tab):
    page = tab.goto("/")
    page.keyboard.type("qianglie", delay=40)
    first = page.locator("#q-suggestions [role=option]").first
    first.wait_for()
    assert first.inner_text() == "强烈推荐"
    assert page.get_attribute("#q", "aria-expanded") == "true"
    page.screenshot(path=_screenshot("suggestions-desktop.png"))
    page.keyboard.press("ArrowDown")
    assert first.get_attribute("aria-selected") == "true"
    assert page.get_attribute("#q", "aria-activedescendant") == first.get_attribute("id")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=%E5%BC%BA%E7%83%88%E6%8E%A8%E8%8D%90*")
    assert page.input_value("#q") == "强烈推荐"
    assert page.locator(".hit-title mark").first.inner_text() == "强烈推荐"
    assert tab.errors == []


def test_escape_closes_the_suggestions_and_arrows_then_move_through_results(tab):
    page = tab.goto("/search?q=手机")
    page.locator("#q").fill("")
    page.locator("#q").type("rengong", delay=40)
    page.locator("#q-suggestions [role=option]").first.wait_for()
    page.wait_for_selector(".reading-note")  # the instant results for rengong (read as pinyin) are in
    page.keyboard.press("Escape")
    assert page.locator("#q-suggestions").is_hidden()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.closest('.hit') !== null")
    assert tab.errors == []


def test_did_you_mean_offers_a_correction_one_click_away(tab):
    page = tab.goto("/search?q=makers")
    offer = page.locator(".did-you-mean a")
    assert page.locator(".did-you-mean").inner_text() == "您是不是要找：makes"
    offer.click()
    page.wait_for_url("**/search?q=makes")
    assert int(page.locator(".summary").get_attribute("data-total")) > 1
    assert tab.errors == []


def test_a_typo_shows_the_correction_and_one_click_searches_as_typed(tab):
    page = tab.goto("/")
    page.keyboard.type("强烈退荐", delay=40)
    note = page.locator(".reading-note")
    note.wait_for()
    assert note.inner_text().startswith("已显示「强烈推荐」的结果，仍然搜索「强烈退荐」")
    page.screenshot(path=_screenshot("correction-desktop.png"))
    note.locator("a").click()
    page.wait_for_url("**as_typed=1**")
    assert page.locator(".reading-note").count() == 0
    assert tab.errors == []


def test_other_copies_of_a_story_expand(tab):
    page = tab.goto("/search?q=法拉第未来 和解")
    copies = page.locator(".hit details.copies").first
    assert copies.locator("summary").inner_text() == "另有 1 篇相同报道"
    link = copies.locator(".copy-list a").first
    assert not link.is_visible()
    copies.locator("summary").click()
    assert link.is_visible() and "法拉第未来" in link.inner_text()
    page.screenshot(path=_screenshot("copies-desktop.png"))
    link.click()
    page.wait_for_selector(".article-title")
    assert page.locator(".story-copies summary").inner_text() == "另有 1 篇相同报道"
    assert tab.errors == []


def _screenshot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name


def test_keyboard_slash_arrows_and_enter(tab):
    page = tab.goto("/search?q=手机")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("ArrowDown")
    links = page.locator(".hit-title a")
    assert page.evaluate("document.activeElement.closest('.hit') !== null")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.href") == links.nth(1).evaluate("a => a.href")
    assert page.locator(".hit.selected").count() == 1
    page.keyboard.press("ArrowUp")
    expected = links.nth(0).inner_text()
    page.keyboard.press("Enter")
    page.wait_for_selector(".article-title")
    assert page.locator(".article-title").inner_text() == expected
    assert tab.errors == []


def test_pages_have_no_console_errors(tab):
    for path in ("/", "/search?q=芯片 OR 半导体", "/search?category=游戏", "/search?q=不存在的词组合xyz"):
        tab.goto(path).wait_for_load_state("load")
    link = tab.goto("/search?q=游戏").locator(".hit-title a").first.get_attribute("href")
    tab.goto(link).wait_for_load_state("load")
    assert tab.errors == []


def test_broken_pictures_are_hidden(browser, site):
    offline = Page(browser, site, pictures="gone")
    try:
        page = offline.goto("/search?q=苹果")
        page.wait_for_load_state("load")
        thumbs = page.locator("img.hit-thumb")
        assert thumbs.count() > 0
        page.wait_for_function("[...document.querySelectorAll('img.hit-thumb')].every(i => i.classList.contains('broken'))")
        assert not thumbs.first.is_visible()
    finally:
        offline.close()


def test_search_works_without_javascript(browser, site):
    plain = Page(browser, site, javascript=False)
    try:
        page = plain.goto("/")
        page.fill("#q", "芯片")
        page.keyboard.press("Enter")
        page.wait_for_selector(".hit-title mark")
        assert _query_of(page.url) == {"q": "芯片"}
    finally:
        plain.close()


def test_markup_in_the_query_is_shown_as_text(tab):
    page = tab.goto("/")
    page.fill("#q", XSS)
    page.wait_for_selector(".results-region .results-layout")
    page.goto(tab.base + "/search?q=" + XSS.replace("<", "%3C").replace(">", "%3E"))
    page.wait_for_load_state("load")
    assert page.input_value("#q") == XSS
    assert page.locator("script:not([src])").count() == 0
    assert tab.dialogs == []


def test_markup_in_a_post_is_shown_as_text(browser, xss_site):
    evil = Page(browser, xss_site)
    try:
        page = evil.goto("/")
        page.keyboard.type("恶意", delay=30)
        page.wait_for_selector(".hit-title")
        assert XSS in page.locator(".hit-title").inner_text()
        assert XSS in page.locator(".hit-source").inner_text()
        page.locator(".hit-title a").click()
        page.wait_for_selector(".article-title")
        assert XSS in page.locator(".article-title").inner_text()
        assert page.locator(".article-body iframe, .article-body script, .article-body [onerror]").count() == 0
        assert page.locator(".article-body a").get_attribute("href") is None
        page.wait_for_timeout(300)
        assert evil.dialogs == []
    finally:
        evil.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screenshots(browser, site, viewport):
    """Home, results and article at desktop and phone widths, saved under SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = Page(browser, site, viewport=viewport)
    try:
        page = shot.goto("/")
        page.screenshot(path=SCREENSHOTS / f"home-{viewport}.png")
        page = shot.goto("/search?q=苹果 手机")
        page.wait_for_load_state("load")
        page.screenshot(path=SCREENSHOTS / f"results-{viewport}.png")
        page.locator(".hit-title a").first.click()
        page.wait_for_selector(".article-title")
        page.wait_for_load_state("load")
        page.screenshot(path=SCREENSHOTS / f"article-{viewport}.png")
        assert shot.errors == []
    finally:
        shot.close()


# --- the widget on another site ----------------------------------------------------------------------

@pytest.fixture
def blog_tab(browser, embedding):
    """A tab on the blog allowed to call our server."""
    tab = Page(browser, embedding.blog.origin, also=(embedding.api,))
    yield tab
    tab.close()


def test_widget_shows_highlighted_results_and_follows_one_with_the_keyboard(blog_tab, embedding):
    page = widget_search(blog_tab, "芯片")
    page.wait_for_selector(f"{WIDGET} [role=option] .title mark")
    expected = blog_tab.context.request.get(embedding.api + "/api/search?q=芯片&per_page=6").json()
    titles = page.locator(f"{WIDGET} .hit .title")
    assert titles.all_inner_texts() == [hit["title"] for hit in expected["hits"]]
    assert page.locator(f"{WIDGET} .title mark").first.inner_text() == "芯片"
    assert page.locator(f"{WIDGET} .more").inner_text() == f"查看全部 {expected['total']:,} 条结果"
    combobox = page.get_by_role("combobox", name="搜索本站文章")
    for key, selected in (("ArrowDown", "option-0"), ("ArrowDown", "option-1"), ("ArrowUp", "option-0"),
                          ("ArrowDown", "option-1")):
        page.keyboard.press(key)
        assert combobox.get_attribute("aria-activedescendant") == selected
        assert page.locator(f"{WIDGET} [aria-selected=true]").get_attribute("id") == selected
    target = expected["hits"][1]["url"]
    assert target.startswith(embedding.blog.origin + "/2022/")  # the post's own page on the blog
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: unquote(url) == unquote(target))
    assert unquote(embedding.blog.visited[-1]) == unquote(target.removeprefix(embedding.blog.origin))
    assert blog_tab.errors == [] and blog_tab.dialogs == []


def test_widget_says_how_it_read_pinyin_and_searches_a_chosen_suggestion(blog_tab, embedding):
    page = widget_search(blog_tab, "qianglie")
    note = page.locator(f"{WIDGET} .note")
    note.wait_for()
    assert note.inner_text() == "拼音：强烈"
    suggestion = page.locator(f"{WIDGET} .suggestion").first
    assert suggestion.inner_text().replace("\n", "") == "搜索强烈推荐"
    hits = page.locator(f"{WIDGET} .hit").count()
    for _ in range(hits + 1):
        page.keyboard.press("ArrowDown")
    assert suggestion.get_attribute("aria-selected") == "true"
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('news-search-widget').shadowRoot"
                           ".querySelector('input').value === '强烈推荐'")
    page.wait_for_selector(f"{WIDGET} .hit .title mark")
    assert page.locator(f"{WIDGET} .hit .title mark").first.inner_text() == "强烈推荐"
    assert page.locator(f"{WIDGET} .note").is_hidden()
    assert blog_tab.errors == [] and blog_tab.dialogs == []


def test_widget_on_a_site_that_is_not_allowed_gets_a_cors_failure(browser, embedding):
    tab = Page(browser, embedding.stranger.origin, also=(embedding.api,))
    try:
        page = widget_search(tab, "芯片")
        message = page.locator(f"{WIDGET} .message.error")
        message.wait_for()
        assert message.inner_text() == "搜索服务暂时无法访问，请稍后再试。"
        assert page.locator(f"{WIDGET} [role=option]").count() == 0
        assert any("blocked by CORS policy" in error for error in tab.errors)
        # and the site's owner is told which origin to allow
        hint = f"does not allow pages of {embedding.stranger.origin}"
        for _ in range(50):  # the widget asks the server once more (an opaque request) before it says so
            if any(hint in error for error in tab.errors):
                break
            page.wait_for_timeout(100)
        assert any(hint in error and f"--allow-origin {embedding.stranger.origin}" in error for error in tab.errors)
    finally:
        tab.close()


def test_widget_is_accessible_and_untouched_by_the_page_styles(blog_tab, embedding):
    page = widget_search(blog_tab, "手机")
    page.wait_for_selector(f"{WIDGET} [role=option]")
    assert page.get_by_role("search").count() == 1
    combobox = page.get_by_role("combobox", name="搜索本站文章")
    assert combobox.get_attribute("aria-expanded") == "true"
    listbox = page.get_by_role("listbox", name="搜索结果")
    completions = blog_tab.context.request.get(embedding.api + "/api/suggest?q=手机").json()["suggestions"]
    suggested = len([c for c in completions if c != "手机"])
    assert suggested > 0  # six hits, the completions of 手机 (but 手机 itself), and "more results"
    assert listbox.get_by_role("option").count() == 6 + suggested + 1
    assert page.locator(f"{WIDGET} [role=status]").inner_text().startswith("找到 ")
    style = page.locator(f"{WIDGET} input").evaluate(
        "e => [getComputedStyle(e).borderTopLeftRadius, getComputedStyle(e).fontFamily]")
    assert style[0] == "999px" and "monospace" not in style[1]  # the page sets 0 and monospace for inputs
    assert page.locator(f"{WIDGET} mark").first.evaluate("e => getComputedStyle(e).backgroundColor") \
        == "rgb(255, 229, 143)"  # the page's own marks are green
    assert page.locator(f"{WIDGET} li").first.evaluate("e => getComputedStyle(e).listStyleType") == "none"
    page.keyboard.press("Escape")
    assert combobox.get_attribute("aria-expanded") == "false" and not listbox.is_visible()
    assert blog_tab.errors == []


def test_widget_follows_the_readers_dark_mode_unless_told(browser, embedding):
    tab = Page(browser, embedding.blog.origin, also=(embedding.api,), color_scheme="dark")
    try:
        page = widget_search(tab, "手机")
        panel = page.locator(f"{WIDGET} .panel")
        panel.wait_for()
        background = "e => getComputedStyle(e).backgroundColor"
        assert panel.evaluate(background) == "rgb(23, 27, 33)"
        page.locator(WIDGET).evaluate("e => e.dataset.theme = 'light'")  # a theme's own light/dark switch
        assert panel.evaluate(background) == "rgb(255, 255, 255)"
    finally:
        tab.close()


def test_widget_shows_markup_in_a_post_as_text(browser, xss_index_dir):
    with host_site() as blog, running_server(xss_index_dir, "--allow-origin", blog.origin) as api:
        # In <head>, without defer: the widget waits for the page to have its target element.
        blog.page = (f'<!doctype html><meta charset="utf-8"><script src="{api}/widget.js" data-endpoint="{api}" '
                     f'data-target="#search"></script><div id="search"></div>')
        tab = Page(browser, blog.origin, also=(api,))
        try:
            page = widget_search(tab, "恶意")
            page.wait_for_selector(f"#search > {WIDGET} [role=option] .title")
            assert XSS in page.locator(f"{WIDGET} .title").first.inner_text()
            assert XSS in page.locator(f"{WIDGET} .meta").first.inner_text()
            assert page.locator(f"{WIDGET} img, {WIDGET} script, {WIDGET} b, {WIDGET} [onerror]").count() == 0
            page.wait_for_timeout(300)
            assert tab.dialogs == [] and tab.errors == []
        finally:
            tab.close()


def test_widget_inserts_only_text_and_marks_whatever_the_server_sends(browser, embedding):
    tab = Page(browser, embedding.blog.origin, also=(embedding.api,))
    hostile = {"query": "x", "total": 1, "page": 1, "per_page": 6, "pages": 1, "sort": "relevance", "ms": 1,
               "facets": {}, "hits": [{
                   "path": "a.md", "score": 1, "title": "t", "source": "<b>来源</b>", "categories": [],
                   "date": None, "image": None, "url": "javascript:alert(1)",
                   "title_html": '<mark>恶意</mark><img src=x onerror=alert(1)>&lt;b&gt;&#x26;',
                   "snippet": '<mark><script>alert(1)</script></mark><a href="javascript:alert(1)">链接</a>'}]}
    try:
        tab.page.route(embedding.api + "/api/search?*", lambda route: route.fulfill(
            json=hostile, headers={"Access-Control-Allow-Origin": embedding.blog.origin}))
        page = widget_search(tab, "恶意")
        page.wait_for_selector(f"{WIDGET} [role=option] .title")
        assert page.locator(f"{WIDGET} .title").inner_text() == "恶意<img src=x onerror=alert(1)><b>&"
        assert page.locator(f"{WIDGET} .title mark").inner_text() == "恶意"
        assert page.locator(f"{WIDGET} .snippet").inner_text() == '<script>alert(1)</script><a href="javascript:alert(1)">链接</a>'
        assert page.locator(f"{WIDGET} .meta").inner_text() == "<b>来源</b>"
        elements = page.locator(f"{WIDGET} .hit *").evaluate_all("nodes => nodes.map(n => n.localName)")
        assert set(elements) == {"span", "mark"}
        assert page.locator(f"{WIDGET} .hit").get_attribute("data-href").startswith(embedding.api + "/post/a.md")
        page.wait_for_timeout(300)
        assert tab.dialogs == []
    finally:
        tab.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_widget_screenshots(browser, embedding, viewport):
    """The widget on the stand-in blog page with results open, saved under SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab = Page(browser, embedding.blog.origin, also=(embedding.api,), viewport=viewport)
    try:
        page = widget_search(tab, "芯片")
        page.wait_for_selector(f"{WIDGET} [role=option] .title mark")
        page.keyboard.press("ArrowDown")
        page.screenshot(path=SCREENSHOTS / f"widget-{viewport}.png")
        assert tab.errors == []
    finally:
        tab.close()


def test_widget_results_are_plain_options_that_open_on_click(blog_tab):
    page = widget_search(blog_tab, "芯片")
    page.wait_for_selector(f"{WIDGET} [role=option] .title")
    # nothing interactive inside an option, and the scrolling panel is no stop of its own
    assert page.locator(f"{WIDGET} [role=option] :is(a, button, input, [tabindex])").count() == 0
    assert page.locator(f"{WIDGET} .panel").get_attribute("tabindex") == "-1"
    total = page.locator(f"{WIDGET} .more").inner_text().split()[1]
    assert page.locator(f"{WIDGET} [role=status]").inner_text() == f"找到 {total} 条结果"
    target = page.locator(f"{WIDGET} #option-2").get_attribute("data-href")
    page.locator(f"{WIDGET} #option-2 .title").click()
    page.wait_for_url(lambda url: unquote(url) == unquote(target))
    assert blog_tab.errors == []


def test_widget_tab_moves_on_to_the_page_and_closes_the_list(blog_tab):
    page = widget_search(blog_tab, "芯片")
    page.wait_for_selector(f"{WIDGET} [role=option]")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/2022/09/03/weekly/"
    assert not page.locator(f"{WIDGET} .panel").is_visible()
    assert page.get_by_role("combobox").get_attribute("aria-expanded") == "false"


CONTRAST = """root => {
    const rgb = c => {  // rgb(r, g, b[, a]) or, for a color-mix(), color(srgb r g b[ / a]) in 0..1
        const v = c.match(/[\\d.]+/g).map(Number);
        return c.startsWith('color(') ? v.slice(0, 3).map(x => x * 255).concat(v.slice(3, 4)) : v.slice(0, 4);
    };
    const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const background = node => {  // the first opaque background behind the node, within the panel
        for (let n = node; n; n = n.parentElement) {
            const c = rgb(getComputedStyle(n).backgroundColor);
            if (c.length < 4 || c[3] > 0.99) return c;
        }
        return [255, 255, 255];
    };
    const worst = [];
    for (const node of root.querySelectorAll('.title, .meta, .snippet, .more, .message, mark')) {
        if (!node.offsetParent && node.localName !== 'mark') continue;
        const style = getComputedStyle(node), opacity = Number(style.opacity);
        let fg = rgb(style.color), bg = background(node);
        fg = fg.slice(0, 3).map((v, i) => v * opacity + bg[i] * (1 - opacity));  // the snippet's softened text
        const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
        worst.push([node.className || node.localName, (a + 0.05) / (b + 0.05)]);
    }
    return worst;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_widget_text_has_a_contrast_of_at_least_4_5(browser, embedding, scheme):
    tab = Page(browser, embedding.blog.origin, also=(embedding.api,), color_scheme=scheme)
    try:
        page = widget_search(tab, "芯片")
        page.wait_for_selector(f"{WIDGET} [role=option] mark")
        for selected in (False, True):
            if selected:
                page.keyboard.press("ArrowDown")
                page.locator(f"{WIDGET} .more").evaluate("e => e.setAttribute('aria-selected', 'true')")
            ratios = page.locator(f"{WIDGET} .panel").evaluate(CONTRAST)
            assert ratios and all(ratio >= 4.5 for _, ratio in ratios), [r for r in ratios if r[1] < 4.5]
    finally:
        tab.close()
