"""The live %%grad widget driven in a real browser, and what it costs.

JupyterLab (and a smoke test in Notebook 7) in headless Chromium, each test on
a fresh server:

- the chapter's example: graph, stepping in the order of `_grad.steps()` with
  the narration, pending nodes, Forward's tangents, selection in graph, table
  and source, the live input slider and number box (same layout), Play/Pause;
  saves artifacts/widget_lab_chapter.png, and the README's docs/widget.png
  when AD_MAGIC_UPDATE_DOCS=1 (or it is missing);
- `--quiz`: derivatives kept back, a wrong answer with a hint, a right one
  that moves the prompt on; `--expect`: no derivative in graph, table or
  narration, at any step, in either mode;
- a micrograd-style MLP training step (~33,000 nodes): grouped graph, a group
  opens and closes, stepping;
- Notebook 7: graph visible, "Next step" moves the highlight.

Timings and websocket bytes are recorded (artifacts/timings.json), never
asserted: Run All to graph visible, cell done to graph visible, "Next step"
to the highlight moving, and the frames one step puts on the kernel's
websocket.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphs import MLP, TRAIN_STEP
from jupyter_harness import JupyterServer, NotebookPage, Stopwatch, record_timing
from playwright.sync_api import Locator, Page, WebSocket, expect

CHECKOUT = Path(__file__).parents[2]
SCREENSHOT = CHECKOUT / "docs" / "widget.png"
UPDATE_DOCS = os.environ.get("AD_MAGIC_UPDATE_DOCS") == "1"  # rewrite docs/widget.png

CHAPTER = "%%grad x=1.5\na = x**2\nb = a + 1\ny = sin(b)"
# The passes as the kernel has them, printed as JSON: [[node, equation], ...].
STEPS = (
    "import json\n"
    "print(json.dumps({'reverse': [[s.node, s.equation] for s in _grad.steps('reverse')],\n"
    "                  'forward': [[s.node, s.equation] for s in _grad.steps('forward', 'x')]}))"
)
# What the chapter's reverse pass must look like (graph n0 x, n1 2, n2 a, n3 1, n4 b, n5 y).
REVERSE = [
    ("n5", "grad(y) = 1"),
    ("n4", "grad(b) += cos(b) * grad(y) = cos(3.25) * 1 = -0.9941"),
    ("n2", "grad(a) += 1 * grad(b) = 1 * -0.9941 = -0.9941"),
    ("n0", "grad(x) += 2*x**(2-1) * grad(a) = 2*1.5**(2-1) * -0.9941 = -2.982"),
]
TANGENTS = {"n0": "d/dx 1", "n2": "d/dx 3", "n4": "d/dx 3", "n5": "d/dx -2.982"}


# -- looking at the widget ------------------------------------------------------
def node(widget: Locator, node_id: str) -> Locator:
    """Graph node `node_id` (its <title>)."""
    return widget.locator(f"svg g.node:has(> title:text-is('{node_id}'))")


def current(widget: Locator) -> Locator:
    """The <title> of the current step's node."""
    return widget.locator("svg g.node.ad-current > title")


def mode_line(widget: Locator, node_id: str, forward: bool = False) -> Locator:
    return node(widget, node_id).locator("text.tangent.seed-0" if forward else "text.grad")


def value_line(widget: Locator, node_id: str) -> Locator:
    return node(widget, node_id).locator("text", has_text="value ")


def positions(widget: Locator) -> dict[str, list[float]]:
    """Each graph node's box in SVG coordinates (zoom and scroll do not change it)."""
    return widget.evaluate(
        """el => Object.fromEntries([...el.querySelectorAll('svg g.node')].map(g => {
            const b = g.getBBox();
            return [g.querySelector('title').textContent, [b.x, b.y, b.width, b.height]];
        }))"""
    )


def press(watch: Stopwatch, control: Locator) -> float:
    """Click `control` from inside the page, the stopwatch started right before; the ms.

    Started and clicked in one go, so the figure is the widget's own reaction
    (handler, restyle, next frame), not the test driver's round trip.
    """
    control.evaluate(
        "el => { window.__adStart = performance.now(); window.__adCheck(); el.click(); }"
    )
    return watch.wait()


