"""A real headless Chromium against the real server (``news-search serve``, waitress) on 127.0.0.1.

The site's "today" is fixed at 1 October 2022 (the corpus ends in September
2022), so relative dates in queries are stable.

Uses Debian's ``chromium`` through Playwright. Skips when either is missing,
except in CI (``CI=true``), where it fails. Pictures in posts point to remote
hosts; this machine has no internet, so the browser gets a generated stand-in
picture for them (and a test checks that a picture that fails is hidden).
Screenshots go to artifacts/screenshots/{home,results,article}-{desktop,phone}.png (git-ignored;
$NEWS_SEARCH_SCREENSHOTS overrides); docs/screenshots/ holds reviewed copies.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from search import build_index
from tests.conftest import write_post
from tests.servers import running_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("NEWS_SEARCH_SCREENSHOTS")
                   or Path(__file__).resolve().parents[1] / "artifacts" / "screenshots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
TODAY = "2022-10-01"
XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>'


def _require_browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = "playwright is not installed" if sync_playwright is None else (
        f"{CHROMIUM} is missing (apt-get install chromium)" if not CHROMIUM.exists() else None)
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_playwright


def _stand_in_png(width: int = 240, height: int = 180) -> bytes:
    """A soft two-colour gradient PNG, made here (no network)."""
    rows = b"".join(b"\x00" + bytes(
        v for x in range(width) for v in (200 - y * 60 // height, 210 - x * 40 // width, 228)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _require_browser()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(rsshub_index_dir):
    _require_browser()
    with running_server(rsshub_index_dir, "--today", TODAY) as base:
        yield base


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory):
    _require_browser()
    root = tmp_path_factory.mktemp("xss")
    write_post(root / "posts", "evil/post.md", title=f"恶意标题{XSS}", author=f"恶意来源{XSS}",
               body=(f'<p>恶意正文{XSS}<a href="javascript:alert(1)">点我</a>'
                     '<iframe src="https://evil.example"></iframe></p>'))
    build_index(root / "posts", root / "index", procs=1)
    with running_server(root / "index") as base:
        yield base


class Page:
    """A browser tab that records console errors, page errors and dialogs (alert() would be one)."""

    def __init__(self, browser, base: str, *, viewport: str = "desktop", pictures: str = "stand-in",
                 javascript: bool = True):
        self.base = base
        self.context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN",
                                           java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route if pictures == "stand-in" else self._offline)
        self.picture = _stand_in_png()

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location.get('url')}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        request = route.request
        if request.url.startswith(self.base):
            route.continue_()
        elif request.resource_type == "image":
            route.fulfill(status=200, content_type="image/png", body=self.picture)
        else:
            route.abort()

    def _offline(self, route) -> None:
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            route.fulfill(status=404, body="")  # a picture that has gone away

    def goto(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def close(self) -> None:
        self.context.close()


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
    assert page.locator(".related-list li").count() > 0
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
