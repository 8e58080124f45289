"""Groups within a long line: its nodes by the terms of its expression, each term a
group labelled by its source text, while small cells draw whole as before."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from graphs import CHAIN, CHAPTER, FORMULA, NEURON, SMALL
from support import central, run

from ad_magic.render import to_svg
from ad_magic.render.groups import View
from ad_magic.render.terms import LONGEST, elided, parse, parts
from ad_magic.trace.graph import Graph
from ad_magic.trace.steps import GroupStep

FORMULA_TERMS = [
    "sin(x*y)",
    "exp(x/y)*cos(y-x)",
    "tanh(x*x + y*y) * log(1 + x*y)",
    "sqrt(x + y) / (1 + exp(-x*y))",
    "(x - y)**2 * sigmoid(x + y)",
    "relu(x - 0.1)",
    "abs(y - 2)",
    "x*y*2",
]


def traced(shell: Any, cell: str) -> Graph:
    run(shell, cell)
    graph: Graph = shell.user_ns["_grad"].graph
    return graph


def drawn(view: View) -> list[str]:
    """The first view's boxes: a group's label, or a node's id."""
    return [view.groups[u].label if u in view.groups else u for u in view.units()]


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("a + b*c + d - e", ["a", "b*c", "d", "e"]),
        ("x*y/z", ["x", "y", "z"]),
        ("a - (b + c)", ["a", "b + c"]),  # a parenthesized sum is one term
        ("tanh(a + b)", ["a", "b"]),  # one part: looked through
        ("(x - y)**2 * sigmoid(x + y)", ["(x - y)**2", "sigmoid(x + y)"]),
        ("sum(f(i) * 2 for i in range(9))", ["f(i) * 2"]),  # the element, evaluated again
        ("max(a, key=b)", ["a", "b"]),
        ("a < b", ["a", "b"]),
    ],
)
def test_the_terms_of_an_expression(text: str, terms: list[str]) -> None:
    found = parts(parse(text, 10))
    assert [t.text for t in found] == terms
    for t in found:  # spans in the line's columns
        assert text[t.span[0] - 10 : t.span[1] - 10] == t.text


def test_a_long_term_is_elided_keeping_its_start_and_end() -> None:
    long = "sin(x*y) + exp(x/y)*cos(y-x) + tanh(x*x + y*y) + abs(y - 2)"
    short = elided(long)
    assert len(short) <= LONGEST and short.startswith("sin(x*y)") and short.endswith("(y - 2)")
    assert "…" in short and " … " not in short  # not a block's range
    assert elided("x*y*2") == "x*y*2"


def test_the_formula_shows_its_terms(shell: Any) -> None:
    graph = traced(shell, FORMULA)
    view = View(graph)
    labels = drawn(view)
    assert len(labels) == 12 and graph.output in labels  # x, y, 8 terms, their sum, output
    assert [x for x in labels if x in FORMULA_TERMS] == FORMULA_TERMS  # in source order
    # The + and - nodes of the sum but the last are one group, titled by their widest.
    sums = [g for g in view.groups.values() if g.label.startswith("sin(x*y) + exp")]
    assert len(sums) == 1 and sums[0].size == 6 and sums[0].label.endswith("abs(y - 2)")
    assert all(g.term for g in view.groups.values())
    # Every node is drawn once: in a box of its own or in one group.
    assert sorted(n for u in view.units() for n in members(view, u)) == sorted(n.id for n in graph)
    svg = to_svg(graph, view).replace("&#45;", "-")
    for term in FORMULA_TERMS:
        assert f">{term}<" in svg


def members(view: View, unit: str) -> list[str]:
    return view.members(unit) if unit in view.groups else [unit]


def test_a_term_opens_in_place_and_big_terms_open_into_terms(shell: Any) -> None:
    inner = FORMULA.split(" = ", 1)[1]
    graph = traced(shell, f"%%grad x=0.5 y=1.5\nz = x * tanh({inner}) + y")
    view = View(graph)
    big = max((view.groups[u] for u in view.units() if u in view.groups), key=lambda g: g.size)
    assert big.label == elided(f"tanh({inner})") and big.size > 40
    view.expand(big.id)
    assert [x for x in drawn(view) if x in FORMULA_TERMS] == FORMULA_TERMS
    view.collapse(big.id)
    assert big.id in view.units()


def test_small_cells_draw_whole(shell: Any) -> None:
    for cell in (CHAPTER, SMALL, "%%grad x=0.5\nys = [sin(x*k) for k in range(8)]\ny = ys[3]"):
        graph = traced(shell, cell)
        view = View(graph)
        assert not view.grouped and view.units() == [n.id for n in graph], cell
    # A loop of short lines keeps its blocks of nodes, none by terms.
    view = View(traced(shell, CHAIN))
    assert view.groups and not any(g.term for g in view.groups.values())


