"""Arrays as tensors: each numpy call on arrays of traced values is one box with its
shape and op (`matmul (16×2)·(2,) → (16,)`), inside its line or function call, stepped
as one step, opening to its elements; the elements and gradients stay as they were."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pytest
from graphs import NUMPY_MLP, NUMPY_MLP_SETUP, NUMPY_MLP_TENSORS
from support import run, traced
from test_first_view import centres, size

from ad_magic import Value
from ad_magic.render import summary, to_svg
from ad_magic.render.groups import Group, View
from ad_magic.render.wrap import node_rects
from ad_magic.trace.steps import GroupStep, Step, num
from ad_magic.widget.widget import GradWidget


@pytest.fixture
def mlp(shell: Any) -> Any:
    shell.reset(new_session=False)
    run(shell, NUMPY_MLP_SETUP)
    run(shell, NUMPY_MLP)
    return shell.user_ns["_grad"]


def drawn_groups(view: View) -> list[Group]:
    return [view.groups[u] for u in view.units() if u in view.groups]


def by_label(view: View, label: str) -> Group:
    (group,) = [g for g in view.groups.values() if g.label == label]
    return group


def test_each_numpy_call_records_its_name_shapes_and_nodes(mlp: Any) -> None:
    ns = mlp.tracer.namespace
    graph = mlp.graph
    assert [op.label for op in graph.arrays] == NUMPY_MLP_TENSORS  # in the order made
    # A matrix-vector product on objects: m·n products and m·(n-1) additions per call.
    for op in graph.arrays:
        ops_in = [graph[n].op.name for n in op.nodes]
        if op.name == "matmul":
            (m, n), _ = op.shapes
            assert ops_in.count("mul") == m * n and ops_in.count("add") == m * (n - 1)
        elif op.name == "tanh":
            assert ops_in == ["tanh"] * 16
        elif op.name == "sum":
            assert ops_in == ["add"] * 15 and op.shape == ()
        elif not op.shapes:  # an array input holds its elements
            assert len(op.nodes) == np.prod(op.shape) == ns[op.name].size
    # The elements are the nodes the arrays hold: h's are tanh's nodes, in order.
    tanh = next(op for op in graph.arrays if op.name == "tanh")
    assert [graph[n].value for n in tanh.nodes] == [v.data for v in ns["h"]]


def test_the_first_view_is_a_handful_of_tensor_boxes(mlp: Any) -> None:
    graph = mlp.graph
    view = View(graph)
    assert view.grouped and len(graph) == 929
    units = view.units()
    labels = [g.label for g in drawn_groups(view)]
    assert sorted(labels) == sorted(NUMPY_MLP_TENSORS)
    assert graph.output in units and len(units) == len(labels) + 1  # y is drawn as itself
    # Repeated labels are told apart by their line where the display names them.
    names = view.names()
    assert sorted(n for n in names.values() if n.startswith("add")) == [
        "add (16,) (line 1)",
        "add (16,) (line 2)",
    ]


def test_tensor_groups_sit_inside_their_line_and_function_call(shell: Any) -> None:
    cell = (
        "def layer(W, v, b):\n"
        "    return np.tanh(W @ v + b)\n"
        "h = layer(W1, x, b1)\n"
        "out = np.sum(layer(W2, h, b2) * 2.0) + np.dot(h, h)"
    )
    result = traced(shell, "W1=np.full((12,3),0.1) b1=np.zeros(12) W2=np.full((12,12),0.05) "
                    "b2=np.zeros(12) x=np.array([1.0,2.0,3.0])", cell)  # fmt: skip
    view = View(result.graph, budget=100)
    chains = {
        tuple(g.label for g in view.chains[view.index[op.nodes[0]]][:2]): op
        for op in result.graph.arrays
    }
    assert ("layer#0", "matmul (12×3)·(3,) → (12,)") in chains
    assert ("layer#0", "tanh (12,)") in chains
    assert ("layer#1", "matmul (12×12)·(12,) → (12,)") in chains
    # Outside any call, a numpy call sits inside its line (two calls on line 4).
    assert ("line 4", "multiply (12,), () → (12,)") in chains
    assert ("line 4", "sum (12,) → ()") in chains
    assert ("line 4", "dot (12,)·(12,) → ()") in chains


def test_the_pass_at_the_first_view_is_a_step_per_tensor(mlp: Any) -> None:
    view = View(mlp.graph)
    flat = mlp.steps("reverse")
    level = mlp.steps("reverse", level=view.level())
    assert len(level) == 9 < len(flat)  # as the README says
    assert sum(len(s.steps) if isinstance(s, GroupStep) else 1 for s in level) == len(flat)
    tanh = next(s for s in level if isinstance(s, GroupStep) and s.group == "tanh (16,)")
    assert tanh.equation.startswith("tanh (16,): 16 gradients flow into its inputs, sum ")
    # What leaves tanh is the gradient of the 16 additions before it, as the flat pass has it.
    add = next(
        g
        for g, name in zip(drawn_groups(view), view.names().values(), strict=True)
        if name == "add (16,) (line 1)"
    )
    assert {s.node for s in tanh.leaving} == set(view.members(add.id))
    assert tanh.total == pytest.approx(sum(mlp.graph[n].grad for n in view.members(add.id)))
    assert (
        tanh.equation.endswith(f"sum {num(tanh.total)} (16 steps)") and num(tanh.total) == "-4.404"
    )
    matmul = next(
        s for s in level if isinstance(s, GroupStep) and s.group.startswith("matmul (16×2)")
    )
    assert matmul.equation.startswith("matmul (16×2)·(2,) → (16,): 64 gradients flow into its")


def opened(w: GradWidget, group: Group) -> list[Group]:
    """The group's children drawn once it is open."""
    return [w.view.groups[u] for u in w.view.units() if w.view.groups.get(u) in group.children]


