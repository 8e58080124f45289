"""Reading and finding your way in large graphs, in a real browser.

On the three graphs of tests/graphs.py (a 48-node formula, a 1,500-node chain,
a ~33,000-node MLP training step), in JupyterLab and Notebook 7:

- the first view: the output node inside the viewport, box text at least 12 px
  at the default zoom, at most 30 boxes; Fit puts the whole graph in view;
- the pass stepped at the level drawn (a collapsed group is one step), the
  counter counting those steps, "done — N steps" told apart from the last step;
- the formula drawn by its terms: opening one in place, its close chip closing it;
- opening a group (breadcrumb, close control, more steps), search by id or name
  (the node is opened, selected and in view), the breadcrumb back to the top;
- keyboard: ←/→/Home/End step, the current node stays in view with
  aria-current="step", and the notebook's own shortcuts (b, d d) do nothing;
- text contrast, computed from the rendered colours, at least 4.5:1 in the light
  and the dark theme; current and selected stay apart on one node;
- the table's fixed columns, with a long name cut short and shown in full.

Timings are recorded in artifacts/timings.json, never asserted: the graph
visible after the cell finished, a group opening, a step, a slider move to the
updated values (beyond the 150 ms debounce). Screenshots go to artifacts/.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphs import CHAIN, FORMULA, MLP, TRAIN_STEP
from jupyter_harness import JupyterServer, NotebookPage, Stopwatch, record_timing
from playwright.sync_api import Locator, Page, expect
from test_widget_live import (
    current,
    press,
    run_and_time,
)

DEBOUNCE = 150  # ms: widget.js waits this long after a slider move before re-tracing
BOXES = "document.querySelectorAll('.ad-magic svg g.node').length"
COLUMN_WIDTHS = "el => [...el.querySelectorAll('.ad-table th')].map(th => th.offsetWidth)"


def counter_is(text: str) -> str:
    return (
        "() => [...document.querySelectorAll('.ad-magic .ad-counter')]"
        f".some(e => e.textContent === {json.dumps(text)})"
    )


# -- measuring the page -------------------------------------------------------------
def inside_viewport(w: Locator, selector: str) -> bool:
    """Whether the first element matching `selector` lies inside the graph's viewport."""
    return bool(
        w.evaluate(
            """(el, sel) => {
                const v = el.querySelector('.ad-viewport').getBoundingClientRect();
                const n = el.querySelector(sel);
                if (!n) return false;
                const r = n.getBoundingClientRect();
                return r.width > 0 && r.left >= v.left - 1 && r.right <= v.right + 1
                    && r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
            }""",
            selector,
        )
    )


def wait_fitted(w: Locator) -> None:
    """Wait until the whole graph (its <svg>) lies inside the viewport."""
    w.page.wait_for_function(
        """el => {
            const v = el.querySelector('.ad-viewport').getBoundingClientRect();
            const r = el.querySelector('svg')?.getBoundingClientRect();
            return r && r.width > 0 && r.left >= v.left - 1 && r.right <= v.right + 1
                && r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
        }""",
        arg=w.element_handle(),
    )


