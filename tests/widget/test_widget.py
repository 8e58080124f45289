"""The widget's Python side: its synced state, small messages, live inputs, groups.

The browser side is tested in tests/browser/.
"""

from __future__ import annotations

import gc
import json
import math
import re
import weakref
from pathlib import Path

import pytest
from support import traced

from ad_magic.widget import widget
from ad_magic.widget.widget import GradWidget

trace = traced


@pytest.fixture
def chapter(shell):
    return GradWidget(trace(shell, "x=1.5", "a = x**2\nb = a + 1\ny = sin(b)"))


def test_state_from_the_chapter_example(chapter):
    w = chapter
    assert w.svg.count('class="node') == 6 and "<title>n0</title>" in w.svg
    assert [r["id"] for r in w.records] == [f"n{i}" for i in range(6)]
    assert w.records[0] == {**w.records[0], "name": "x", "kind": "input", "grad": "-2.982"}
    assert w.seeds == ["x"] and w.seed == "x" and w.mode == "reverse"
    assert w.counts == {"reverse": 4, "forward:x": 4}
    assert w.page["key"] == "reverse" and w.page["start"] == 0  # all of it: step -1 is the end
    node, box, edges, equation, total, more = w.current_page()["steps"][1]
    assert (node, box, edges, more) == ("n4", "n4", [["n4", "n5"]], [])
    assert equation.startswith("grad(b) += cos(b) * grad(y)") and total == "-0.9941"
    w.mode = "forward"
    assert w.page["key"] == "forward:x"
    assert (
        w.current_page()["steps"][-1][3].endswith("= -2.982")
        and w.current_page()["steps"][-1][4] == "-2.982"
    )
    assert w.source == "a = x**2\nb = a + 1\ny = sin(b)"
    assert w.inputs == [{"name": "x", "value": 1.5}]
    assert "1 pass" in w.cost and "one backward pass" in w.cost
    assert w.output == "y" and w.step == -1
    assert w.expanded == []  # a small graph is drawn whole: no groups to list
    # Its passes also travel whole, so a saved widget steps with no kernel.
    assert w.archive == {"reverse": w._page("reverse", 0)["steps"],
                         "forward:x": w._page("forward:x", 0)["steps"]}  # fmt: skip
    assert w.page["steps"] == []  # the page names the pass; its steps are not sent twice


def test_stepping_selecting_and_mode_changes_are_tiny_and_keep_the_svg(chapter):
    w = chapter
    sent = []
    w.comm.send = lambda data=None, metadata=None, buffers=None: sent.append(data)  # the wire
    svg = w.svg
    w.step = 3
    w.step = 0
    w.selected = "n2"
    w.mode = "forward"  # a new pass: its page travels once
    assert w.svg is svg
    page_messages = [m for m in sent if "page" in json.dumps(m)]
    step_messages = [m for m in sent if m not in page_messages]
    assert len(page_messages) == 1 and step_messages
    assert all(len(json.dumps(m)) < 1024 for m in step_messages)
    assert all("svg" not in json.dumps(m) for m in sent)


def test_live_input_retraces_in_place(chapter, shell):
    w = chapter
    svg = w.svg
    w.step = 2
    w._on_msg(w, {"type": "input", "name": "x", "value": 2.0}, [])
    assert w.error == "" and w.svg is svg  # same shape: same layout
    assert w.step == 2  # and the same place in the pass
    x = next(r for r in w.rows() if r["id"] == "n0")
    assert x["value"] == "2" and x["grad"] == f"{__import__('math').cos(5.0) * 4:.4g}"
    assert x["tangents"] == {"x": "1"}  # dx/dx
    # Only the numbers travelled, keyed by node id: [value, grad, flagged, tangent of x].
    assert w.numbers["n0"] == ["2", x["grad"], False, "1"]
    assert w.records[0]["value"] == "1.5" and set(w.numbers) == {f"n{i}" for i in range(6)}
    # As re-executing the cell with x=2.0: its bindings and _grad are the new run's.
    assert shell.user_ns["x"].data == 2.0 and shell.user_ns["_grad"] is w.result
    assert w.inputs == [{"name": "x", "value": 2.0}]


def test_live_input_that_changes_the_shape_lays_out_again(shell):
    w = GradWidget(trace(shell, "x=1.0", "if x > 0:\n    y = sin(x)\nelse:\n    y = x * x * x"))
    svg = w.svg
    w.set_input("x", -1.0)
    assert w.svg != svg and w.records[-1]["value"] == "-1"