def group_steps(w: GradWidget, mlp: Any, groups: list[Group]) -> list[GroupStep]:
    names = w.view.names()
    level = mlp.steps("reverse", level=w.view.level())
    assert w.counts["reverse"] == len(level)
    return [
        s for s in level if isinstance(s, GroupStep) and s.group in {names[g.id] for g in groups}
    ]


def test_a_tensor_opens_to_its_elements_and_closes_again(mlp: Any) -> None:
    w = GradWidget(mlp)
    top = w.counts["reverse"]
    matmul = by_label(w.view, "matmul (16×2)·(2,) → (16,)")
    w.toggle(matmul.id)
    members = w.view.members(matmul.id)
    assert len(members) == 48 and matmul.id not in w.view.units()
    assert [t["title"] for t in w.trail][-1] == "matmul (16×2)·(2,) → (16,)"  # the breadcrumb
    assert w.counts["reverse"] > top
    # It opens to the 16 elements of its result, four at a time: blocks of four rows,
    # each one step here; a block opens to its rows (the products and sum of one row).
    quarters = opened(w, matmul)
    assert [g.label for g in quarters] == [f"matmul[{i}] … matmul[{i + 3}]" for i in (0, 4, 8, 12)]
    steps = group_steps(w, mlp, quarters)
    assert len(steps) == 4 and steps[0].equation.startswith(f"{steps[0].group}: 16 gradients flow")
    w.toggle(quarters[1].id)
    rows = opened(w, quarters[1])
    assert [g.label for g in rows] == [f"matmul[{i}]" for i in range(4, 8)]
    assert all(g.size == 3 for g in rows)  # W1[i,0]*x[0] + W1[i,1]*x[1]
    row_steps = group_steps(w, mlp, rows)
    assert len(row_steps) == 4
    assert row_steps[0].equation.startswith(f"{row_steps[0].group}: 4 gradients flow into its")
    before = w.counts["reverse"]
    w.toggle(rows[3].id)
    level = mlp.steps("reverse", level=w.view.level())
    inside = [s for s in level if isinstance(s, Step) and s.via in w.view.members(rows[3].id)]
    # Each drawn node passes its gradient on in a step of its own: the sum into its two
    # products, each product into its W1 and x (inside those collapsed inputs).
    graph = w.result.graph
    assert w.counts["reverse"] == before - 1 + 6 and len(inside) == 6
    assert [graph[s.via].op.name for s in inside] == ["add", "add", "mul", "mul", "mul", "mul"]
    assert sorted(graph[s.node].name for s in inside[2:]) == ["W1[7,0]", "W1[7,1]", "x[0]", "x[1]"]
    for group in (rows[3], quarters[1], matmul):
        w.toggle(group.id)
    assert matmul.id in w.view.units() and w.counts["reverse"] == top


