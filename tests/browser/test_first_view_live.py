"""The first view of small and medium graphs, narrow and wide, in a real browser.

For the chapter's `y = sin(x**2 + 1)`, the micrograd lecture's neuron
(`o = n.tanh()` on the lecture's own Value class), a 2-input 1-neuron `%%grad`
cell with named lines and a 40-node cell (drawn grouped by line), in JupyterLab
and Notebook 7, light and dark, with the page 720 and 1280 px wide: at the
default zoom every drawn box lies inside the widget's viewport, the viewport
inside the window and the output area not scrolled (Notebook 7 scrolls tall
outputs), the output box in view, and box text at least 12 px high. Then, in JupyterLab, the
first view follows the widget's width (the page made narrower and wider again,
the file browser opened beside the notebook) until the user zooms, and after
that it stays as the user left it.

Screenshots of every widget: artifacts/first_view_<front end>_<theme>_<width>_<graph>.png.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jupyter_harness import JupyterServer, NotebookPage
from lecture import NEURON, lecture_value
from playwright.sync_api import Locator, expect

CHAPTER = "%%grad x=1.5\ny = sin(x**2 + 1)"
LECTURE = lecture_value(None) + NEURON + "o = n.tanh(); o.label = 'o'\no.backward()"
NEURON_CELL = (
    "%%grad x1=2.0 x2=0.0 w1=-3.0 w2=1.0 b=6.8813735870195432\n"
    "x1w1 = x1*w1\n"
    "x2w2 = x2*w2\n"
    "n = x1w1 + x2w2 + b\n"
    "o = tanh(n)"
)
# Three hidden units and a squared error: 40 nodes, 18 of them constants.
MEDIUM = (
    "%%grad x1=0.5 x2=-1.0\n"
    "h1 = tanh(0.3*x1 - 0.2*x2 + 0.1)\n"
    "h2 = tanh(-0.5*x1 + 0.4*x2 - 0.3)\n"
    "h3 = tanh(0.7*x1 + 0.1*x2 + 0.2)\n"
    "y = 0.6*h1 - 0.8*h2 + 0.5*h3 + 0.05\n"
    "loss = (y - 1)**2"
)
CELLS = ["%load_ext ad_magic", CHAPTER, LECTURE, "%grad o", NEURON_CELL, MEDIUM]
GRAPHS = {"chapter": 1, "lecture": 3, "neuron": 4, "medium": 5}  # name -> cell
NODES = {"chapter": 6, "lecture": 10, "neuron": 10, "medium": 40}
BOXES = 30  # render.config.boxes: a first view of more nodes is grouped by line
WIDTHS = (720, 1280)
HEIGHT = 900
LEGIBLE = 12.0 - 0.01  # px: the least box text height at the default zoom (a constant's)

# What a first view shows, measured on the page: the viewport, the boxes and
# their text. Sizes in CSS pixels.
MEASURE = """el => {
    const v = el.querySelector('.ad-viewport').getBoundingClientRect();
    const inside = r => r.left >= v.left - 1 && r.right <= v.right + 1
        && r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
    const boxes = [...el.querySelectorAll('svg g.node')];
    const out = boxes.filter(g => !inside(g.getBoundingClientRect()))
        .map(g => g.querySelector('title').textContent);
    const texts = [...el.querySelectorAll('svg g.node text')]
        .filter(t => getComputedStyle(t).display !== 'none');
    const sizes = texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
    const output = el.querySelector('svg g.node.output');
    const svg = el.querySelector('svg');
    const area = el.closest('.jp-OutputArea');
    return {
        cropped: area.closest('.jp-mod-outputsScrolled') !== null
            || area.scrollHeight > area.clientHeight + 1,
        height: Math.round(el.getBoundingClientRect().height),
        boxes: boxes.length, outside: out, text: Math.min(...sizes),
        output: Boolean(output) && inside(output.getBoundingClientRect()),
        viewport: [Math.round(v.width), Math.round(v.height)],
        window: [innerWidth, innerHeight],
        direction: svg.classList.contains('ad-tb') ? 'TB' : 'LR',
        rows: svg.querySelectorAll('g.cluster').length,
        svg: [Math.round(svg.getBoundingClientRect().width),
              Math.round(svg.getBoundingClientRect().height)],
    };
}"""
# Settled: the same layout and the same measurements twice, 300 ms apart.
SETTLED = """async el => {
    const snap = () => JSON.stringify([el.querySelector('svg')?.outerHTML.length,
        el.querySelector('.ad-viewport').getBoundingClientRect().toJSON(),
        el.querySelector('.ad-canvas').style.transform]);
    const a = snap();
    await new Promise(r => setTimeout(r, 300));
    return a === snap();
}"""


def settle(w: Locator) -> None:
    """Wait until the widget stops changing (the kernel may lay the graph out again)."""
    for _ in range(40):
        if w.evaluate(SETTLED):
            return
    raise AssertionError("the widget's view kept changing")


def measure(w: Locator) -> dict[str, Any]:
    found: dict[str, Any] = w.evaluate(MEASURE)
    return found


def check_first_view(w: Locator, where: str, nodes: int) -> dict[str, Any]:
    """Every box, the output among them, inside the viewport, at a legible size; the
    viewport no taller than the window. A graph of more than BOXES nodes shows fewer
    boxes (its lines grouped), each node's box otherwise."""
    settle(w)
    m = measure(w)
    for _ in range(30):  # a loaded kernel may take a while to lay the graph out again
        if not m["outside"] and m["text"] >= LEGIBLE:
            break
        w.page.wait_for_timeout(500)
        settle(w)
        m = measure(w)
    print(where, json.dumps(m))  # shown with -s: the numbers behind the report
    assert m["boxes"] == nodes or nodes > BOXES >= m["boxes"], (where, m)
    assert not m["outside"], (where, m)
    assert m["output"], (where, m)
    assert m["text"] >= LEGIBLE, (where, m)
    assert m["viewport"][1] <= m["window"][1], (where, m)
    assert not m["cropped"], (where, m)  # Notebook 7 scrolls an output taller than 1,820 px
    return m