def narration_is(text: str) -> str:
    """A Stopwatch condition: the narration reads `text` (steps inside one group move no box)."""
    handle = json.dumps(text)
    return (
        "() => [...document.querySelectorAll('.ad-magic .ad-narration')]"
        f".some(e => e.textContent === {handle})"
    )


def current_is(node_id: str) -> str:
    return (
        "() => [...document.querySelectorAll('.ad-magic g.node.ad-current > title')]"
        f".some(t => t.textContent === {json.dumps(node_id)})"
    )


# -- the kernel's websocket ---------------------------------------------------------
@dataclass
class Frame:
    sent: bool
    size: int
    data: bytes

    def content(self) -> dict[str, Any]:
        """The Jupyter message's content: JSON, or the binary v1 protocol's last part."""
        if self.data[:1] == b"{":
            return dict(json.loads(self.data).get("content", {}))
        n = int.from_bytes(self.data[:8], "little")  # v1: n offsets, then the parts
        offsets = [int.from_bytes(self.data[8 * i : 8 * i + 8], "little") for i in range(1, n + 1)]
        # parts: channel, header, parent header, metadata, content, buffers...
        return dict(json.loads(self.data[offsets[4] : offsets[5] if n > 5 else None]))


@dataclass
class WireMeter:
    """Every frame on the page's kernel websockets, as Playwright reports them."""

    page: Page
    frames: list[Frame] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("websocket", self._socket)

    def _socket(self, ws: WebSocket) -> None:
        if "/api/kernels/" not in ws.url:
            return
        ws.on("framesent", lambda payload: self._add(True, payload))
        ws.on("framereceived", lambda payload: self._add(False, payload))

    def _add(self, sent: bool, payload: str | bytes) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.frames.append(Frame(sent, len(data), data))

    def mark(self) -> int:
        return len(self.frames)

    def since(self, mark: int, settle_ms: float = 400) -> list[Frame]:
        """The frames after `mark`, once the wire has been quiet for `settle_ms`."""
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < settle_ms / 1000:
            self.page.wait_for_timeout(50)  # lets Playwright deliver the events
            if len(self.frames) != seen:
                seen, quiet_since = len(self.frames), time.monotonic()
        return self.frames[mark:]


def record_step_bytes(test: str, frames: list[Frame]) -> dict[str, int]:
    """Record what one step put on the wire.

    Bytes sent and received (whole websocket frames: Jupyter's message headers,
    the widget's echo and the kernel's busy/idle included), and the widget's
    own part: the JSON of the sent comm messages' `data`.
    """
    sent = [f for f in frames if f.sent]
    state = [f.content().get("data") for f in sent]
    figures = {
        "step_frames": len(frames),
        "step_bytes_sent": sum(f.size for f in sent),
        "step_bytes_received": sum(f.size for f in frames if not f.sent),
        "step_widget_data_bytes": sum(len(json.dumps(d, separators=(",", ":"))) for d in state),
    }
    for what, n in figures.items():
        record_timing(test, what, n, "frames" if what == "step_frames" else "bytes")
    print(f"[wire] {test}: sent {state}")
    return figures


# -- milestones on the page's clock ------------------------------------------------------
def arm_milestones(page: Page, conditions: dict[str, str]) -> None:
    """Note performance.now() at the first frame each condition `() => bool` holds."""
    page.evaluate(
        """conds => {
            const w = window;
            w.__adMarks = {};
            const tests = Object.entries(conds).map(([k, c]) => [k, eval(c)]);
            const check = () => {
                for (const [k, holds] of tests) {
                    if (w.__adMarks[k] === undefined && holds()) {
                        w.__adMarks[k] = null;
                        requestAnimationFrame(() => { w.__adMarks[k] = performance.now(); });
                    }
                }
            };
            new MutationObserver(check).observe(document.body,
                {childList: true, subtree: true, attributes: true, characterData: true});
        }""",
        conditions,
    )


def milestones(page: Page, names: list[str]) -> dict[str, float]:
    page.wait_for_function(
        "names => names.every(n => typeof window.__adMarks[n] === 'number')", arg=names
    )
    return page.evaluate("() => window.__adMarks")


def cell_done(index: int) -> str:
    """Condition: code cell `index` (counting all cells) shows its execution count."""
    return (
        "() => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')"
        f"[{index}]; return /\\[\\d+\\]/.test("
        "c?.querySelector('.jp-InputArea-prompt')?.textContent || ''); }"
    )


