"""A function the cell defines, read in a real browser: its call's box opens in place to
the terms of its long line (and a method's to its lines), in JupyterLab's light and dark
themes, wide and narrow. Screenshots go to artifacts/."""

from __future__ import annotations

from graphs import FORMULA, NEURON
from jupyter_harness import JupyterServer, NotebookPage, Stopwatch, record_timing
from playwright.sync_api import expect
from test_widget_navigation import BOXES, first_view, low_contrast, open_widget, press_box

INNER = FORMULA.split(" = ", 1)[1]
FUNCTION = f"%%grad x=0.5 y=1.5\ndef f(x, y):\n    return {INNER}\nz = f(x, y)"


def test_a_function_of_the_cell_opens_to_its_terms(
    jupyter_server: JupyterServer, lab: NotebookPage
) -> None:
    test = "terms[lab] function"
    jupyter_server.write_notebook("function.ipynb", ["%load_ext ad_magic", FUNCTION])
    lab.open("function.ipynb")
    w = open_widget(lab, test, 1)
    boxes = first_view(w)
    call = w.locator("svg g.node.group").filter(has_text="f#0")
    expect(call).to_have_count(1)
    lab.screenshot("terms_lab_function_light_wide", w)
    ms = press_box(Stopwatch(lab.page, f"() => {BOXES} > {boxes}"), call)
    record_timing(test, "group_open", ms)
    expect(w.locator(".ad-crumbs [aria-current='location']")).to_have_text("f#0")
    for term in ("exp(x/y)*cos(y-x)", "relu(x - 0.1)", "tanh(x*x + y*y) * log(1 + x*y)"):
        expect(w.locator("svg g.node.group").filter(has_text=term)).to_have_count(1)
    assert w.locator("svg g.node").count() <= 30
    lab.screenshot("terms_lab_function_light_open", w)
    lab.page.set_viewport_size({"width": 720, "height": 1400})
    lab.page.wait_for_timeout(800)  # the width message may bring one more layout
    lab.screenshot("terms_lab_function_light_narrow_open", w)
    w.get_by_role("button", name="Close f#0", exact=True).click()
    expect(w.locator("svg g.node")).to_have_count(boxes)
    lab.assert_no_page_errors()


def test_a_method_opens_to_its_lines_then_terms_in_the_dark(
    jupyter_server: JupyterServer, lab: NotebookPage
) -> None:
    test = "terms[lab] method"
    jupyter_server.set_theme("JupyterLab Dark")
    cells = ["%load_ext ad_magic\nfrom ad_magic import Value", NEURON]
    jupyter_server.write_notebook("neuron.ipynb", cells)
    lab.open("neuron.ipynb")
    w = open_widget(lab, test, 1)
    boxes = first_view(w)
    # The call opens in the first view: to its lines (of the cell), the long gate line to
    # its terms, since they fit.
    group = w.locator("svg g.node.group")
    expect(group.filter(has_text="line 6")).to_have_count(1)
    expect(group.filter(has_text="sigmoid(act) * exp(-act*act)")).to_have_count(1)
    expect(group.filter(has_text="sqrt(act*act + 1) / (")).to_have_count(1)
    lab.screenshot("terms_lab_neuron_dark_wide", w)
    # The act line opens in place to its products (wi*xi) and the sum's + nodes, in blocks.
    ms = press_box(
        Stopwatch(lab.page, f"() => {BOXES} > {boxes}"), group.filter(has_text="line 6")
    )
    record_timing(test, "group_open", ms)
    expect(w.locator(".ad-crumbs [aria-current='location']")).to_have_text("line 6")
    lab.screenshot("terms_lab_neuron_dark_open", w)
    bad = low_contrast(w)
    assert not bad, bad[:5]
    lab.assert_no_page_errors()