def test_an_elementwise_tensor_opens_to_blocks_stepped_a_block_then_an_element(
    mlp: Any,
) -> None:
    w = GradWidget(mlp)
    top = w.counts["reverse"]
    tanh = by_label(w.view, "tanh (16,)")
    w.toggle(tanh.id)
    blocks = opened(w, tanh)
    assert [g.label for g in blocks] == [f"tanh[{i}] … tanh[{i + 3}]" for i in (0, 4, 8, 12)]
    assert all(g.size == 4 for g in blocks)
    steps = group_steps(w, mlp, blocks)  # a step per block, where there was one for all 16
    assert w.counts["reverse"] == top + 3 and len(steps) == 4
    graph = mlp.graph
    block_named = {w.view.names()[g.id]: g for g in blocks}
    for step in steps:
        block = block_named[step.group]
        # Into a block flow the gradients of its elements; out of it, into the additions.
        assert step.equation.startswith(f"{step.group}: 4 gradients flow into its inputs")
        assert step.total == pytest.approx(
            sum(graph[graph[n].parents[0]].grad for n in w.view.members(block.id))
        )
    w.toggle(blocks[2].id)
    elements = [u for u in w.view.units() if u in w.view.members(blocks[2].id)]
    assert [graph[n].name for n in elements] == [f"h[{i}]" for i in range(8, 12)]
    level = mlp.steps("reverse", level=w.view.level())
    # Each element one step, last first: its gradient flows into the addition before it.
    mine = [s for s in level if isinstance(s, Step) and s.via in elements]
    assert [s.via for s in mine] == elements[::-1]
    assert all(graph[s.node].op.name == "add" and s.arg == 0 for s in mine)
    assert w.counts["reverse"] == top + 3 + 3
    w.toggle(blocks[2].id)
    w.toggle(tanh.id)
    assert w.counts["reverse"] == top


# The widget's graph viewport beside the Jacobian on a 1280 px JupyterLab page, and on
# its own in Notebook 7 at 720 px; the layout wraps 16 px inside it, and is at most
# 618 px tall in a 900 px window (what the widget tells the kernel: room() - 12).
VIEWPORTS = [540, 620]
TALL = 618


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_first_view_fits_beside_the_jacobian_in_rows_read_in_order(
    mlp: Any, viewport: int
) -> None:
    view = View(mlp.graph)
    svg = to_svg(mlp.graph, view, width=viewport - 16, height=TALL)
    width, height = size(svg)
    assert width <= viewport and height <= TALL, (width, height)  # all of it, at 1:1
    # The tensors in the order made: each right of the one before in its row, or at the
    # start of a row further down (W2, made before the cell, no longer above the first).
    at = {view.groups[u].label: xy for u, xy in centres(svg).items() if u in view.groups}
    chain = NUMPY_MLP_TENSORS[5:]
    rows = 0
    for before, after in itertools.pairwise(chain):
        (x0, y0), (x1, y1) = at[before], at[after]
        assert x1 > x0 or y1 > y0 + 20, (before, after)
        rows += x1 < x0
    assert rows >= 1
    # An input sits in the row of its first use, left of it.
    for source, use in [("W1 (16×2)", chain[0]), ("W2 (16×16)", chain[3]), ("b2 (16,)", chain[4])]:
        assert at[source][0] < at[use][0] and abs(at[source][1] - at[use][1]) < 100, source
    assert "cluster_row" in svg and svg.count('class="edge') == len(view.edges())


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_an_opened_tensor_reads_at_the_notebook_text_size(mlp: Any, viewport: int) -> None:
    """Opened, tanh (16,) fits the viewport at 12 px text or more (13 px at 1:1); a
    block of it opened shows its four elements in a column the viewport holds at 1:1."""
    w = GradWidget(mlp)
    w.set_width(viewport - 16, TALL)
    tanh = by_label(w.view, "tanh (16,)")
    w.toggle(tanh.id)
    width, height = size(to_svg(mlp.graph, w.view, width=w.width, height=w.height))
    assert max(width / viewport, height / TALL) <= 13 / 12, (width, height)
    block = opened(w, tanh)[1]
    w.toggle(block.id)
    svg = to_svg(mlp.graph, w.view, width=w.width, height=w.height)
    rects = node_rects(svg)
    inside = {*w.view.members(tanh.id), *(g.id for g in tanh.children)}
    column = [rects[u] for u in w.view.units() if u in inside]
    assert len(column) == 3 + 4  # three blocks and the four elements of the fourth
    assert max(r[3] for r in column) - min(r[1] for r in column) <= TALL - 24
    elements = sorted((rects[u][1], mlp.graph[u].name) for u in w.view.members(block.id))
    assert [name for _, name in elements] == [f"h[{i}]" for i in range(4, 8)]  # top down