def test_each_evaluation_in_a_loop_is_a_group_of_its_own(shell: Any) -> None:
    inner = FORMULA.split(" = ", 1)[1]
    cell = f"%%grad x=0.5 y=1.5\ns = 0\nfor i in range(5):\n    s = s + {inner}"
    graph = traced(shell, cell)
    assert len(graph) > 150  # grouped by line first, then by evaluation, then by term
    view = View(graph)
    evaluations = [view.groups[u] for u in view.units() if u in view.groups]
    assert len(evaluations) == 5 and all(45 <= g.size <= 48 for g in evaluations)
    view.expand(evaluations[2].id)
    terms = [x for x in drawn(view) if x in FORMULA_TERMS]
    assert terms == FORMULA_TERMS


def test_a_sum_over_a_generator_opens_to_its_elements(shell: Any) -> None:
    cell = "%%grad x=0.5\ns = sum(sin(x*i) + cos(x/(i+1)) * exp(-x*i) for i in range(8)) + exp(x)"
    graph = traced(shell, cell)
    # The element's nodes are placed at their sub-expression inside the generator.
    assert graph["n3"].text == "sin(x*i)"
    view = View(graph)
    (total,) = [view.groups[u] for u in view.units() if u in view.groups]
    assert total.label.startswith("sum(sin(x*i)") and total.size == 105
    view.expand(total.id)
    elements = [x for x in drawn(view) if x.startswith("sin(x*i) + cos")]
    assert len(elements) == 8
    assert all(g.size == 12 for g in view.groups.values() if g.label in elements)


def test_user_function_calls_keep_their_groups(shell: Any) -> None:
    run(shell, "def f(a, b):\n    return a*b + sin(a) * exp(b) - a/b + tanh(a*b)\n")
    graph = traced(shell, "%%grad x=0.5 y=1.5\nz = f(x, y) + f(y, x) * 2 + f(x, x) - f(y, y)/3")
    labels = drawn(View(graph))
    assert {"f(x, y)", "f(y, x) * 2", "f(x, x)", "f(y, y)/3"} <= set(labels)
    # Past the budget, the calls are groups of their own as before.
    run(shell, "%%grad x=0.5 y=1.5\nz = sum(f(x, y*k) for k in range(1, 31))")
    view = View(shell.user_ns["_grad"].graph)
    calls = [g for g in view.groups.values() if g.title.startswith("f#") and not g.children]
    assert len(calls) == 30 and all(g.size == 10 for g in calls)


def test_stepping_at_the_level_of_the_terms(shell: Any) -> None:
    run(shell, FORMULA)
    result = shell.user_ns["_grad"]
    view = View(result.graph)
    flat = result.steps("reverse")
    level = result.steps("reverse", level=view.level())
    assert sum(len(s.steps) if isinstance(s, GroupStep) else 1 for s in level) == len(flat)
    # One step per term, one per + of the sum between them (its group), the output's.
    assert len(level) == 8 + 7 + 1 <= len(flat) // 4
    names = [s.group for s in level if isinstance(s, GroupStep)]
    assert set(names) == set(view.names().values())
    assert names.count(next(n for n in names if n.startswith("sin(x*y) + exp"))) == 7
    opened = next(g for g in view.groups.values() if g.label == FORMULA_TERMS[2])
    view.expand(opened.id)
    inside = result.steps("reverse", level=view.level())
    # Its one step becomes the steps of its nodes, every chain-rule step still once.
    assert len(level) < len(inside) < len(flat)
    assert sum(len(s.steps) if isinstance(s, GroupStep) else 1 for s in inside) == len(flat)
    assert opened.label not in [s.group for s in inside if isinstance(s, GroupStep)]
    held = set(view.members(opened.id))
    assert len({s.node for s in inside if not isinstance(s, GroupStep)} & held) >= 6


def test_gradients_are_those_of_the_formula(shell: Any) -> None:
    run(shell, FORMULA)
    result = shell.user_ns["_grad"]
    sigmoid = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731

    def f(x: float, y: float) -> float:
        return (
            math.sin(x * y)
            + math.exp(x / y) * math.cos(y - x)
            + math.tanh(x * x + y * y) * math.log(1 + x * y)
            + math.sqrt(x + y) / (1 + math.exp(-x * y))
            + (x - y) ** 2 * sigmoid(x + y)
            - max(x - 0.1, 0.0)
            + abs(y - 2)
            + x * y * 2
        )

    graph = result.graph
    assert graph[graph.output].value == pytest.approx(f(0.5, 1.5), rel=1e-12)
    for k, name in enumerate("xy"):
        node = next(n for n in graph if n.name == name)
        assert node.grad == pytest.approx(central(f, (0.5, 1.5), k), rel=1e-6)
        assert graph[graph.output].tangents[name] == pytest.approx(node.grad, rel=1e-12)


