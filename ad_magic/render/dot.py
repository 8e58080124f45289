"""DOT: a traced graph (or the part of it a `View` shows) as Graphviz source.

    >>> source, boxes = build(graph, View(graph))   # doctest: +SKIP

The visual language, one look per kind of box (and a CSS class of that name
on the SVG element, beside Graphviz's own `node` / `edge`):

- input: a rounded blue box, with its name, value and gradient (or tangent)
- const: a small dashed grey box with its value
- op: a yellow ellipse, with its op (and the variable it was assigned to)
- output: like an op, green and with a double border; also class `output`
- group: a violet 3-d box with the call or line and how many nodes it holds
  (and the value and gradient of its result, when it has exactly one)

Every box and edge carries its id as the SVG `<title>`: the node ids `n0`, `n1`,
... and group ids (see `groups.py`). Each box's label has one line, the *mode
line*, that shows the gradient (reverse mode); the SVG writer in `render.py`
turns it into one `<text>` per mode so that switching modes needs no new
layout. The layout reserves room for the longest of them.

Text from user code (names, calls) is escaped for DOT here and for XML by
Graphviz, so it is always shown literally, never read as markup.
"""

from __future__ import annotations

import itertools
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field

import graphviz

from ad_magic.render.groups import Edge, Group, View
from ad_magic.render.plates import Plate, box_height, look, plates
from ad_magic.render.wrap import LABEL_ROOM, Rows
from ad_magic.trace.graph import Graph, Node, printable

STYLE = {
    "input": {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": "#dbeafe",
        "color": "#1d4ed8",
    },
    "const": {
        "shape": "box",
        "style": "filled,dashed",
        "fillcolor": "#f3f4f6",
        "color": "#9ca3af",
        "fontcolor": "#4b5563",
        "fontsize": str(12),
    },
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#fef3c7", "color": "#b45309"},
    "output": {"fillcolor": "#dcfce7", "color": "#15803d", "peripheries": "2", "penwidth": "1.5"},
    "group": {"shape": "box3d", "style": "filled", "fillcolor": "#ede9fe", "color": "#6d28d9"},
}

# Past BIG boxes, the layout trades polish for speed: fewer network-simplex and
# crossing-minimisation rounds, and edge labels placed after the layout
# (xlabel) instead of as extra ranks. This keeps 150 boxes under half a second.
BIG = 60
FAST = {"nslimit": "2", "mclimit": "0.5"}
# Text sizes in points; the widget shows one point as one pixel, so box text
# is the notebook's 13 px and edge labels 12 px.
FONT = 13
SMALL = 12
LEVEL_GAP = 40.0  # points beside a box on its level, top to bottom: the gap and an edge label
WRAPPED_GAP = 36.0  # points between two columns of a graph wrapped into rows, about


def number(x: float) -> str:
    return f"{x:.4g}"


@dataclass
class Box:
    """What one drawn box shows, line by line."""

    id: str
    kind: str  # input, const, op or group
    lines: list[str]
    mode_line: int | None = None  # which line shows grad / tangent
    grad: str = ""  # the mode line in reverse mode
    tangents: list[str] = field(default_factory=list)  # the mode line per seed, forward mode
    output: bool = False
    value_line: int | None = None  # which line shows the value ("value 2")
    tensor: bool = False  # a group of a numpy call's nodes, or part of one (class `tensor`)

    @property
    def classes(self) -> str:
        classes = f"{self.kind} tensor" if self.tensor else self.kind
        return f"{classes} output" if self.output else classes

    def label(self, mode_text: str | None = None) -> str:
        """The lines as a DOT label, escaped; `mode_text` replaces the mode line."""
        lines = list(self.lines)
        if self.mode_line is not None and mode_text is not None:
            lines[self.mode_line] = mode_text
        return "\\n".join(escape(line) for line in lines)

    def widest_mode_text(self) -> str | None:
        if self.mode_line is None:
            return None
        return max([self.grad, *self.tangents], key=len)


def escape(text: str) -> str:
    """One label line shown literally: no DOT escapes (\\N, \\n), no entities (&amp;)."""
    return printable(text).replace("\\", "\\\\").replace("&", "&amp;") or " "