def file_browser(lab: NotebookPage, shown: bool) -> None:
    """Open or close JupyterLab's file browser beside the notebook."""
    panel = lab.page.locator("#filebrowser")
    if panel.is_visible() != shown:
        lab.page.locator(".jp-SideBar [data-id='filebrowser']").click()
    expect(panel).to_be_visible() if shown else expect(panel).to_be_hidden()


def widgets(nb: NotebookPage) -> dict[str, Locator]:
    found = {name: nb.output(cell).locator(".ad-magic") for name, cell in GRAPHS.items()}
    for w in found.values():
        expect(w.locator("svg g.node").first).to_be_attached()
    return found


def shoot(nb: NotebookPage, name: str, w: Locator) -> None:
    """A screenshot of the whole widget: the page made taller than it for the shot (the
    notebook scrolls inside the page, so a shot of a taller widget would be cut)."""
    size = nb.page.viewport_size or {"width": 1280, "height": HEIGHT}
    tall = int(w.evaluate("el => el.getBoundingClientRect().height")) + 400
    nb.page.set_viewport_size({"width": size["width"], "height": max(size["height"], tall)})
    w.scroll_into_view_if_needed()
    nb.screenshot(name, w)
    nb.page.set_viewport_size(size)


def check_page(nb: NotebookPage, theme: str) -> None:
    """Each graph's first view at each width (the page resized, nothing zoomed)."""
    failed = []
    for width in WIDTHS:
        nb.page.set_viewport_size({"width": width, "height": HEIGHT})
        for name, w in widgets(nb).items():
            w.scroll_into_view_if_needed()
            try:
                where = f"{nb.flavor} {theme} {width} {name}"
                check_first_view(w, where, NODES[name])
            except AssertionError as err:
                failed.append(str(err))
            shoot(nb, f"first_view_{nb.flavor}_{theme}_{width}_{name}", w)
    # The finished pass: each input's box and table row read its gradient, the
    # Jacobian's entry (also when groups between it and the output are collapsed).
    for w in widgets(nb).values():
        for cell in w.locator(".ad-j-matrix td[data-col]").all():
            col, value = cell.get_attribute("data-col"), cell.inner_text()
            row = w.locator(f".ad-table tr:has(td:nth-child(2):text-is('{col}'))")
            node = row.locator("td").first.inner_text()
            expect(row.locator("td").nth(4)).to_have_text(value)
            box = w.locator(f"svg g.node:has(title:text-is('{node}')) text.grad")
            expect(box).to_have_text(f"grad {value}")
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("flavor", ["lab", "notebook"])
def test_small_graphs_show_whole_and_legible(
    jupyter_server: JupyterServer, flavor: str, request: pytest.FixtureRequest
) -> None:
    nb: NotebookPage = request.getfixturevalue("lab" if flavor == "lab" else "nb7")
    jupyter_server.write_notebook("first.ipynb", CELLS)
    nb.page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    nb.open("first.ipynb")
    if flavor == "lab":  # the notebook the whole page wide, as Notebook 7 has it
        file_browser(nb, shown=False)
    nb.run_all()
    check_page(nb, "light")
    nb.assert_no_page_errors()

    jupyter_server.set_theme("JupyterLab Dark")
    nb.open("first.ipynb")
    if flavor == "lab":
        file_browser(nb, shown=False)
    nb.run_all()
    expect(nb.page.locator("body[data-jp-theme-light='false']")).to_have_count(1)
    check_page(nb, "dark")
    nb.assert_no_page_errors()


