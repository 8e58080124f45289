"""Finding your way in a large graph from the widget's Python side: the pass at the
level of what is drawn, search, the breadcrumb of open groups, wrapping to the width."""

from __future__ import annotations

from typing import Any

import pytest
from graphs import CHAIN, FORMULA, SMALL
from support import run

from ad_magic import render
from ad_magic.trace.steps import GroupStep, num
from ad_magic.widget.widget import GradWidget


def flat_count(steps: list[Any]) -> int:
    return sum(len(s.steps) if isinstance(s, GroupStep) else 1 for s in steps)


@pytest.fixture
def chain(shell: Any) -> GradWidget:
    run(shell, CHAIN)
    return GradWidget(shell.user_ns["_grad"])


def test_a_collapsed_group_is_one_step(chain: GradWidget) -> None:
    w, result = chain, chain.result
    flat = result.steps("reverse")
    level = result.steps("reverse", level=w.view.level())
    assert len(flat) == 901 and w.counts["reverse"] == len(level) < 12  # constants take none
    assert flat_count(level) == len(flat)  # every chain-rule step, once
    groups = [s for s in level if isinstance(s, GroupStep)]
    assert len(groups) == 4
    last = groups[0]  # the backward pass meets the last block first
    assert last.group == "n1201 … n1499" and len(last.steps) == 180  # 60 tanh(h*0.9 + 0.1)
    # What leaves the block: the gradient of the node before it, as the flat pass has it.
    assert last.leaving == [s for s in last.steps if s.node == "n1200"]
    assert last.total == pytest.approx(result.graph["n1200"].grad)
    assert last.equation.startswith("n1201 … n1499: 1 gradient flow")
    assert w.current_page()["steps"][1][1] == "g2_n1201"  # drawn as the block's box
    forward = result.steps("forward", "x", level=w.view.level())
    assert flat_count(forward) == len(result.steps("forward", "x"))


def test_opening_a_group_steps_through_its_inside(chain: GradWidget) -> None:
    w = chain
    top = w.counts["reverse"]
    w.toggle("g2_n1201")
    assert w.counts["reverse"] > top
    assert w.counts["reverse"] == len(w.result.steps("reverse", level=w.view.level()))
    assert w.trail[-1] == {"id": "g2_n1201", "title": "n1201 … n1499"}
    assert "g2_n1201" in [g["id"] for g in w.expanded]  # with its close control
    w.toggle("g2_n1201")
    assert w.counts["reverse"] == top and "g2_n1201" not in [g["id"] for g in w.expanded]


def test_search_opens_the_groups_around_a_node(chain: GradWidget) -> None:
    w = chain
    assert w.find("n700") == "n700"
    assert w.selected == "n700" and w.found["box"] == "n700"
    assert w._unit["n700"] == "n700" and "title>n700<" in w.svg.replace("</", "<")
    assert [g["title"] for g in w.trail] == ["line 3", "n401 … n800", "n681 … n700"]
    assert w.find("h@300") == "n1500"  # by name
    assert w.find("no such thing") is None and "no node or group" in w.found["error"]
    assert w.selected == "n1500"
    w.up(w.trail[1]["id"])  # back up to the outer block: the inner one closes
    assert [g["title"] for g in w.trail] == ["line 3", "n401 … n800"]
    assert w._unit["n700"] != "n700"
    w.up("")  # back to the first view
    assert w.trail == [] and w.svg.count('class="node') == len(w.view.units())


def test_the_layout_wraps_to_the_widgets_width(chain: GradWidget) -> None:
    w = chain
    w.toggle("g2_n1")
    wide = w.svg
    w.set_width(500)
    assert w.svg != wide and "cluster_row" in w.svg
    narrow = w.svg
    w.set_width(520)  # a few pixels more: not worth a new layout
    assert w.svg is narrow


def test_a_small_graph_steps_one_chain_rule_at_a_time(shell: Any) -> None:
    run(shell, SMALL)
    w = GradWidget(shell.user_ns["_grad"])
    assert w.expanded == [] and w.trail == [] and not w.view.groups
    assert w.counts["reverse"] == len(w.result.steps("reverse"))


def test_a_long_formula_opens_term_by_term(shell: Any) -> None:
    run(shell, FORMULA)
    w = GradWidget(shell.user_ns["_grad"])
    top = w.counts["reverse"]
    assert top == len(w.result.steps("reverse", level=w.view.level())) == 16
    term = next(g for g in w.view.groups.values() if g.label == "tanh(x*x + y*y) * log(1 + x*y)")
    w.toggle(term.id)
    assert w.trail[-1] == {"id": term.id, "title": term.label}
    assert term.id in [g["id"] for g in w.expanded]  # with its close control
    assert w.counts["reverse"] > top
    w.toggle(term.id)
    assert w.counts["reverse"] == top and w.expanded == []
    # Find by a term's title or a node inside one: its group opens.
    assert w.find("n31") == "n31" and w._unit["n31"] == "n31"
    assert [g["title"] for g in w.trail] == ["(x - y)**2 * sigmoid(x + y)"]
    relu = next(g.id for g in w.view.groups.values() if g.label == "relu(x - 0.1)")
    assert w.find("relu(x - 0.1)") == relu and w.selected == relu  # by its source text


