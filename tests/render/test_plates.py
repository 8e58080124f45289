"""Plates: many boxes alike (the calls of a network, one per sample; the neurons of a
layer) drawn as a grid in one frame when their column does not fit the room, with one
edge per common input into the frame and one per common use out of it."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from graphs import MLP, TRAIN_STEP
from support import run

from ad_magic.render import readable, to_dot, to_svg
from ad_magic.render.draw import config
from ad_magic.render.groups import Edge, View
from ad_magic.render.plates import GAP, MIN, SEP, alike, look, plates
from ad_magic.render.wrap import node_rects
from ad_magic.trace.graph import Graph

LAYER = "%%grad\nmodel = MLP(3, [16, 1])\nx = [Value(0.5), Value(-1.0), Value(2.0)]\ny = model(x)"
_FRAME = re.compile(
    r'<g id="clust\d+" class="cluster plate">\s*<title>([^<]*)</title>\s*<path[^>]* d="([^"]*)"'
)
_LABEL = re.compile(r'class="cluster plate">.*?<text[^>]*>([^<]*)</text>', re.S)


def frames(svg: str) -> dict[str, tuple[float, float, float, float]]:
    """Each plate's frame (left, top, right, bottom) by its title."""
    out = {}
    for title, path in _FRAME.findall(svg):
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path)]
        xs, ys = numbers[0::2], numbers[1::2]
        out[title] = (min(xs), min(ys), max(xs), max(ys))
    return out


def opened(graph: Graph, title: str) -> View:
    """The first view with the first group whose title starts with `title` opened."""
    view = View(graph, config.budget, boxes=config.boxes)
    view.expand(
        next(
            u for u in view.units() if u in view.groups and view.groups[u].label.startswith(title)
        )
    )
    return view


_EDGE = re.compile(r'<g id="edge\d+" class="edge[^"]*">\s*<title>([^<]*)</title>(.*?)</g>', re.S)


def drawn_edges(svg: str) -> list[tuple[str, str, str | None]]:
    """Each drawn edge (invisible ones have no path): source, target, label."""
    out = []
    for title, body in _EDGE.findall(svg):
        if "<path" in body:
            src, dst = title.replace("&#45;&gt;", "->").split("->")
            label = re.search(r"<text[^>]*>([^<]*)</text>", body)
            out.append((src, dst, label[1] if label else None))
    return out


def inside(svg: str) -> set[str]:
    """The boxes inside the (one) plate's frame."""
    (frame,) = frames(svg).values()
    left, top, right, bottom = frame
    return {u for u, (x0, y0, x1, y1) in node_rects(svg).items()
            if left <= x0 and x1 <= right and top <= y0 and y1 <= bottom}  # fmt: skip


def with_micrograd(shell: Any, cell: str) -> Graph:
    """The graph of `cell` run after the micrograd classes (tests/graphs.py)."""
    run(shell, MLP)
    run(shell, cell)
    graph: Graph = shell.user_ns["_grad"].graph
    return graph


@pytest.fixture(scope="module")
def step(shell: Any) -> Graph:
    return with_micrograd(shell, TRAIN_STEP)


@pytest.fixture(scope="module")
def layer(shell: Any) -> Graph:
    return with_micrograd(shell, LAYER)


def members_of(view: View, prefix: str) -> list[str]:
    return [
        u for u in view.units() if u in view.groups and view.groups[u].label.startswith(prefix)
    ]