def test_elements_stay_findable_and_in_the_records(mlp: Any) -> None:
    w = GradWidget(mlp)
    element = next(n for n in mlp.nodes if n.name == "W1[3,1]")
    assert w.find("W1[3,1]") == element.id and w.found["box"] == element.id
    assert "W1 (16×2)" in [t["title"] for t in w.trail]
    assert w.find("sum (16,)") == by_label(w.view, "sum (16,) → ()").id
    assert len(mlp.nodes) == len(mlp.graph)


def test_gradients_are_those_of_plain_arrays_and_finite_differences(mlp: Any) -> None:
    ns = mlp.tracer.namespace
    W1, b1, W2, b2, x = (ns[k] for k in ("W1_0", "b1_0", "W2_0", "b2_0", "x_0"))
    # By hand: y = sum(W2 tanh(W1 x + b1) + b2).
    h = np.tanh(W1 @ x + b1)
    dh = W2.T @ np.ones(16)
    dpre = dh * (1 - h**2)
    expected = {
        "W1": np.outer(dpre, x),
        "b1": dpre,
        "W2": np.outer(np.ones(16), h),
        "x": W1.T @ dpre,
    }
    for name, grad in expected.items():
        np.testing.assert_allclose(mlp.grads[name], grad, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mlp.grads["b2"], np.ones(16))
    # The same computation on plain object arrays, outside the magic.
    leaves = [np.vectorize(Value, otypes=[object])(a) for a in (W1, b1, W2, b2, x)]
    y = (leaves[2] @ np.tanh(leaves[0] @ leaves[4] + leaves[1]) + leaves[3]).sum()
    y.backward()
    assert y.data == mlp.value
    for name, arr in zip(["W1", "b1", "W2", "b2", "x"], leaves, strict=True):
        assert np.array_equal(mlp.grads[name], np.vectorize(lambda v: v.grad)(arr))
    assert mlp.check().ok()


def test_tensor_labels_are_drawn_in_the_svg_and_the_text(mlp: Any) -> None:
    view = View(mlp.graph)
    svg = to_svg(mlp.graph, view)
    text = summary(mlp.graph, view)
    for group in drawn_groups(view):
        # A long one on two lines, the result's shape under the operands'.
        lines = [group.label] if len(group.label) <= 24 else group.label.split(" → ")
        if len(lines) == 2:
            lines[1] = f"→ {lines[1]}"
        drawn = "".join(f">{line.replace('>', '&gt;')}</text>\n" for line in lines)
        assert drawn in re.sub(r"<text[^>]*>", ">", svg), lines
        assert f"{group.label}  ({group.size} nodes)" in text
    assert ">→ (16,)</text>" in svg  # matmul (16×2)·(2,) / → (16,)
    # Each tensor's box says it is one (the widget opens it to read at 1:1, see widget.js).
    assert svg.count('class="node group tensor"') == len(drawn_groups(view)) == 11


def test_scalar_cells_and_plain_arrays_record_no_tensors(shell: Any) -> None:
    result = traced(shell, "x=0.5", "h = x\nfor i in range(200):\n    h = tanh(h*0.9 + 0.1)")
    assert result.graph.arrays == []
    assert all(not g.array for g in View(result.graph).groups.values())


def central_differences(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        out[i] = (f(up) - f(down)) / (2 * h)
    return out


def test_arrays_the_cell_builds_are_tensors_too(shell: Any) -> None:
    # Built by np.array from a list of Values, and by np.zeros(dtype=object) filled in.
    cell = (
        "h = np.array([tanh(v) for v in W @ x])\n"
        "z = np.zeros(3, dtype=object)\n"
        "for i in range(3):\n"
        "    z[i] = h[i] * 2.0\n"
        "y = np.exp(h).mean() + (z @ z)"
    )
    W0, x0 = np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.5, -1.5])
    result = traced(shell, "W=np.linspace(-1,1,6).reshape(3,2) x=np.array([0.5,-1.5])", cell)
    labels = [op.label for op in result.graph.arrays if op.shapes]
    assert labels == [
        "matmul (3×2)·(2,) → (3,)",
        "exp (3,)",
        "mean (3,) → ()",
        "matmul (3,)·(3,) → ()",
    ]
    assert type(result.tracer.namespace["h"]).__name__ == "Tensor"  # as an input is

    def plain(W: np.ndarray, x: np.ndarray) -> float:
        h = np.tanh(W @ x)
        return float(np.exp(h).mean() + (2 * h) @ (2 * h))

    assert result.value == pytest.approx(plain(W0, x0), rel=1e-12)
    np.testing.assert_allclose(
        result.grads["W"], central_differences(lambda W: plain(W, x0), W0), rtol=1e-6
    )
    np.testing.assert_allclose(
        result.grads["x"], central_differences(lambda x: plain(W0, x), x0), rtol=1e-6
    )
    assert result.check().ok()