def test_a_small_graph_is_laid_out_again_for_the_widgets_room(shell: Any) -> None:
    cell = (
        "%%grad x1=2.0 x2=0.0 w1=-3.0 w2=1.0 b=6.88\n"
        "x1w1 = x1*w1\nx2w2 = x2*w2\no = tanh(x1w1 + x2w2 + b)"
    )
    run(shell, cell)
    w = GradWidget(shell.user_ns["_grad"])
    w.set_width(1100, 618)
    assert "ad-lr" in w.svg and "cluster_row" not in w.svg  # one row fits
    w.set_width(420, 618)  # a narrow notebook
    assert "ad-tb" in w.svg and render.readable(w.svg, 420, 618) == 1
    w.set_width(440, 618)  # a little wider: the same layout still fits
    narrow = w.svg
    w.set_width(450, 618)
    assert w.svg is narrow
    w.set_width(1100, 618)  # wide again: one row again
    assert "ad-lr" in w.svg and "cluster_row" not in w.svg


def test_the_finished_pass_shows_every_drawn_gradient(shell: Any) -> None:
    """The numbers a page's steps leave (as widget.js's doneUpTo reads them): an input
    that several groups' steps flow into ends with its gradient, not the sum that left
    the last of those groups."""
    run(shell, FORMULA)
    w = GradWidget(shell.user_ns["_grad"])
    graph = w.result.graph
    for key in ("reverse", "forward:x"):
        page = w._page(key, 0, w.counts[key])
        done = dict(page["done"])
        for node, _box, _edges, _equation, total, more in page["steps"]:
            done.update(dict(more))
            done[node] = total
        seed = key.partition(":")[2]
        for unit in w.view.units():
            if unit in graph.by_id and graph[unit].kind != "const":
                n = graph[unit]
                assert done[unit] == num(n.tangents[seed] if seed else n.grad), (key, unit)


def test_a_40_node_cell_that_does_not_fit_is_grouped_by_line(shell: Any) -> None:
    lines = [f"h{i} = tanh({i / 10}*x1 - 0.2*x2 + 0.1)" for i in range(1, 4)]
    run(shell, "%%grad x1=0.5 x2=-1.0\n" + "\n".join(lines) + "\ny = (h1 - h2 + h3 - 1)**2")
    w = GradWidget(shell.user_ns["_grad"])
    assert len(w.result.graph) > 30 and not w.view.groups  # drawn whole until the width is known
    whole = w.counts["reverse"]
    w.set_width(588, 618)  # a narrow notebook: a box per line
    assert w.view.groups and len(w.view.units()) <= 30
    assert render.readable(w.svg, 588, 618 * 1.05) == 1  # the widget grows 5% past its room
    assert w.counts["reverse"] < whole  # a closed line is one step
    w.set_width(1100, 618)
    assert w.view.groups  # one row of 30-odd boxes would not fit either
    line = next(g for g in w.view.groups.values() if g.label == "line 1")
    w.toggle(line.id)  # the user opened a line: no more regrouping for the room
    units = w.view.units()
    w.set_width(588, 618)
    assert w.view.units() == units


def test_a_function_of_the_cell_opens_to_the_terms_of_its_long_line(shell: Any) -> None:
    inner = FORMULA.split(" = ", 1)[1]
    run(shell, f"%%grad x=0.5 y=1.5\ndef f(x, y):\n    return {inner}\nz = f(x, y)")
    w = GradWidget(shell.user_ns["_grad"])
    (call,) = w.view.root.children
    assert call.id in w.svg and call.label == "f#0" and w.expanded == []
    top = w.counts["reverse"]
    w.toggle(call.id)
    assert w.trail[-1] == {"id": call.id, "title": "f#0"}
    assert call.id in [g["id"] for g in w.expanded]  # with its close control
    svg = w.svg.replace("&#45;", "-")
    for term in ("sin(x*y)", "exp(x/y)*cos(y-x)", "(x - y)**2 * sigmoid(x + y)", "abs(y - 2)"):
        assert f">{term}<" in svg
    assert top < w.counts["reverse"] == len(w.result.steps("reverse", level=w.view.level()))
    term = next(g for g in w.view.groups.values() if g.label == "tanh(x*x + y*y) * log(1 + x*y)")
    assert w.find("tanh(x*x + y*y) * log(1 + x*y)") == term.id  # found by its source text
