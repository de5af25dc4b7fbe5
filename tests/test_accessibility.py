"""Accessibility in a real Chromium: axe-core's WCAG 2.0/2.1 A and AA rules on every page state, keyboard use.

axe-core comes from npm, pinned in ``.ci/package.json``; ``.ci/run`` installs it
into ``.ci/node_modules`` ($NEWS_SEARCH_AXE names another ``axe.min.js``). Without it
(or without Chromium) these tests skip with a reason, and fail when ``CI=true``.

Every page state (home, results with facets and timeline, a date chip, no
results, an article with figures, an English article, instant search typed, and
the widget with results open on another site) is checked at desktop (1280 px)
and phone (390 and 320 px) widths, in the light and the dark colour scheme
(``prefers-color-scheme`` emulated), with every axe rule tagged wcag2a, wcag2aa,
wcag21a or wcag21aa, experimental ones included. Each exemption is named in
:data:`EXEMPTIONS` with its reason, and applies only to the elements it names.

"200% zoom on a phone" is emulated as browsers do it: a 390 px phone zoomed to
200% lays the page out in a 195 CSS px wide viewport, drawn at device scale 2.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.browsing import SCREENSHOTS, WIDGET, Page, widget_search
from tests.helpers import missing
from web.sanitize import clean_html

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
AXE = Path(os.environ.get("NEWS_SEARCH_AXE") or ROOT / ".ci" / "node_modules" / "axe-core" / "axe.min.js")
AXE_VERSION = json.loads((ROOT / ".ci" / "package.json").read_text(encoding="utf-8"))["dependencies"]["axe-core"]
#: The WCAG levels checked: 2.0 and 2.1, A and AA.
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844},
          "narrow": {"width": 320, "height": 568}}
#: A 390 px phone at 200% zoom: what the page is laid out in, drawn at twice the density.
ZOOMED_PHONE = {"viewport": {"width": 195, "height": 422}, "device_scale_factor": 2}
SCHEMES = ("light", "dark")


class Exemption(NamedTuple):
    """An axe rule not applied to the elements ``selectors`` match (it still runs on every other element).

    A selector is a CSS selector, or a tuple of them for an element inside a shadow root (host first).
    """

    rule: str
    selectors: tuple[str | tuple[str, ...], ...]
    reason: str


EXEMPTIONS = (
    Exemption("label-content-name-mismatch", (".brand", ".chip-date"),
               "false positive on Chinese: axe compares whole space-separated words, and unspaced Chinese is one "
               "'word', so the name 新闻搜索首页 is said not to contain the visible 新闻搜索 (WCAG 2.5.3 is met: "
               "each name starts with, or contains, the visible text)"),
    Exemption("scrollable-region-focusable", ((WIDGET, ".panel"),),
              "the widget's results panel scrolls a listbox driven from the search box (aria-activedescendant): "
              "↑/↓ reach every result and scroll it into view "
              "(test_arrow_keys_bring_every_result_of_the_widgets_list_into_view); making the panel a Tab stop "
              "of its own would add a stop the combobox pattern does not have, and drop focus when it closes"),
)


def require_axe() -> str:
    """Return axe-core's source; skip without it or with another version than the pinned one (fail in CI)."""
    installed = AXE.parent / "package.json"
    if not AXE.exists():
        message = f"{AXE} not found: .ci/run installs axe-core@{AXE_VERSION} (npm install --prefix .ci)"
    elif installed.exists() and (version := json.loads(installed.read_text(encoding="utf-8"))["version"]) != AXE_VERSION:
        message = f"axe-core {version} is installed, {AXE_VERSION} is pinned: npm install --prefix .ci"
    else:
        return AXE.read_text(encoding="utf-8")
    missing(message)


RUN_AXE = """async ({tags, exemptions, scope}) => {
  const wanted = axe.getRules(tags).filter(r => !r.tags.includes("deprecated")).map(r => r.ruleId);
  const exempted = exemptions.map(e => e.rule);
  const include = scope ? {include: [[scope]]} : {};
  const run = (context, rules) => axe.run(context, {runOnly: {type: "rule", values: rules},
                                                     resultTypes: ["violations"]});
  const results = [await run(scope ? include : document, wanted.filter(id => !exempted.includes(id)))];
  for (const e of exemptions) {
    const exclude = e.selectors.map(s => Array.isArray(s) ? {fromShadowDom: s} : [s]);
    if (wanted.includes(e.rule)) results.push(await run({...include, exclude}, [e.rule]));
  }
  return results.flatMap(r => r.violations).map(v => ({
    rule: v.id, impact: v.impact,
    nodes: v.nodes.map(n => ({target: n.target.flat().join(" >>> "), html: n.html.slice(0, 160),
                              why: n.failureSummary}))}));
}"""


