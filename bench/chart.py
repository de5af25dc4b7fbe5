"""Line charts as self-contained SVG: the scaling chart (build time, index size and query p95 against
corpus size) and the living archive's (segments, query p95 and size against updates).

Written by hand rather than with matplotlib: three line panels need a few
dozen lines of SVG, and the suite then needs nothing beyond the project's
own dependencies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from pathlib import Path

PANEL_W, PANEL_H, MARGIN = 320, 240, 56
COLOURS = ("#1f77b4", "#d62728", "#7f7f7f")

Series = tuple[str, Callable[[dict], float]]
PANELS: tuple[tuple[str, tuple[Series, ...]], ...] = (
    ("build time (s)", (("ours", lambda s: s["build"]["wall_s"]),
                        ("classic", lambda s: s["classic"]["build"]["wall_s"]),
                        ("jieba floor", lambda s: s["floor"]["seconds"]))),
    ("index size (MB)", (("ours", lambda s: s["build"]["index_bytes"] / 1e6),
                         ("classic", lambda s: s["classic"]["build"]["index_bytes"] / 1e6),
                         ("body text", lambda s: s["body_bytes"] / 1e6))),
    ("query p95 (ms)", (("ours, overall mix", lambda s: s["queries"]["overall"]["p95"]),
                        ("classic, dev queries", lambda s: s["classic"]["query_ms"]["p95"]),
                        ("ours, dev queries", lambda s: s["queries"]["by_kind"]["dev"]["p95"]))),
)


def write_chart(sizes: list[dict], path: Path) -> None:
    """Draw the scaling panels for ``sizes`` (results per corpus size) into the SVG file ``path``."""
    write_panels(sizes, PANELS, path, x_of=lambda s: s["docs"], x_label="documents")


def write_panels(rows: list[dict], panels, path: Path, *, x_of: Callable[[dict], float], x_label: str) -> None:
    """Draw one line panel per ``(title, series)`` of ``panels`` over ``rows`` into the SVG file ``path``;
    ``x_of`` gives a row's place on the horizontal axis."""
    width = len(panels) * (PANEL_W + MARGIN) + MARGIN
    height = PANEL_H + 2 * MARGIN + 50
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'font-family="sans-serif" font-size="11">'),
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for i, (title, series) in enumerate(panels):
        parts += _panel(rows, x_of, x_label, title, series, MARGIN + i * (PANEL_W + MARGIN), MARGIN)
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def _panel(rows: list[dict], x_of: Callable[[dict], float], x_label: str, title: str, series: tuple[Series, ...],
           left: int, top: int) -> list[str]:
    docs = [x_of(row) for row in rows]
    lines = [(name, [(d, v) for d, v in zip(docs, map(_safe(fn), rows), strict=True) if v is not None])
             for name, fn in series]
    top_value = max((v for _, pts in lines for _, v in pts), default=0.0)
    step = _tick_step(top_value)
    ticks = max(1, math.ceil(top_value / step))
    y_max = step * ticks
    x_max = max(docs) * 1.05 or 1

    def xy(d: float, v: float) -> tuple[float, float]:
        return left + d / x_max * PANEL_W, top + PANEL_H - v / y_max * PANEL_H

    out = [f'<text x="{left}" y="{top - 12}" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>']
    for tick in range(ticks + 1):
        value = step * tick
        _, y = xy(0, value)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + PANEL_W}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>')
    for d in docs:
        x, _ = xy(d, 0)
        out.append(f'<text x="{x:.1f}" y="{top + PANEL_H + 14}" text-anchor="middle">{d:,}</text>')
    out.append(f'<text x="{left + PANEL_W / 2}" y="{top + PANEL_H + 30}" text-anchor="middle">{escape(x_label)}</text>')
    for n, (name, points) in enumerate(lines):
        colour = COLOURS[n % len(COLOURS)]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(d, v) for d, v in points))
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in (xy(d, v) for d, v in points)]
        lx, ly = left, top + PANEL_H + 50 + 14 * n
        out.append(f'<rect x="{lx:.1f}" y="{ly - 8}" width="10" height="3" fill="{colour}"/>')
        out.append(f'<text x="{lx + 14:.1f}" y="{ly - 4}">{escape(name)}</text>')
    return out


def _safe(fn: Callable[[dict], float]) -> Callable[[dict], float | None]:
    def value(size: dict) -> float | None:
        try:
            return float(fn(size))
        except (KeyError, TypeError):  # that measurement was skipped
            return None
    return value


def _tick_step(top: float) -> float:
    """Return a round step (1, 2 or 5 times a power of ten) that splits 0..``top`` into at most 5 parts.

    >>> _tick_step(232), _tick_step(374), _tick_step(0.8)
    (50, 100, 0.2)
    """
    if top <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(top / 5))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude * 5 >= top)


def _number(value: float) -> str:
    return f"{value:g}"