def test_source_text_and_terms_on_a_line_with_non_ascii_names(shell: Any) -> None:
    """Code positions count UTF-8 bytes: `é` and `α` are two each, not one."""
    cell = (
        "%%grad x=0.5\nαβ = x*2\n"
        "café = sin(αβ*x) + exp(αβ/3)*cos(x-αβ) + tanh(x*x + αβ*αβ) * log(1 + x*αβ)"
        " + sqrt(x + αβ) / (1 + exp(-x*αβ))"
    )
    graph = traced(shell, cell)
    texts = {n.text for n in graph if n.line == 2}
    assert {"αβ*x", "sin(αβ*x)", "exp(αβ/3)", "x*x + αβ*αβ"} <= texts
    labels = [g.label for g in View(graph).groups.values()]
    assert {"exp(αβ/3)*cos(x-αβ)", "sqrt(x + αβ) / (1 + exp(-x*αβ))"} <= set(labels)


# The formula of FORMULA in a function the cell defines, its arguments named otherwise.
def renamed(text: str) -> str:
    return re.sub(r"\bx\b", "a", re.sub(r"\by\b", "b", text))


FUNCTION = "def f(a, b):\n    return " + renamed(FORMULA.split(" = ", 1)[1])
FUNCTION_TERMS = [renamed(t) for t in FORMULA_TERMS]


def test_a_long_line_in_a_function_the_cell_defines_opens_to_its_terms(shell: Any) -> None:
    graph = traced(shell, f"%%grad x=0.5 y=1.5\n{FUNCTION}\nz = f(x, y)")
    inside = [n for n in graph if n.calls]
    assert len(inside) == len(graph) - 2 == 46 and all(
        n.line == 3 and n.text == "f(x, y)" for n in inside
    )
    # Each node knows where in f's code (in the cell) it was made, as a cell line's do.
    assert all(n.body is not None and n.body.line == 2 for n in inside)
    texts = {n.body.text for n in inside if n.body is not None}
    assert {"a*b", "sin(a*b)", "exp(a/b)*cos(b-a)", "abs(b - 2)"} <= texts
    view = View(graph)
    (call,) = [view.groups[u] for u in view.units() if u in view.groups]
    assert call.label == "f#0" and call.size == 45  # all but the output, drawn apart
    view.expand(call.id)
    assert [x for x in drawn(view) if x in FUNCTION_TERMS] == FUNCTION_TERMS
    assert sorted(n for u in view.units() for n in members(view, u)) == sorted(n.id for n in graph)
    view.collapse(call.id)
    assert drawn(view) == ["n0", "n1", "f#0", graph.output]


def test_each_call_opens_to_its_own_lines_and_terms(shell: Any) -> None:
    inner = FORMULA.split(" = ", 1)[1]
    cell = (
        "%%grad x=0.5 y=1.5\n"
        f"def g(x, y):\n    u = {inner}\n    v = x*y + sin(x) * exp(y)\n    return u * v\n"
        "z = sum(g(x, y*k) for k in range(1, 5))"
    )
    graph = traced(shell, cell)
    assert len(graph) > 150  # grouped: by call, then by line in the call, then by term
    view = View(graph)
    calls = [g for g in view.groups.values() if g.title.startswith("g#")]
    assert len(calls) == 4
    for call in calls:
        lines = [c.label for c in call.children]
        assert lines == ["line 2", "line 3"]  # its own lines, in the cell
        long, short = call.children
        assert long.size == 46 and short.size == 5
        # u * v, line 4's only node, is drawn as itself: no group.
        ((u_v,),) = [call.nodes]
        assert graph[u_v].body is not None and graph[u_v].body.text == "u * v"
        view.expand(call.id)
        view.expand(long.id)
        assert [x for x in drawn(view) if x in FORMULA_TERMS] == FORMULA_TERMS
        view.collapse(call.id)
    # In the cell, every node of the calls is placed at its call on line 5, as before.
    assert {(n.line, n.text) for n in graph if n.calls} == {(5, "g(x, y*k)")}