def axe_violations(page, scope: str | None = None) -> list[dict]:
    """Return axe's WCAG 2.0/2.1 A and AA violations on ``page`` (or within ``scope``), :data:`EXEMPTIONS` applied."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(require_axe())  # evaluated by the browser's debugger: the page's CSP does not apply
    return page.evaluate(RUN_AXE, {"tags": list(TAGS), "exemptions": [e._asdict() for e in EXEMPTIONS],
                                   "scope": scope})


def describe(violations: list[dict]) -> str:
    return "\n".join(f"{v['rule']} ({v['impact']}): {len(v['nodes'])} elements, e.g. "
                     + "; ".join(f"{n['target']} {n['why'].splitlines()[-1].strip()}" for n in v["nodes"][:3])
                     for v in violations)


# --- page states -----------------------------------------------------------------------------------

ARTICLE_WITH_FIGURES = "新媒体/少数派 sspai/Matrix/小爱触屏音箱实现 Stream Deck 贫替.md"
ENGLISH_ARTICLE = "博客/Paul Graham 博客/Essays/Putting Ideas into Words.md"


def _goto(path: str, ready: str):
    def show(tab: Page):
        page = tab.goto(path)
        page.wait_for_load_state("load")
        page.wait_for_selector(ready, state="attached")
        return page
    return show


def _instant(tab: Page):
    page = tab.goto("/")
    page.keyboard.type("苹果", delay=30)
    page.wait_for_selector(".results-region .hit-title mark")
    return page


SITE_STATES = {
    "home": _goto("/", ".examples"),
    "results": _goto("/search?q=苹果", ".timeline-chart"),
    "date-chip": _goto("/search?q=苹果 上个月", ".chip-date"),
    "no-results": _goto("/search?q=qqxyzzyqq", ".no-results"),  # one word, found nowhere: no partial matches
    "partial-matches": _goto("/search?q=苹果 火星基地", ".partial-badge"),  # labelled 部分匹配
    "article": _goto("/post/" + ARTICLE_WITH_FIGURES, ".article-body figure img"),
    "english-article": _goto("/post/" + ENGLISH_ARTICLE, ".article-body"),
    "instant": _instant,
}


def _open_tab(browser, base: str, width: str, scheme: str = "light", **options) -> Page:
    if width == "zoomed-phone":
        return Page(browser, base, color_scheme=scheme, **ZOOMED_PHONE, **options)
    return Page(browser, base, viewport=WIDTHS[width], color_scheme=scheme, **options)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("state", list(SITE_STATES))
def test_site_pages_have_no_wcag_violations(browser, site, state, width, scheme):
    require_axe()
    tab = _open_tab(browser, site, width, scheme)
    try:
        page = SITE_STATES[state](tab)
        violations = axe_violations(page)
        assert violations == [], describe(violations)
        assert tab.errors == []
    finally:
        tab.close()


# --- keyboard ----------------------------------------------------------------------------------------

#: Where the focused element is, in the page's unscrolled layout (every scrolled ancestor added back), whether
#: the header is drawn over its top edge, and whether it is outside the viewport.
FOCUS_BOX = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  const r = el.getBoundingClientRect();
  let x = r.left + scrollX, y = r.top + scrollY;
  for (let p = el.parentElement; p; p = p.parentElement) { x += p.scrollLeft; y += p.scrollTop; }
  const outside = r.bottom <= 0 || r.top >= innerHeight || r.right <= 0 || r.left >= innerWidth;
  const header = document.querySelector(".site-header");
  const x0 = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
  const top = outside ? null : document.elementFromPoint(x0, Math.max(r.top + 1, 0));
  const covered = !!header && !!top && header.contains(top) && !header.contains(el);
  return {x, y, width: r.width, height: r.height, covered, outside,
          name: (el.getAttribute("aria-label") || el.textContent || el.tagName).trim().slice(0, 30)};
}"""


