"""A real browser for tests: Debian's Chromium driven by Playwright, a tab that records errors, the widget.

Tests needing the browser skip when Playwright or Chromium is missing, except in CI
(``CI=true``), where they fail. Pictures in posts point to remote hosts; this machine
has no internet, so a tab gets a generated stand-in picture for them.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

from tests.helpers import missing
from tests.servers import HostSite

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("NEWS_SEARCH_SCREENSHOTS")
                   or Path(__file__).resolve().parents[1] / "artifacts" / "screenshots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
#: The site's "today" in browser tests: the corpus ends in September 2022, so relative dates are stable.
TODAY = "2022-10-01"


def require_browser():
    """Return Playwright's ``sync_playwright`` if it and Chromium are installed; skip otherwise (fail in CI)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    problem = "playwright is not installed" if sync_playwright is None else (
        f"{CHROMIUM} is missing (apt-get install chromium)" if not CHROMIUM.exists() else None)
    if problem:
        missing(problem)
    return sync_playwright


def stand_in_png(width: int = 240, height: int = 180) -> bytes:
    """A soft two-colour gradient PNG, made here (no network)."""
    rows = b"".join(b"\x00" + bytes(
        v for x in range(width) for v in (200 - y * 60 // height, 210 - x * 40 // width, 228)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Page:
    """A browser tab that records console errors, page errors and dialogs (alert() would be one)."""

    def __init__(self, browser, base: str, *, viewport: str | dict = "desktop", pictures: str = "stand-in",
                 javascript: bool = True, also: tuple[str, ...] = (), color_scheme: str = "light", **options):
        self.base = base
        self.reachable = (base, *also)  # origins the tab may load from (the widget's page calls our server)
        self.context = browser.new_context(viewport=VIEWPORTS[viewport] if isinstance(viewport, str) else viewport,
                                           locale="zh-CN", java_script_enabled=javascript, color_scheme=color_scheme,
                                           **options)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route if pictures == "stand-in" else self._offline)
        self.picture = stand_in_png()

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location.get('url')}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        request = route.request
        if request.url.startswith(self.reachable):
            route.continue_()
        elif request.resource_type == "image":
            route.fulfill(status=200, content_type="image/png", body=self.picture)
        else:
            route.abort()

    def _offline(self, route) -> None:
        if route.request.url.startswith(self.reachable):
            route.continue_()
        else:
            route.fulfill(status=404, body="")  # a picture that has gone away

    def goto(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def close(self) -> None:
        self.context.close()


WIDGET_PAGE = Path(__file__).with_name("widget_host.html").read_text(encoding="utf-8")
WIDGET = "news-search-widget"  # Playwright's CSS selectors reach into its (open) shadow root


class Embedding(NamedTuple):
    """Our server, a blog allowed to call it (and where posts live), and a site that is not allowed."""

    api: str
    blog: HostSite
    stranger: HostSite


def widget_search(tab: Page, query: str):
    """Open ``tab``'s page, click into the widget's search box and type ``query``; return the page."""
    page = tab.goto("/")
    page.locator(f"{WIDGET} input").click()
    page.keyboard.type(query, delay=40)
    return page
