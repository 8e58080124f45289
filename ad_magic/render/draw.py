"""Rendering: a traced graph as DOT, SVG, PNG, HTML or plain text.

    >>> from ad_magic.render.draw import to_svg, summary, save, config
    >>> svg = to_svg(graph)                 # doctest: +SKIP
    >>> save(graph, "graph.png")            # .svg, .png or .dot/.gv
    >>> config.backend = "wasm"             # "auto" | "dot" | "wasm"

One SVG serves both modes: each box's mode line is written once per mode, as
`<text class="grad">` and `<text class="tangent seed-0">`, ... at the same
place, the ones of the other mode hidden with `display="none"`. The root
`<svg>` has the classes `ad-graph ad-reverse` (or `ad-forward ad-seed-K`) and
a small scoped style sheet, so a display switches mode or seed by changing
those classes: no new layout; `ad-lr` or `ad-tb` says which way it reads.
Boxes have CSS classes for their kind (see `dot.py`) and their ids as `<title>`.

Given the width (and height) it is shown in, a left-to-right graph that does
not fit at one point per pixel wraps into rows, or reads top to bottom when
that fits (or shows it larger): the neuron of the micrograd lecture is 1,057
points wide left to right and 462 top to bottom.

Graphs larger than `config.budget` nodes are drawn with groups (`groups.View`),
about `config.boxes` boxes at first;
pass a `View` to draw the groups opened differently. A layout that fails or
runs past `config.timeout` raises `LayoutError`; `to_html` catches it and
shows the message and a text summary instead.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ad_magic.render.dot import BIG, Box, build, number, printable, seeds
from ad_magic.render.groups import View
from ad_magic.render.layout import BACKENDS, LayoutError, layout
from ad_magic.render.wrap import Rows, wrap_edges
from ad_magic.trace.graph import Graph

__all__ = ["LayoutError", "View", "config", "save", "summary", "to_dot", "to_html", "to_svg"]


@dataclass
class Config:
    """How graphs are drawn; change the module's `config` in place."""

    backend: str = field(default_factory=lambda: os.environ.get("AD_MAGIC_LAYOUT", "auto"))
    timeout: float = 5.0  # seconds one layout may take before it is stopped
    budget: int = 150  # nodes drawn before they are grouped
    boxes: int = 30  # boxes in the first view of a grouped graph
    direction: str = "LR"  # "LR" left to right, or "TB" top to bottom
    edge_labels: bool = True  # local derivatives on the edges
    width: float = 900  # points (shown as pixels) before a left-to-right graph wraps
    plates: bool = True  # many boxes alike that do not fit the room: a grid in a frame

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")


config = Config()


def view_of(
    graph: Graph,
    view: View | None = None,
    *,
    width: float | None = None,
    height: float | None = None,
) -> View:
    """`view`, else the graph's first view. Given the room it is shown in (points), a
    graph of more than `config.boxes` boxes that is not grouped (it is within the
    budget) and does not show whole there at one point per pixel is drawn grouped by
    its calls and lines instead, at most about `config.boxes` boxes."""
    if view is not None:
        return view
    first = View(graph, config.budget, boxes=config.boxes)
    if width is None or first.grouped or len(first.units()) <= config.boxes:
        return first
    if readable(to_svg(graph, first, width=width, height=height), width, height) == 1:
        return first
    grouped = View(graph, config.boxes, boxes=config.boxes)
    return grouped if grouped.groups and len(grouped.units()) < len(first.units()) else first


def to_dot(
    graph: Graph, view: View | None = None, *, mode: str = "reverse", seed: str | None = None
) -> str:
    """Graphviz DOT source of the graph (grouped past the budget), for one mode."""
    source, _ = build(
        graph,
        view_of(graph, view),
        mode=mode,
        seed=seed,
        direction=config.direction,
        edge_labels=config.edge_labels,
    )
    return source


def to_svg(
    graph: Graph,
    view: View | None = None,
    *,
    mode: str = "reverse",
    seed: str | None = None,
    width: float | None = None,
    height: float | None = None,
) -> str:
    """The laid-out graph as an SVG document carrying both modes (see the module doc).

    A left-to-right graph wider than `width` points (default `config.width`) wraps into
    rows; if it still does not fit in `width` × `height` points (no height: any), it is
    drawn top to bottom instead when that shows it larger (see `readable`).
    """
    view = view_of(graph, view)
    width = config.width if width is None else width
    direction = config.direction
    svg, boxes = _laid_out(graph, view, direction, width, height=height)
    # Up to BIG boxes the other ways are laid out too (a few tens of ms each) when
    # this one was wrapped by the rows' estimate, or does not fit. Given a height, top
    # to bottom that fits is preferred to rows (a tree wrapped into rows sends edges
    # back up; a chain's rows stay, as it is too tall top to bottom).
    small = len(boxes) <= BIG and direction == "LR"
    wrapped = small and "cluster_row" in svg
    if wrapped:  # the boxes are the view's, whichever way it is laid out
        whole, _ = _laid_out(graph, view, "LR", None, boxes)
        if readable(whole, width, height) == 1:
            svg, wrapped = whole, False
    if wrapped or (small and readable(svg, width, height) < 1):
        down = _top_to_bottom(graph, view, width, boxes, height)
        fits = readable(down, width, height) == 1
        if readable(down, width, height) > readable(svg, width, height) or (
            wrapped and height and fits
        ):
            svg, direction = down, "TB"
    names = seeds(graph)
    which = names.index(seed) if seed in names else 0
    return with_modes(svg, boxes, names, mode if names else "reverse", which, direction)