def _tab_stops(page, key: str = "Tab", limit: int = 400) -> list[dict]:
    """Press ``key`` until focus leaves the page or comes round again; return where focus was at each stop."""
    stops: list[dict] = []
    for _ in range(limit):
        page.keyboard.press(key)
        box = page.evaluate(FOCUS_BOX)
        if box is None or (stops and (box["x"], box["y"], box["name"]) == (stops[0]["x"], stops[0]["y"], stops[0]["name"])):
            return stops
        stops.append(box)
    raise AssertionError(f"focus did not come round after {limit} presses of {key}")


@pytest.mark.parametrize("width", ["desktop", "zoomed-phone"])
@pytest.mark.parametrize("state", ["results", "article"])
def test_focus_is_never_under_the_sticky_header_tabbing_either_way(browser, site, state, width):
    tab = _open_tab(browser, site, width)
    try:
        page = SITE_STATES[state](tab)
        forwards = _tab_stops(page, "Tab")
        backwards = _tab_stops(page, "Shift+Tab")
        assert len(forwards) > 20 and len(backwards) > 20
        hidden = [(direction, i, stop["name"]) for direction, stops in (("Tab", forwards), ("Shift+Tab", backwards))
                  for i, stop in enumerate(stops) if stop["covered"] or stop["outside"]]
        assert hidden == []
    finally:
        tab.close()


def _reading_order_breaks(stops: list[dict]) -> list[tuple[str, str]]:
    """Return consecutive focus stops where the second is shown before the first (above it, or left of it on its line)."""
    breaks = []
    for a, b in zip(stops, stops[1:]):
        overlap = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
        same_line = overlap > 0.5 * min(a["height"], b["height"])
        if (same_line and b["x"] < a["x"]) or (not same_line and b["y"] < a["y"]):
            breaks.append((a["name"], b["name"]))
    return breaks


@pytest.mark.parametrize("width", ["phone", "narrow", "zoomed-phone"])
@pytest.mark.parametrize("state", ["results", "instant", "article"])
def test_tab_order_follows_what_is_shown_at_narrow_widths(browser, site, state, width):
    tab = _open_tab(browser, site, width)
    try:
        page = SITE_STATES[state](tab)
        if state != "article":  # the filters are shown above the results, and reached first
            assert page.locator(".results-side").bounding_box()["y"] < page.locator(".hits").bounding_box()["y"]
        page.locator("body").focus()
        stops = _tab_stops(page)
        assert len(stops) > 20
        assert _reading_order_breaks([s for s in stops if s["name"] != "跳到主要内容"]) == []
    finally:
        tab.close()


@pytest.mark.parametrize("width", ["narrow", "zoomed-phone"])
@pytest.mark.parametrize("state", ["home", "results", "date-chip", "no-results", "article", "english-article", "instant"])
def test_no_sideways_scrolling_at_320_css_pixels_and_200_percent_zoom(browser, site, state, width):
    tab = _open_tab(browser, site, width)
    try:
        page = SITE_STATES[state](tab)
        assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("innerWidth")
    finally:
        tab.close()



# --- what axe cannot see -----------------------------------------------------------------------------

@pytest.mark.parametrize("state", list(SITE_STATES))
def test_every_page_has_exactly_one_h1(browser, site, state):
    tab = _open_tab(browser, site, "desktop")
    try:
        assert SITE_STATES[state](tab).locator("h1").count() == 1
    finally:
        tab.close()


