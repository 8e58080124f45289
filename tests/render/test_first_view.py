"""The first view of a graph: no groups for a small one, about 30 boxes for a
large one with its output drawn, long chains wrapped into rows that read
left to right within the width, and a small graph too wide left to right drawn
in rows or top to bottom, whole at one pixel per point in the widget's room."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from graphs import CHAIN, FORMULA, MLP, TRAIN_STEP
from lecture import NEURON, lecture_value
from support import run

from ad_magic.render import config, readable, to_svg
from ad_magic.render.dot import LEVEL_GAP, box_width, boxes, levels
from ad_magic.render.groups import View
from ad_magic.trace.graph import Graph

SVG = "{http://www.w3.org/2000/svg}"


def traced(shell: Any, *cells: str) -> Graph:
    for cell in cells:
        run(shell, cell)
    graph: Graph = shell.user_ns["_grad"].graph
    return graph


def centres(svg: str) -> dict[str, tuple[float, float]]:
    """Each drawn box's centre (its first text line's anchor), by <title>."""
    root = ET.fromstring(svg.encode())
    out = {}
    for g in root.iter(f"{SVG}g"):
        if "node" in (g.get("class") or "").split():
            title, text = g.find(f"{SVG}title"), g.find(f"{SVG}text")
            assert title is not None and text is not None
            out[title.text or ""] = (float(text.get("x", 0)), float(text.get("y", 0)))
    return out


def size(svg: str) -> tuple[float, float]:
    found = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert found
    return float(found[1]), float(found[2])


def test_a_one_line_formula_of_48_nodes_shows_its_terms(shell: Any) -> None:
    graph = traced(shell, FORMULA)
    assert len(graph) == 48
    view = View(graph, budget=150)
    units = view.units()
    assert 10 <= len(units) <= 25 and graph.output in units
    assert all(view.groups[u].term for u in units if u in view.groups)
    svg = to_svg(graph, view)
    assert set(centres(svg)) == set(units)


def test_the_mlp_step_opens_to_about_30_boxes_with_the_output(shell: Any) -> None:
    graph = traced(shell, MLP, TRAIN_STEP)
    assert len(graph) > 30_000
    view = View(graph)
    units = view.units()
    assert 4 <= len(units) <= 30 and graph.output in units
    labels = [view.groups[u].label for u in units if u in view.groups]
    assert "inputs" in labels and any(label.startswith("MLP.__call__ #") for label in labels)
    assert len(units) == 8 and "sum((s - y)**2 for s,…cores, Y))" in labels  # the loss's terms
    svg = to_svg(graph, view)
    assert set(centres(svg)) == set(units)
    assert size(svg)[0] <= config.width


@pytest.fixture(scope="module")
def chain(shell: Any) -> Graph:
    return traced(shell, CHAIN)


def test_a_1500_node_chain_folds_into_blocks(chain: Graph) -> None:
    assert len(chain) == 1501
    view = View(chain)
    units = view.units()
    assert len(units) <= 30 and chain.output in units and "n0" in units
    blocks = [view.groups[u] for u in units if u in view.groups]
    assert len(blocks) >= 2 and all(" … " in b.title for b in blocks)
    assert sum(b.size for b in blocks) == 1499  # every node but the input and output


def test_an_opened_block_wraps_into_rows_read_left_to_right(chain: Graph) -> None:
    view = View(chain)
    first = next(u for u in view.units() if u in view.groups)
    view.expand(first)
    units = view.units()
    assert len(units) > 20
    svg = to_svg(chain, view, width=600)
    width, height = size(svg)
    assert width <= 600 + 100 < height  # wrapped: taller than wide
    at = centres(svg)
    # Along the chain (creation order), each box is right of the one before in its
    # row, or starts a row further down at the left.
    chain_units = [u for u in units if u in view.groups] + [chain.output]
    rows = 1
    for before, after in itertools.pairwise(chain_units):
        (x0, y0), (x1, y1) = at[before], at[after]
        if x1 < x0:
            assert y1 > y0 + 20, (before, after)
            rows += 1
    assert rows >= 3


def test_a_web_of_edges_is_not_wrapped(shell: Any) -> None:
    graph = traced(shell, FORMULA)
    svg = to_svg(graph, width=400)
    assert "cluster_row" not in svg and size(svg)[0] > 400


# -- small graphs in the widget's width: rows, or top to bottom ---------------------
CHAPTER = "%%grad x=1.5\ny = sin(x**2 + 1)"
NEURON_CELL = (
    "%%grad x1=2.0 x2=0.0 w1=-3.0 w2=1.0 b=6.8813735870195432\n"
    "x1w1 = x1*w1\nx2w2 = x2*w2\nn = x1w1 + x2w2 + b\no = tanh(n)"
)
ROOM = 618.0  # points of height the widget gives a 900 px window's graph


@pytest.fixture(scope="module")
def small_graphs(shell: Any) -> dict[str, Graph]:
    run(shell, lecture_value(None) + NEURON + "o = n.tanh(); o.label = 'o'\no.backward()")
    run(shell, "%grad o")
    found = {"lecture": shell.user_ns["_grad"].graph}
    for name, cell in (("chapter", CHAPTER), ("neuron", NEURON_CELL)):
        found[name] = traced(shell, cell)
    return found


def classes(svg: str) -> list[str]:
    root = ET.fromstring(svg.encode())
    return (root.get("class") or "").split()


def test_the_lecture_neuron_reads_top_to_bottom_when_narrow(
    small_graphs: dict[str, Graph],
) -> None:
    graph = small_graphs["lecture"]
    wide = to_svg(graph, width=1100, height=ROOM)
    assert "ad-lr" in classes(wide) and "cluster_row" not in wide  # one row fits
    assert size(wide)[0] > 1000
    narrow = to_svg(graph, width=520, height=ROOM)
    assert "ad-tb" in classes(narrow)
    assert size(narrow)[0] <= 520 and size(narrow)[1] <= ROOM
    at = centres(narrow)
    for node in graph.nodes:  # every edge points down
        for parent in node.parents:
            assert at[parent][1] < at[node.id][1], (parent, node.id)


@pytest.mark.parametrize("name", ["chapter", "lecture", "neuron"])
def test_small_graphs_fit_every_width_from_narrow_to_wide(
    small_graphs: dict[str, Graph], name: str
) -> None:
    graph = small_graphs[name]
    for width in range(480, 1281, 80):
        svg = to_svg(graph, width=width, height=ROOM)
        assert readable(svg, width, ROOM) == 1, (name, width, size(svg), classes(svg))
        assert set(centres(svg)) == {n.id for n in graph}


def test_a_wide_level_spreads_over_the_levels_above(shell: Any) -> None:
    cell = "%%grad a=1.0 b=2.0 c=3.0 d=4.0 e=5.0 f=6.0 g=7.0 h=8.0\ny = a*b*c*d + e*f*g*h"
    graph = traced(shell, cell)
    view = View(graph)
    unit_of = view.unit_of()
    edges = view.edges(unit_of)
    drawn = boxes(graph, view, unit_of, edges)
    texts = {box.id: box.widest_mode_text() for box in drawn}
    level = levels(drawn, edges, texts, 300)
    assert level, "eight inputs side by side are wider than 300 points"
    for edge in edges:  # every use lies below
        assert level[edge.src] > level[edge.dst]
    widths: dict[int, list[float]] = {}
    for box in drawn:
        widths.setdefault(level[box.id], []).append(box_width(box, texts[box.id]) + LEVEL_GAP)
    assert all(sum(w) <= 300 or len(w) == 1 for w in widths.values()), widths
    assert levels(drawn, edges, texts, 5000) == {}  # room for all: dot's own ranks
    svg = to_svg(graph, width=400, height=2000)
    assert "ad-tb" in classes(svg) and size(svg)[0] <= 400 + 40  # the estimate's slack