def seeds(graph: Graph) -> list[str]:
    """The forward-mode seeds present, in order of first appearance."""
    found: dict[str, None] = {}
    have = found.keys()
    for node in graph.nodes:
        if node.tangents and not have >= node.tangents.keys():  # most have the seeds seen
            found.update(dict.fromkeys(node.tangents))
    return list(found)


def mode_texts(
    grad: float, tangents: dict[str, float], seed_names: list[str]
) -> tuple[str, list[str]]:
    return f"grad {number(grad)}", [
        f"d/d{s} {number(tangents[s])}" if s in tangents else f"d/d{s} ?" for s in seed_names
    ]


def node_box(node: Node, seed_names: list[str], output: bool) -> Box:
    kind = node.kind
    if kind == "const":
        return Box(node.id, kind, [number(node.value)], output=output)
    if kind == "input":
        head = node.shown or "input"
    else:
        head = f"{node.shown} ({node.op.symbol})" if node.name else node.op.symbol
    grad, tangents = mode_texts(node.grad, node.tangents, seed_names)
    lines = [head, f"value {number(node.value)}", grad]
    return Box(node.id, kind, lines, 2, grad, tangents, output, value_line=1)


def title_lines(label: str) -> list[str]:
    """A group's title as drawn: a long tensor title on two lines, the result's shape
    under the operands' (`matmul (16×16)·(16,)` / `→ (16,)`), for a narrower box."""
    head, arrow, tail = label.partition(" → ")
    return [head, f"→ {tail}"] if arrow and len(label) > 24 else [label]


def group_box(group: Group, result: Node | None, seed_names: list[str]) -> Box:
    lines = [*title_lines(group.label), f"{group.size} nodes"]
    if result is None:
        return Box(group.id, "group", lines, tensor=group.in_tensor)
    grad, tangents = mode_texts(result.grad, result.tangents, seed_names)
    lines += [f"value {number(result.value)}", grad]
    return Box(
        group.id,
        "group",
        lines,
        len(lines) - 1,
        grad,
        tangents,
        value_line=len(lines) - 2,
        tensor=group.in_tensor,
    )


def boxes(
    graph: Graph,
    view: View,
    unit_of: list[str],
    edges: list[Edge],
    seed_names: list[str] | None = None,
) -> list[Box]:
    """A box per drawn unit, in creation order (`seed_names`: `seeds(graph)`, if known)."""
    seed_names = seeds(graph) if seed_names is None else seed_names
    # A group's result: its one node used outside it (or the output), if there is one.
    leaving = view.leaving(unit_of)
    outputs = set(graph.outputs or [graph.output])
    out = []
    for unit in dict.fromkeys(unit_of):
        if unit in view.groups:
            results = leaving.get(unit, set())
            result = graph[next(iter(results))] if len(results) == 1 else None
            out.append(group_box(view.groups[unit], result, seed_names))
        else:
            out.append(node_box(graph[unit], seed_names, unit in outputs))
    return out


def local_derivative(graph: Graph, node: Node, arg: int) -> str:
    """d node / d parent[arg] at the traced values, from the primitive table."""
    args = [graph[p].value for p in node.parents]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return number(node.op.partials[arg](*args, node.value))
    except Exception:
        return "?"


