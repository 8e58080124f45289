"""The widget's Jacobian panel: J's names and cells, the pass picked by output, the cost."""

from __future__ import annotations

import math

import pytest
from support import traced

from ad_magic.widget import widget
from ad_magic.widget.jacobian import COLS, jacobian_state
from ad_magic.widget.widget import GradWidget

POLAR = "u = r * cos(t)\nv = r * sin(t)\n"


trace = traced


def test_state_of_a_vector_output(shell):
    g = trace(shell, "r=2.0 t=0.7 -o u,v", POLAR)
    state = jacobian_state(g)
    assert state["rows"] == ["u", "v"] and state["cols"] == ["r", "t"]
    assert state["shape"] == "2 × 2" and state["more_rows"] == state["more_cols"] == 0
    assert state["cells"] == [["0.7648", "-1.288"], ["0.6442", "1.53"]]
    methods = [c[0] for c in state["cost"]]
    assert methods == ["reverse", "forward", "finite differences"]
    assert state["cost"][0][1] == "2 passes, one per output"
    assert state["cost"][0][2] == g.cost.reverse_steps
    assert state["cost"][2][1] == "4 evaluations of the recorded program, two per input"
    assert all(c[3] == "" for c in state["cost"])  # not timed without --cost


def test_cost_option_puts_times_in_the_panel(shell):
    g = trace(shell, "r=2.0 t=0.7 -o u,v --cost", POLAR)
    assert all(c[3].endswith("s") for c in jacobian_state(g)["cost"])


def test_picking_an_output_steps_through_its_backward_pass(shell):
    w = GradWidget(trace(shell, "r=2.0 t=0.7 -o u,v", POLAR))
    assert w.out == "u"
    to_u = w.current_page()["steps"]
    assert to_u[0][3] == "grad(u) = 1"
    w.step = 1
    w.out = "v"
    assert w.step == -1  # a new pass starts from its end
    assert w.page["key"] == "reverse" and w.current_page()["steps"][0][3] == "grad(v) = 1"
    assert w.counts["reverse"] == len(w.result.steps("reverse", output="v"))
    assert w.archive["reverse"][0][3] == "grad(v) = 1"  # the whole pass, for kernel-less pages
    grads = {r["name"]: r["grad"] for r in w.rows()}  # the table and source follow v's pass
    assert (grads["u"], grads["v"], grads["t"]) == ("0", "1", "1.53")
    assert set(w.numbers) == {r["id"] for r in w.records}  # only the numbers travelled
    assert "2 outputs" in w.cost and "one backward pass per output: 2 passes" in w.cost
    w.out = "nothing"  # ignored
    assert w.current_page()["steps"][0][3] == "grad(v) = 1"


def test_a_scalar_output_is_one_row(shell):
    w = GradWidget(trace(shell, "x=1.5", "y = sin(x**2 + 1)"))
    assert w.jacobian["rows"] == ["y"] and w.jacobian["cells"] == [["-2.982"]]
    assert w.jacobian["line"].startswith("J is 1 × 1: reverse 1 pass")


def test_many_inputs_are_cut_to_the_shown_columns(shell):
    g = trace(shell, "w=np.linspace(-1, 1, 40)", "y = (w * w).sum()")
    state = jacobian_state(g)
    assert len(state["cols"]) == COLS and state["more_cols"] == 40 - COLS
    assert state["shape"] == "1 × 40" and len(state["cells"][0]) == COLS


@pytest.mark.parametrize("option", ["--expect 'dv/dt=1'", "--quiz"])
def test_kept_back_derivatives_stay_hidden_in_J(shell, option):
    g = trace(shell, f"r=2.0 t=0.7 -o u,v {option}", POLAR)
    assert {c for row in jacobian_state(g)["cells"] for c in row} == {"?"}


def test_the_chosen_outputs_gradients_stay_when_the_view_changes(shell):
    cell = "ys = [sin(x * k) for k in range(1, 60)]\ny1 = ys[0]\ny2 = sum(ys)\n"
    w = GradWidget(trace(shell, "x=0.3 -o y1,y2", cell))
    assert w.view.grouped and w.view.groups
    w.out = "y2"
    x = lambda: next(r for r in w.rows() if r["name"] == "x")  # noqa: E731
    want = sum(k * math.cos(0.3 * k) for k in range(1, 60))
    assert float(x()["grad"]) == pytest.approx(want, rel=1e-3)
    w.toggle(next(iter(w.view.groups)))  # a new view: new records, still y2's gradients
    assert w.numbers == {} and float(x()["grad"]) == pytest.approx(want, rel=1e-3)
    w.set_input("x", 0.4)  # a live input too
    want = sum(k * math.cos(0.4 * k) for k in range(1, 60))
    assert w.out == "y2" and float(x()["grad"]) == pytest.approx(want, rel=1e-3)


def test_j_is_computed_once_per_trace_and_again_when_a_quiz_ends(shell, monkeypatch):
    w = GradWidget(trace(shell, "r=2.0 t=0.7 -o u,v --quiz", POLAR))
    assert {c for row in w.jacobian["cells"] for c in row} == {"?"}
    made = []
    real = widget.jacobian_state
    monkeypatch.setattr(widget, "jacobian_state", lambda r: made.append(r) or real(r))
    w._load(w.result, layout=False)  # the same trace, shown again: J stays
    assert made == []
    quiz = w.result.quiz
    while not quiz.done:
        quiz.answer(quiz.current.step.total)
    assert made == [w.result]
    assert [row[:2] for row in w.jacobian["cells"]] == [["0.7648", "-1.288"], ["0.6442", "1.53"]]


def test_a_live_input_recomputes_j(shell):
    w = GradWidget(trace(shell, "r=2.0 t=0.7 -o u,v", POLAR))
    w._on_msg(w, {"type": "input", "name": "r", "value": 3.0}, [])
    assert w.error == ""
    c, s = math.cos(0.7), math.sin(0.7)
    assert w.jacobian["cells"] == [[f"{c:.4g}", f"{-3 * s:.4g}"], [f"{s:.4g}", f"{3 * c:.4g}"]]