def _laid_out(
    graph: Graph,
    view: View,
    direction: str,
    width: float | None,
    drawn: list[Box] | None = None,
    height: float | None = None,
) -> tuple[str, list[Box]]:
    """The view laid out one way (`drawn`: its boxes, when made for another way)."""
    wrapped = Rows()
    source, boxes = build(
        graph,
        view,
        direction=direction,
        edge_labels=config.edge_labels,
        layout_text=True,
        width=width,
        height=height if config.plates else None,
        wrapped=wrapped,
        drawn=drawn,
    )
    svg = layout(source, "svg", backend=config.backend, timeout=config.timeout).decode()
    return wrap_edges(svg, wrapped), boxes


def _top_to_bottom(
    graph: Graph, view: View, width: float, boxes: list[Box], height: float | None = None
) -> str:
    """Top to bottom within `width` points: the levels are estimated from the text, so a
    layout that comes out wider is made again for a narrower width (twice at most, while
    its height leaves room to show it larger: narrower, it is taller); the one shown
    largest."""
    aim = width
    best = ""
    for _ in range(3):
        svg, _ = _laid_out(graph, view, "TB", aim, boxes, height)
        if not best or readable(svg, width, height) > readable(best, width, height):
            best = svg
        drawn = svg_size(svg)[0]
        if drawn <= width or (height and height / svg_size(svg)[1] <= readable(svg, width)):
            break  # it fits the width, or its height already keeps it from showing larger
        aim *= width / drawn
    return best


_SIZE = re.compile(r'<svg[^>]*?width="([\d.]+)pt" height="([\d.]+)pt"')


def svg_size(svg: str) -> tuple[float, float]:
    """A laid-out SVG's width and height in points (0, 0 if it has none)."""
    found = _SIZE.search(svg)
    return (float(found[1]), float(found[2])) if found else (0.0, 0.0)


def readable(svg: str, width: float, height: float | None = None) -> float:
    """The scale (at most 1) that shows the whole SVG in `width` × `height` points."""
    w, h = svg_size(svg)
    return min(1.0, width / w if w else 1.0, height / h if height and h else 1.0)


_NODE = re.compile(r'(<g id="node\d+" class="[^"]*">\s*<title>)([^<]*)(</title>.*?</g>)', re.S)
HIDDEN = ' display="none"'
_TEXT = re.compile(r"<text([^>]*)>(.*?)</text>", re.S)


def with_modes(
    svg: str, boxes: list[Box], names: list[str], mode: str, which: int, direction: str = "LR"
) -> str:
    """Write each box's mode line once per mode (grad, one tangent per seed), one shown;
    the root's classes say the mode and the direction (`ad-lr` or `ad-tb`)."""
    by_id = {box.id: box for box in boxes}

    def per_node(match: re.Match[str]) -> str:
        box = by_id.get(html.unescape(match.group(2)))
        if box is None or box.mode_line is None:
            return match.group(0)
        body = _mark_value(match.group(3), box)
        texts = list(_TEXT.finditer(body))
        wanted = box.widest_mode_text()
        found = [t for t in texts if html.unescape(t.group(2)) == wanted]
        if found:
            text = found[-1]
        elif box.mode_line < len(texts):
            text = texts[box.mode_line]
        else:
            return match.group(0)
        attrs = text.group(1)
        rows = [("grad", box.grad, mode == "reverse")]
        rows += [
            (f"tangent seed-{i}", t, mode == "forward" and i == which)
            for i, t in enumerate(box.tangents)
        ]
        new = "".join(
            f'<text class="{cls}"{"" if shown else HIDDEN}{attrs}>'
            f"{html.escape(printable(content), quote=False)}</text>"
            for cls, content, shown in rows
        )
        body = body[: text.start()] + new + body[text.end() :]
        return match.group(1) + match.group(2) + body

    svg = _NODE.sub(per_node, svg)
    classes = f"ad-graph ad-{mode} ad-{direction.lower()}"
    classes += f" ad-seed-{which}" if names else ""
    rules = [
        ".ad-graph.ad-reverse text.grad{display:inline}",
        ".ad-graph.ad-reverse text.tangent{display:none}",
    ]
    if names:
        rules += [
            ".ad-graph.ad-forward text.grad{display:none}",
            ".ad-graph.ad-forward text.tangent{display:none}",
        ]
        rules += [
            f".ad-graph.ad-forward.ad-seed-{i} text.seed-{i}{{display:inline}}"
            for i in range(len(names))
        ]
    style = "<style>" + "".join(rules) + "</style>"
    return _insert_style(svg, classes, style)