def test_live_input_error_is_reported_and_keeps_the_last_good_state(shell):
    w = GradWidget(trace(shell, "x=1.0", "y = log(x) if x > 0 else undefined_name"))
    before = w.records
    w.set_input("x", -2.0)
    assert "NameError" in w.error and w.records == before
    w.set_input("x", 3.0)
    assert w.error == "" and w.rows()[-1]["value"] == f"{__import__('math').log(3.0):.4g}"


def test_groups_open_and_close_on_toggle(shell):
    cell = (
        "def layer(v, k):\n    return tanh(v * (0.5 + k) + 0.1)\n"
        "h = x\nfor k in range(80):\n    h = layer(h, k)\ny = h"
    )
    w = GradWidget(trace(shell, "x=0.3", cell))
    groups = [r["box"] for r in w.records if r["box"] != r["id"]]
    assert groups, "a 400-node graph is drawn with groups"
    group = groups[0]
    svg = w.svg
    w._on_msg(w, {"type": "toggle", "group": group}, [])
    assert group in w.view.expanded and w.svg != svg
    assert group in [g["id"] for g in w.expanded] and all(g["title"] for g in w.expanded)
    assert all(r["box"] != group for r in w.records)
    w.toggle(group)
    assert group not in w.view.expanded


HOOKS = ["ad-magic", "ad-current", "ad-selected", '"Forward"', '"Reverse"', '"First step"',
         '"Previous step"', '"Next step"', '"Last step"', '"Play"']  # fmt: skip


def test_widget_js_has_the_stable_hooks():
    text = (Path(widget.__file__).parent / "widget.js").read_text(encoding="utf-8")
    for hook in HOOKS:
        assert hook in text
    assert "import " not in text and "http" not in text  # no network imports


def test_long_passes_travel_in_pages(shell, monkeypatch):
    from ad_magic import render
    from ad_magic.widget.widget import PAGE

    monkeypatch.setattr(render.config, "budget", 10_000)  # drawn whole: a step per chain rule
    cell = "h = x\nfor k in range(400):\n    h = tanh(h * 0.9 + 0.1)\ny = h"
    w = GradWidget(trace(shell, "x=0.3", cell))
    n = w.counts["reverse"]
    assert n > PAGE and len(w.page["steps"]) == n - w.page["start"] <= PAGE
    w.step = 0
    assert w.page["start"] == 0 and len(w.page["steps"]) == PAGE and w.page["done"] == {}
    w.step = PAGE + 3
    page = w.page
    assert page["start"] == PAGE and page["steps"][3][0] == w.result.steps()[PAGE + 3].node
    reached = {s.node for s in w.result.steps()[:PAGE]}
    shown = {r["id"] for r in w.records}
    assert set(page["done"]) == reached & shown  # totals so far, for the nodes the browser has
    w.step = PAGE + 4
    assert w.page is page  # same page: nothing sent
    assert w.archive == {}  # too long to travel whole


def test_quiz_hides_derivatives_and_walks_the_pass(shell):
    from ad_magic.widget.display import static_html

    result = trace(shell, "x=1.5 --quiz", "a = x**2\nb = a + 1\ny = sin(b)")
    w = GradWidget(result)
    assert w.hidden and "-2.982" not in w.svg and "grad ?" in w.svg
    assert "-2.982" not in static_html(result)
    assert all(r["grad"] == "?" for r in w.records if r["kind"] != "const")
    q = w.quiz
    assert q["prompt"] == "grad(b) = ?" and q["step"] == 1 and w.step == 0 and w.mode == "reverse"
    assert (
        len(w.current_page()["steps"]) == 1
    )  # only the answered part of the pass reaches the browser
    assert w.archive == {}  # nor in any other form
    assert "-0.9941" not in w.svg  # nor the edge labels, the local derivatives
    w._on_msg(w, {"type": "answer", "value": "3"}, [])
    assert w.quiz["feedback"]["right"] is False and "cos(a)" in w.quiz["feedback"]["hint"]
    assert w.quiz["step"] == 1  # one more try
    w.answer("-0.9941")
    assert w.quiz["feedback"]["right"] is True and w.quiz["step"] == 2 and w.step == 1
    assert len(w.current_page()["steps"]) == 2 and w.current_page()["steps"][1][4] == "-0.9941"
    for step in result.steps()[2:]:
        result.quiz.answer(f"{step.value:.6g}")  # answers given in code reach the widget too
    assert w.quiz["done"] and w.quiz["score"] == w.quiz["total"] == 3
    assert not w.hidden and "grad -2.982" in w.svg  # all shown once the quiz is over
    assert w.archive["reverse"][-1][4] == "-2.982"


