"""Edges from one row of a wrapped layout into the next, drawn after the layout.

    >>> svg = wrap_edges(svg, rows)   # doctest: +SKIP

A graph wider than the widget wraps into rows (see `dot.rows`), each a
cluster. Graphviz keeps the clusters in order, top to bottom, only when no
edge joins them (an edge between two clusters lets it reorder them), so
`dot.build` leaves the edges from one row into the next out of the layout
and `wrap_edges` draws them into the SVG Graphviz made: out of the right side
of the box they leave, down a trunk right of its row, left along the gap
between the two rows and down into the top of the box they enter, with their
label (`×16`) beside where they leave. Each is a `<g class="edge">` with a
`<title>src->dst</title>` as Graphviz writes its own, so the widget and the
text finders treat them alike.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field

Rect = tuple[float, float, float, float]  # left, top, right, bottom, in the SVG's units

_NODE = re.compile(r'<g id="node\d+" class="[^"]*">\s*<title>([^<]*)</title>(.*?)</g>', re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
_POINTS = re.compile(r'<(?:polygon|polyline)[^>]* points="([^"]*)"')
_PATH = re.compile(r'<path[^>]* d="([^"]*)"')
_ELLIPSE = re.compile(r"<ellipse([^>]*)>")
_SIZE = re.compile(r'<svg([^>]*?) width="([\d.]+)pt" height="([\d.]+)pt"\s+viewBox="([^"]*)"')
EDGE = "#6b7280"
LABEL = "#4b5563"
ROUND = 6.0  # radius of the path's corners
ARROW = 10.0  # arrowhead length, as Graphviz draws it
TRUNK = 12.0  # from the right of a row to its trunk
LABEL_ROOM = TRUNK + 24.0  # right of a row: its trunk, and a label (`×256`) over it


@dataclass
class Rows:
    """What `dot.build` left out of a wrapped layout: each box's row and the edges
    from one row into the next, as (src, dst, DOT attributes)."""

    row_of: dict[str, int] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def node_rects(svg: str) -> dict[str, Rect]:
    """Each drawn box's outline, by its <title> (the node or group id)."""
    out = {}
    for match in _NODE.finditer(svg):
        body = match.group(2)
        xs: list[float] = []
        ys: list[float] = []
        for numbers in [*_POINTS.findall(body), *_PATH.findall(body)]:
            values = [float(v) for v in _NUMBER.findall(numbers)]
            xs += values[0::2]
            ys += values[1::2]
        for attrs in _ELLIPSE.findall(body):
            got = dict(re.findall(r'(\w+)="([-\d.]+)"', attrs))
            cx, cy, rx, ry = (float(got[k]) for k in ("cx", "cy", "rx", "ry"))
            xs += [cx - rx, cx + rx]
            ys += [cy - ry, cy + ry]
        if xs:
            out[html.unescape(match.group(1))] = (min(xs), min(ys), max(xs), max(ys))
    return out


def wrap_edges(svg: str, rows: Rows) -> str:
    """The SVG with the edges between rows drawn in (see the module's docstring)."""
    if not rows.edges:
        return svg
    rects = node_rects(svg)
    top: dict[int, float] = {}
    bottom: dict[int, float] = {}
    right: dict[int, float] = {}
    for box, row in rows.row_of.items():
        if box in rects:
            _, t, r, b = rects[box]
            top[row] = min(top.get(row, t), t)
            bottom[row] = max(bottom.get(row, b), b)
            right[row] = max(right.get(row, r), r)
    first = len(re.findall(r'<g id="edge\d+"', svg)) + 1
    drawn = []
    widest = max(right.values(), default=0.0)
    # A label goes by the box the edge enters, or, where one box is entered by several,
    # the box it leaves.
    entered = Counter(dst for _, dst, _ in rows.edges)
    for k, (src, dst, attrs) in enumerate(rows.edges):
        if src not in rects or dst not in rects:
            continue
        row = rows.row_of[src]
        trunk = right[row] + TRUNK
        gap = (bottom[row] + top[rows.row_of[dst]]) / 2
        at_head = entered[dst] == 1
        drawn.append(
            _edge(first + k, src, dst, attrs, rects[src], rects[dst], trunk, gap, at_head)
        )
        widest = max(widest, trunk + LABEL_ROOM - TRUNK)
    end = svg.rindex("</g>")
    svg = svg[:end] + "".join(drawn) + svg[end:]
    return _wider(svg, widest)


def _edge(
    number: int,
    src: str,
    dst: str,
    attrs: dict[str, str],
    tail: Rect,
    head: Rect,
    trunk: float,
    gap: float,
    at_head: bool,
) -> str:
    y = (tail[1] + tail[3]) / 2
    x = (head[0] + head[2]) / 2
    end = head[1] - ARROW
    r = min(ROUND, max(0.0, (gap - y) / 2), max(0.0, (end - gap) / 2))
    back = -1.0 if x < trunk else 1.0  # along the gap: back to the left, as a rule
    d = (
        f"M{tail[2]:.2f},{y:.2f} H{trunk - r:.2f} Q{trunk:.2f},{y:.2f} {trunk:.2f},{y + r:.2f} "
        f"V{gap - r:.2f} Q{trunk:.2f},{gap:.2f} {trunk + back * r:.2f},{gap:.2f} "
        f"H{x - back * r:.2f} Q{x:.2f},{gap:.2f} {x:.2f},{gap + r:.2f} V{end:.2f}"
    )
    width = attrs.get("penwidth", "1")
    arrow = f"{x - 3.5:.2f},{end:.2f} {x + 3.5:.2f},{end:.2f} {x:.2f},{head[1]:.2f}"
    label = attrs.get("xlabel", attrs.get("label", ""))
    # Beside the box it leaves, or along the gap by the box it enters.
    lx, ly = (x + 3 + r, gap - 3) if at_head else (tail[2] + 2, y - 3)
    text = (
        f'<text text-anchor="start" x="{lx:.2f}" y="{ly:.2f}" '
        f'font-family="Helvetica,sans-Serif" font-size="12.00" fill="{LABEL}">'
        f"{html.escape(label)}</text>\n"
        if label
        else ""
    )
    title = html.escape(f"{src}->{dst}").replace("-", "&#45;")
    classes = f"edge {attrs.get('class', '')}".strip()
    return (
        f'<g id="edge{number}" class="{classes}">\n'
        f"<title>{title}</title>\n"
        f'<path fill="none" stroke="{EDGE}" stroke-width="{width}" d="{d}"/>\n'
        f'<polygon fill="{EDGE}" stroke="{EDGE}" stroke-width="{width}" points="{arrow}"/>\n'
        f"{text}</g>\n"
    )


def _wider(svg: str, right: float) -> str:
    """Widen the SVG's canvas so that x = right (in the graph's units) is inside it."""
    match = _SIZE.search(svg)
    if not match:
        return svg
    width = float(match.group(2))
    translate = re.search(r'class="graph" transform="[^"]*translate\(([-\d.]+)', svg)
    shift = float(translate.group(1)) if translate else 0.0
    need = right + shift + 4
    if need <= width:
        return svg
    box = match.group(4).split()
    box[2] = f"{need:.2f}"
    size = f'width="{need:.0f}pt" height="{match.group(3)}pt"'
    head = f'<svg{match.group(1)} {size}\n viewBox="{" ".join(box)}"'
    return svg[: match.start()] + head + svg[match.end() :]