GRAPH_VISIBLE = (
    "() => [...document.querySelectorAll('.ad-magic svg g.node')]"
    ".some(e => e.getBoundingClientRect().width > 0)"
)


def run_and_time(nb: NotebookPage, test: str, grad_cell: int) -> None:
    """Run All; record Run All -> graph visible, and the %%grad cell done -> graph visible."""
    watch = Stopwatch(nb.page, GRAPH_VISIBLE)
    arm_milestones(nb.page, {"cell_done": cell_done(grad_cell), "graph": GRAPH_VISIBLE})
    nb.run_all(stopwatch=watch)
    record_timing(test, "run_all_to_graph_visible", watch.wait())
    marks = milestones(nb.page, ["cell_done", "graph"])
    record_timing(test, "cell_done_to_graph_visible", marks["graph"] - marks["cell_done"])


# -- the tests ---------------------------------------------------------------------
def test_chapter_example_in_jupyterlab(jupyter_server: JupyterServer, lab: NotebookPage) -> None:
    test = "widget[lab] chapter"
    wire = WireMeter(lab.page)
    jupyter_server.write_notebook("chapter.ipynb", ["%load_ext ad_magic", CHAPTER, STEPS])
    lab.open("chapter.ipynb")
    run_and_time(lab, test, 1)
    w = lab.output(1).locator(".ad-magic")
    expect(w).to_be_visible()
    for i in range(6):
        expect(node(w, f"n{i}")).to_be_visible()
    first, next_ = (
        w.get_by_role("button", name=n, exact=True) for n in ("First step", "Next step")
    )
    narration, counter = w.locator(".ad-narration"), w.locator(".ad-counter")

    # The order is the kernel's: output first, then each step's receiving node.
    kernel = json.loads(lab.output(2).inner_text())
    assert [tuple(s) for s in kernel["reverse"]] == REVERSE

    # Stepping: the highlight follows the pass, done nodes show their gradient, others a dot.
    first.click()
    for k, (node_id, equation) in enumerate(REVERSE):
        if k:
            next_.click()
        expect(current(w)).to_have_text(node_id)
        expect(current(w)).to_have_count(1)
        expect(narration).to_have_text(equation)
        expect(counter).to_have_text(f"step {k + 1} of 4")
        done = {n for n, _ in REVERSE[: k + 1]}
        expect(mode_line(w, node_id)).to_have_text(f"grad {equation.rsplit(' = ', 1)[1]}")
        for later, _ in REVERSE[k + 1 :]:
            assert later not in done
            expect(mode_line(w, later)).to_have_text("grad ·")
        # The source's comments follow the step too: a (line 1, n2) is reached third.
        a_note = "a = 2.25, grad " + ("-0.9941" if "n2" in done else "·")
        expect(w.locator(".ad-line[data-line='1'] .ad-note")).to_have_text(f"   # {a_note}")
        if k:  # the edge from this node into the one it received from is highlighted
            expect(w.locator("svg g.edge.ad-edge-current")).to_have_count(1)
    next_.click()  # past the end: stays on the last step
    expect(counter).to_have_text("step 4 of 4")

    # Back to step 2 for the picture: b's rule, and x**2 selected.
    w.get_by_role("button", name="Previous step", exact=True).click()
    w.get_by_role("button", name="Previous step", exact=True).click()
    expect(current(w)).to_have_text("n4")

    # Selecting a node: graph, table row and the source's sub-expression.
    node(w, "n2").click()
    expect(w.locator("svg g.node.ad-selected > title")).to_have_text("n2")
    expect(w.locator("tr.ad-selected")).to_have_attribute("data-node", "n2")
    expect(w.locator("mark.ad-span")).to_have_text("x**2")
    expect(current(w)).to_have_text("n4")  # selecting does not step
    w.scroll_into_view_if_needed()
    shot = lab.screenshot("widget_lab_chapter", w)
    if UPDATE_DOCS or not SCREENSHOT.exists():  # the README's picture, a committed file
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

    # A row click selects in the graph too.
    w.locator("tr[data-node='n4']").click()
    expect(w.locator("svg g.node.ad-selected > title")).to_have_text("n4")
    expect(w.locator("mark.ad-span")).to_have_text("a + 1")

    # Performance: "Next step" to the highlight moving (median of the pass's three),
    # and the frames of one step.
    first.click()
    expect(current(w)).to_have_text("n5")
    wire.since(wire.mark())  # the wire quiet before the step
    mark = wire.mark()
    times = [press(Stopwatch(lab.page, current_is("n4")), next_)]
    record_step_bytes(test, wire.since(mark))
    expect(narration).to_have_text(REVERSE[1][1])
    for node_id, _ in REVERSE[2:]:
        times.append(press(Stopwatch(lab.page, current_is(node_id)), next_))
    record_timing(test, "next_step_to_highlight", statistics.median(times))
    first.click()
    next_.click()
    expect(current(w)).to_have_text("n4")

    # Forward: tangents on the same layout.
    layout = positions(w)
    w.get_by_role("button", name="Forward", exact=True).click()
    expect(w.get_by_role("button", name="Forward", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    for node_id, label in TANGENTS.items():
        expect(mode_line(w, node_id, forward=True)).to_have_text(label)
        expect(mode_line(w, node_id, forward=True)).to_be_visible()
    expect(mode_line(w, "n0")).to_be_hidden()  # the gradient lines step aside
    first.click()
    expect(current(w)).to_have_text("n0")  # forward starts at the input
    expect(narration).to_have_text("tangent(x) = 1  (the seed)")
    next_.click()
    expect(current(w)).to_have_text("n2")
    expect(narration).to_have_text(kernel["forward"][1][1])
    expect(mode_line(w, "n4", forward=True)).to_have_text("d/dx ·")
    assert positions(w) == layout
    w.get_by_role("button", name="Reverse", exact=True).click()
    expect(mode_line(w, "n0")).to_have_text("grad -2.982")

    # Live input: drag the slider, then type a value; numbers change, the layout stays.
    svg = w.locator("svg").first.element_handle()
    slider = w.get_by_role("slider", name="x", exact=True)
    slider.scroll_into_view_if_needed()  # below a graph drawn top to bottom
    box = slider.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    lab.page.mouse.move(box["x"] + box["width"] / 2, y)
    lab.page.mouse.down()
    lab.page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=3)
    expect(value_line(w, "n0")).not_to_have_text("value 1.5")  # re-traced mid-drag
    lab.page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=3)  # the drag goes on
    lab.page.mouse.up()
    lo, hi = (float(slider.get_attribute(a) or "nan") for a in ("min", "max"))
    expect(slider).to_have_value(re.compile(r"[\d.]+"))
    dragged = float(slider.input_value())
    assert abs(dragged - (lo + 0.8 * (hi - lo))) < 0.1 * (hi - lo), (lo, dragged, hi)
    expect(value_line(w, "n0")).to_have_text(f"value {dragged:.4g}")
    expect(mode_line(w, "n0")).to_have_text(f"grad {2 * dragged * math.cos(dragged**2 + 1):.4g}")
    number = w.get_by_role("spinbutton", name="x value")
    number.fill("2")
    number.press("Enter")
    expect(value_line(w, "n0")).to_have_text("value 2")
    expect(value_line(w, "n2")).to_have_text("value 4")
    edge = w.locator("svg g.edge:has(> title:text-is('n0->n2')) text")
    expect(edge).to_have_text("4")  # the local derivative 2x, on the same layout
    expect(mode_line(w, "n0")).to_have_text(f"grad {4 * math.cos(5):.4g}")  # 2x cos(x**2 + 1)
    expect(w.locator("tr[data-node='n5'] td").nth(3)).to_have_text(f"{math.sin(5):.4g}")
    assert positions(w) == layout
    assert svg.evaluate("s => s.isConnected"), "the SVG was redrawn for a same-shape re-trace"
    first.click()
    next_.click()
    expect(narration).to_have_text(f"grad(b) += cos(b) * grad(y) = cos(5) * 1 = {math.cos(5):.4g}")
    lab.page.wait_for_timeout(500)  # no second re-trace (the box's change on blur) resets it
    expect(counter).to_have_text("step 2 of 4")

    # Play advances on its own, and pauses.
    w.get_by_role("combobox", name="Speed").select_option("1x")
    play = w.get_by_role("button", name="Play", exact=True)
    first.click()
    play.click()
    expect(play).to_have_text("Pause")
    expect(counter).to_have_text("step 2 of 4", timeout=5000)
    play.click()
    expect(play).to_have_text("Play")
    paused = counter.text_content()
    lab.page.wait_for_timeout(1200)  # more than a tick at 1x
    assert counter.text_content() == paused
    lab.assert_no_page_errors()