def _mark_value(body: str, box: Box) -> str:
    """The box's value line as `<text class="value">`, so a display finds it by class
    (a label may start with "value " too)."""
    if box.value_line is None:
        return body
    texts = list(_TEXT.finditer(body))
    if box.value_line >= len(texts):
        return body
    text = texts[box.value_line]
    return body[: text.start()] + '<text class="value"' + body[text.start() + 5 :]


def _insert_style(svg: str, classes: str, style: str) -> str:
    start = svg.index("<svg")
    end = svg.index(">", start)
    return (
        svg[:start] + f'<svg class="{classes}"' + svg[start + 4 : end + 1] + style + svg[end + 1 :]
    )


def summary(graph: Graph, view: View | None = None, limit: int = 40) -> str:
    """A plain-text account of the graph: counts, output, inputs and nodes or groups."""
    kinds = {"input": 0, "const": 0, "op": 0}
    for node in graph.nodes:
        kinds[node.kind] += 1
    out = graph[graph.output]
    lines = [
        f"Graph of {len(graph)} nodes: {kinds['input']} inputs, {kinds['const']} constants, "
        f"{kinds['op']} operations.",
        f"Output {out.id} {out.title} = {number(out.value)}",
    ]
    names = seeds(graph)

    def row(node_id: str) -> str:
        n = graph[node_id]
        made = f"{n.op.symbol}({', '.join(n.parents)})" if n.kind == "op" else n.kind
        extra = f"  grad {number(n.grad)}" if n.kind != "const" else ""
        extra += "".join(f"  d/d{s} {number(n.tangents[s])}" for s in names if s in n.tangents)
        return f"  {n.id:>6}  {n.shown or n.title:<12} {made:<20} value {number(n.value)}{extra}"

    if len(graph) <= limit:
        lines += [row(n.id) for n in graph.nodes]
        return "\n".join(lines)
    inputs = [n.id for n in graph.nodes if n.kind == "input"]
    lines.append(f"Inputs ({len(inputs)}):")
    lines += [row(i) for i in inputs[: limit // 2]]
    if len(inputs) > limit // 2:
        lines.append(f"  ... and {len(inputs) - limit // 2} more")
    drawn = view_of(graph, view)
    groups = [drawn.groups[u] for u in drawn.units() if u in drawn.groups]
    if groups:
        lines.append(f"Groups drawn ({len(groups)}):")
        lines += [f"  {g.id:>10}  {g.label}  ({g.size} nodes)" for g in groups[: limit // 2]]
        if len(groups) > limit // 2:
            lines.append(f"  ... and {len(groups) - limit // 2} more")
    return "\n".join(lines)


def to_html(
    graph: Graph,
    view: View | None = None,
    *,
    mode: str = "reverse",
    seed: str | None = None,
    width: float | None = None,
    height: float | None = None,
) -> str:
    """The SVG for a notebook page; if the layout fails, the reason and a text summary."""
    try:
        svg = to_svg(graph, view, mode=mode, seed=seed, width=width, height=height)
    except LayoutError as err:
        text = f"Could not draw the graph: {err}\n\n{summary(graph, view)}"
        return f'<pre class="ad-graph-error">{html.escape(text)}</pre>'
    return f'<div class="ad-graph-box" style="overflow:auto">{svg[svg.index("<svg") :]}</div>'


def save(
    graph: Graph,
    path: str | os.PathLike[str],
    view: View | None = None,
    *,
    mode: str = "reverse",
    seed: str | None = None,
) -> Path:
    """Write the graph to `path` as SVG, PNG or DOT, chosen by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(to_svg(graph, view, mode=mode, seed=seed), encoding="utf-8")
    elif suffix in (".dot", ".gv"):
        path.write_text(to_dot(graph, view, mode=mode, seed=seed), encoding="utf-8")
    elif suffix == ".png":
        source = to_dot(graph, view, mode=mode, seed=seed)
        path.write_bytes(layout(source, "png", backend=config.backend, timeout=config.timeout))
    else:
        raise ValueError(f"save() writes .svg, .png or .dot files, not {path.name!r}")
    return path