def test_the_first_view_follows_the_width_until_the_user_zooms(
    jupyter_server: JupyterServer, lab: NotebookPage
) -> None:
    jupyter_server.write_notebook("first.ipynb", CELLS)
    lab.page.set_viewport_size({"width": 1280, "height": HEIGHT})
    lab.open("first.ipynb")
    file_browser(lab, shown=False)
    lab.run_all()
    w = widgets(lab)["chapter"]
    w.scroll_into_view_if_needed()
    wide = check_first_view(w, "lab 1280", 6)
    assert wide["direction"] == "LR" and not wide["rows"], wide  # one row fits
    layout = ("direction", "rows", "svg")

    lab.page.set_viewport_size({"width": 720, "height": HEIGHT})
    narrow = check_first_view(w, "lab 720", 6)
    assert narrow["svg"][0] < narrow["viewport"][0] < wide["svg"][0], (narrow, wide)
    lab.page.set_viewport_size({"width": 1280, "height": HEIGHT})
    again = check_first_view(w, "lab 1280 again", 6)
    assert [again[k] for k in layout] == [wide[k] for k in layout], (again, wide)

    # The file browser opened beside the notebook: the widget is narrower (the Jacobian
    # panel goes under the graph, which keeps its width).
    widget_width = "el => el.getBoundingClientRect().width"
    before = w.evaluate(widget_width)
    file_browser(lab, shown=True)
    check_first_view(w, "lab 1280 file browser", 6)
    assert w.evaluate(widget_width) < before
    # At 720 px with the file browser open the notebook leaves the graph 352 px: too
    # little for the lecture's neuron at 12 px (top to bottom and narrowed to the width it
    # is 328 x 818 px, in a room 632 px high). It opens at 1:1 with the output in view,
    # laid out for that width, not as a tiny picture.
    lab.page.set_viewport_size({"width": 720, "height": HEIGHT})
    lecture = widgets(lab)["lecture"]
    lecture.scroll_into_view_if_needed()
    settle(lecture)
    m = measure(lecture)
    assert m["viewport"][0] < 400 and m["output"] and m["text"] >= LEGIBLE, m
    # (laid out for about that width: 328-364 px, as the room the kernel was told settles)
    assert m["direction"] == "TB" and m["svg"][0] <= 1.1 * m["viewport"][0], m
    shoot(lab, "first_view_lab_720_file_browser_lecture", lecture)
    lab.page.set_viewport_size({"width": 1280, "height": HEIGHT})
    w.scroll_into_view_if_needed()
    shoot(lab, "first_view_lab_side_panel", w)
    file_browser(lab, shown=False)
    closed = check_first_view(w, "lab 1280 file browser closed", 6)
    assert [closed[k] for k in layout] == [wide[k] for k in layout], (closed, wide)

    # Zoomed in by the user: a narrower page (which laid it out anew above) keeps the
    # user's layout and zoom.
    w.get_by_role("button", name="Zoom in").click()
    zoomed = w.locator(".ad-canvas").evaluate("c => c.style.transform")
    assert "scale(1.25)" in zoomed, zoomed
    lab.page.set_viewport_size({"width": 720, "height": HEIGHT})
    settle(w)
    kept = measure(w)
    assert w.locator(".ad-canvas").evaluate("c => c.style.transform") == zoomed
    assert [kept[k] for k in layout[:2]] == [wide[k] for k in layout[:2]], (kept, wide)
    lab.assert_no_page_errors()