def build(
    graph: Graph,
    view: View,
    *,
    mode: str = "reverse",
    seed: str | None = None,
    direction: str = "LR",
    edge_labels: bool = True,
    layout_text: bool = False,
    width: float | None = None,
    height: float | None = None,
    wrapped: Rows | None = None,
    drawn: list[Box] | None = None,
) -> tuple[str, list[Box]]:
    """DOT source for what `view` shows, and its boxes (`drawn`: the view's boxes when
    made already, as for one view laid out several ways).

    The mode line shows the gradient (mode "reverse") or the tangent for `seed`
    (mode "forward", default the first seed). With `layout_text` it holds the
    widest of them all instead, for an SVG that switches modes. Left to right,
    a graph wider than `width` points wraps into rows read top to bottom; top to
    bottom, a level wider than `width` spreads over more levels (see `levels`). Given
    `height` (a room to fit, not an export), many boxes alike that do not fit it (left to
    right) or `width` (top to bottom) are drawn as a grid in a frame (see `plates`).
    Given `wrapped`, the edges from one row into the next are left out of the DOT (so
    Graphviz keeps the rows in order) and put there, for `wrap.wrap_edges` to draw into
    the SVG; without it they are in the DOT, not ranking the boxes.
    """
    if direction not in ("LR", "TB"):
        raise ValueError(f"direction must be 'LR' (left to right) or 'TB', not {direction!r}")
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    unit_of = view.unit_of()
    edges = view.edges(unit_of)
    # (the seeds are found once: a walk over every node of the graph)
    seed_names = seeds(graph) if drawn is None or mode == "forward" else []
    if drawn is None:
        drawn = boxes(graph, view, unit_of, edges, seed_names)
    which = None
    if mode == "forward" and seed_names:
        which = seed_names.index(seed) if seed in seed_names else 0

    big = len(drawn) > BIG
    dot = graphviz.Digraph(name="ad_magic")
    dot.attr(rankdir=direction, fontname="Helvetica", bgcolor="transparent")
    if big:
        dot.attr(**FAST)
    dot.attr("node", fontname="Helvetica", fontsize=str(FONT), margin="0.08,0.04")
    dot.attr("edge", fontname="Helvetica", fontsize=str(SMALL), color="#6b7280",
             fontcolor="#4b5563")  # fmt: skip
    kinds = {}
    texts = {}
    for box in drawn:
        kinds[box.id] = box.kind
        if layout_text:
            texts[box.id] = box.widest_mode_text()
        elif which is not None and box.tangents:
            texts[box.id] = box.tangents[which]
        else:
            texts[box.id] = box.grad or None
    rank = ranks(drawn, edges)
    found: list[Plate] = []
    if height:  # a room to fit (an export has none)
        sizes = {box.id: (box_width(box, texts[box.id]), box_size(box)) for box in drawn}
        looks = {box.id: look(box.kind, box.lines[0]) for box in drawn}
        found = plates(sizes, looks, edges, direction, width, height)
    # Wrapped into rows, edge labels are placed after the layout (xlabel), as for a big
    # graph: no label column between two boxes, so a row holds more of them.
    row_of = {}
    if direction == "LR" and not found:
        row_of = rows(drawn, texts, rank, WRAPPED_GAP, width, edges)
    label = "xlabel" if big or row_of else "label"
    lines = drawn_edges(graph, edges, kinds, edge_labels, label)
    level_of = {}
    if direction == "TB" and width and not found:
        level_of = levels(drawn, edges, texts, width)
    in_plate = {member for plate in found for member in plate.members}
    in_rows: dict[int, list[Box]] = {}
    for box in drawn:
        if box.id not in in_plate:
            in_rows.setdefault(row_of.get(box.id, 0), []).append(box)
    # (Graphviz stacks the rows' clusters bottom to top in the order they come.)
    in_rows = dict(sorted(in_rows.items(), reverse=True))
    for row, members in in_rows.items():
        # A long graph wraps into rows, each a cluster drawn without a frame, top to bottom.
        target = dot.subgraph(name=f"cluster_row{row}") if len(in_rows) > 1 else nullcontext(dot)
        with target as sub:
            assert sub is not None
            if len(in_rows) > 1:
                sub.attr(peripheries="0", margin="8")  # (a gap for the edges between rows)
            for box in _stacking(members, edges) if len(in_rows) > 1 else members:
                _node(sub, box, texts[box.id])
    if found:
        by_id = {box.id: box for box in drawn}
        for plate in found:
            _plate(dot, plate, [by_id[m] for m in plate.members], texts)
        lines = plate_edges(lines, found)
    if len(in_rows) > 1:  # each row starts at the left edge
        dot.attr(newrank="true")  # (rank=same across the rows' clusters holds only so)
        dot.attr(ranksep="0.3")  # no edge label between two columns: they can be closer
        starts = [min(m, key=lambda b: rank[b.id]) for _, m in sorted(in_rows.items())]
        with dot.subgraph() as same:
            same.attr(rank="same")
            for box in starts:
                same.node(box.id)
            for above, below in itertools.pairwise(starts):  # rows in order, top to bottom
                same.edge(above.id, below.id, style="invis")
    if level_of:
        place_levels(dot, drawn, level_of)
    if wrapped is not None:
        wrapped.row_of = row_of
    for src, dst, attrs in lines:
        if row_of.get(src, 0) != row_of.get(dst, 0):
            if wrapped is not None:
                wrapped.edges.append((src, dst, attrs))
                continue
            attrs["constraint"] = "false"  # from one row into a later one: no column order
        dot.edge(src, dst, **attrs)
    return dot.source, drawn