CONTRAST = """([a, b]) => {
  const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = c => rgb(c).map(v => v / 255).map(v => v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
                         .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


def _contrast(page, a: str, b: str) -> float:
    return page.evaluate(CONTRAST, [a, b])


def _style(locator, prop: str) -> str:
    return locator.evaluate(f"e => getComputedStyle(e).{prop}")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_highlight_stands_out_from_the_card_and_its_text_stays_readable(browser, site, scheme):
    tab = _open_tab(browser, site, "desktop", scheme)
    try:
        page = tab.goto("/search?q=苹果")
        for mark in (page.locator(".hit-title mark").first, page.locator(".hit-snippet mark").first):
            card = _style(page.locator(".hit-card").first, "backgroundColor")
            assert _contrast(page, _style(mark, "backgroundColor"), card) >= 3
            assert _contrast(page, _style(mark, "color"), _style(mark, "backgroundColor")) >= 4.5
    finally:
        tab.close()


@pytest.mark.parametrize(("state", "selector"), [
    ("home", ".site-footer a"), ("no-results", ".no-results li a"), ("article", ".article-body p a"),
    ("article", ".back a, .article-source"),
])
def test_links_in_running_text_are_underlined(browser, site, state, selector):
    tab = _open_tab(browser, site, "desktop")
    try:
        page = SITE_STATES[state](tab) if state != "article" else tab.goto("/post/" + ARTICLE_WITH_FIGURES + "?q=刷机")
        links = page.locator(selector)
        assert links.count() > 0
        assert {_style(link, "textDecorationLine") for link in links.all()} == {"underline"}
    finally:
        tab.close()


def test_instant_search_announces_a_short_status_instead_of_the_results(browser, site):
    tab = _open_tab(browser, site, "desktop")
    try:
        page = _instant(tab)
        total = tab.context.request.get(tab.base + "/api/search?q=苹果").json()["total"]
        status = page.locator("[role=status]")
        assert status.count() == 1 and status.get_attribute("id") == "search-status"
        page.wait_for_selector(f"#search-status:text-is('找到 {total} 条结果')", state="attached")
        live = "[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]"
        assert page.locator(f":is({live}) .hit, :is({live}):has(.hit)").count() == 0
        page.fill("#q", "qqxyzzyqq")
        page.wait_for_selector("#search-status:text-is('没有结果')", state="attached")
    finally:
        tab.close()


def test_english_and_traditional_posts_are_marked_in_their_own_language(browser, site):
    tab = _open_tab(browser, site, "desktop")
    try:
        page = SITE_STATES["english-article"](tab)
        assert page.locator("html").get_attribute("lang") == "zh-CN"  # the site's own words
        assert page.locator(".article-title").get_attribute("lang") == "en"
        assert page.locator(".article-body").get_attribute("lang") == "en"
        page = tab.goto("/search?category=Paul Graham 博客")
        titles = page.locator(".hit-title")
        assert {titles.nth(i).get_attribute("lang") for i in range(titles.count())} == {"en"}
        page = tab.goto("/search?q=英雄聯盟")
        assert "zh-Hant" in {t.get_attribute("lang") for t in page.locator(".hit-title").all()}
        page = tab.goto("/search?q=苹果 手机")
        assert page.locator(".hit-title").first.get_attribute("lang") is None  # Simplified: the page's language
    finally:
        tab.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_focus_is_shown_clearly_in_both_schemes(browser, site, width, scheme):
    """A result link reached backwards from the pages (so the window scrolls up to it, under the sticky header):
    a 3 px outline at 3:1 or more against the card, clear of the header; screenshots for the docs."""
    tab = _open_tab(browser, site, width, scheme)
    try:
        page = tab.goto("/search?q=苹果")
        page.wait_for_load_state("load")
        page.locator(".pagination a").last.focus()
        for _ in range(40):
            if page.evaluate("document.activeElement.matches('.hit:nth-child(5) .hit-title a')"):
                break
            page.keyboard.press("Shift+Tab")
        link = page.locator(".hit:nth-child(5) .hit-title a:focus")
        assert _style(link, "outlineStyle") == "solid" and _style(link, "outlineWidth") == "3px"
        card = _style(page.locator(".hit-card").first, "backgroundColor")
        assert _contrast(page, _style(link, "outlineColor"), card) >= 3
        assert page.evaluate(FOCUS_BOX)["covered"] is False
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"focus-{scheme}-{width}.png")
    finally:
        tab.close()


# --- article markup ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "img"), [
    ('<img src="https://x.example/a.jpg" alt="北京冬奥会开幕式">', '<img src="https://x.example/a.jpg" alt="北京冬奥会开幕式"'),
    ('<img src="https://x.example/a.jpg">', '<img src="https://x.example/a.jpg" alt=""'),
    ('<img src="https://x.example/a.jpg" alt="https://x.example/a.jpg">', '<img src="https://x.example/a.jpg" alt=""'),
    ('<img src="https://x.example/a.jpg" alt="IMG_2033.JPG">', '<img src="https://x.example/a.jpg" alt=""'),
    ('<img src="https://x.example/a.jpg" alt="图片">', '<img src="https://x.example/a.jpg" alt=""'),
    ('<img src="https://x.example/a.jpg" title="会场全景">', '<img src="https://x.example/a.jpg" title="会场全景" alt="会场全景"'),
    ('<figure><img src="https://x.example/a.jpg"><figcaption>安装驱动</figcaption></figure>',
     '<img src="https://x.example/a.jpg" alt=""'),
    ('<a href="https://x.example/s" title="分享到微博"><img src="https://x.example/a.jpg"></a>',
     '<img src="https://x.example/a.jpg" alt="分享到微博"'),
    ('<a href="https://x.example/s"><img src="https://x.example/a.jpg"></a>',
     '<img src="https://x.example/a.jpg" alt="图片链接：x.example"'),
])
def test_every_article_image_gets_an_alt(raw, img):
    """The author's description; a linked picture's destination; else "" (a figure's caption names it)."""
    assert img in clean_html(raw)


def test_paragraphs_in_another_language_than_the_article_get_their_own_lang():
    html = clean_html("<p>今天傍晚带我家小狗出去走走，顿然发现天上一大片红色的彩霞。</p>"
                      "<p>I was taking a quick walk with my dog tonight and saw the red sky.</p>"
                      "<blockquote><p>上次見到這麼紅的天空，已是去年的事了。因為沒有準備，只舉起手機拍下。</p></blockquote>"
                      "<p>George Michael</p>", lang="zh-Hans")
    assert re.findall(r'<(\w+) lang="([^"]+)"', html) == [("p", "en"), ("blockquote", "zh-Hant")]  # names stay unmarked
    assert 'lang="evil"' not in clean_html('<p lang="evil">An English paragraph written by the author.</p>', lang="en")


def test_links_with_nothing_to_click_are_dropped_from_articles():
    assert clean_html('<p>分享<a href="https://x.example/share"><svg><path d="M0"/></svg></a>到微博</p>') == "<p>分享到微博</p>"


# --- the widget on another site ---------------------------------------------------------------------

def _widget_open(tab: Page):
    page = widget_search(tab, "芯片")
    page.wait_for_selector(f"{WIDGET} [role=option] .title mark")
    return page


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_widget_with_results_open_has_no_wcag_violations(browser, embedding, width, scheme):
    """Only the widget is checked: the page around it stands in for someone else's blog."""
    require_axe()
    tab = _open_tab(browser, embedding.blog.origin, width, scheme, also=(embedding.api,))
    try:
        violations = axe_violations(_widget_open(tab), scope=WIDGET)
        assert violations == [], describe(violations)
        # (no check of the console here: axe itself fetches the widget's cross-origin stylesheet, which CORS refuses)
    finally:
        tab.close()


@pytest.mark.parametrize("width", ["desktop", "phone", "zoomed-phone"])
def test_arrow_keys_bring_every_result_of_the_widgets_list_into_view(browser, embedding, width):
    tab = _open_tab(browser, embedding.blog.origin, width, also=(embedding.api,))
    try:
        page = _widget_open(tab)
        options = page.locator(f"{WIDGET} [role=option]")  # six results, "more results", then completions
        assert page.locator(f"{WIDGET} [role=option].hit").count() == 6 and options.count() > 7
        panel = page.locator(f"{WIDGET} .panel").bounding_box()
        for i in range(options.count()):
            page.keyboard.press("ArrowDown")
            box = options.nth(i).bounding_box()
            assert panel["y"] - 1 <= box["y"] and box["y"] + box["height"] <= panel["y"] + panel["height"] + 1, i
    finally:
        tab.close()


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_tab_through_the_widgets_open_list_stays_on_the_page(browser, embedding, width):
    """From the box with results open, Tab goes on through the widget to the blog's next link, and
    Shift+Tab comes back: focus is always on something visible, never dropped on <body>."""
    tab = _open_tab(browser, embedding.blog.origin, width, also=(embedding.api,))
    try:
        page = _widget_open(tab)
        stops = []
        while not stops or stops[-1]["name"] != "每周新闻摘编：第 36 周":
            page.keyboard.press("Tab")
            stops.append(page.evaluate(FOCUS_BOX))
            assert stops[-1] is not None and not stops[-1]["outside"], stops
            assert len(stops) < 12, stops
        for _ in stops:
            page.keyboard.press("Shift+Tab")
            assert page.evaluate(FOCUS_BOX) is not None
        assert page.evaluate("document.activeElement.localName") == WIDGET
    finally:
        tab.close()