def test_a_method_opens_to_its_lines_and_a_long_one_to_its_terms(shell: Any) -> None:
    """micrograd's Neuron, defined in the cell (tests/graphs.py NEURON)."""
    run(shell, "from ad_magic import Value")
    graph = traced(shell, NEURON)
    view = View(graph)
    (call,) = [g for g in view.groups.values() if g.title.startswith("Neuron.__call__")]
    lines = {g.label: g for g in call.children}
    assert set(lines) == {"line 6", "line 7"}  # act = ..., gate = ...
    # return tanh(act) * gate: the output, drawn apart, and tanh(act), drawn as itself
    assert [graph[n].body.text for n in call.nodes] == ["tanh(act)"]  # type: ignore[union-attr]
    # The act line: 30 products wi*xi, made inside the generator, and the sum's 30 + nodes,
    # made at the whole sum(...): terms of one node, drawn as themselves, in blocks
    # named by their first and last node (`n92 … n111`).
    act = lines["line 6"]
    texts = [n.body.text for n in graph if n.id in view.members(act.id) and n.body]
    assert texts.count("wi*xi") == 30
    assert texts.count("sum((wi*xi for wi, xi in zip(self.w, x)), self.b)") == 30
    assert act.children and all(re.fullmatch(r"n\d+ … n\d+", g.title) for g in act.children)
    # The gate line opens to its terms, as the same line in the cell would.
    view.expand(call.id)
    view.expand(lines["line 7"].id)
    shown = drawn(view)
    assert {"sigmoid(act) * exp(-act*act)", elided("sqrt(act*act + 1) / (1 + exp(-act))")} <= set(
        shown
    )
    assert "tanh(act*act + 1) * log(1 + act*act)"[:20] in " ".join(shown)

    def neuron(x: float) -> float:
        act = 0.2 + sum((0.1 * (i % 7) - 0.3) * x * i for i in range(30))
        s = 1 / (1 + math.exp(-act))
        gate = (
            s * math.exp(-act * act)
            + math.tanh(act * act + 1) * math.log(1 + act * act)
            + math.sqrt(act * act + 1) / (1 + math.exp(-act))
        )
        return math.tanh(act) * gate

    x = next(n for n in graph if n.name == "x")
    assert graph[graph.output].value == pytest.approx(neuron(0.5), rel=1e-12)
    assert x.grad == pytest.approx(central(neuron, (0.5,), 0), rel=1e-6)
    assert graph[graph.output].tangents["x"] == pytest.approx(x.grad, rel=1e-12)


def test_a_function_of_an_earlier_cell_opens_to_its_terms(shell: Any) -> None:
    run(shell, FUNCTION)  # a plain cell: IPython keeps its source
    graph = traced(shell, "%%grad x=0.5 y=1.5\nz = f(x, y)")
    inside = [n for n in graph if n.calls]
    assert all(n.line == 1 and n.text == "f(x, y)" for n in inside)  # this cell's call
    assert all(n.body is not None and n.body.line == 2 for n in inside)  # the earlier cell's
    view = View(graph)
    (call,) = view.root.children
    assert call.label == "f#0"
    view.expand(call.id)
    assert [x for x in drawn(view) if x in FUNCTION_TERMS] == FUNCTION_TERMS


def test_a_function_imported_from_a_file_keeps_its_call_as_its_place(
    shell: Any, tmp_path: Path
) -> None:
    (tmp_path / "formula_module.py").write_text(
        "from ad_magic import cos, exp, log, relu, sigmoid, sin, sqrt, tanh\n\n" + FUNCTION + "\n",
        encoding="utf-8",
    )
    run(shell, f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport formula_module")
    try:
        graph = traced(shell, "%%grad x=0.5 y=1.5\nz = formula_module.f(x, y)")
    finally:
        run(shell, f"sys.path.remove({str(tmp_path)!r})")
    assert len(graph) == 48 and all(n.body is None for n in graph)
    assert not View(graph).grouped  # as before: no term of the cell's line holds its nodes


def test_a_function_with_non_ascii_names_opens_to_its_terms(shell: Any) -> None:
    """Code positions count UTF-8 bytes: `é`, `α` and `β` are two each."""
    cell = (
        "%%grad x=0.5 y=1.5\n"
        "def größe(α, β):\n"
        "    return sin(α*β) + exp(α/β)*cos(β-α) + tanh(α*α + β*β) * log(1 + α*β)"
        " + sqrt(α + β) / (1 + exp(-α*β)) + (α - β)**2 * sigmoid(α + β)\n"
        "z = größe(x, y)"
    )
    graph = traced(shell, cell)
    assert {"α*β", "sin(α*β)", "α*α + β*β"} <= {n.body.text for n in graph if n.body}
    view = View(graph)
    (call,) = view.root.children
    assert call.label == "größe#0"
    view.expand(call.id)
    assert {
        "exp(α/β)*cos(β-α)",
        "sqrt(α + β) / (1 + exp(-α*β))",
        "(α - β)**2 * sigmoid(α + β)",
    } <= set(drawn(view))
    (α,) = [n for n in graph if n.name == "x"]
    assert graph[graph.output].tangents["x"] == pytest.approx(α.grad, rel=1e-12)