def _node(dot: graphviz.Digraph, box: Box, text: str | None) -> None:
    attrs = dict(STYLE[box.kind])
    if box.output:
        attrs.update(STYLE["output"])
    attrs["class"] = box.classes
    dot.node(box.id, graphviz.nohtml(box.label(text)), **attrs)


def _plate(
    dot: graphviz.Digraph, plate: Plate, members: list[Box], texts: dict[str, str | None]
) -> None:
    """A plate's boxes in a dashed frame labelled with their count, `plate.across` to a
    rank: each box after the first rank under one of the rank before (invisible edges),
    each of the first rank after the last source, so the grid keeps its shape."""
    # (the second crossing minimisation Graphviz runs for clusters undoes the order)
    dot.attr(compound="true", remincross="false")
    with dot.subgraph(name=plate.name) as sub:
        assert sub is not None
        sub.attr(label=f"×{len(members)}", labeljust="l", style="dashed,rounded",
                 color="#6b7280", fontcolor="#4b5563", fontsize=str(SMALL), margin="10",
                 **{"class": "plate"})  # fmt: skip
        for box in members:
            _node(sub, box, texts[box.id])
        ranked = plate.ranks()
        for members_of_rank in ranked:
            with sub.subgraph() as same:
                same.attr(rank="same")
                for box_id in members_of_rank:
                    same.node(box_id)
                for left, right in itertools.pairwise(members_of_rank):  # in creation order
                    same.edge(left, right, style="invis")
        for before, after in itertools.pairwise(ranked):
            for k, box_id in enumerate(after):
                sub.edge(before[min(k, len(before) - 1)], box_id, style="invis")
    if plate.sources:
        for box_id in ranked[0]:
            dot.edge(plate.sources[-1], box_id, style="invis")


