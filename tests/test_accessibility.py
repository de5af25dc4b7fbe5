"""Accessibility in a real Chromium: axe-core's WCAG 2.0/2.1 A and AA rules on every page state, keyboard use.

axe-core comes from npm, pinned in ``.ci/package.json``; ``.ci/run`` installs it
into ``.ci/node_modules`` ($NEWS_SEARCH_AXE names another ``axe.min.js``). Without it
(or without Chromium) these tests skip with a reason, and fail when ``CI=true``.

Every page state (home, results with facets and timeline, a date chip, no
results, an article with figures, an English article, instant search typed, and
the widget with results open on another site) is checked at desktop (1280 px)
and phone (390 and 320 px) widths, in the light and the dark colour scheme
(``prefers-color-scheme`` emulated), with every axe rule tagged wcag2a, wcag2aa,
wcag21a or wcag21aa, experimental ones included. The one exemption is named in
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

from tests.test_browser import (  # noqa: F401  (browser, site and embedding are fixtures used here)
    SCREENSHOTS, WIDGET, Page, _require_browser, _widget_search, browser, embedding, site)

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
    """An axe rule not applied to the elements ``selectors`` match (it still runs on every other element)."""

    rule: str
    selectors: tuple[str, ...]
    reason: str


EXEMPTIONS = (
    Exemption("label-content-name-mismatch", (".brand", ".chip-date"),
               "false positive on Chinese: axe compares whole space-separated words, and unspaced Chinese is one "
               "'word', so the name 新闻搜索首页 is said not to contain the visible 新闻搜索 (WCAG 2.5.3 is met: "
               "each name starts with, or contains, the visible text)"),
)


def require_axe() -> str:
    """Return axe-core's source; skip without it (fail in CI)."""
    if not AXE.exists():
        message = f"{AXE} not found: .ci/run installs axe-core@{AXE_VERSION} (npm install --prefix .ci)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


RUN_AXE = """async ({tags, exceptions}) => {
  const wanted = axe.getRules(tags).filter(r => !r.tags.includes("deprecated")).map(r => r.ruleId);
  const excepted = exceptions.map(e => e.rule);
  const run = (context, rules) => axe.run(context, {runOnly: {type: "rule", values: rules},
                                                     resultTypes: ["violations"]});
  const results = [await run(document, wanted.filter(id => !excepted.includes(id)))];
  for (const e of exceptions) {
    if (wanted.includes(e.rule)) results.push(await run({exclude: e.selectors.map(s => [s])}, [e.rule]));
  }
  return results.flatMap(r => r.violations).map(v => ({
    rule: v.id, impact: v.impact,
    nodes: v.nodes.map(n => ({target: n.target.flat().join(" >>> "), html: n.html.slice(0, 160),
                              why: n.failureSummary}))}));
}"""


def axe_violations(page) -> list[dict]:
    """Return axe's WCAG 2.0/2.1 A and AA violations on ``page``, :data:`EXEMPTIONS` applied."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(require_axe())  # evaluated by the browser's debugger: the page's CSP does not apply
    return page.evaluate(RUN_AXE, {"tags": list(TAGS), "exceptions": [e._asdict() for e in EXEMPTIONS]})


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
    "no-results": _goto("/search?q=不存在的词组合xyz", ".no-results"),
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
def test_focus_is_never_under_the_sticky_header_tabbing_either_way(browser, site, width):
    tab = _open_tab(browser, site, width)
    try:
        page = tab.goto("/search?q=苹果")
        page.wait_for_load_state("load")
        forwards = _tab_stops(page, "Tab")
        backwards = _tab_stops(page, "Shift+Tab")
        assert len(forwards) > 40 and len(backwards) > 40
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
def test_tab_order_follows_what_is_shown_at_narrow_widths(browser, site, width):
    tab = _open_tab(browser, site, width)
    try:
        page = tab.goto("/search?q=苹果")
        page.wait_for_load_state("load")
        assert page.locator(".results-side").bounding_box()["y"] < page.locator(".hits").bounding_box()["y"]
        stops = _tab_stops(page)
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