def test_a_wrong_student_rule_is_flagged(shell):
    import ad_magic

    shell.reset(new_session=False)
    shell.user_ns["ad_magic"] = ad_magic
    made = shell.run_cell(
        "@ad_magic.primitive(derivative=lambda a: 2 * a)  # wrong: d a**3/da = 3a**2\n"
        "def cube(a):\n    return a**3"
    )
    assert made.success, made.error_in_exec
    try:
        assert shell.run_cell("%%grad x=2.0 --check\ny = cube(x) + x").success
        w = GradWidget(shell.user_ns["_grad"])
        flagged = [r for r in w.records if r["flagged"]]
        assert [r["op"] for r in flagged] == ["cube"]
    finally:
        ad_magic.remove_primitive("cube")


def test_a_kernel_gets_a_static_copy_then_the_widget_as_two_outputs():
    """In a real kernel (nbclient), as a notebook front end or nbconvert would see it.

    nbconvert's HTML shows only the widget view of an output that has one (when the
    widget state is saved), so the static copy is an output of its own, and the
    widget knows it by the `twin` token both carry.
    """
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext ad_magic"),
        nbformat.v4.new_code_cell("%%grad x=1.5\ny = sin(x**2 + 1)"),
    ]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    static, live = nb.cells[1].outputs
    assert static["output_type"] == "display_data"
    html = static["data"]["text/html"]
    assert "<svg" in html and "<title>n0</title>" in html and "dy/dx = -2.982" in html
    assert "dy/dx = -2.982" in static["data"]["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" not in static["data"]
    assert live["output_type"] == "execute_result"
    view = live["data"]["application/vnd.jupyter.widget-view+json"]
    assert live["data"]["text/plain"].startswith("<GradResult y=-0.1082")
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    model = state[view["model_id"]]["state"]  # saved for nbconvert
    assert f'data-ad-twin="{model["twin"]}"' in html and len(model["twin"]) == 32
    assert model["archive"]["reverse"][-1][3].endswith("= -2.982")  # every pass travels
    assert model["archive"]["forward:x"][-1][4] == "-2.982"
    assert any(m["model_name"] == "AnyModel" for m in state.values())  # saved for nbconvert


@pytest.mark.parametrize(
    ("value", "sent"),
    [("float('nan')", "NaN"), ("float('inf')", "Infinity"), ("-1e309", "-Infinity")],
)
def test_state_is_valid_json_for_nan_and_inf(shell, value, sent):
    w = GradWidget(trace(shell, f"x={value} w=2.0", "y = x * w"))
    state = {k: v for k, v in w.get_state().items() if not isinstance(v, bytes)}
    json.dumps(state, allow_nan=False)  # what the kernel's message packer demands
    assert w.inputs == [{"name": "x", "value": sent}, {"name": "w", "value": 2.0}]
    assert repr(float(sent)) == repr(w.result.tracer.inputs[0].data)  # and reads back


def test_a_nan_input_reaches_the_browser_in_a_kernel():
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext ad_magic"),
        nbformat.v4.new_code_cell("%%grad x=float('nan')\ny = x * 2"),
    ]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = nb.cells[1].outputs
    # The static copy and the widget; nothing on stderr.
    assert [o["output_type"] for o in outputs] == ["display_data", "execute_result"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    (model,) = [m["state"] for m in state.values() if m["model_name"] == "AnyModel"]
    assert model["inputs"] == [{"name": "x", "value": "NaN"}]


def edge_label(w, src, dst):
    """The label the browser shows on the drawn edge src -> dst."""
    assert re.search(rf'<g id="edge\d+"[^>]*>\s*<title>{src}&#45;&gt;{dst}</title>', w.svg)
    return w.edge_labels[f"{src}->{dst}#0"]


def test_a_live_input_runs_the_cell_once_and_relabels_the_edges(chapter, shell):
    w = chapter
    assert edge_label(w, "n0", "n2") == "3"  # d(x**2)/dx = 2x at 1.5
    shell.run_cell("runs = []")
    shell.run_cell("%%grad x=1.5\nruns.append(x.data)\na = x**2\nb = a + 1\ny = sin(b)")
    w = GradWidget(shell.user_ns["_grad"])
    runs = shell.user_ns["runs"]
    assert runs == [1.5]
    w.set_input("x", 2.0)
    assert runs == [1.5, 2.0]  # one more run, with the new value
    assert edge_label(w, "n0", "n2") == "4"  # the layout kept, its labels at x = 2
    assert edge_label(w, "n2", "n4") == "1" and edge_label(w, "n4", "n5") == f"{math.cos(5):.4g}"


def test_homework_survives_a_live_input(shell):
    g = trace(shell, "x=1.5 --quiz --check", "a = x**2\nb = a + 1\ny = sin(b)")
    w = GradWidget(g)
    g.quiz.answer(math.cos(3.25))  # grad(b), right
    assert (g.quiz.score, g.quiz.position) == (1, 1)
    w.set_input("x", 2.0)
    quiz = w.result.quiz
    assert quiz is not g.quiz and (quiz.score, quiz.position, quiz.total) == (1, 1, 3)
    assert quiz.current.step.value == pytest.approx(math.cos(5.0))  # grad(a), at the new x
    assert w.hidden and w.quiz["score"] == 1 and w.quiz["position"] == 1
    assert all(r["grad"] == "?" for r in w.rows())
    assert "?" in edge_label(w, "n0", "n2")  # local derivatives stay kept back
    assert w.result.check_table.ok() and w.result.check_table["x"].ad == w.result.grads["x"]
    quiz.answer(math.cos(5.0))  # the place goes on: the next question
    assert w.quiz["score"] == 2 and "quiz: score 2 of 3" in w.result.summary()


def test_expect_stays_concealed_after_a_live_input(shell):
    w = GradWidget(trace(shell, 'x=1.5 --expect "dy/dx=-2.98"', "y = sin(x**2 + 1)"))
    w.set_input("x", 1.0)
    (e,) = w.result.expectations
    assert not e.right and e.actual is None  # marked against the new numbers, not revealed
    assert w.hidden and all(r["grad"] == "?" for r in w.rows())
    assert "dy/dx = ?" in w.result.summary()


def test_closing_lets_go_of_the_widget_and_its_layout(chapter, shell):
    import ipywidgets

    w = chapter
    result = w.result
    shell.reset(new_session=False)  # _grad and Out[]: only the widget's reference is left
    shell.last_execution_result = None
    result.widget = w
    ids = {w.model_id, w.layout.model_id}
    assert ids <= set(ipywidgets.widgets.widget._instances)
    gone = weakref.ref(result.graph)
    gc.disable()  # what follows is freed by reference counting, not by the collector
    try:
        w.close()
        assert not ids & set(ipywidgets.widgets.widget._instances) and result.widget is None
        del result
        assert gone() is None  # the closed widget (a cycle itself) let go of the result
        w.close()  # again, as ipywidgets does when the widget is deleted: no error
    finally:
        gc.enable()


def test_names_with_control_characters_reach_the_browser_as_drawn(shell):
    """A label with a NUL shows as the box draws it (nul\\x00x), in the table and the node's
    accessible name too: no raw control character goes into the page's SVG."""
    cell = "from ad_magic import Value\nz = Value(-1.0, label='nul\\x00x')\ny = z * 2"
    g = traced(shell, "", cell)
    w = GradWidget(g)
    names = {r["id"]: (r["name"], r["title"]) for r in w.records}
    assert names["n0"] == ("nul\\x00x (z)", "nul\\x00x")
    assert not any("\x00" in str(v) for r in w.records for v in r.values())
    assert "\x00" not in w.svg


def test_a_node_marks_its_text_in_the_source_pane_past_non_ascii_names(shell):
    """Code columns count UTF-8 bytes; the browser slices the line in UTF-16 units."""
    cell = 's = "🙂"; αβ = x*2\ncafé = sin(αβ*x) + len(s)  # é 🙂'
    w = GradWidget(traced(shell, "x=0.5", cell))
    lines = w.source.splitlines()

    def js_slice(line: str, start: int, end: int) -> str:  # String.prototype.slice
        units = line.encode("utf-16-le")
        return units[2 * start : 2 * end].decode("utf-16-le")

    marked = {}
    for r in w.records:
        if r["line"] is not None and r["line"] == r["end_line"]:
            marked[r["id"]] = js_slice(lines[r["line"] - 1], r["col"], r["end_col"])
            assert marked[r["id"]] == w.result.graph[r["id"]].text
    assert {"x*2", "αβ*x", "sin(αβ*x)"} <= set(marked.values())
    w.close()