def plate_edges(
    lines: list[tuple[str, str, dict[str, str]]], found: list[Plate]
) -> list[tuple[str, str, dict[str, str]]]:
    """The edges with those into and out of each plate's boxes made one per source and
    use: into the frame (to the middle box of its first rank) and out of it (from the
    middle box of its last rank), labelled when every edge it stands for is alike. Its
    class names each edge it stands for, `pair:SRC:DST`, so a display that lights the
    edges of a step finds it."""
    plate_of = {member: plate.name for plate in found for member in plate.members}
    merged: dict[tuple[str, str], list[tuple[str, str, dict[str, str]]]] = {}
    out = []
    for src, dst, attrs in lines:
        ends = (plate_of.get(src, src), plate_of.get(dst, dst))
        if ends == (src, dst):
            out.append((src, dst, attrs))
        else:
            merged.setdefault(ends, []).append((src, dst, attrs))
    names = {plate.name: plate for plate in found}
    for (src, dst), edges in merged.items():
        alike = [a for _, _, a in edges]
        attrs = dict(alike[0])
        for key in ("label", "xlabel"):
            if key in attrs and any(a.get(key) != attrs[key] for a in alike):
                del attrs[key]
        attrs["class"] += "".join(sorted({f" pair:{s}:{d}" for s, d, _ in edges}))
        if src in names:
            last = names[src].ranks()[-1]
            attrs["ltail"] = src
            src = last[len(last) // 2]
        if dst in names:
            first = names[dst].ranks()[0]
            attrs["lhead"] = dst
            dst = first[len(first) // 2]
        out.append((src, dst, attrs))
    return out


def box_size(box: Box) -> float:
    """About how tall Graphviz draws a box, in points."""
    return box_height(len(box.lines), box.kind == "op")


def _stacking(members: list[Box], edges: list[Edge]) -> list[Box]:
    """A row's boxes in the order that has Graphviz stack each column top to bottom in
    creation order (`h[0]` above `h[1]`, `W1` above `x`): it stacks boxes with inputs
    bottom to top in the order they come, and those without (inputs) top to bottom."""
    fed = {e.dst for e in edges}
    return [b for b in members if b.id not in fed] + [b for b in members[::-1] if b.id in fed]


def box_width(box: Box, text: str | None) -> float:
    """About how wide Graphviz draws a box, in points, from its longest line."""
    lines = [*box.lines]
    if box.mode_line is not None and text is not None:
        lines[box.mode_line] = text
    chars = max(len(line) for line in lines)
    width = chars * FONT * 0.52 + 16
    return width * 1.35 if box.kind == "op" else width  # an ellipse around the text


def forward_edges(drawn: list[Box], edges: list[Edge]) -> list[Edge]:
    """The edges that go forward in creation order (merged group edges can point back):
    the ones the columns and levels are counted over."""
    order = {box.id: i for i, box in enumerate(drawn)}
    return [edge for edge in edges if order[edge.src] < order[edge.dst]]


def ranks(drawn: list[Box], edges: list[Edge]) -> dict[str, int]:
    """Each box's column left to right: the longest path to it over edges that go forward
    in creation order (merged group edges can point back; they do not count)."""
    ahead = forward_edges(drawn, edges)
    into: dict[str, list[str]] = {}
    for edge in ahead:
        into.setdefault(edge.dst, []).append(edge.src)
    rank: dict[str, int] = {}
    for box in drawn:
        rank[box.id] = max((rank[p] + 1 for p in into.get(box.id, ())), default=0)
    # A box with no inputs (a constant) sits just before its first use, not in column 0.
    uses: dict[str, int] = {}
    for edge in ahead:
        if edge.src not in into:
            uses[edge.src] = min(uses.get(edge.src, 1 << 30), rank[edge.dst] - 1)
    rank.update(uses)
    return rank


def rows(
    drawn: list[Box],
    texts: dict[str, str | None],
    rank: dict[str, int],
    gap: float,
    width: float | None,
    edges: list[Edge],
) -> dict[str, int]:
    """Which row each box goes in when the columns are wider than `width` points.

    Columns are filled left to right while they fit; the next column starts a
    new row under the last, at a place few edges cross (into one or two boxes:
    the next op of a chain), where there is one. A box with no inputs (an
    array input, a constant) goes in the row of its first use. Empty when
    everything fits in one row, or when an edge would cross more than into the
    next row, or many would: a web, not a chain, which rows would only tangle.
    """
    if not width or not drawn:
        return {}
    fed = {e.dst for e in edges}
    width -= LABEL_ROOM  # right of each row: the edges into the next, and their labels
    widest: dict[int, float] = {}
    for box in drawn:
        r = rank[box.id]
        widest[r] = max(widest.get(r, 0.0), box_width(box, texts[box.id]))
    if sum(widest.values()) + gap * len(widest) <= (width + LABEL_ROOM) * 1.3:
        return {}  # a little too wide is better panned than wrapped into a short last row
    # cut[r]: the boxes that edges from columns before r into columns from r on reach
    # (from boxes with inputs: one without goes along with its first use).
    cut: dict[int, set[str]] = {r: set() for r in widest}
    for e in edges:
        if e.src in fed:
            for r in range(rank[e.src] + 1, rank[e.dst] + 1):
                cut[r].add(e.dst)
    # Graphviz lines up the rows' columns (the k-th column of every row is as wide as
    # the widest of them): narrow the rows until the columns so lined up fit.
    tried = []
    for limit in (width * k / 10 for k in range(10, 3, -1)):
        row_of_rank = _break(widest, cut, gap, limit)
        row_of = {box.id: row_of_rank[rank[box.id]] for box in drawn}
        for e in sorted(edges, key=lambda e: rank[e.dst], reverse=True):
            if e.src not in fed:
                row_of[e.src] = row_of[e.dst]  # ends in the row of its first use
        numbers = {r: k for k, r in enumerate(sorted(set(row_of.values())))}
        row_of = {box: numbers[r] for box, r in row_of.items()}  # no empty row
        if not _chain(row_of, edges):
            continue
        span = _lined_up(drawn, texts, rank, row_of, gap)
        tried.append((span, row_of))
        if span <= width:
            break
    else:
        row_of = min(tried, key=lambda t: t[0])[1] if tried else {}
    if max(row_of.values(), default=0) == 0:
        return {}
    return row_of


def _chain(row_of: dict[str, int], edges: list[Edge]) -> bool:
    """Whether rows read as a chain: edges cross only into the next row, and into a
    few boxes there (not a web, which rows would only tangle)."""
    crossing = {(e.src, e.dst) for e in edges if row_of[e.src] != row_of[e.dst]}
    return all(row_of[d] == row_of[s] + 1 for s, d in crossing) and len(
        {d for _, d in crossing}
    ) <= 2 * max(row_of.values())


def _break(
    widest: dict[int, float], cut: dict[int, set[str]], gap: float, limit: float
) -> dict[int, int]:
    """Each column's row: filled left to right up to `limit` points, each new row
    starting at the last narrow place (edges into at most two boxes) of the full one."""
    row_of_rank: dict[int, int] = {}
    row, used, start = 0, 0.0, min(widest)
    for r in sorted(widest):
        need = widest[r] + gap
        if used and used + need > limit:
            narrow = [c for c in range(r, start, -1) if len(cut[c]) <= 2]
            start = narrow[0] if narrow else r
            row += 1
            used = 0.0
            for c in range(start, r):
                row_of_rank[c] = row
                used += widest[c] + gap
        row_of_rank[r] = row
        used += need
    return row_of_rank


def _lined_up(
    drawn: list[Box],
    texts: dict[str, str | None],
    rank: dict[str, int],
    row_of: dict[str, int],
    gap: float,
) -> float:
    """About how wide the rows are once Graphviz lines up their k-th columns."""
    first: dict[int, int] = {}
    for box in drawn:
        row = row_of[box.id]
        first[row] = min(first.get(row, rank[box.id]), rank[box.id])
    column: dict[int, float] = {}
    for box in drawn:
        k = rank[box.id] - first[row_of[box.id]]
        column[k] = max(column.get(k, 0.0), box_width(box, texts[box.id]))
    return sum(column.values()) + gap * len(column)


def levels(
    drawn: list[Box], edges: list[Edge], texts: dict[str, str | None], width: float
) -> dict[str, int]:
    """Top to bottom within `width` points: each box's level, counted up from the
    output's (0). A box sits one level above its highest use, or higher while that
    level is full; so the inputs of a wide level spread over the levels above it.
    Empty when no level would be too wide anyway."""
    uses: dict[str, list[str]] = {}
    for edge in forward_edges(drawn, edges):
        uses.setdefault(edge.src, []).append(edge.dst)
    level: dict[str, int] = {}
    used: dict[int, float] = {}
    for box in reversed(drawn):  # creation order reversed: every use placed first
        need = box_width(box, texts[box.id]) + LEVEL_GAP
        k = max((level[u] + 1 for u in uses.get(box.id, ())), default=0)
        while used.get(k, 0.0) and used[k] + need > width:
            k += 1
        level[box.id] = k
        used[k] = used.get(k, 0.0) + need
    if len(used) == 1 + max(_depth(drawn, uses).values(), default=0):
        return {}  # nothing had to move: dot's own ranks read the same
    return level


def place_levels(dot: graphviz.Digraph, drawn: list[Box], level_of: dict[str, int]) -> None:
    """Each level one rank, the highest on top, each under the one before."""
    by_level: dict[int, list[str]] = {}
    for box in drawn:
        by_level.setdefault(level_of[box.id], []).append(box.id)
    order = sorted(by_level, reverse=True)
    for level in order:
        with dot.subgraph() as same:
            same.attr(rank="same")
            for box_id in by_level[level]:
                same.node(box_id)
    for upper, lower in itertools.pairwise(order):
        dot.edge(by_level[upper][0], by_level[lower][0], style="invis")


def _depth(drawn: list[Box], uses: dict[str, list[str]]) -> dict[str, int]:
    """Each box's levels above the output with no width limit."""
    depth: dict[str, int] = {}
    for box in reversed(drawn):
        depth[box.id] = max((depth[u] + 1 for u in uses.get(box.id, ())), default=0)
    return depth


def drawn_edges(
    graph: Graph, edges: list[Edge], kinds: dict[str, str], edge_labels: bool, label: str
) -> list[tuple[str, str, dict[str, str]]]:
    out = []
    for edge in edges:
        attrs = {"class": f"from-{kinds[edge.src]}"}
        if edge.arg is None:
            attrs["class"] += " merged"
            attrs["penwidth"] = "1.5" if edge.count > 1 else "1"
            if edge.count > 1:
                attrs[label] = f"×{edge.count}"
        elif edge_labels and kinds[edge.src] != "const":  # constants get no derivative
            attrs[label] = local_derivative(graph, graph[edge.dst], edge.arg)
        out.append((edge.src, edge.dst, attrs))
    return out
