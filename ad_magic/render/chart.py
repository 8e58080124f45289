"""A line chart as SVG, drawn by ad_magic itself: no plotting library needed.

`line_chart(x, series)` draws one line per named series against x, on
logarithmic axes by default (costs that grow like N and like N² are then
straight lines of slopes 1 and 2), with decade grid lines, a point per
measurement, a legend, axis labels and a title. Text and axes use the
surrounding text colour (`currentColor`), so the chart reads in light and
dark notebooks alike; `background` paints a backdrop for a file shown
anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

# Distinguishable in colour and for colour-blind readers (Okabe-Ito), on white and on black.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "", "6 3")


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    """Where to put grid lines: powers of ten (log), else about five round steps."""
    if log:
        return [10.0**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    step = 10 ** math.floor(math.log10((hi - lo) / 5 or 1))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= 6:
            step *= m
            break
    first = math.floor(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step) + 2)]


def _label(v: float) -> str:
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        e = math.floor(math.log10(abs(v)))
        m = v / 10**e
        return f"10^{e}" if abs(m - 1) < 1e-9 else f"{m:g}e{e}"
    return f"{v:,.10g}"


def line_chart(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    log: bool = True,
    width: int = 600,
    height: int = 360,
    background: str | None = None,
) -> str:
    """An SVG line chart of each series (name -> y values, one per x) against x.

    On log axes, points that are not positive are left out.
    """
    points = {
        name: [(a, b) for a, b in zip(x, ys, strict=True) if not log or (a > 0 and b > 0)]
        for name, ys in series.items()
    }
    xs = [a for pts in points.values() for a, _ in pts] or [1.0]
    ys = [b for pts in points.values() for _, b in pts] or [1.0]
    ticks_x = _ticks(min(xs), max(xs), log)
    ticks_y = _ticks(min(ys), max(ys), log)
    x0, x1 = ticks_x[0], ticks_x[-1]
    y0, y1 = ticks_y[0], ticks_y[-1]
    if x0 == x1:
        x0, x1 = (x0 / 10, x1 * 10) if log else (x0 - 1, x1 + 1)
    if y0 == y1:
        y0, y1 = (y0 / 10, y1 * 10) if log else (y0 - 1, y1 + 1)
    left, right, top, bottom = 64, 16 + 150, 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    scale = math.log10 if log else (lambda v: v)

    def px(v: float) -> float:
        return left + (scale(v) - scale(x0)) / (scale(x1) - scale(x0)) * plot_w

    def py(v: float) -> float:
        return top + plot_h - (scale(v) - scale(y0)) / (scale(y1) - scale(y0)) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ad-chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title or "line chart")}" font-family="system-ui, sans-serif" '
        f'font-size="12">'
    ]
    if background:
        out.append(f'<rect width="{width}" height="{height}" fill="{escape(background)}"/>')
    if title:
        out.append(
            f'<text x="{left}" y="20" font-size="14" font-weight="600" '
            f'fill="currentColor">{escape(title)}</text>'
        )
    # Grid lines and their labels: (x1, y1, x2, y2) of the line, (x, y, anchor) of the label.
    grid = [
        ((px(t), top, px(t), top + plot_h), (px(t), top + plot_h + 16, "middle"), t)
        for t in ticks_x
        if x0 <= t <= x1
    ] + [
        ((left, py(t), left + plot_w, py(t)), (left - 6, py(t) + 4, "end"), t)
        for t in ticks_y
        if y0 <= t <= y1
    ]
    for (ax, ay, bx, by), (tx, ty, anchor), t in grid:
        out.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" '
                   'stroke="currentColor" stroke-opacity="0.15"/>')  # fmt: skip
        out.append(f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}" '
                   f'fill="currentColor">{_label(t)}</text>')  # fmt: skip
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
               f'stroke="currentColor" stroke-opacity="0.6"/>')  # fmt: skip
    if x_label:
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                   f'fill="currentColor">{escape(x_label)}</text>')  # fmt: skip
    if y_label:
        cy = top + plot_h / 2
        out.append(f'<text transform="translate(16 {cy:.1f}) rotate(-90)" text-anchor="middle" '
                   f'fill="currentColor">{escape(y_label)}</text>')  # fmt: skip
    for k, (name, pts) in enumerate(points.items()):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
        style = f'stroke="{colour}" stroke-width="2.2" fill="none"'
        style += f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in pts)
        out.append(f'<g class="ad-series" data-name="{escape(name)}">')
        out.append(f"<title>{escape(name)}</title>")
        out.append(f'<polyline points="{path}" {style}/>')
        out.extend(
            f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="{colour}"/>' for a, b in pts
        )
        out.append("</g>")
        ly = top + 10 + 20 * k
        lx = left + plot_w + 12
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" {style}/>')
        out.append(f'<text x="{lx + 30}" y="{ly + 4}" fill="currentColor">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