def test_quiz_and_expect_in_jupyterlab(jupyter_server: JupyterServer, lab: NotebookPage) -> None:
    jupyter_server.write_notebook(
        "quiz.ipynb",
        [
            "%load_ext ad_magic",
            CHAPTER.replace("x=1.5", "x=1.5 --quiz"),
            CHAPTER.replace("x=1.5", 'x=1.5 --expect "dy/dx=1"'),
        ],
    )
    lab.open("quiz.ipynb")
    lab.run_all()
    w = lab.output(1).locator(".ad-magic")
    expect(w).to_be_visible()
    prompt, feedback = w.locator(".ad-prompt"), w.locator(".ad-feedback")
    expect(prompt).to_contain_text("grad(b) = ?")
    expect(current(w)).to_have_text("n4")
    for node_id in ("n4", "n2", "n0"):  # kept back
        expect(mode_line(w, node_id)).to_have_text("grad ·")
    expect(w.locator(".ad-table")).not_to_contain_text("-0.9941")
    expect(w.locator(".ad-table")).not_to_contain_text("-2.982")
    expect(w).not_to_contain_text("-2.982")
    for name in ("Next step", "Last step", "Forward"):  # the pass waits for the student
        expect(w.get_by_role("button", name=name, exact=True)).to_be_disabled()

    answer = w.get_by_role("textbox", name="Answer")
    check = w.get_by_role("button", name="Check answer")
    answer.fill("0.5")
    check.click()
    expect(feedback.locator(".ad-wrong")).to_be_visible()
    expect(feedback.locator(".ad-hint")).to_contain_text("cos")
    expect(prompt).to_contain_text("grad(b) = ?")  # one more try
    expect(mode_line(w, "n4")).to_have_text("grad ·")

    answer.fill("-0.9941")
    answer.press("Enter")
    expect(feedback.locator(".ad-right")).to_be_visible()
    expect(prompt).to_contain_text("grad(a) = ?")
    expect(current(w)).to_have_text("n2")
    expect(mode_line(w, "n4")).to_have_text("grad -0.9941")
    expect(mode_line(w, "n0")).to_have_text("grad ·")
    lab.screenshot("widget_lab_quiz", w)

    # --expect: no derivative shows anywhere, in either mode or at any step.
    e = lab.output(2).locator(".ad-magic")
    expect(e).to_be_visible()
    expect(mode_line(e, "n0")).to_have_text("grad ?")
    expect(e.locator(".ad-counter")).to_have_text("done — 4 steps")
    e.get_by_role("button", name="Last step", exact=True).click()
    expect(e.locator(".ad-counter")).to_have_text("step 4 of 4")
    expect(e.locator(".ad-narration")).to_have_text("grad(x) += 2*x**(2-1) * grad(a) = ?")
    e.get_by_role("button", name="First step", exact=True).click()
    e.get_by_role("button", name="Next step", exact=True).click()
    expect(current(e)).to_have_text("n4")
    expect(e.locator(".ad-narration")).to_have_text("grad(b) += cos(b) * grad(y) = ?")
    e.get_by_role("button", name="Forward", exact=True).click()
    expect(mode_line(e, "n5", forward=True)).to_have_text("d/dx ?")
    expect(e).not_to_contain_text("-2.982")  # dy/dx (edges keep their local partials)
    lab.assert_no_page_errors()