def test_arrays_made_before_a_bare_cell_are_tensors_while_it_runs(shell: Any) -> None:
    shell.reset(new_session=False)
    run(shell, "import numpy as np\nfrom ad_magic import Value")
    run(shell, "A = np.array([[Value(1.0, label='a'), Value(-2.0, label='b')],\n"
               "              [Value(0.5, label='c'), Value(0.25, label='d')]])")  # fmt: skip
    run(shell, "%%grad\ny = np.tanh(A @ np.array([0.5, 1.5])).sum()")
    result = shell.user_ns["_grad"]
    assert [op.label for op in result.graph.arrays if op.shapes] == [
        "matmul (2×2)·(2,) → (2,)",
        "tanh (2,)",
        "sum (2,) → ()",
    ]
    assert type(shell.user_ns["A"]) is np.ndarray  # the namespace holds the array it held
    v = np.array([0.5, 1.5])
    d = 1 - np.tanh(np.array([[1.0, -2.0], [0.5, 0.25]]) @ v) ** 2
    expected = {"a": d[0] * v[0], "b": d[0] * v[1], "c": d[1] * v[0], "d": d[1] * v[1]}
    assert result.grads == pytest.approx(expected, rel=1e-12)
    assert result.check().ok()


def test_reductions_and_methods_are_labelled_by_what_the_cell_called(shell: Any) -> None:
    cell = (
        "h = np.tanh(W @ x)\n"
        "a = h.mean() + np.mean(h) + h.sum() + h.max() + np.dot(h, h)\n"
        "b = (W.T @ W).reshape(4).sum() + W.dot(x)[0] + np.stack([h, h])[1, 0]\n"
        "y = a + b"
    )
    result = traced(shell, "W=np.array([[0.5,-1.0],[1.5,0.25]]) x=np.array([1.0,2.0])", cell)
    labels = [op.label for op in result.graph.arrays if op.shapes]
    assert labels == [
        "matmul (2×2)·(2,) → (2,)",
        "tanh (2,)",
        "mean (2,) → ()",
        "mean (2,) → ()",
        "sum (2,) → ()",
        "dot (2,)·(2,) → ()",  # h.max() picks an element: no new node, no box
        "matmul (2×2)·(2×2) → (2×2)",
        "sum (4,) → ()",
        "dot (2×2)·(2,) → (2,)",
    ]
    assert result.check().ok()


def test_var_and_std_are_recorded_as_one_call_each(shell: Any) -> None:
    cell = (
        "h = np.tanh(W @ x)\n"
        "y = h.var() + np.std(h) * 2 + np.var(np.array([x[0], x[1] * h[0]]), ddof=1)"
    )
    W0, x0 = np.array([[0.5, -1.0], [1.5, 0.25], [-0.3, 0.8]]), np.array([1.0, 2.0])
    result = traced(shell, "W=np.array([[0.5,-1.0],[1.5,0.25],[-0.3,0.8]]) x=[1.0,2.0]", cell)
    assert [op.label for op in result.graph.arrays if op.shapes] == [
        "matmul (3×2)·(2,) → (3,)",
        "tanh (3,)",
        "var (3,) → ()",  # numpy's subtractions, conjugates and sums inside are var's own
        "std (3,) → ()",
        "var (2,) → ()",
    ]

    def plain(W: np.ndarray, x: np.ndarray) -> float:
        h = np.tanh(W @ x)
        return float(h.var() + np.std(h) * 2 + np.var(np.array([x[0], x[1] * h[0]]), ddof=1))

    assert result.value == pytest.approx(plain(W0, x0), rel=1e-12)
    np.testing.assert_allclose(
        result.grads["W"], central_differences(lambda W: plain(W, x0), W0), rtol=1e-6
    )
    np.testing.assert_allclose(
        result.grads["x"], central_differences(lambda x: plain(W0, x), x0), rtol=1e-6
    )
    output = result.graph[result.graph.output]
    assert output.tangents["x[1]"] == pytest.approx(result.grads["x"][1], rel=1e-12)
    assert result.check().ok()
