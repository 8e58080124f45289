"""The --order 2 panel's Python side: the Hessian matrix widget, the gradient computation
shown by a GradWidget, and a click on an entry turning it to that entry's pass.

The browser side is tested in tests/browser/test_second_live.py.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from ad_magic.trace.hessian import VALUES
from ad_magic.trace.steps import num
from ad_magic.widget.display import static_html
from ad_magic.widget.second import HessianWidget, SecondPanel


@pytest.fixture
def result(shell):
    shell.reset(new_session=False)
    out = shell.run_cell("%%grad x=1.5 w=0.5 --order 2\ny = sin(x**2 * w + 1)")
    assert out.success, out.error_in_exec
    return shell.user_ns["_grad"]


def test_matrix_and_graph_state(result):
    panel = SecondPanel(result)
    assert panel.matrix.labels == ["x", "w"] and panel.matrix.output == "y"
    assert panel.matrix.rows == [[num(v) for v in row] for row in result.hessian]
    g = panel.graph
    assert g.mode == "forward" and g.seeds == ["x", "w"] and g.seed == "x"
    assert g.counts["forward:w"] == len(result.steps("second", "w"))
    # The drawing groups the gradient computation by first-order rule (small: drawn whole,
    # so the groups are in the records' calls, not boxes).
    second = result.second.graph
    assert len(g.records) == len(second) and g.svg.count('class="node') == len(second)
    assert any("dy/dx" in r["name"] for r in g.records)
    assert {n.calls[0] for n in second if n.calls}.issuperset({VALUES})
    assert any("Forward mode over it" in note for note in g.notes)


def test_clicking_an_entry_shows_its_pass(result):
    panel = SecondPanel(result)
    g, second = panel.graph, result.second
    panel.matrix._handle_custom_msg({"type": "entry", "row": 0, "column": 1}, [])
    assert panel.matrix.picked == [0, 1]
    assert g.mode == "forward" and g.seed == "w" and g.selected == second.grads[0]
    step = g.current_page()["steps"][g.step - g.page["start"]]
    assert step[0] == second.grads[0]  # the step that gives dy/dx its tangent along w
    assert step[4] == num(result.hessian[0, 1])
    assert step[3].startswith("tangent(dy/dx) = ")
    panel.show_entry(5, 0)  # out of range: nothing moves
    assert panel.matrix.picked == [0, 1]


def test_reverse_over_the_gradient_computation_is_a_hessian_row(result):
    # The second graph's output is dy/dx; its reverse pass gives d(dy/dx)/d(input).
    second = result.second
    leaves = dict(zip(second.labels, second.leaves, strict=True))
    row = [second.graph[leaves[k]].grad for k in second.labels]
    np.testing.assert_allclose(row, result.hessian[0], rtol=1e-13)


def test_static_html_has_the_matrix(result):
    page = static_html(result)
    assert "Hessian of y" in page and num(result.hessian[1, 1]) in page


def test_too_many_inputs_say_so(shell):
    shell.reset(new_session=False)
    shell.run_line_magic("config", "GradMagics.max_hessian_inputs = 1")
    try:
        shell.run_cell("%%grad x=1.5 w=0.5 --order 2\ny = x * w")
    finally:
        shell.run_line_magic("config", "GradMagics.max_hessian_inputs = 32")
    panel = SecondPanel(shell.user_ns["_grad"])
    assert panel.matrix.rows == [] and "max_hessian_inputs=1" in panel.matrix.note
    assert panel.graph.mode == "reverse" and panel.graph.seeds == []


def test_a_live_input_moves_the_hessian_too(result):
    import autograd
    import autograd.numpy as anp

    from ad_magic.widget.widget import GradWidget

    first = GradWidget(result)
    panel = SecondPanel(result, first)
    panel.show_entry(0, 1)
    first.set_input("x", 0.9)  # the first widget re-traces; the panel follows
    f = lambda v: anp.sin(v[0] ** 2 * v[1] + 1)  # noqa: E731
    expected = autograd.hessian(f)(np.array([0.9, 0.5]))
    assert panel.result is first.result and panel.matrix.picked == []
    np.testing.assert_allclose(panel.result.hessian, expected, rtol=1e-12)
    assert panel.matrix.rows == [[num(v) for v in row] for row in expected]
    node = panel.graph.result.graph[panel.result.second.grads[0]]
    assert node.value == pytest.approx(first.result.grads["x"], rel=1e-14)


def test_a_closed_hessian_widget_is_freed():
    # anywidget ties every instance to a module given as a path (hot reloading): the
    # module goes in as text, so a closed matrix is collected like any widget.
    matrix = HessianWidget(output="y", labels=["x"])
    gone = weakref.ref(matrix)
    matrix.close()
    del matrix
    gc.collect()
    assert gone() is None