def test_large_grouped_graph_in_jupyterlab(
    jupyter_server: JupyterServer, lab: NotebookPage
) -> None:
    test = "widget[lab] mlp"
    wire = WireMeter(lab.page)
    info = (
        "import json\n"
        "level = step.widget.view.level()  # the pass as the widget steps it: groups are one\n"
        "print(json.dumps([len(step.graph),\n"
        "                  [s.equation for s in step.steps('reverse', level=level)[:5]],\n"
        "                  len(step.widget.view.units()), len(step.widget.expanded)]))"
    )
    # A loaded machine may take Graphviz past its 5 s bound (then the widget shows the
    # text summary instead): this test is about the grouped display, not that bound.
    setup = "from ad_magic import render\nrender.config.timeout = 120\n" + MLP
    jupyter_server.write_notebook("mlp.ipynb", ["%load_ext ad_magic", setup, TRAIN_STEP, info])
    lab.open("mlp.ipynb")
    run_and_time(lab, test, 2)
    n_nodes, equations, boxes, open_groups = json.loads(lab.output(3).inner_text())
    assert 25_000 < n_nodes < 40_000
    second = equations[1]
    print(f"\n[mlp] {n_nodes} nodes")
    w = lab.output(2).locator(".ad-magic")
    expect(w).to_be_visible()
    nodes = w.locator("svg g.node")
    # The boxes the kernel drew, waited for (a count read at once may meet a re-render).
    expect(nodes).to_have_count(boxes)
    assert 4 <= boxes <= 30, boxes  # grouped: a few boxes stand for 30,000 nodes
    groups = w.locator("svg g.node:has(> title:text-matches('^g'))")
    assert groups.count() > 0

    # Stepping: the narration follows the kernel's pass (often inside one group's box).
    counter, narration = w.locator(".ad-counter"), w.locator(".ad-narration")
    w.get_by_role("button", name="First step", exact=True).click()
    expect(counter).to_contain_text("step 1 of ")
    expect(current(w)).to_have_count(1)
    wire.since(wire.mark())
    mark = wire.mark()
    next_ = w.get_by_role("button", name="Next step", exact=True)
    times = [press(Stopwatch(lab.page, narration_is(second)), next_)]
    record_step_bytes(test, wire.since(mark))
    expect(counter).to_contain_text("step 2 of ")
    expect(current(w)).to_have_count(1)
    for equation in equations[2:]:
        times.append(press(Stopwatch(lab.page, narration_is(equation)), next_))
    record_timing(test, "next_step_to_highlight", statistics.median(times))
    expect(counter).to_contain_text(f"step {len(equations)} of ")

    # A group opens on click (more boxes, one more "Close ..." button) and closes again.
    closers = w.get_by_role("button", name="Close ")
    expect(closers).to_have_count(open_groups)  # the view opens a few groups by itself
    before = closers.all_text_contents()
    group = groups.first
    group.click()
    expect(closers).to_have_count(len(before) + 1, timeout=30_000)
    expect(nodes).not_to_have_count(boxes)
    opened = nodes.count()
    assert opened > boxes, (opened, boxes)
    record_timing(test, "boxes_closed_open", boxes, "boxes")
    record_timing(test, "boxes_one_more_open", opened, "boxes")
    lab.screenshot("widget_lab_mlp_open", w)
    new = [c for c in closers.all() if c.text_content() not in before]
    assert len(new) == 1
    new[0].click()
    expect(closers).to_have_count(len(before), timeout=30_000)
    expect(nodes).to_have_count(boxes)
    # Stepping still works on the new layout.
    w.get_by_role("button", name="First step", exact=True).click()
    w.get_by_role("button", name="Next step", exact=True).click()
    expect(counter).to_contain_text("step 2 of ")
    expect(narration).to_have_text(second)
    expect(current(w)).to_have_count(1)
    lab.assert_no_page_errors()


def test_notebook7_smoke(jupyter_server: JupyterServer, nb7: NotebookPage) -> None:
    jupyter_server.write_notebook("chapter.ipynb", ["%load_ext ad_magic", CHAPTER])
    nb7.open("chapter.ipynb")
    run_and_time(nb7, "widget[nb7] chapter", 1)
    w = nb7.output(1).locator(".ad-magic")
    expect(w).to_be_visible()
    for i in range(6):
        expect(node(w, f"n{i}")).to_be_visible()
    w.get_by_role("button", name="First step", exact=True).click()
    expect(current(w)).to_have_text("n5")
    for node_id, equation in REVERSE[1:]:
        w.get_by_role("button", name="Next step", exact=True).click()
        expect(current(w)).to_have_text(node_id)
        expect(w.locator(".ad-narration")).to_have_text(equation)
    nb7.screenshot("widget_nb7_chapter", w)
    nb7.assert_no_page_errors()