def smallest_box_text(w: Locator) -> float:
    """The smallest rendered font size, in CSS pixels, of the text in the graph's boxes."""
    return float(
        w.evaluate(
            """el => Math.min(...[...el.querySelectorAll('svg g.node text')]
                .filter(t => getComputedStyle(t).display !== 'none')
                .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""
        )
    )


# Every visible text in the widget with its colour and the colour behind it:
# for SVG text inside a box, the box's fill; elsewhere the first opaque
# background up the tree (the page's, at the end).
CONTRAST = """el => {
    const rgb = s => { const m = s.match(/[\\d.]+/g); return m ? m.map(Number) : null; };
    const opaque = c => c && (c.length < 4 || c[3] > 0.5);
    const lum = ([r, g, b]) => {
        const f = c => {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const ratio = (a, b) => {
        const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05);
    };
    const behind = node => {
        for (let e = node; e; e = e.parentElement) {
            if (e instanceof SVGElement && e.matches('g.node')) {
                const shape = e.querySelector(':scope > path, :scope > polygon, :scope > ellipse');
                const fill = rgb(getComputedStyle(shape).fill);
                if (opaque(fill)) return fill;
            }
            const bg = rgb(getComputedStyle(e).backgroundColor);
            if (opaque(bg)) return bg;
        }
        return [255, 255, 255];
    };
    const out = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        const e = t.parentElement;
        if (!t.textContent.trim() || !e) continue;
        const r = e.getBoundingClientRect();
        const style = getComputedStyle(e);
        if (!r.width || style.visibility === 'hidden') continue;
        if (e.closest('[hidden], [display="none"], .ad-announce, option')) continue;
        if (e.closest('button:disabled, input:disabled, select:disabled')) continue;
        const fg = rgb(e instanceof SVGElement ? style.fill : style.color);
        let bg = behind(e);
        // A half-transparent colour blends with what is behind it.
        const a = fg.length > 3 ? fg[3] : 1;
        const fgc = fg.slice(0, 3).map((c, i) => c * a + bg[i] * (1 - a));
        out.push({text: t.textContent.trim().slice(0, 40), ratio: ratio(fgc, bg), fg: fgc, bg});
    }
    return out;
}"""


def low_contrast(w: Locator) -> list[dict[str, Any]]:
    found = w.evaluate(CONTRAST)
    assert len(found) > 20, found  # the check saw the widget's text
    return [f for f in found if f["ratio"] < 4.5]


def press_box(watch: Stopwatch, box: Locator) -> float:
    """Click a graph box from inside the page, the stopwatch started right before; the ms."""
    box.evaluate(
        "g => { window.__adStart = performance.now(); window.__adCheck();"
        " g.dispatchEvent(new MouseEvent('click', {bubbles: true})); }"
    )
    return watch.wait()


def in_view(w: Locator) -> list[str]:
    """The ids of the graph's boxes that lie inside the viewport."""
    return list(
        w.evaluate(
            """el => {
                const v = el.querySelector('.ad-viewport').getBoundingClientRect();
                return [...el.querySelectorAll('svg g.node')].filter(g => {
                    const r = g.getBoundingClientRect();
                    return r.left >= v.left && r.right <= v.right
                        && r.top >= v.top && r.bottom <= v.bottom;
                }).map(g => g.querySelector('title').textContent);
            }"""
        )
    )


def classes(node: Locator) -> str:
    return node.get_attribute("class") or ""


def cells(nb: NotebookPage) -> int:
    return nb.page.locator(".jp-Notebook .jp-Cell").count()


def open_widget(nb: NotebookPage, test: str, grad_cell: int) -> Locator:
    """Run All; record cell done -> graph visible; the widget of cell `grad_cell`.

    The page is made tall enough for the whole widget to show in a screenshot.
    """
    width = nb.page.viewport_size["width"] if nb.page.viewport_size else 1280
    nb.page.set_viewport_size({"width": width, "height": 1400})
    run_and_time(nb, test, grad_cell)
    w = nb.output(grad_cell).locator(".ad-magic")
    expect(w).to_be_visible()
    w.scroll_into_view_if_needed()
    return w


def level_count(w: Locator) -> int:
    """N of the counter's "done — N steps" or "step k of N"."""
    text = w.locator(".ad-counter").inner_text()
    return int(text.split()[-2] if text.startswith("done") else text.split()[-1])


def first_view(w: Locator, most: int = 30) -> int:
    """The first view's checks: output in view, readable text, few boxes; the box count."""
    boxes = w.locator("svg g.node").count()
    assert 2 <= boxes <= most, boxes
    assert inside_viewport(w, "svg g.node.output"), "the output is not in view"
    size = smallest_box_text(w)
    assert round(size, 2) >= 12, size
    expect(w.locator(".ad-counter")).to_have_text(f"done — {level_count(w)} steps")
    return boxes


def fits(w: Locator) -> None:
    w.get_by_role("button", name="Fit", exact=True).click()
    assert inside_viewport(w, "svg"), "Fit did not fit the graph"


def step_by_keys(nb: NotebookPage, w: Locator, keys: int) -> None:
    """Focus a graph node; Home then → a few times: the counter, aria-current, the view."""
    n = level_count(w)
    w.locator("svg g.node").first.focus()
    nb.page.keyboard.press("Home")
    expect(w.locator(".ad-counter")).to_have_text(f"step 1 of {n}")
    for k in range(2, keys + 2):
        nb.page.keyboard.press("ArrowRight")
        expect(w.locator(".ad-counter")).to_have_text(f"step {k} of {n}")
        expect(w.locator("svg g.node[aria-current='step']")).to_have_count(1)
        assert inside_viewport(w, "svg g.node[aria-current='step']"), f"step {k} out of view"
    expect(w.locator(".ad-announce")).to_contain_text(f"step {keys + 1} of {n}: ")
    nb.page.keyboard.press("ArrowLeft")
    expect(w.locator(".ad-counter")).to_have_text(f"step {keys} of {n}")
    nb.page.keyboard.press("End")
    expect(w.locator(".ad-counter")).to_have_text(f"step {n} of {n}")


def shortcuts_stay_out(nb: NotebookPage, w: Locator) -> None:
    """b (insert a cell) and d d (delete it) typed on a widget control do nothing."""
    before = cells(nb)
    for control in (
        w.get_by_role("button", name="Next step", exact=True),
        w.locator("svg g.node").first,
    ):
        control.focus()
        for key in ("b", "d", "d", "a", "x", "m"):
            nb.page.keyboard.press(key)
    nb.page.wait_for_timeout(300)
    assert cells(nb) == before
    expect(w).to_be_visible()


# -- the tests ------------------------------------------------------------------------
def test_mlp_step_first_view_navigation_and_levels(
    jupyter_server: JupyterServer, lab: NotebookPage
) -> None:
    test = "navigation[lab] mlp"
    jupyter_server.write_notebook("mlp.ipynb", ["%load_ext ad_magic", MLP, TRAIN_STEP])
    lab.open("mlp.ipynb")
    w = open_widget(lab, test, 2)
    boxes = first_view(w)
    top = level_count(w)
    assert 3 <= top <= 60, top  # a few dozen steps at the top level, not 64,000
    record_timing(test, "first_view_boxes", boxes, "boxes")
    record_timing(test, "top_level_steps", top, "steps")
    lab.screenshot("nav_lab_mlp_light_wide", w)
    assert not low_contrast(w)

    # Stepping at the top level: a group's step names it and what leaves it.
    step_by_keys(lab, w, 4)
    narration = w.locator(".ad-narration")
    w.get_by_role("button", name="First step", exact=True).click()
    next_ = w.get_by_role("button", name="Next step", exact=True)
    for k in range(2, 6):
        expected = f"step {k} of {top}"
        ms = press(Stopwatch(lab.page, counter_is(expected)), next_)
        if k == 2:
            record_timing(test, "next_step_to_highlight", ms)
        if "gradient" in narration.inner_text():
            break
    expect(narration).to_contain_text(" flow into its inputs, sum ")

    # Opening a group: in place, more boxes and steps, a breadcrumb and a close control.
    group = w.locator("svg g.node.group").filter(has_text="MLP.__call__").first
    title = group.locator("text").first.text_content() or ""
    watch = Stopwatch(lab.page, f"() => {BOXES} !== {boxes}")
    ms = press_box(watch, group)
    record_timing(test, "group_open", ms)
    expect(w.locator(".ad-crumbs [aria-current='location']")).to_have_text(title)
    expect(w.get_by_role("button", name=f"Close {title}", exact=True)).to_be_visible()
    expect(w.locator(".ad-counter")).not_to_have_text(re.compile(rf"\b{top}( steps)?$"))
    assert level_count(w) > top
    wait_fitted(w)  # the opened view is fitted: all of it on screen, the output included
    assert inside_viewport(w, "svg g.node.output")
    # Its 17 calls, one per sample, alike: a plate (a grid in a frame labelled ×17), not
    # one column 17 boxes tall; each call's text at least 9 px fitted in the room
    plate = w.locator("svg g.cluster.plate")
    expect(plate).to_have_count(1)
    expect(plate.locator("text")).to_have_text("×17")
    calls = w.locator("svg g.node.group").filter(has_text=re.compile(r"MLP.__call__#\d+"))
    expect(calls).to_have_count(17)
    assert inside_viewport(w, "svg g.cluster.plate")
    assert smallest_box_text(w) >= 9, smallest_box_text(w)
    lab.screenshot("nav_lab_mlp_open", w)
    # Stepping through a call in the plate lights the plate's edges that stand for its own
    current = "svg g.node.ad-current > title"
    w.get_by_role("button", name="First step", exact=True).click()
    for _ in range(12):
        if re.fullmatch(
            r"MLP.__call__#\d+", w.locator("svg g.node.ad-current text").first.text_content() or ""
        ):
            break
        w.get_by_role("button", name="Next step", exact=True).click()
    else:
        raise AssertionError("no step of a call in the plate within 12 steps")
    expect(w.locator("svg g.edge.ad-edge-current")).not_to_have_count(0)
    lit = w.locator("svg g.edge.ad-edge-current").first.get_attribute("class") or ""
    assert f":{w.locator(current).text_content()}" in lit, lit
    lab.screenshot("nav_lab_mlp_open_step", w)

    # Search by id: the node's groups open, it is selected and panned into view.
    search = w.get_by_role("searchbox", name="Find a node by name or id")
    search.fill("n20000")
    search.press("Enter")
    expect(w.locator("svg g.node:has(> title:text-is('n20000'))")).to_have_count(1)
    expect(w.locator("svg g.node.ad-selected > title")).to_have_text("n20000")
    expect(w.locator(".ad-found")).to_have_text("found n20000")
    lab.page.wait_for_timeout(200)
    assert inside_viewport(w, "svg g.node.ad-selected")
    assert w.locator(".ad-crumbs .ad-crumb").count() >= 3
    lab.screenshot("nav_lab_mlp_search", w)

    # Back to the top by the breadcrumb; Fit.
    w.get_by_role("button", name="Back to the first view").click()
    expect(w.locator("svg g.node")).to_have_count(boxes, timeout=30_000)
    expect(w.locator(".ad-counter")).to_have_text(f"done — {top} steps")
    fits(w)
    lab.assert_no_page_errors()


def test_chain_wraps_steps_by_keyboard_and_keeps_shortcuts_out(
    jupyter_server: JupyterServer, lab: NotebookPage
) -> None:
    test = "navigation[lab] chain"
    jupyter_server.write_notebook("chain.ipynb", ["%load_ext ad_magic", CHAIN, "1 + 1"])
    lab.open("chain.ipynb")
    w = open_widget(lab, test, 1)
    first_view(w)
    top = level_count(w)
    lab.screenshot("nav_lab_chain_light_wide", w)

    # A block opens into blocks that wrap in rows within the widget's width.
    block = w.locator("svg g.node.group").first
    ms = press_box(
        Stopwatch(lab.page, f"() => {BOXES} > 10"),
        block,
    )
    record_timing(test, "group_open", ms)
    expect(w.locator("svg g.node")).not_to_have_count(6)
    lab.page.wait_for_timeout(500)  # the width message may bring one more layout
    width = w.evaluate(
        "el => [el.querySelector('svg').getBoundingClientRect().width,"
        " el.querySelector('.ad-viewport').clientWidth]"
    )
    assert width[0] <= width[1], width
    expect(w.locator(".ad-counter")).not_to_have_text(re.compile(rf"\b{top}( steps)?$"))
    assert level_count(w) > top
    lab.screenshot("nav_lab_chain_open", w)

    step_by_keys(lab, w, 3)
    shortcuts_stay_out(lab, w)

    # The live input: a slider move to updated values, beyond the debounce.
    slider = w.get_by_role("slider", name="x", exact=True)
    watch = Stopwatch(
        lab.page,
        "() => [...document.querySelectorAll('.ad-magic .ad-table td')]"
        ".some(t => t.textContent === '0.8')",
    )
    ms = slider.evaluate(
        """el => { window.__adStart = performance.now(); window.__adCheck();
                   el.value = '0.8'; el.dispatchEvent(new Event('input', {bubbles: true})); }"""
    )
    record_timing(test, "slider_to_values_beyond_debounce", watch.wait() - DEBOUNCE)
    lab.assert_no_page_errors()


def test_formula_dark_theme_contrast_selection_and_table(
    jupyter_server: JupyterServer, lab: NotebookPage
) -> None:
    test = "navigation[lab] formula"
    jupyter_server.set_theme("JupyterLab Dark")
    jupyter_server.write_notebook("formula.ipynb", ["%load_ext ad_magic", FORMULA])
    lab.open("formula.ipynb")
    w = open_widget(lab, test, 1)
    assert lab.page.evaluate("document.body.dataset.jpThemeLight") == "false"
    # The first view: the formula's terms, the sum between them and the output, read at
    # the notebook's text size with the output in view.
    boxes = first_view(w)
    assert 10 <= boxes <= 25, boxes
    expect(w.locator("svg g.node.group").filter(has_text="relu(x - 0.1)")).to_have_count(1)
    record_timing(test, "first_view_boxes", boxes, "boxes")
    record_timing(test, "first_view_text", smallest_box_text(w), "px")
    record_timing(test, "top_level_steps", level_count(w), "steps")
    lab.screenshot("nav_lab_formula_dark_wide", w)

    # A term opens in place with a breadcrumb and a close chip; the chip closes it.
    title = "tanh(x*x + y*y) * log(1 + x*y)"
    term = w.locator("svg g.node.group").filter(has_text=title)
    ms = press_box(Stopwatch(lab.page, f"() => {BOXES} > {boxes}"), term)
    record_timing(test, "group_open", ms)
    expect(w.locator(".ad-crumbs [aria-current='location']")).to_have_text(title)
    assert inside_viewport(w, "svg g.node.output")
    lab.screenshot("nav_lab_formula_dark_open", w)
    w.get_by_role("button", name=f"Close {title}", exact=True).click()
    expect(w.locator("svg g.node")).to_have_count(boxes)
    expect(w.locator(".ad-crumbs")).to_be_hidden()
    lab.page.set_viewport_size({"width": 720, "height": 1400})
    lab.page.wait_for_timeout(800)  # the width message may bring one more layout
    lab.screenshot("nav_lab_formula_dark_narrow", w)
    lab.page.set_viewport_size({"width": 1280, "height": 1400})
    lab.page.wait_for_timeout(800)

    # Current, selected, and both on one node: three different looks (the first step's
    # node is the output), with all of the graph in view.
    fits(w)
    w.get_by_role("button", name="First step", exact=True).click()
    cur = current(w).text_content() or ""
    look = """g => {
        const s = getComputedStyle(g.querySelector(':scope > :is(ellipse, path, polygon)'));
        return [s.stroke, s.strokeDasharray, getComputedStyle(g).filter].join(' | ');
    }"""
    node = lambda i: w.locator(f"svg g.node:has(> title:text-is('{i}'))")  # noqa: E731
    only_current = node(cur).evaluate(look)
    other = next(
        i
        for i in in_view(w)
        if i != cur and not {"const", "group"} & set(classes(node(i)).split())
    )
    node(other).click()
    only_selected = node(other).evaluate(look)
    node(cur).click()
    both = node(cur).evaluate(look)
    assert len({only_current, only_selected, both}) == 3, (only_current, only_selected, both)
    bad = low_contrast(w)
    assert not bad, bad[:5]

    # The table: fixed columns, a long name cut short, in full on hover and when selected.
    widths = w.evaluate(COLUMN_WIDTHS)
    long = w.locator("tr[data-node] td:nth-child(2)")
    cut = [c for c in long.all() if c.evaluate("td => td.scrollWidth > td.clientWidth")]
    assert cut, "no long name was cut short"
    name = cut[0].get_attribute("title") or ""
    assert len(name) > 20
    cut[0].click()
    expect(w.locator(".ad-selection")).to_contain_text(name)
    assert widths == w.evaluate(COLUMN_WIDTHS)
    # Rows by keyboard: ↑ then Enter selects the row above.
    selected = w.locator("tr.ad-selected").get_attribute("data-node")
    w.locator("tr.ad-selected").focus()
    lab.page.keyboard.press("ArrowUp")
    lab.page.keyboard.press("Enter")
    expect(w.locator("tr.ad-selected")).not_to_have_attribute("data-node", selected or "")
    lab.screenshot("nav_lab_formula_dark_selected", w)
    lab.assert_no_page_errors()


def test_notebook7_narrow_keyboard_and_light_contrast(
    jupyter_server: JupyterServer, nb7: NotebookPage, page: Page
) -> None:
    page.set_viewport_size({"width": 760, "height": 900})
    jupyter_server.write_notebook("chain.ipynb", ["%load_ext ad_magic", CHAIN, "1 + 1"])
    nb7.open("chain.ipynb")
    w = open_widget(nb7, "navigation[nb7] chain", 1)
    first_view(w)
    nb7.screenshot("nav_nb7_chain_light_narrow", w)
    step_by_keys(nb7, w, 2)
    shortcuts_stay_out(nb7, w)
    bad = low_contrast(w)
    assert not bad, bad[:5]
    fits(w)
    nb7.assert_no_page_errors()


def test_notebook7_dark_mlp(jupyter_server: JupyterServer, nb7: NotebookPage) -> None:
    jupyter_server.set_theme("JupyterLab Dark")
    jupyter_server.write_notebook("mlp.ipynb", ["%load_ext ad_magic", MLP, TRAIN_STEP])
    nb7.open("mlp.ipynb")
    w = open_widget(nb7, "navigation[nb7] mlp", 2)
    first_view(w)
    step_by_keys(nb7, w, 3)
    bad = low_contrast(w)
    assert not bad, bad[:5]
    nb7.screenshot("nav_nb7_mlp_dark_wide", w)
    # Opened: its calls in a plate, whose frame label reads in the dark theme too
    w.locator("svg g.node.group").filter(has_text="MLP.__call__").first.click()
    expect(w.locator("svg g.cluster.plate")).to_have_count(1)
    wait_fitted(w)
    bad = low_contrast(w)
    assert not bad, bad[:5]
    nb7.screenshot("nav_nb7_mlp_dark_open", w)
    nb7.assert_no_page_errors()


def test_notebook7_formula_light_narrow_and_wide(
    jupyter_server: JupyterServer, nb7: NotebookPage, page: Page
) -> None:
    page.set_viewport_size({"width": 720, "height": 900})
    jupyter_server.write_notebook("formula.ipynb", ["%load_ext ad_magic", FORMULA])
    nb7.open("formula.ipynb")
    w = open_widget(nb7, "navigation[nb7] formula", 1)
    first_view(w)
    record_timing("navigation[nb7] formula narrow", "first_view_text", smallest_box_text(w), "px")
    nb7.screenshot("nav_nb7_formula_light_narrow", w)
    w.locator(".ad-viewport").scroll_into_view_if_needed()
    nb7.screenshot("nav_nb7_formula_light_narrow_page")
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.wait_for_timeout(800)  # the width message may bring one more layout
    first_view(w)
    nb7.screenshot("nav_nb7_formula_light_wide", w)
    nb7.assert_no_page_errors()