@pytest.mark.parametrize(("width", "height"), [(524, 688), (832, 688), (1200, 500)])
def test_sixteen_calls_alike_stand_in_a_plate_that_fits_the_room(
    step: Graph, width: float, height: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = opened(step, "MLP.__call__ #")
    calls = members_of(view, "MLP.__call__#")  # one call per sample, alike
    merged = members_of(view, "MLP.__call__ #")  # the other samples, still grouped: not alike
    assert len(calls) >= 16 and len(merged) == 2
    svg = to_svg(step, view, width=width, height=height)
    label = _LABEL.search(svg)
    assert label and label[1] == f"×{len(calls)}"
    assert inside(svg) == set(calls)
    # one edge from each common input into the frame, one out of it into the sum, each
    # naming in its class every edge it stands for (a display lights it for any of them)
    edges = drawn_edges(svg)
    into = sorted(s for s, d, _ in edges if d in calls)
    assert into == sorted({e.src for e in view.edges() if e.dst in calls})
    assert len([s for s, d, _ in edges if s in calls]) == 1
    named = {
        tuple(p.split(":")[1:])
        for c in re.findall(r'class="edge ([^"]*)"', svg)
        for p in c.split()
        if p.startswith("pair:")
    }
    assert named == {(e.src, e.dst) for e in view.edges() if e.src in calls or e.dst in calls}
    rects = node_rects(svg)
    # rank by rank in creation order: left to right and top to bottom
    centre = {u: ((r[0] + r[2]) / 2, (r[1] + r[3]) / 2) for u, r in rects.items() if u in calls}
    ranks = sorted({round(c[1]) for c in centre.values()})
    placed = [
        u
        for y in ranks
        for u in sorted((u for u in calls if round(centre[u][1]) == y), key=lambda u: centre[u][0])
    ]
    assert placed == calls and 2 <= len(ranks) < len(calls)
    # the plate shows it larger than the column Graphviz makes of the calls
    monkeypatch.setattr(config, "plates", False)
    plain = to_svg(step, view, width=width, height=height)
    assert "cluster plate" not in plain
    assert readable(svg, width, height) > 1.2 * readable(plain, width, height)


def test_a_layer_of_neurons_is_a_plate_and_the_labels_kept_are_true_for_each(layer: Graph) -> None:
    view = opened(layer, "Layer.__call__")
    neurons = members_of(view, "Neuron.__call__")
    assert len(neurons) == 17  # 16 of the first layer, the output neuron
    svg = to_svg(layer, view, width=524, height=688)
    assert inside(svg) == set(neurons[:16])  # the output neuron is fed by these: not alike
    # x[k] -> neuron edges stand for each neuron's own weight: unlike, so unlabelled; the
    # parameters' ×4 is the same for every neuron, so kept
    into = {s: label for s, d, label in drawn_edges(svg) if d in neurons[:16]}
    assert len(into) == 4 and sorted(map(str, into.values())) == ["None", "None", "None", "×4"]


def test_a_column_that_fits_stays_a_column(layer: Graph) -> None:
    view = opened(layer, "Layer.__call__")
    assert "cluster plate" not in to_svg(layer, view, width=2000, height=2000)
    # exports have no room to fit: left to right, no plate
    assert "plate" not in to_dot(layer, view)


def test_alike_needs_the_same_look_inputs_and_uses_and_enough_of_them() -> None:
    ids = [f"b{k}" for k in range(10)]
    looks = {
        "src": "input x",
        **{b: look("group", f"f#{k}") for k, b in enumerate(ids)},
        "use": "op +",
    }
    edges = [Edge("src", b, None) for b in ids] + [Edge(b, "use", None) for b in ids]
    assert alike(edges, looks) == [(ids, ["src"], ["use"])]
    assert alike(edges[: MIN - 1] + edges[10 : 10 + MIN - 1], looks) == []  # too few
    odd = {**looks, "b3": look("group", "g#3")}
    assert alike(edges, odd) == [([b for b in ids if b != "b3"], ["src"], ["use"])]
    other_use = [e for e in edges if e.src != "b0"] + [Edge("b0", "src", None)]
    assert ids[0] not in alike(other_use, looks)[0][0]


@pytest.mark.parametrize(("width", "height"), [(500, 700), (900, 400), (700, 700)])
def test_a_plate_takes_the_rooms_shape(width: float, height: float) -> None:
    ids = [f"b{k}" for k in range(24)]
    looks = {"s": "input s", **dict.fromkeys(ids, "group f#"), "u": "op +"}
    sizes = {"s": (60.0, 40.0), **dict.fromkeys(ids, (120.0, 70.0)), "u": (60.0, 40.0)}
    edges = [Edge("s", b, None) for b in ids] + [Edge(b, "u", None) for b in ids]
    for direction in ("LR", "TB"):
        (plate,) = plates(sizes, looks, edges, direction, width, height)
        ranks = plate.ranks()
        assert [m for r in ranks for m in r] == ids
        assert all(len(r) == plate.across for r in ranks[:-1])
        along, deep = (70 + SEP, 120 + GAP) if direction == "LR" else (120 + SEP, 70 + GAP)
        room = height if direction == "LR" else width
        assert plate.across * along <= room

        def miss(
            a: int, along: float = along, deep: float = deep, lr: bool = direction == "LR"
        ) -> float:
            """How far `a` boxes to a rank make the plate's shape from the room's."""
            extent = (a * along, math.ceil(len(ids) / a) * deep)
            shape = extent[1] / extent[0] if lr else extent[0] / extent[1]
            return abs(math.log(shape / (width / height)))

        best = min(miss(a) for a in range(1, len(ids) + 1) if a * along <= 0.9 * room)
        assert miss(plate.across) <= best + math.log(1.5)
